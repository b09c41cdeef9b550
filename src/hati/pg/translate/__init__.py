"""PostgreSQL parse tree -> a tree DuckDB runs with PostgreSQL's meaning.

Each rule is a small function that rewrites the tree in place where DuckDB differs from
PostgreSQL; ``_rules`` lists them in the order they run. A rule that needs a literal's
value (``'\\xdeadbeef'::bytea``) while the statement's literals are lifted out raises
:class:`NeedsLiteral`, and the statement is translated again with its literals in place.

Where DuckDB lacks a feature and no rule emulates it, the statement is refused with
0A000 and a hint rather than run with a different meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from hati.pg import catalog as catalog_views
from hati.pg.analyze import RowLocks, children


class NeedsLiteral(Exception):
    """A rule needs the value of a literal that is lifted out as a marker."""


@dataclass
class Translation:
    """What translating one statement produced besides its tree."""

    database: str = "hati"  # current_database()
    pre: list[str] = field(default_factory=list)  # statements DuckDB must run first
    # the client's parameters ($1..$params); markers above are lifted literals. None:
    # unknown, no marker stands for a literal.
    params: int | None = None
    # The statement is a SQL function's body, where a bare name may be a parameter.
    function_body: bool = False
    # The kind of each lifted literal's marker, in order (pg/lex.py literal_kind).
    literal_kinds: tuple[str, ...] = ()
    # The statement as several (parse-tree nodes and emulate.Emulated steps), run in
    # its place, all or none.
    steps: list[object] = field(default_factory=list)
    # The translation reads the session's settings (current_setting()) when it runs.
    reads_settings: bool = False
    # SELECT ... FOR UPDATE / SHARE: the locks the session takes (pg/translate/locking).
    row_locks: RowLocks | None = None
    # The statement stores its expressions in DuckDB's catalog (an index's, a column
    # default's, a check's): only what DuckDB accepts there (no macros over to_json).
    stored: bool = False
    # What DuckDB runs in the statement's place, the statement's own nodes inside (a
    # write whose RETURNING DuckDB cannot run: translate/returning.py).
    printed_as: ast.Node | None = None


def walk(node: ast.Node) -> Iterator[ast.Node]:
    """Every node below and including ``node``, parents before children."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(child for _, child in children(n))


def func_call(name: str, *args: ast.Node, hidden: bool) -> ast.FuncCall:
    """A call of ``name`` (``hidden``: the one in hati's hidden schema)."""
    schema = (ast.String(sval=catalog_views.HIDDEN),) if hidden else ()
    return ast.FuncCall(funcname=(*schema, ast.String(sval=name)), args=args)


def const(value: str | int) -> ast.A_Const:
    if isinstance(value, int):
        return ast.A_Const(val=ast.Integer(ival=value))
    return ast.A_Const(val=ast.String(sval=value))


def replace_child(node: ast.Node, attr: str, old: ast.Node, new: ast.Node) -> None:
    """Put ``new`` where ``old`` hangs below ``node`` (directly or in a list)."""
    value = getattr(node, attr)
    if value is old:
        setattr(node, attr, new)
    elif isinstance(value, tuple):  # a list, or a list of lists (VALUES rows)
        setattr(node, attr, tuple(_swapped(v, old, new) for v in value))


def _swapped(value: Any, old: ast.Node, new: ast.Node) -> Any:
    if value is old:
        return new
    if isinstance(value, tuple):
        return tuple(new if v is old else v for v in value)
    return value


Rule = Callable[[ast.Node, Translation], ast.Node]


def plain(rule: Callable[[ast.Node], ast.Node]) -> Rule:
    """A rule that needs nothing but the tree."""
    return lambda stmt, _ctx: rule(stmt)


