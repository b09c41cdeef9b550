"""``DROP TABLE a, b`` and ``TRUNCATE a, b`` as one statement per relation.

DuckDB drops and truncates one relation per statement; PostgreSQL takes a list (pgbench
-i sends both). :func:`split_objects` prints such a statement as one statement per
relation, which the session then runs as one implicit transaction.
"""

from __future__ import annotations

import copy
import re

import pglast
from pglast import ast
from pglast.stream import RawStream

_MAYBE = re.compile(r"^\s*(drop|truncate)\b", re.IGNORECASE)


def split_objects(text: str) -> list[str]:
    """``text`` as one statement per dropped or truncated relation (itself otherwise)."""
    if "," not in text or not _MAYBE.match(text):
        return [text]
    try:
        stmt = pglast.parse_sql(text)[0].stmt
    except pglast.parser.ParseError:
        return [text]  # the front end reports the error
    if isinstance(stmt, ast.DropStmt) and len(stmt.objects or ()) > 1:
        return [_with(stmt, "objects", (obj,)) for obj in stmt.objects or ()]
    if isinstance(stmt, ast.TruncateStmt) and len(stmt.relations or ()) > 1:
        return [_with(stmt, "relations", (rel,)) for rel in stmt.relations or ()]
    return [text]


def _with(stmt: ast.Node, attr: str, value: tuple[ast.Node, ...]) -> str:
    one = copy.copy(stmt)
    setattr(one, attr, value)
    return str(RawStream()(one))
