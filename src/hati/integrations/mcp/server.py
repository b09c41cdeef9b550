"""The ``hati mcp`` tools and resources, on the official MCP SDK's low-level ``Server``.

Every tool is declared once below: its name, the JSON schema of its arguments, a
description written for the language model that will call it, and an async handler
that turns the arguments into SQL for hati. Arguments are checked against the schema
before anything reaches hati; every failure (unknown tool, bad arguments, an error hati
reports, a lost connection) comes back as a tool result with ``isError`` set and the
SQLSTATE, message and hint, so the model can read it and try again and the server
itself never goes down.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import jsonschema
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.shared.exceptions import MCPError

from . import sqlcheck
from .connection import HatiError, Link, Result

log = logging.getLogger("hati.mcp")

DEFAULT_AGENT = "mcp"
DEFAULT_MAX_ROWS = 100
TABLES_URI = "hati://tables"
TABLE_URI = "hati://tables/{name}"

INSTRUCTIONS = """\
hati is a PostgreSQL-compatible SQL database (DuckDB underneath) with branches.
"main" is the shared state every agent sees. A branch is an instant, isolated
snapshot of main: try a change there (branch_create, then branch_query with
INSERT/UPDATE/DELETE/CREATE TABLE ...), look at what changed (branch_diff), and
either merge it into main (branch_merge) or throw it away (branch_discard).
Read main with query (it never changes anything); change main directly with
execute. Errors come back with a PostgreSQL SQLSTATE and a hint saying what to do.
Every statement is recorded in the table hati_audit with the agent that ran it."""


# -- argument schemas shared by several tools -------------------------------------------

_AGENT_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "description": "Optional: the agent this call acts for, recorded in hati_audit. "
    "Leave it out to use the MCP server's agent id.",
}
_MAX_ROWS = {
    "type": "integer",
    "minimum": 0,
    "maximum": 10000,
    "default": DEFAULT_MAX_ROWS,
    "description": f"Return at most this many rows (default {DEFAULT_MAX_ROWS}); "
    "'truncated' says whether there were more.",
}
_BRANCH = {
    "type": "string",
    "minLength": 1,
    "description": "Name of an existing branch (see branch_list).",
}
_PARAMS = {
    "type": "array",
    "items": {"type": ["string", "number", "integer", "boolean", "null"]},
    "description": "Values for the placeholders $1, $2, ... in sql, in order.",
}
_SQL = {"type": "string", "minLength": 1}
# branch_diff and branch_conflicts: a branch in, rows out, nothing changed.
_READ_BRANCH: dict[str, Any] = {
    "properties": {"branch": _BRANCH, "max_rows": _MAX_ROWS},
    "required": ("branch",),
    "read_only": True,
    "idempotent": True,
}


@dataclass(frozen=True)
class Call:
    """One tool call: who makes it, its request id, and the link to hati."""

    link: Link
    agent_id: str
    request_id: str
    read_only_main: bool = False

    async def results(self, sql: str, params: list[Any] | None = None, **kw: Any) -> list[Result]:
        return await self.link.run(self.agent_id, self.request_id, sql, params, **kw)

    async def one(self, sql: str, params: list[Any] | None = None, **kw: Any) -> Result:
        return (await self.results(sql, params, **kw))[-1]


Handler = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    title: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    handler: Handler
    read_only: bool
    destructive: bool
    idempotent: bool

    @property
    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {**self.properties, "agent_id": _AGENT_ID},
            "required": list(self.required),
            "additionalProperties": False,
        }

    def as_mcp(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                open_world_hint=False,
            ),
        )


TOOLS: dict[str, ToolSpec] = {}


def tool(
    name: str,
    title: str,
    description: str,
    properties: dict[str, Any] | None = None,
    required: tuple[str, ...] = (),
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        TOOLS[name] = ToolSpec(
            name,
            title,
            description,
            properties or {},
            required,
            fn,
            read_only,
            destructive,
            idempotent,
        )
        return fn

    return register


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


# -- tools ----------------------------------------------------------------------------------


@tool(
    "query",
    "Read main (SQL SELECT)",
    """Run one read-only SQL statement on main, the shared state, and return its rows.

