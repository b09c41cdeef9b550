"""The ``hati mcp`` server: the official MCP SDK's low-level ``Server`` over one link to
hati, serving the tools of :mod:`.tools` (run by :mod:`.handlers`) and the resources of
:mod:`.resources`.

Arguments are checked against the tool's schema before anything reaches hati; every
failure (unknown tool, bad arguments, an error hati reports, a lost connection) comes
back as a tool result with ``isError`` set and the SQLSTATE, message and hint, so the
model can read it and try again and the server itself never goes down.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import jsonschema
import mcp_types as types
from mcp.server import Server, ServerRequestContext

from . import resources
from .connection import Call, HatiError, Link
from .handlers import HANDLERS
from .tools import TOOLS, ToolSpec

log = logging.getLogger("hati.mcp")

DEFAULT_AGENT = "mcp"

INSTRUCTIONS = """\
hati is a PostgreSQL-compatible SQL database (DuckDB underneath) with branches.
"main" is the shared state every agent sees. A branch is an instant, isolated
snapshot of main: try a change there (branch_create, then branch_query with
INSERT/UPDATE/DELETE/CREATE TABLE ...), look at what changed (branch_diff), and
either merge it into main (branch_merge) or throw it away (branch_discard).
Read main with query (it never changes anything); change main directly with
execute. Errors come back with a PostgreSQL SQLSTATE and a hint saying what to do.
Every statement is recorded in the table hati_audit with the agent that ran it."""


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
            payload = await HANDLERS[name](call, args)
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
        return await resources.list_resources(self.new_call(ctx))

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return resources.resource_templates()

    async def read(self, uri: str, ctx: ServerRequestContext[Any] | None) -> dict[str, Any]:
        """The JSON behind resource ``uri``."""
        return await resources.read(self.new_call(ctx), uri)

    async def _read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await resources.read_resource(self.new_call(ctx), str(params.uri))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hati")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"
