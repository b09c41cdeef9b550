"""numeric's NaN, Infinity and -Infinity, which DuckDB's DECIMAL has not.

A 38-digit DECIMAL (a bare ``numeric``, or ``numeric(p, s)`` with p of 38 or more) keeps
them as its outermost values (``hati/wire/numerics.py``): NaN is the largest, Infinity
the one below it, -Infinity the smallest but one. Those sort, compare, group and join as
PostgreSQL's do (NaN equals NaN and sorts above everything), and the wire prints them as
``NaN``, ``Infinity`` and ``-Infinity``. Arithmetic, functions and casts would compute
with the digits, so a value hati cannot treat as PostgreSQL does is refused where it is
used, never computed with:

- A string constant an INSERT ... VALUES or UPDATE ... SET writes to such a column
  (``'NaN'``, ``' -inf '``, ``'Infinity'``, any case, spaces around) is stored as its
  stand-in, and the column's name is recorded (``TABLE``, read at every start).
  Infinity into a ``numeric(p, s)`` column is PostgreSQL's 22003, NaN into one of fewer
  than 38 digits stays DuckDB's refusal (0A000).
- Once any column holds one, every statement that names a recorded column is checked
  when it runs: where the column is read as it is (a query's result column, either
  side of a comparison with a column or a constant, ORDER BY, GROUP BY, IS NULL,
  ``count``/``min``/``max``), the stand-ins act as PostgreSQL's values; anywhere else
  the column is read through a guard that raises 0A000 for a row holding one.
- A view or SQL function that already reads a column is not checked: writing the first
  special value to a column a view or function names is refused (0A000).

Statements of a database that never stored one pay nothing (the registry is empty).
Where a column of a scale stored one, the three outermost values of DECIMAL(38, that
scale) are no longer numbers of their own.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import duckdb
from pglast import ast
from pglast.enums import A_Expr_Kind, SubLinkType

from hati.branching import layout
from hati.errors import FeatureNotSupported, NumericValueOutOfRange
from hati.pg import catalog, render
from hati.pg.analyze import children
from hati.wire import numerics

TABLE = f"{catalog.HIDDEN}.numeric_specials"
SETUP_SQL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (column_name VARCHAR, scale INTEGER, "
    "PRIMARY KEY (column_name, scale));"
)
HINT = (
    "hati keeps numeric in DuckDB's DECIMAL: its NaN and Infinity are stored, compared, "
    "sorted and shown, not computed with; double precision computes with both."
)

_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")
_OWN_SCHEMAS = (layout.META, layout.SNAP, layout.PG)  # hati's, and its branches'
_COMPARISONS = frozenset(["=", "<>", "!=", "<", ">", "<=", ">="])
_READ_AS_IS = frozenset(["count", "min", "max"])

# column name (lower case) -> the scales of the DECIMAL(38, s) columns of that name that
# hold or held a special value, in any table of any database this process opened
_recorded: dict[str, set[int]] = {}
_lock = threading.Lock()


kind = numerics.special_kind


def install(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(SETUP_SQL)
    for column, scale in cur.execute(f"SELECT column_name, scale FROM {TABLE}").fetchall():
        with _lock:
            _recorded.setdefault(column, set()).add(int(scale))
            numerics.STORED_SCALES.add(int(scale))


def written(cur: duckdb.DuckDBPyConnection, text: str, column: str, duck_type: str) -> str | None:
    """DuckDB's SQL for the string constant ``text`` written to ``column`` of DuckDB type
    ``duck_type``, when it spells a special value and the column is numeric; None where
    DuckDB's own reading stands. Records the column (see the module doc)."""
    got = kind(text)
    m = _DECIMAL.fullmatch(duck_type)
    if got is None or m is None:
        return None
    precision, scale = int(m.group(1)), int(m.group(2))
    bare = (precision, scale) == numerics.BARE
    if got != "NaN" and not bare:
        raise NumericValueOutOfRange(
            "numeric field overflow",
            detail=f"A field with precision {precision}, scale {scale} cannot hold an "
            "infinite value.",
        )
    if precision != numerics.WIDE:
        return None  # DuckDB's refusal (0A000, errors.py)
    _record(cur, column.lower(), scale)
    return f"CAST('{numerics.special_digits(got, scale)}' AS DECIMAL({precision},{scale}))"