Use it to look at data: SELECT (with WITH, JOIN, GROUP BY ...), VALUES, TABLE, SHOW
or EXPLAIN. It never changes anything: a statement that would write (INSERT, UPDATE,
CREATE ..., SELECT INTO, nextval, branch_create ...) is refused with SQLSTATE 25006.
To change main use execute; to try a change safely use branch_create + branch_query.
PostgreSQL syntax; $1, $2 ... placeholders take their values from params.

Returns {"columns": [...], "types": [...], "rows": [[...], ...], "row_count": n,
"truncated": false, "request_id": "..."}: rows are arrays in column order, at most
max_rows of them; truncated is true when there were more (narrow the query).

Examples:
  {"sql": "SELECT service, replicas FROM deploy_config ORDER BY service"}
  {"sql": "SELECT * FROM deploy_config WHERE region = $1", "params": ["us-east-1"]}
  {"sql": "SELECT agent_id, sql, outcome FROM hati_audit ORDER BY seq DESC LIMIT 5"}""",
    {
        "sql": {**_SQL, "description": "One read-only SQL statement."},
        "params": _PARAMS,
        "max_rows": _MAX_ROWS,
    },
    ("sql",),
    read_only=True,
    idempotent=True,
)
async def _query(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    refusal = sqlcheck.check_read_only(args["sql"])
    if refusal is not None:
        raise HatiError(refusal.sqlstate, refusal.message, hint=refusal.hint)
    result = await call.one(
        args["sql"], _param_values(args), max_rows=_max_rows(args), read_only=True, retry=True
    )
    return result.as_dict()


@tool(
    "execute",
    "Change main (SQL DDL/DML)",
    """Run SQL that changes main directly: CREATE TABLE, INSERT, UPDATE, DELETE, ALTER,
DROP ... Changes are committed at once and every agent sees them.

Prefer trying risky changes in a branch (branch_create + branch_query, then
branch_diff and branch_merge). Several statements separated by ';' run as one unit:
if one fails, none of them is kept (params then not allowed: one statement only).
Each call commits on its own; a BEGIN without COMMIT in the same call is rolled back.

Returns {"results": [...], "request_id": "..."}: one entry per statement, either
{"status": "INSERT 0 3", "rows_affected": 3} or, for statements that return rows
(RETURNING, SELECT), {"columns", "types", "rows", "row_count", "truncated"}.

Examples:
  {"sql": "CREATE TABLE deploy_config (service VARCHAR, replicas INTEGER, region VARCHAR)"}
  {"sql": "INSERT INTO deploy_config VALUES ($1, $2, $3)", "params": ["api", 3, "us-east-1"]}
  {"sql": "UPDATE deploy_config SET replicas = 2 WHERE service = 'api'; DELETE FROM deploy_config WHERE replicas = 0"}""",
    {
        "sql": {
            **_SQL,
            "description": "SQL to run on main: one statement, or several separated by ';'.",
        },
        "params": _PARAMS,
        "max_rows": _MAX_ROWS,
    },
    ("sql",),
    destructive=True,
)
async def _execute(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    _refuse_main_write(call, "execute")
    refusal = sqlcheck.check_session_settings(args["sql"])
    if refusal is not None:
        raise HatiError(refusal.sqlstate, refusal.message, hint=refusal.hint)
    results = await call.results(
        args["sql"], _param_values(args), max_rows=_max_rows(args), all_results=True
    )
    return {"results": [r.as_dict() for r in results]}


_LIST_TABLES = """\
SELECT t.table_name, t.table_type, count(c.column_name) AS columns
FROM information_schema.tables t
LEFT JOIN information_schema.columns c
  ON c.table_schema = t.table_schema AND c.table_name = t.table_name
WHERE t.table_schema = 'main'
GROUP BY t.table_name, t.table_type
ORDER BY t.table_name"""


async def _tables(call: Call) -> dict[str, Any]:
    result = await call.one(_LIST_TABLES, max_rows=-1, retry=True)
    return {
        "tables": [
            {"name": name, "type": "view" if kind == "VIEW" else "table", "columns": n}
            for name, kind, n in result.rows
        ]
    }


@tool(
    "list_tables",
    "List main's tables",
    """List the tables and views of main, with how many columns each has.

