"""Recognise ``SELECT branch_*(...)`` calls. The server intercepts them: a DuckDB UDF
could not run SQL on its own connection (see FACTS.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from hati.errors import FeatureNotSupported, InvalidParameter

FUNCTIONS = {
    "branch_create": (1, 3),
    "branch_query": (2, 2),
    "branch_merge": (1, 2),
    "branch_discard": (1, 1),
    "branch_list": (0, 0),
    "branch_diff": (1, 1),
    "branch_conflicts": (1, 1),
    "branch_resolve": (4, 4),
}
_MENTION = re.compile(
    r"\bbranch_(create|query|merge|discard|list|diff|conflicts|resolve)\s*\(", re.I
)


@dataclass(frozen=True)
class BranchCall:
    function: str
    args: tuple[Any, ...]
    alias: str | None = None


def mentions_branch_call(sql: str) -> bool:
    return _MENTION.search(sql) is not None


def _value(node: exp.Expression, params: list[Any]) -> Any:
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(ch in text for ch in ".eE") else int(text)
    if isinstance(node, exp.RawString):
        return node.this
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg):
        v = _value(node.this, params)
        return -v
    if isinstance(node, exp.Cast):
        return _value(node.this, params)
    if isinstance(node, exp.Parameter | exp.Placeholder):
        raw = node.this.this if isinstance(node.this, exp.Literal) else node.name
        try:
            index = int(str(raw).lstrip("$")) - 1
            return params[index]
        except (ValueError, IndexError) as exc:
            raise InvalidParameter(f"parameter {node.sql()} has no bound value") from exc
    raise FeatureNotSupported(
        f"branch function arguments must be literals or parameters, got: {node.sql()}",
        hint="Write e.g. SELECT branch_create('plan-a').",
    )


def parse_call(sql: str, params: list[Any] | None = None) -> BranchCall | None:
    """The branch call this statement is, or None if it is an ordinary statement."""
    if not mentions_branch_call(sql):
        return None
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return None
    if not isinstance(tree, exp.Select):
        return None
    node, alias = _called(tree)
    if not isinstance(node, exp.Anonymous | exp.Func):
        raise FeatureNotSupported(
            "branch functions must be called on their own",
            hint="Write SELECT branch_merge('x') or SELECT * FROM branch_list(), not inside "
            "a larger query.",
        )
    name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
    if name not in FUNCTIONS:
        return None
    args = tuple(_value(a, params or []) for a in node.expressions)
    lo, hi = FUNCTIONS[name]
    if not lo <= len(args) <= hi:
        raise InvalidParameter(f"{name} takes {lo}..{hi} arguments, got {len(args)}")
    return BranchCall(name, args, alias)


def _called(tree: exp.Select) -> tuple[exp.Expr | None, str | None]:
    """The function ``SELECT f(...) [AS a]`` or ``SELECT * FROM f(...)`` calls, and its alias."""
    src = tree.args.get("from_") or tree.args.get("from")
    if src is not None:
        table = src.this
        if (
            isinstance(table, exp.Table)
            and isinstance(table.this, exp.Anonymous | exp.Func)
            and len(tree.expressions) == 1
            and isinstance(tree.expressions[0], exp.Star)
        ):
            return table.this, None
        return None, None
    if len(tree.expressions) != 1:
        return None, None
    node = tree.expressions[0]
    if isinstance(node, exp.Alias):
        return node.this, node.alias
    return node, None
