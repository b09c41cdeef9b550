"""Types spelled as PostgreSQL spells them, in DuckDB's names."""

from __future__ import annotations

from pglast import ast

from hati.pg.translate import const, walk
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
    "money": "numeric",
}


def type_names(stmt: ast.Node) -> ast.Node:
    """Types spelled as PostgreSQL spells them, in DuckDB's names."""
    for node in walk(stmt):
        if isinstance(node, ast.TypeName) and node.names:
            names = [n.sval for n in node.names]
            plain = len(names) == 1 or (len(names) == 2 and names[0] == "pg_catalog")
            if plain and names[-1] in ("numeric", "decimal") and not node.typmods:
                # DuckDB's bare DECIMAL is DECIMAL(18,3): every value rounded to 3 places
                node.typmods = tuple(const(m) for m in numerics.BARE)
            elif plain and names[-1] in TYPE_NAMES:
                mapped = TYPE_NAMES[names[-1]]
                # pg_catalog-qualified builtins print as their SQL names (varchar, ...)
                node.names = tuple(ast.String(sval=n) for n in ("pg_catalog", mapped))
                if mapped in ("text", "json"):
                    node.names = (ast.String(sval=mapped),)
    return stmt