Use it first to see what data exists, then describe_table for a table's columns.
hati_audit (a view) is the audit trail: one row per statement any agent ran.
A branch sees main's tables as they were when it was created, plus the tables it
created itself (branch_diff lists those as change "create_table").

Returns {"tables": [{"name": "deploy_config", "type": "table", "columns": 5}, ...]}.""",
    read_only=True,
    idempotent=True,
)
async def _list_tables(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await _tables(call)


_COLUMNS = """\
SELECT column_name, data_type, is_nullable, column_default
FROM information_schema.columns
WHERE table_schema = 'main' AND table_name = $1
ORDER BY ordinal_position"""
_PRIMARY_KEY = """\
SELECT k.column_name
FROM information_schema.table_constraints c
JOIN information_schema.key_column_usage k
  ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
 AND k.table_name = c.table_name
WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = 'main' AND c.table_name = $1
ORDER BY k.ordinal_position"""


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def _describe(call: Call, table: str, branch: str | None = None) -> dict[str, Any]:
    if branch:
        # The table as the branch sees it. Only names and types: a branch's copy of a
        # table does not carry the original's constraints.
        probe = await call.one(
            "SELECT branch_query($1, $2)",
            [branch, f"DESCRIBE {_quote_ident(table)}"],
            max_rows=-1,
            retry=True,
        )
        columns = [
            {"name": rec["column_name"], "type": rec["column_type"]} for rec in probe.records()
        ]
        return {"table": table, "branch": branch, "columns": columns}
    cols = await call.one(_COLUMNS, [table], max_rows=-1, retry=True)
    if not cols.rows:
        raise HatiError(
            "42P01",
            f'relation "{table}" does not exist in main',
            hint="list_tables shows main's tables; names are case-sensitive.",
        )
    key = [r[0] for r in (await call.one(_PRIMARY_KEY, [table], max_rows=-1, retry=True)).rows]
    return {
        "table": table,
        "columns": [
            {
                "name": name,
                "type": dtype,
                "nullable": nullable == "YES",
                "default": default,
                "primary_key": name in key,
            }
            for name, dtype, nullable, default in cols.rows
        ],
        "primary_key": key,
    }


@tool(
    "describe_table",
    "Describe a table's columns",
    """Show a table's columns: name, type, whether it may be NULL, its default, and
whether it is part of the primary key (merges match rows by the primary key; a table
without one is merged by whole-row value).

With branch, describe the table as that branch sees it (names and types only), e.g.
a table the branch created or altered.

Returns {"table": "deploy_config", "columns": [{"name": "service", "type": "VARCHAR",
"nullable": true, "default": null, "primary_key": false}, ...], "primary_key": []}.

Examples: {"table": "deploy_config"}   {"table": "deploy_config", "branch": "plan-a"}""",
    {
        "table": {"type": "string", "minLength": 1, "description": "Table name (case-sensitive)."},
        "branch": {**_BRANCH, "description": "Optional: describe it as this branch sees it."},
    },
    ("table",),
    read_only=True,
    idempotent=True,
)
async def _describe_table(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await _describe(call, args["table"], args.get("branch"))


@tool(
    "branch_create",
    "Create a branch",
    """Create a branch: an isolated snapshot of main (or of another branch) that you can
change freely. Instant whatever the data size; nothing is copied until you write.

Writes in the branch (branch_query) are invisible to main and to other branches
until branch_merge. Names: letters, digits, '_', '.', '-' (at most 63), unique among
live branches (a taken name fails with 42710, a bad one with 22023). ttl_seconds
makes the branch expire (be discarded) after that many seconds.

Returns {"branch": "plan-a", "parent": "main"}.

Examples: {"name": "plan-a"}   {"name": "plan-a-v2", "parent": "plan-a"}
          {"name": "scratch", "ttl_seconds": 3600}""",
    {
        "name": {"type": "string", "minLength": 1, "description": "New branch name."},
        "parent": {**_BRANCH, "description": "Optional: branch to fork from (default main)."},
        "ttl_seconds": {
            "type": "integer",
            "minimum": 1,
            "description": "Optional: discard the branch after this many seconds.",
        },
    },
    ("name",),
)
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


@tool(
    "branch_query",
    "Run SQL in a branch",
    """Run one SQL statement inside a branch: SELECT, INSERT, UPDATE, DELETE, CREATE
