"""Types spelled as PostgreSQL spells them, in DuckDB's names."""

from __future__ import annotations

from pglast import ast

from hati.errors import FeatureNotSupported
from hati.pg.translate import NeedsLiteral, const, walk
from hati.wire import numerics

TYPE_NAMES = {
    "text": "text",
    "name": "varchar",
    "json": "json",
    "jsonb": "json",
    "xml": "varchar",
    "bpchar": "varchar",
    "citext": "varchar",
    "inet": "varchar",
    "cidr": "varchar",
    "macaddr": "varchar",
    "tsvector": "varchar",
    "jsonpath": "varchar",
}
# Types hati does not emulate, refused rather than stood in for: a stand-in would answer
# differently (money as numeric prints 1.00, PostgreSQL $1.00).
_REFUSED = {"money": "Use numeric(20,2) for amounts; format them with to_char()."}
# Types whose modifier is a precision of seconds, which DuckDB's types do not take
# (``timestamp(2)`` would be DuckDB's TIMESTAMP_MS, a different type).
_SECONDS_PRECISION = frozenset({"timestamp", "timestamptz", "time", "timetz", "interval"})


def _numeric_typmods(mods: tuple[ast.Node, ...] | None) -> tuple[ast.Node, ...] | None:
    """DuckDB's bare DECIMAL is DECIMAL(18,3), every value rounded to 3 places: a bare
    numeric is ``numerics.BARE``. A precision over DuckDB's 38 digits keeps its scale in
    38 digits: a value that does not fit is refused (22003), never rounded."""
    if not mods:
        return tuple(const(m) for m in numerics.BARE)
    if any(isinstance(m, ast.ParamRef) for m in mods):
        raise NeedsLiteral  # numeric(50,2) with its literals lifted out
    values = [
        m.val.ival if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer) else None
        for m in mods
    ]
    if len(values) in (1, 2) and values[0] is not None and values[0] > 38:
        scale = values[1] if len(values) == 2 else 0
        if scale is not None and 0 <= scale <= 38:
            return (const(38), const(scale))
    return mods


def type_names(stmt: ast.Node) -> ast.Node:
    """Types spelled as PostgreSQL spells them, in DuckDB's names."""
    for node in walk(stmt):
        if isinstance(node, ast.TypeName) and node.names:
            names = [n.sval for n in node.names]
            plain = len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
            if plain and names[-1] in _REFUSED:
                raise FeatureNotSupported(
                    f'type "{names[-1]}" is not supported', hint=_REFUSED[names[-1]]
                )
            if plain and names[-1] in ("numeric", "decimal"):
                node.typmods = _numeric_typmods(node.typmods)
            elif plain and names[-1] == "money":
                raise FeatureNotSupported(
                    "type money is not supported",
                    hint="Use numeric(p, 2): hati would print money without its currency format.",
                )
            elif plain and names[-1] in _SECONDS_PRECISION:
                node.typmods = None
            elif plain and names[-1] in TYPE_NAMES:
                mapped = TYPE_NAMES[names[-1]]
                # pg_catalog-qualified builtins print as their SQL names (varchar, ...)
                node.names = tuple(ast.String(sval=n) for n in ("pg_catalog", mapped))
                if mapped in ("text", "json"):
                    node.names = (ast.String(sval=mapped),)
    return stmt
