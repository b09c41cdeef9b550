"""``INSERT ... ON CONFLICT``'s target as DuckDB reads it.

- ``ON CONFLICT DO UPDATE`` names what it arbitrates on (42601 without, as in
  PostgreSQL; DuckDB would pick the table's one key itself).
- An operator class (``text_pattern_ops``) or a collation (``COLLATE "C"``) in the
  target infers only an index made with it; hati's indexes keep neither (DuckDB's
  compare values one way, byte-wise), so such a target is refused (0A000), as are
  expressions (``ON CONFLICT (lower(x))``), which DuckDB cannot infer.

The arbiter itself is checked when the statement runs (``pg/conflicts.py``).
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import OnConflictAction

from hati.errors import FeatureNotSupported, SyntaxError_

BYTEWISE = frozenset({"C", "POSIX", "default", "ucs_basic"})


def bytewise(collation: tuple[ast.Node, ...] | None) -> bool:
    """Whether a COLLATE clause names a collation DuckDB's comparisons already follow."""
    return collation is None or str(getattr(collation[-1], "sval", "")) in BYTEWISE


def conflict_target(stmt: ast.Node) -> ast.Node:
    clause = stmt.onConflictClause if isinstance(stmt, ast.InsertStmt) else None
    if clause is None:
        return stmt
    if clause.action == OnConflictAction.ONCONFLICT_UPDATE and clause.infer is None:
        raise SyntaxError_(
            "ON CONFLICT DO UPDATE requires inference specification or constraint name",
            hint="For example, ON CONFLICT (column_name).",
        )
    for elem in (clause.infer.indexElems or ()) if clause.infer else ():
        if not isinstance(elem, ast.IndexElem):
            continue
        if elem.expr is not None:
            raise FeatureNotSupported(
                "ON CONFLICT with an expression in its target is not supported",
                hint="Name the columns of a unique constraint or index: DuckDB infers no "
                "index on an expression.",
            )
        if elem.collation or elem.opclass:
            raise FeatureNotSupported(
                "ON CONFLICT with a collation or operator class in its target is not supported",
                hint="hati's indexes compare text byte-wise and keep no operator class: name "
                "the column alone.",
            )
    return stmt