TABLE, ALTER, DROP ... Table names resolve inside the branch. Main and other branches
are never touched, so this is the safe place to try changes.

The branch sees main as it was when the branch was created, plus its own writes.
An unknown branch fails with 42704; SQL errors keep their own SQLSTATE.

Returns, for a SELECT, {"columns", "types", "rows", "row_count", "truncated"}; for
other statements {"status": "UPDATE 3", "rows_affected": 3}.

Examples:
  {"branch": "plan-a", "sql": "UPDATE deploy_config SET replicas = replicas * 3"}
  {"branch": "plan-a", "sql": "SELECT service, replicas FROM deploy_config ORDER BY service"}""",
    {
        "branch": _BRANCH,
        "sql": {**_SQL, "description": "One SQL statement to run in the branch."},
        "max_rows": _MAX_ROWS,
    },
    ("branch", "sql"),
)
async def _branch_query(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    result = await call.one(
        "SELECT branch_query($1, $2)", [args["branch"], args["sql"]], max_rows=_max_rows(args)
    )
    if result.columns == ["status", "rows_affected"] and len(result.rows) == 1:
        status, affected = result.rows[0]
        return {"branch": args["branch"], "status": status, "rows_affected": affected}
    return {"branch": args["branch"], **result.as_dict()}


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


@tool(
    "branch_diff",
    "What a branch changed",
    """List what a branch changed compared with main as it was at the fork: one entry
per changed row, with the table, the change (insert, delete, update, or create_table /
drop_table / alter_table for schema changes), the row's key and its old and new values.

Use it to judge a branch before branch_merge. Tables without a primary key show an
UPDATE as a delete plus an insert (key is the whole row).

Returns {"branch": "plan-a", "changes": [{"table": "deploy_config", "change":
"update", "key": {...}, "old_values": {...}, "new_values": {...}}, ...], "count": n,
"truncated": false}.

Example: {"branch": "plan-a"}""",
    **_READ_BRANCH,
)
async def _branch_diff(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await _branch_rows(call, args, "branch_diff", "changes")


@tool(
    "branch_conflicts",
    "Rows changed in both main and a branch",
    """List merge conflicts: rows changed both in main and in the branch since the fork
(to different values), with the row's base (at fork), main and branch versions.

Empty means branch_merge will apply cleanly. Otherwise choose a strategy for
branch_merge (branch_wins, main_wins, abort) or settle each row with branch_resolve
and merge with strategy "manual".

Returns {"branch": "plan-a", "conflicts": [{"table": "deploy_config", "key": {...},
"base_values": {...}, "main_values": {...}, "branch_values": {...}}], "count": n,
"truncated": false}.

Example: {"branch": "plan-a"}""",
    **_READ_BRANCH,
)
async def _branch_conflicts(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    return await _branch_rows(call, args, "branch_conflicts", "conflicts")


@tool(
    "branch_resolve",
    "Settle one merge conflict",
    """Record how one conflicting row is to be merged, for a later branch_merge with
strategy "manual": keep main's version ("main"), take the branch's ("branch"), or
write your own column values (an object).

Only rows branch_conflicts lists can be resolved (others fail with 22023); copy
table and key from its output. The merge applies only once every conflict has a
resolution.

Returns {"branch", "table", "key", "resolution"}.

Examples:
  {"branch": "plan-a", "table": "deploy_config", "key": {"service": "api"}, "resolution": "branch"}
  {"branch": "plan-a", "table": "t", "key": {"id": 1}, "resolution": {"id": 1, "v": "merged"}}""",
    {
        "branch": _BRANCH,
        "table": {"type": "string", "minLength": 1, "description": "Table of the row."},
        "key": {
            "type": ["object", "string"],
            "description": "The row's key, as branch_conflicts shows it.",
        },
        "resolution": {
            "anyOf": [{"type": "string", "enum": ["main", "branch"]}, {"type": "object"}],
            "description": '"main", "branch", or an object of column values.',
        },
    },
    ("branch", "table", "key", "resolution"),
    idempotent=True,
)
async def _branch_resolve(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    key, resolution = args["key"], args["resolution"]
    as_text = [v if isinstance(v, str) else json.dumps(v) for v in (key, resolution)]
    result = await call.one(
        "SELECT branch_resolve($1, $2, $3, $4)", [args["branch"], args["table"], *as_text]
    )
    rec = _objects(result, {"branch_name": "branch", "table_name": "table"})[0]
    return rec


@tool(
    "branch_merge",
    "Merge a branch into main",
    """Merge a branch's changes into its parent (main) with a three-way merge, and retire