def _record(cur: duckdb.DuckDBPyConnection, column: str, scale: int) -> None:
    if scale not in _recorded.get(column, ()):
        readers = cur.execute(
            "SELECT count(*) FROM (SELECT schema_name, sql AS body FROM duckdb_views() "
            "WHERE NOT internal UNION ALL SELECT schema_name, macro_definition "
            "FROM duckdb_functions() WHERE NOT internal) "
            "WHERE schema_name NOT IN (?, ?, ?) AND NOT regexp_matches(schema_name, ?) "
            "AND regexp_matches(body, ?, 'i')",
            [*_OWN_SCHEMAS, layout.OWNED_SCHEMA_RE, rf"\b{re.escape(column)}\b"],
        ).fetchone()
        if readers and readers[0]:
            raise FeatureNotSupported(
                f'NaN and Infinity cannot be stored in column "{column}" while a view or '
                "function reads a column of that name",
                hint=HINT,
            )
    cur.execute(f"INSERT OR IGNORE INTO {TABLE} VALUES (?, ?)", [column, scale])
    with _lock:
        _recorded.setdefault(column, set()).add(scale)
        numerics.STORED_SCALES.add(scale)


def guards(node: ast.Node) -> dict[int, str]:
    """The guarded reads of recorded columns in the statement ``node`` (node id -> SQL);
    nothing when no column holds a special value."""
    if not _recorded:
        return {}
    out: dict[int, str] = {}
    shown = result_columns(node)
    for ref, safe in _column_reads(node):
        safe = safe or id(ref) in shown
        fields = ref.fields or ()
        last = fields[-1] if fields else None
        if not isinstance(last, ast.String):
            continue
        scales = _recorded.get(str(last.sval).lower())
        if scales and not safe:
            out[id(ref)] = _guard(render.render(ref), scales)
    return out


def _guard(sql: str, scales: set[int]) -> str:
    types = ", ".join(f"'DECIMAL({numerics.WIDE},{s})'" for s in sorted(scales))
    digits = ", ".join(
        f"'{numerics.special_digits(k, s)}'" for s in sorted(scales) for k in numerics.SPECIALS
    )
    message = (
        "HATI-0A000: NaN and Infinity numerics are stored, compared, sorted and shown "
        "only: this use of one is not supported"
    )
    return (
        f"(CASE WHEN typeof({sql}) IN ({types}) AND CAST({sql} AS VARCHAR) IN ({digits}) "
        f"THEN error('{message}') ELSE {sql} END)"
    )


def _plain(node: ast.Node | None) -> bool:
    """A column, or a constant (the other side of a comparison that reads as it is)."""
    if isinstance(node, ast.TypeCast):
        node = node.arg
    if (
        isinstance(node, ast.A_Expr)
        and node.lexpr is None
        and node.name
        and node.name[-1].sval in ("-", "+")
    ):
        return isinstance(node.rexpr, ast.A_Const | ast.ParamRef)  # -100
    return isinstance(node, ast.ColumnRef | ast.A_Const | ast.ParamRef)


def _column_reads(top: ast.Node) -> Iterator[tuple[ast.ColumnRef, bool]]:
    """Every column reference below ``top``, and whether it is read as it is."""
    stack: list[tuple[ast.Node, bool]] = [(top, False)]
    while stack:
        node, safe = stack.pop()
        if isinstance(node, ast.ColumnRef):
            yield node, safe
            continue
        for attr, child in children(node):
            stack.append((child, _read_as_is(top, node, attr, child)))


def _read_as_is(top: ast.Node, parent: ast.Node, attr: str, child: ast.Node) -> bool:
    """Whether ``child`` (a column, if it is one) below ``parent`` is read as it is."""
    if not isinstance(child, ast.ColumnRef):
        return False
    if isinstance(parent, ast.ResTarget):
        return False  # decided at the ResTarget's own parent (below)
    if isinstance(parent, ast.A_Expr):
        if parent.kind != A_Expr_Kind.AEXPR_OP or not parent.name:
            return False
        op = parent.name[-1].sval
        other = parent.rexpr if child is parent.lexpr else parent.lexpr
        return op in _COMPARISONS and isinstance(other, ast.Node) and _plain(other)
    if isinstance(parent, ast.SortBy | ast.NullTest):
        return True
    if isinstance(parent, ast.SelectStmt):
        return attr in ("groupClause", "distinctClause")
    if isinstance(parent, ast.FuncCall):
        name = parent.funcname[-1].sval if parent.funcname else ""
        return name in _READ_AS_IS and parent.over is None
    if isinstance(parent, ast.SubLink):
        return parent.subLinkType == SubLinkType.EXISTS_SUBLINK
    return False


def result_columns(top: ast.Node) -> dict[int, bool]:
    """Ids of the column references a statement shows as its result columns (a query's,
    RETURNING's), read as they are: the wire shows the special values."""
    out: dict[int, bool] = {}
    if isinstance(top, ast.SelectStmt):
        targets = top.targetList or ()
    elif isinstance(top, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
        returning = top.returningClause
        targets = returning.exprs or () if returning is not None else ()
    else:
        targets = ()
    for target in targets:
        if isinstance(target, ast.ResTarget) and isinstance(target.val, ast.ColumnRef):
            out[id(target.val)] = True
    return out