def _rules() -> tuple[Rule, ...]:
    # Imported here: each rule module imports this package's helpers.
    from hati.pg.translate import (
        arrays,
        assign,
        builtins,
        catalog_queries,
        comments,
        composites,
        ctes,
        ddl,
        distinct_on,
        domains,
        exprs,
        functions,
        hypothetical,
        insert_targets,
        intervals,
        jsonops,
        jsonsrfs,
        like,
        literal_scales,
        locking,
        naming,
        numeric_ops,
        numeric_specials,
        ordering,
        recursion,
        refnames,
        returning,
        schema,
        search_cycle,
        sqlfuncs,
        strings,
        symmetric,
        typeof,
        types,
        unknowns,
        upsert,
        using_order,
        volatile,
        windows,
        zoned,
    )

    return (
        plain(recursion.recursive_ctes),
        plain(ctes.checked),
        plain(ctes.reads_written),
        locking.row_locks,
        plain(refnames.refnames),
        plain(distinct_on.distinct_on),
        windows.windows,
        plain(volatile.sequence_calls_after_limit),
        plain(assign.multi_assign),
        plain(naming.srfs_in_select_list),
        plain(naming.name_columns),
        plain(hypothetical.hypothetical_sets),
        unknowns.unknown_literals,
        ordering.orderings,
        typeof.pg_typeof,
        plain(arrays.variadic),
        plain(search_cycle.search_cycle),
        plain(using_order.using_order),
        plain(naming.insert_alias),
        insert_targets.insert_targets,
        plain(upsert.conflict_target),
        plain(schema.default_schema),
        schema.constants,
        domains.columns,
        ddl.serial_columns,
        ddl.several_steps,
        comments.comments,
        sqlfuncs.functions,
        composites.types,
        plain(catalog_queries.catalog),
        plain(arrays.array_type_names),
        plain(symmetric.between_symmetric),
        plain(intervals.intervals),
        builtins.builtins,
        strings.string_functions,
        numeric_specials.special_constants,
        zoned.zoned,
        exprs.expressions,
        literal_scales.literal_scales,
        numeric_ops.numeric_operators,
        jsonsrfs.select_list_functions,
        jsonops.json_operators,
        domains.casts,
        arrays.arrays,
        plain(types.type_names),
        plain(functions.function_names),
        plain(like.like_escapes),
        returning.returning,  # last: it prints the statement's final parts
    )


def setup_sql() -> list[str]:
    """The DuckDB statements (macros, views in the hidden schema) the rule modules need
    at start-up: each module may define ``SETUP_SQL``; ``pg/install.py`` runs them."""
    from hati.pg.translate import (
        arrays,
        builtins,
        catalog_queries,
        ddl,
        exprs,
        functions,
        intervals,
        jsonaggs,
        jsonops,
        jsonsrfs,
        naming,
        numeric_ops,
        schema,
        strings,
        typeof,
        types,
    )

    modules = (
        arrays,
        builtins,
        catalog_queries,
        ddl,
        exprs,
        functions,
        intervals,
        jsonaggs,
        jsonops,
        jsonsrfs,
        naming,
        numeric_ops,
        schema,
        strings,
        types,
        typeof,
    )
    return [m.SETUP_SQL for m in modules if getattr(m, "SETUP_SQL", None)]


_RULES: tuple[Rule, ...] | None = None


def translate(stmt: ast.Node, ctx: Translation | None = None) -> ast.Node:
    """Apply every rule, in order; return the (possibly new) statement node."""
    global _RULES
    if _RULES is None:
        _RULES = _rules()
    ctx = ctx or Translation()
    if isinstance(stmt, ast.DeclareCursorStmt):
        return stmt  # the cursor compiles its query as a statement of its own
    if isinstance(stmt, ast.VariableSetStmt):
        return stmt  # the session answers it (SET TIME ZONE INTERVAL '5' HOUR keeps HOUR)
    for rule in _RULES:
        stmt = rule(stmt, ctx)
    return stmt


__all__ = ["NeedsLiteral", "Rule", "Translation", "plain", "replace_child", "translate", "walk"]
