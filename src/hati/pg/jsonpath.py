"""PostgreSQL's SQL/JSON path language (``jsonpath``): parsed and run in Python.

``@?`` / ``jsonb_path_exists``, ``@@`` / ``jsonb_path_match`` and the
``jsonb_path_query*`` functions call the functions :func:`register` gives DuckDB. A path
is read into tuples (``jsonpath_parse.py``) and evaluated as
PostgreSQL's ``jsonpath_exec.c`` does: lax mode (the default) unwraps arrays for
accessors, filters and comparisons and answers nothing where a strict path raises;
predicates are three-valued (an error inside one is *unknown*); a comparison is true when
any pair of its items compares true. Items the language has that hati does not run
(``.datetime()``, ``.keyvalue()``) are refused with 0A000.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
from duckdb.sqltypes import BOOLEAN, VARCHAR

from hati.errors import (
    DataException,
    DivisionByZero,
    FeatureNotSupported,
    InvalidParameter,
    SyntaxError_,
    UndefinedObject,
)
from hati.pg import jsonb
from hati.pg.jsonpath_parse import Node, parse

UNKNOWN = None  # a predicate's third value


class PathError(DataException):
    """An error a silent path call answers NULL for (PostgreSQL's SQL/JSON errors, 22xxx)."""


class _Run:
    """One evaluation: the document, its variables, the mode."""

    def __init__(self, root: Any, variables: dict[str, Any], strict: bool) -> None:
        self.root = root
        self.vars = variables
        self.strict = strict

    # ---- expressions: a node over the current item -> its items
    def items(self, node: Node, current: Any, last: int | None = None) -> list[Any]:
        kind = node[0]
        if kind == "value":
            return [node[1]]
        if kind == "root":
            return [self.root]
        if kind == "current":
            return [current]
        if kind == "var":
            if node[1] not in self.vars:
                raise UndefinedObject(f'could not find jsonpath variable "{node[1]}"')
            return [self.vars[node[1]]]
        if kind == "last":
            if last is None:
                raise SyntaxError_("LAST is allowed only in array subscripts")
            return [Decimal(last)]
        if kind == "chain":
            got = self.items(node[1], current, last)
            for step in node[2]:
                got = [out for item in got for out in self.step(step, item)]
            return got
        if kind == "arith":
            return [self.arith(node, current, last)]
        if kind == "unary":
            return [self.negate(node[1], x) for x in self.unwrapped(node[2], current, last)]
        return [self.predicate(node, current)]  # a predicate as a value: true/false/null

    def unwrapped(self, node: Node, current: Any, last: int | None = None) -> list[Any]:
        got = self.items(node, current, last)
        if self.strict:
            return got
        return [y for x in got for y in (x if isinstance(x, list) else [x])]

    def arith(self, node: Node, current: Any, last: int | None) -> Decimal:
        _, op, left, right = node
        names = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%"}
        a = self.unwrapped(left, current, last)
        b = self.unwrapped(right, current, last)
        if len(a) != 1 or not _number(a[0]):
            raise PathError(
                f"left operand of jsonpath operator {names[op]} is not a single numeric value"
            )
        if len(b) != 1 or not _number(b[0]):
            raise PathError(
                f"right operand of jsonpath operator {names[op]} is not a single numeric value"
            )
        x, y = a[0], b[0]
        if op in ("/", "%") and y == 0:
            raise DivisionByZero("division by zero")
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            return x / y
        return x - y * (x / y).to_integral_value(rounding="ROUND_DOWN")

    def negate(self, op: str, x: Any) -> Any:
        if not _number(x):
            raise PathError(f"operand of unary jsonpath operator {op} is not a numeric value")
        return -x if op == "-" else x

    # ---- accessors
    def step(self, step: Node, item: Any) -> Iterator[Any]:
        kind = step[0]
        if kind == "filter":
            for x in self.lax_unwrap(item):
                if self.predicate(step[1], x) is True:
                    yield x
        elif kind == "key":
            yield from self.key(step[1], item)
        elif kind == "members":
            yield from self.members(item)
        elif kind == "elements":
            yield from self.elements(item)
        elif kind == "index":
            yield from self.subscript(step[1], item)
        elif kind == "any":
            yield from _descend(item, step[1], step[2], 0)
        else:
            yield from self.method(step[1], item)

    def key(self, key: str, item: Any) -> Iterator[Any]:
        for x in self.lax_unwrap(item):
            if isinstance(x, dict) and key in x:
                yield x[key]
            elif self.strict and isinstance(x, dict):
                raise PathError(f'JSON object does not contain key "{key}"')
            elif self.strict:
                raise PathError("jsonpath member accessor can only be applied to an object")

    def members(self, item: Any) -> Iterator[Any]:
        for x in self.lax_unwrap(item):
            if isinstance(x, dict):
                yield from x.values()
            elif self.strict:
                raise PathError(
                    "jsonpath wildcard member accessor can only be applied to an object"
                )

    def elements(self, item: Any) -> Iterator[Any]:
        if isinstance(item, list):
            yield from item
        elif self.strict:
            raise PathError("jsonpath wildcard array accessor can only be applied to an array")
        else:
            yield item

    def lax_unwrap(self, item: Any) -> list[Any]:
        return item if isinstance(item, list) and not self.strict else [item]

    def subscript(self, ranges: tuple[tuple[Node, Node | None], ...], item: Any) -> Iterator[Any]:
        if not isinstance(item, list):
            if self.strict:
                raise PathError("jsonpath array accessor can only be applied to an array")
            item = [item]
        size = len(item)
        for low, high in ranges:
            start = self.index(low, item, size)
            end = self.index(high, item, size) if high is not None else start
            if self.strict and not (0 <= start <= end < size):
                raise PathError("jsonpath array subscript is out of bounds")
            start, end = max(start, 0), min(end, size - 1)
            yield from item[start : end + 1]

    def index(self, node: Node, item: list[Any], size: int) -> int:
        got = self.items(node, item, size - 1)
        if len(got) != 1 or not _number(got[0]):
            raise PathError("jsonpath array subscript is not a single numeric value")
        return int(got[0])

    def method(self, name: str, item: Any) -> Iterator[Any]:
        if name in ("keyvalue", "datetime"):
            raise FeatureNotSupported(
                f"jsonpath item method .{name}() is not supported",
                hint="hati runs jsonpath's accessors, filters and numeric methods.",
            )
        if name == "type":
            yield _type(item)
            return
        if name == "size":
            if isinstance(item, list):
                yield Decimal(len(item))
            elif self.strict:
                raise PathError("jsonpath item method .size() can only be applied to an array")
            else:
                yield Decimal(1)
            return
        for x in self.lax_unwrap(item):
            yield _numeric_method(name, x)

    # ---- predicates: True, False or UNKNOWN
    def predicate(self, node: Node, current: Any) -> bool | None:
        kind = node[0]
        if kind == "and":
            a = self.predicate(node[1], current)
            if a is False:
                return False
            b = self.predicate(node[2], current)
            return False if b is False else (True if a is True and b is True else UNKNOWN)
        if kind == "or":
            a = self.predicate(node[1], current)
            if a is True:
                return True
            b = self.predicate(node[2], current)
            return True if b is True else (False if a is False and b is False else UNKNOWN)
        if kind == "not":
            got = self.predicate(node[1], current)
            return UNKNOWN if got is None else not got
        if kind == "is_unknown":
            return self.predicate(node[1], current) is UNKNOWN
        if kind == "exists":
            return self.exists(node[1], current)
        if kind == "cmp":
            return self.any_pair(node[2], node[3], current, lambda a, b: _compare(node[1], a, b))
        if kind == "starts":
            return self.any_pair(node[1], node[2], current, _starts)
        if kind == "like_regex":
            pattern = node[2]
            return self.any_pair(node[1], ("value", ""), current, lambda a, _: _like(pattern, a))
        raise SyntaxError_("syntax error of jsonpath input: a predicate is expected")

    def exists(self, node: Node, current: Any) -> bool | None:
        try:
            got = self.items(node, current)
        except PathError:
            return UNKNOWN
        return bool(got)

    def any_pair(
        self, left: Node, right: Node, current: Any, test: Callable[[Any, Any], bool | None]
    ) -> bool | None:
        try:
            a = self.unwrapped(left, current)
            b = self.unwrapped(right, current)
        except PathError:
            return UNKNOWN
        found = error = False
        for x in a:
            for y in b:
                got = test(x, y)
                if got is UNKNOWN:
                    if self.strict:
                        return UNKNOWN
                    error = True
                elif got:
                    if not self.strict:
                        return True
                    found = True
        return True if found else (UNKNOWN if error else False)


def _descend(item: Any, first: int, last: int, level: int) -> Iterator[Any]:
    if level >= first:
        yield item
    if last != -1 and level >= last:
        return
    children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
    for child in children:
        yield from _descend(child, first, last, level + 1)


def _number(x: Any) -> bool:
    return isinstance(x, Decimal)


def _type(x: Any) -> str:
    if isinstance(x, dict):
        return "object"
    if isinstance(x, list):
        return "array"
    if isinstance(x, str):
        return "string"
    if isinstance(x, bool):
        return "boolean"
    if x is None:
        return "null"
    return "number"


def _numeric_method(name: str, x: Any) -> Decimal:
    if name == "double":
        if isinstance(x, str):
            try:
                value = float(x)
            except ValueError:
                raise PathError(
                    "string argument of jsonpath item method .double() is not a valid "
                    "representation of a double precision number"
                ) from None
            if math.isinf(value) or math.isnan(value):
                raise PathError(
                    "string argument of jsonpath item method .double() is not a valid "
                    "representation of a double precision number"
                )
            return Decimal(repr(value))
        if not _number(x):
            raise PathError(
                "jsonpath item method .double() can only be applied to a string or numeric value"
            )
        return Decimal(repr(float(x)))
    if not _number(x):
        raise PathError(f"jsonpath item method .{name}() can only be applied to a numeric value")
    if name == "abs":
        return abs(x)
    if name == "floor":
        return x.to_integral_value(rounding="ROUND_FLOOR")
    return x.to_integral_value(rounding="ROUND_CEILING")


def _compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        if a is None and b is None:
            return op in ("==", "<=", ">=")
        return op == "!="
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        return UNKNOWN
    if isinstance(a, bool) != isinstance(b, bool) or _number(a) != _number(b):
        return UNKNOWN
    if isinstance(a, str) != isinstance(b, str):
        return UNKNOWN
    try:
        return {
            "==": a == b,
            "!=": a != b,
            "<": a < b,
            "<=": a <= b,
            ">": a > b,
            ">=": a >= b,
        }[op]
    except (TypeError, InvalidOperation):
        return UNKNOWN


def _starts(a: Any, b: Any) -> bool | None:
    if not isinstance(a, str) or not isinstance(b, str):
        return UNKNOWN
    return a.startswith(b)


def _like(pattern: re.Pattern[str], a: Any) -> bool | None:
    if not isinstance(a, str):
        return UNKNOWN
    return pattern.search(a) is not None


def _ordered(v: Any) -> Any:
    """A document with its objects' keys in jsonb's order (what ``.*`` and ``.**`` walk)."""
    if isinstance(v, dict):
        return {k: _ordered(v[k]) for k in sorted(v, key=jsonb._key)}
    if isinstance(v, list):
        return [_ordered(x) for x in v]
    return v


def _run(doc: str, path: str, variables: str | None) -> list[Any]:
    strict, tree = parse(path)
    bound = jsonb._load(variables) if variables is not None else {}
    if not isinstance(bound, dict):
        raise InvalidParameter(
            '"vars" argument is not an object',
            hint='Jsonpath parameters should be encoded as key-value pairs of "vars" object.',
        )
    run = _Run(_ordered(jsonb._load(doc)), {k: _ordered(v) for k, v in bound.items()}, strict)
    return run.items(tree, run.root)


def _silently(fn: Callable[..., Any], silent: bool, *args: Any) -> Any:
    try:
        return fn(*args)
    except PathError:
        if silent:
            return None
        raise


def query(doc: str, path: str, variables: str | None, silent: bool) -> list[str]:
    """jsonb_path_query: each item's jsonb text (NULL when silent and it failed)."""
    got = _silently(_run, silent, doc, path, variables)
    return [] if got is None else [jsonb._dump(x) for x in got]


def exists(doc: str, path: str, variables: str | None, silent: bool) -> bool | None:
    got = _silently(_run, silent, doc, path, variables)
    return None if got is None else bool(got)


def match(doc: str, path: str, variables: str | None, silent: bool) -> bool | None:
    got = _silently(_run, silent, doc, path, variables)
    if got is None:
        return None
    if len(got) == 1 and (got[0] is None or isinstance(got[0], bool)):
        return got[0]
    if silent:
        return None
    raise PathError("single boolean result is expected")


def query_array(doc: str, path: str, variables: str | None, silent: bool) -> str | None:
    got = _silently(_run, silent, doc, path, variables)
    return None if got is None else jsonb._dump(got)


def query_first(doc: str, path: str, variables: str | None, silent: bool) -> str | None:
    got = _silently(_run, silent, doc, path, variables)
    return jsonb._dump(got[0]) if got else None


def validate(text: str) -> None:
    """A jsonpath literal's syntax checked (the cast of ``'...'::jsonpath``)."""
    parse(text)


_ARGS = [VARCHAR, VARCHAR, VARCHAR, BOOLEAN]
MAYBE_NULL = frozenset(
    {"hati_jsonpath_exists", "hati_jsonpath_match", "hati_jsonpath_array", "hati_jsonpath_first"}
)
FUNCTIONS: dict[str, tuple[Callable[..., Any], list[Any], Any]] = {
    "hati_jsonpath_query": (query, _ARGS, duckdb.list_type(VARCHAR)),
    "hati_jsonpath_exists": (exists, _ARGS, BOOLEAN),
    "hati_jsonpath_match": (match, _ARGS, BOOLEAN),
    "hati_jsonpath_array": (query_array, _ARGS, VARCHAR),
    "hati_jsonpath_first": (query_first, _ARGS, VARCHAR),
}