the branch.

Rows changed only in the branch are applied. Rows changed on both sides are
conflicts, settled by strategy: "branch_wins" (default: the branch's version),
"main_wins" (keep main's), "abort" (fail with 40001 and change nothing if there is
any conflict), "manual" (use the choices recorded with branch_resolve; if any
conflict has none, nothing is applied and status is "conflicts").

Returns {"branch", "strategy", "inserted", "updated", "deleted", "conflicts",
"status": "merged" | "conflicts"}.

Examples: {"branch": "plan-a"}   {"branch": "plan-a", "strategy": "abort"}""",
    {
        "branch": _BRANCH,
        "strategy": {
            "type": "string",
            "enum": ["branch_wins", "main_wins", "manual", "abort"],
            "default": "branch_wins",
            "description": "How to settle rows changed on both sides.",
        },
    },
    ("branch",),
    destructive=True,
)
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


@tool(
    "branch_discard",
    "Throw a branch away",
    """Discard a branch and everything written in it; main is untouched and its storage
is given back. A branch that has live child branches must have them merged or
discarded first (2BP01).

Returns {"discarded": "plan-b"}.

Example: {"branch": "plan-b"}""",
    {"branch": _BRANCH},
    ("branch",),
    destructive=True,
)
async def _branch_discard(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    result = await call.one("SELECT branch_discard($1)", [args["branch"]])
    return {"discarded": result.rows[0][0]}


@tool(
    "branch_list",
    "List live branches",
    """List the live branches: name, parent, the agent that created it, when, how many
tables it has materialized, how many rows it changed, and when it expires.

Returns {"branches": [{"name": "plan-a", "parent": "main", "created_by": "planner",
"created_at": "...", "tables_materialized": 1, "rows_changed": 3, "expires_at": null}]}
(an empty list when there are none).""",
    read_only=True,
    idempotent=True,
)
async def _branch_list(call: Call, args: dict[str, Any]) -> dict[str, Any]:
    result = await call.one("SELECT * FROM branch_list()", max_rows=-1, retry=True)
    return {"branches": result.records()}


# -- results --------------------------------------------------------------------------------


def _ok(payload: dict[str, Any]) -> types.CallToolResult:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=payload
    )


def error_result(err: HatiError, request_id: str | None = None) -> types.CallToolResult:
    payload: dict[str, Any] = {"error": err.as_dict()}
    if request_id:
        payload["request_id"] = request_id
    lines = [f"ERROR {err.sqlstate}: {err.message}"]
    if err.detail:
        lines.append(f"DETAIL: {err.detail}")
    if err.hint:
        lines.append(f"HINT: {err.hint}")
    return types.CallToolResult(
        content=[types.TextContent(type="text", text="\n".join(lines))],
        structured_content=payload,
        is_error=True,
    )


def _argument_error(spec: ToolSpec, errors: list[jsonschema.ValidationError]) -> HatiError:
    problems = []
    for e in sorted(errors, key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in e.absolute_path) or "arguments"
        problems.append(f"{where}: {e.message}")
    props = ", ".join(
        f"{k}{'' if k in spec.required else '?'}" for k in spec.input_schema["properties"]
    )
    return HatiError(
        "22023",
        f"invalid arguments for {spec.name}: " + "; ".join(problems),
        hint=f"{spec.name} takes {{{props}}} (? = optional); see its input schema.",
    )


# -- the server -----------------------------------------------------------------------------


class HatiMCP:
    """The MCP server: tools and resources over one :class:`Link` to hati."""

    def __init__(self, link: Link, agent_id: str | None = None, *, read_only: bool = False) -> None:
        self.link = link
        self.agent_id = agent_id
        self.read_only = read_only
        self._validators = {
            name: jsonschema.Draft202012Validator(spec.input_schema) for name, spec in TOOLS.items()
        }
        self.server: Server[Any] = Server(
            "hati",
            version=_version(),
            title="hati: SQL with branches",
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
        )

    def agent_for(self, ctx: ServerRequestContext[Any] | None) -> str:
        """The server's agent id, else the MCP client's name, else ``mcp``."""
        if self.agent_id:
            return self.agent_id
        params = ctx.session.client_params if ctx is not None else None
        name = params.client_info.name if params is not None and params.client_info else None
        return (name or DEFAULT_AGENT)[:63]

    def new_call(self, ctx: ServerRequestContext[Any] | None, agent_id: str | None = None) -> Call:
        """A call as ``agent_id`` (default: :meth:`agent_for`) with a fresh request id."""
        return Call(
            self.link,
            agent_id or self.agent_for(ctx),
            f"mcp-{uuid.uuid4().hex[:16]}",
            self.read_only,
        )

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[spec.as_mcp() for spec in TOOLS.values()])

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None, ctx: ServerRequestContext[Any] | None
    ) -> types.CallToolResult:
        spec = TOOLS.get(name)
        if spec is None:
            return error_result(
                HatiError(
                    "42883",
                    f"tool {name!r} does not exist",
                    hint="Available tools: " + ", ".join(TOOLS) + ".",
                )
            )
        args = dict(arguments or {})
        errors = list(self._validators[name].iter_errors(args))
        if errors:
            return error_result(_argument_error(spec, errors))
        call = self.new_call(ctx, args.pop("agent_id", None))
        try:
            payload = await spec.handler(call, args)
        except HatiError as err:
            return error_result(err, call.request_id)
        except Exception as exc:  # the server must answer, whatever went wrong
            log.exception("tool %s failed", name)
            return error_result(
                HatiError("XX000", f"internal error in hati mcp: {type(exc).__name__}: {exc}"),
                call.request_id,
            )
        return _ok({**payload, "request_id": call.request_id})

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await self.call_tool(params.name, params.arguments, ctx)

    # -- resources ---------------------------------------------------------------------

    async def _list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        resources = [
            types.Resource(
                uri=TABLES_URI,
                name="tables",
                title="main's tables",
                description="The tables and views of main, with their column counts (JSON).",
                mime_type="application/json",
            )
        ]
        try:
            tables = (await _tables(self.new_call(ctx)))["tables"]
        except HatiError as err:  # the list must still answer when hati does not
            log.warning("listing tables for resources/list failed: %s", err.message)
            tables = []
        resources += [
            types.Resource(
                uri=f"hati://tables/{quote(t['name'], safe='')}",
                name=t["name"],
                title=f"{t['type']} {t['name']}",
                description=f"Columns and types of main's {t['type']} {t['name']} (JSON).",
                mime_type="application/json",
            )
            for t in tables
        ]
        return types.ListResourcesResult(resources=resources)

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=TABLE_URI,
                    name="table",
                    title="A table's schema",
                    description="Columns (name, type, nullable, default, primary key) of a "
                    "table in main (JSON).",
                    mime_type="application/json",
                )
            ]
        )

    async def read(self, uri: str, ctx: ServerRequestContext[Any] | None) -> dict[str, Any]:
        call = self.new_call(ctx)
        if uri == TABLES_URI:
            return await _tables(call)
        prefix = TABLES_URI + "/"
        if uri.startswith(prefix) and len(uri) > len(prefix):
            return await _describe(call, unquote(uri[len(prefix) :]))
        raise MCPError(
            code=types.INVALID_PARAMS,
            message=f"unknown resource {uri}; hati serves {TABLES_URI} and {TABLE_URI}",
            data={"uri": uri},
        )

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            payload = await self.read(uri, ctx)
        except HatiError as err:
            raise MCPError(
                code=types.INVALID_PARAMS if err.sqlstate == "42P01" else types.INTERNAL_ERROR,
                message=f"ERROR {err.sqlstate}: {err.message}",
                data={"uri": uri, **err.as_dict()},
            ) from err
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri,
                    text=json.dumps(payload, ensure_ascii=False),
                    mime_type="application/json",
                )
            ]
        )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hati")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"
