"""What the PostgreSQL emulation needs inside the database, created at start-up.

The catalog's filtered views and macros (``catalog.py``), the Python functions jsonb's
operators, the regular-expression functions and to_char call (``jsonb.py``, ``regex.py``,
``tochar.py``, registered for every connection of the database), then
the DuckDB objects the translation rules and expansions call (each module's
``SETUP_SQL``), all in the hidden schema. Idempotent: every start runs it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import duckdb
from duckdb.func import FunctionNullHandling

from hati.pg import (
    catalog,
    composites,
    domains,
    expand,
    jsonb,
    jsonpath,
    jsonpopulate,
    numeric,
    numspecials,
    regex,
    similar,
    sqlfunctions,
    tochar,
    translate,
    valuetext,
)


def install(cur: duckdb.DuckDBPyConnection) -> None:
    catalog.install(cur)
    register(cur, jsonb)
    register(cur, jsonpath)
    register(cur, regex)
    register(cur, similar)
    register(cur, numeric)
    valuetext.register(cur)
    register(cur, jsonpopulate, nulls=True)
    register(cur, tochar, nulls=True)
    for sql in [*translate.setup_sql(), expand.SETUP_SQL, domains.SETUP_SQL]:
        cur.execute(sql)
    numspecials.install(cur)
    sqlfunctions.load(cur, (catalog.HIDDEN,))
    composites.load(cur, (catalog.HIDDEN,))
    domains.load(cur)


def register(cur: duckdb.DuckDBPyConnection, module: ModuleType, nulls: bool = False) -> None:
    """Make a module's Python ``FUNCTIONS`` (name -> function, parameter types, result
    type) callable from every connection of the database. Those in its ``MAYBE_NULL``
    answer a list of none or one value (DuckDB's Python functions cannot answer NULL):
    the translation takes its first item. ``nulls``: the functions are called with NULL
    arguments too, and may answer NULL."""
    maybe_null = getattr(module, "MAYBE_NULL", ())
    handling = FunctionNullHandling.SPECIAL if nulls else FunctionNullHandling.DEFAULT
    for name, (fn, params, returns) in module.FUNCTIONS.items():
        with contextlib.suppress(duckdb.InvalidInputException):
            cur.remove_function(name)
        if name in maybe_null:
            # DuckDB does not keep the function alive: this module does
            fn, returns = _LISTED.setdefault(name, _listed(fn)), duckdb.list_type(returns)
        cur.create_function(name, fn, params, returns, side_effects=False, null_handling=handling)


_LISTED: dict[str, Callable[..., Any]] = {}


def _listed(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any) -> list[Any]:
        got = fn(*args)
        return [] if got is None else [got]

    return call
