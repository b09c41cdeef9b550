"""``COMMENT ON``: run as a step that knows where each object keeps its comment
(pg/comments.py)."""

from __future__ import annotations

from pglast import ast

from hati.pg.comments import Comment
from hati.pg.translate import Translation


def comments(stmt: ast.Node, ctx: Translation) -> ast.Node:
    if isinstance(stmt, ast.CommentStmt):
        ctx.steps = [Comment(stmt)]
    return stmt
