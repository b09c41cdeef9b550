"""What each ``hati mcp`` tool does: turn its (already validated) arguments into SQL for
hati and shape the answer as JSON.

A handler takes the :class:`~.connection.Call` and the arguments and returns a JSON
object, or raises :class:`~.connection.HatiError` with the SQLSTATE and a hint; the
tools themselves (names, schemas, descriptions) are declared in :mod:`.tools`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from . import catalog, sqlcheck
from .connection import Call, HatiError, Result
from .tools import DEFAULT_MAX_ROWS

Handler = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]


def _max_rows(args: dict[str, Any]) -> int:
    return int(args.get("max_rows", DEFAULT_MAX_ROWS))


def _param_values(args: dict[str, Any]) -> list[Any] | None:
    params = args.get("params")
    return None if params is None else list(params)


def _json_text(value: Any) -> Any:
    """hati's branch functions return row keys and values as JSON text: parse them."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _objects(result: Result, rename: dict[str, str] | None = None) -> list[dict[str, Any]]:
    rename = rename or {}
    return [{rename.get(k, k): _json_text(v) for k, v in rec.items()} for rec in result.records()]


def _refuse_main_write(call: Call, what: str) -> None:
    if call.read_only_main:
        raise HatiError(
            "25006",
            f"{what} would change main, and this MCP server was started with --read-only",
            hint="Work in a branch (branch_create, branch_query, branch_diff); restart "
            "`hati mcp` without --read-only to change main.",
        )


async def _branch_rows(call: Call, args: dict[str, Any], function: str, key: str) -> dict[str, Any]:
    """The rows of branch_diff or branch_conflicts, JSON parsed, under ``key``."""
    result = await call.one(
        f"SELECT * FROM {function}($1)", [args["branch"]], max_rows=_max_rows(args), retry=True
    )
    return {
        "branch": args["branch"],
        key: _objects(result, {"table_name": "table"}),
        "count": result.row_count,
        "truncated": result.truncated,
    }


async def _query(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    refusal = sqlcheck.check_read_only(args["sql"])
    if refusal is not None:
        raise HatiError(refusal.sqlstate, refusal.message, hint=refusal.hint)
    result = await call.one(
        args["sql"], _param_values(args), max_rows=_max_rows(args), read_only=True, retry=True
    )
    return result.as_dict()


async def _execute(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    _refuse_main_write(call, "execute")
    refusal = sqlcheck.check_session_settings(args["sql"])
    if refusal is not None:
        raise HatiError(refusal.sqlstate, refusal.message, hint=refusal.hint)
    results = await call.results(
        args["sql"], _param_values(args), max_rows=_max_rows(args), all_results=True
    )
    return {"results": [r.as_dict() for r in results]}


async def _list_tables(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await catalog.tables(call)


async def _describe_table(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await catalog.describe(call, args["table"], args.get("branch"))


async def _branch_create(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    parent, ttl = args.get("parent"), args.get("ttl_seconds")
    if ttl is not None:
        sql, params = "SELECT branch_create($1, $2, $3)", [args["name"], parent, ttl]
    elif parent is not None:
        sql, params = "SELECT branch_create($1, $2)", [args["name"], parent]
    else:
        sql, params = "SELECT branch_create($1)", [args["name"]]
    result = await call.one(sql, params)
    out: dict[str, Any] = {"branch": result.rows[0][0], "parent": parent or "main"}
    if ttl is not None:
        out["ttl_seconds"] = ttl
    return out


async def _branch_query(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    result = await call.one(
        "SELECT branch_query($1, $2)", [args["branch"], args["sql"]], max_rows=_max_rows(args)
    )
    if result.columns == ["status", "rows_affected"] and len(result.rows) == 1:
        status, affected = result.rows[0]
        return {"branch": args["branch"], "status": status, "rows_affected": affected}
    return {"branch": args["branch"], **result.as_dict()}


async def _branch_diff(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await _branch_rows(call, args, "branch_diff", "changes")


async def _branch_conflicts(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await _branch_rows(call, args, "branch_conflicts", "conflicts")


async def _branch_resolve(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    key, resolution = args["key"], args["resolution"]
    as_text = [v if isinstance(v, str) else json.dumps(v) for v in (key, resolution)]
    result = await call.one(
        "SELECT branch_resolve($1, $2, $3, $4)", [args["branch"], args["table"], *as_text]
    )
    rec = _objects(result, {"branch_name": "branch", "table_name": "table"})[0]
    return rec


async def _branch_merge(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    _refuse_main_write(call, "branch_merge")
    strategy = args.get("strategy", "branch_wins")
    result = await call.one("SELECT branch_merge($1, $2)", [args["branch"], strategy])
    rec = result.records()[0]
    if rec.get("status") == "conflicts":
        rec["hint"] = (
            "Nothing was applied. See branch_conflicts, then branch_resolve each row and "
            "merge with strategy manual, or merge with branch_wins / main_wins."
        )
    return rec


async def _branch_discard(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    result = await call.one("SELECT branch_discard($1)", [args["branch"]])
    return {"discarded": result.rows[0][0]}


async def _branch_list(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    result = await call.one("SELECT * FROM branch_list()", max_rows=-1, retry=True)
    return {"branches": result.records()}


HANDLERS: dict[str, Handler] = {
    "query": _query,
    "execute": _execute,
    "list_tables": _list_tables,
    "describe_table": _describe_table,
    "branch_create": _branch_create,
    "branch_query": _branch_query,
    "branch_diff": _branch_diff,
    "branch_conflicts": _branch_conflicts,
    "branch_resolve": _branch_resolve,
    "branch_merge": _branch_merge,
    "branch_discard": _branch_discard,
    "branch_list": _branch_list,
}
