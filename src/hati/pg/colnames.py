"""Result column names as PostgreSQL gives them: ``count(*)`` is ``count``, not ``count_star()``."""

from __future__ import annotations

import functools
import re
from typing import Any

# DuckDB names an unaliased expression by its text ("count_star()", "sum(x)"); PostgreSQL
# by the function's name ("count", "sum"). The DuckDB name still spells the function the
# way the user wrote it, after an optional schema and quotes: "main.upper(s)", '"left"(s, 1)'.
_DUCK_FUNC = re.compile(r'^(?:[A-Za-z_]\w*\.)?"?([A-Za-z_]\w*)"?\(')
_DUCK_RENAMED = {"count_star": "count"}


def pg_column_names(sql: str, names: list[str]) -> list[str]:
    """Result column names as PostgreSQL gives them for ``sql``'s select list.

    Only unaliased function calls (``count(*)`` -> ``count``, ``sum(x)`` -> ``sum``,
    ``f(...)`` -> ``f``), casts of a column or a call (``x::text`` -> ``x``), ``CASE``,
    ``ARRAY[...]``, ``EXISTS`` and scalar subqueries are renamed; every other column keeps
    DuckDB's name. Cheap unless a name looks like a call: the statement is parsed (with
    sqlglot, never rewritten) only when some name contains ``(``.
    """
    if not any("(" in n for n in names):
        return names
    return list(_pg_names(sql, tuple(names)))


@functools.lru_cache(maxsize=512)
def _pg_names(sql: str, names: tuple[str, ...]) -> tuple[str, ...]:
    import sqlglot
    from sqlglot import exp

    tree = None
    for dialect in ("postgres", "duckdb"):
        try:
            tree = sqlglot.parse_one(sql, read=dialect)
            break
        except (sqlglot.errors.SqlglotError, RecursionError, ValueError):
            continue
    while isinstance(tree, (exp.SetOperation, exp.Subquery)):
        tree = tree.this  # a UNION takes its column names from its first SELECT
    if not isinstance(tree, exp.Select):
        return names
    items = tree.expressions
    if len(items) != len(names) or any(
        isinstance(e, (exp.Star, exp.Columns)) or (isinstance(e, exp.Column) and e.is_star)
        for e in items
    ):
        return names  # a star or COLUMNS(...) expands: items and columns do not pair up
    out = []
    for item, name in zip(items, names, strict=True):
        new = None if "(" not in name or isinstance(item, exp.Alias) else _figure(item, name)
        out.append(new or name)
    return tuple(out)


def _figure(node: Any, duck: str | None) -> str | None:  # noqa: C901 - one branch per node kind, as in FigureColname
    """PostgreSQL's name for an unaliased select item (its FigureColname), or None."""
    from sqlglot import exp

    while isinstance(node, (exp.Paren, exp.Window, exp.Filter, exp.WithinGroup, exp.IgnoreNulls)):
        node = node.this
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
        node = node.expression  # schema.f(...)
    if isinstance(node, exp.Column):
        return node.name or None
    if isinstance(node, (exp.Cast, exp.TryCast)):
        inner = None
        if duck:
            inner = (
                duck.split("(", 1)[1] if duck.upper().startswith(("CAST(", "TRY_CAST(")) else None
            )
        return _figure(node.this, inner)
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Array):
        return "array"
    if isinstance(node, exp.Exists):
        return "exists"
    if isinstance(node, exp.Subquery):
        sub = node.this
        if isinstance(sub, exp.Select) and len(sub.expressions) == 1:
            first = sub.expressions[0]
            if isinstance(first, exp.Alias):
                return first.alias or None
            inner = (
                duck[len("(SELECT ") :] if duck and duck.upper().startswith("(SELECT ") else None
            )
            return _figure(first, inner)
        return None
    if isinstance(node, exp.Func):
        m = _DUCK_FUNC.match(duck) if duck else None
        if m:
            name = m.group(1).lower()
            return _DUCK_RENAMED.get(name, name)
        if isinstance(node, exp.Anonymous):
            return str(node.name).lower() or None
        return node.sql_name().lower() or None
    return None
