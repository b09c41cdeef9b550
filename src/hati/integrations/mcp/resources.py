"""The resources ``hati mcp`` serves: main's tables (``hati://tables``) and one table's
schema (``hati://tables/{name}``), as JSON.

``resources/list`` names every table of main; when hati does not answer it still
lists ``hati://tables``. A read that fails comes back as an MCP error: invalid params
for an unknown resource or table, an internal error otherwise.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote, unquote

import mcp_types as types
from mcp.shared.exceptions import MCPError

from . import catalog
from .connection import Call, HatiError

log = logging.getLogger("hati.mcp")

TABLES_URI = "hati://tables"
TABLE_URI = "hati://tables/{name}"
_JSON = "application/json"


async def list_resources(call: Call) -> types.ListResourcesResult:
    resources = [
        types.Resource(
            uri=TABLES_URI,
            name="tables",
            title="main's tables",
            description="The tables and views of main, with their column counts (JSON).",
            mime_type=_JSON,
        )
    ]
    try:
        tables = (await catalog.tables(call))["tables"]
    except HatiError as err:  # the list must still answer when hati does not
        log.warning("listing tables for resources/list failed: %s", err.message)
        tables = []
    resources += [
        types.Resource(
            uri=f"hati://tables/{quote(t['name'], safe='')}",
            name=t["name"],
            title=f"{t['type']} {t['name']}",
            description=f"Columns and types of main's {t['type']} {t['name']} (JSON).",
            mime_type=_JSON,
        )
        for t in tables
    ]
    return types.ListResourcesResult(resources=resources)


def resource_templates() -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(
        resource_templates=[
            types.ResourceTemplate(
                uri_template=TABLE_URI,
                name="table",
                title="A table's schema",
                description="Columns (name, type, nullable, default, primary key) of a "
                "table in main (JSON).",
                mime_type=_JSON,
            )
        ]
    )


async def read(call: Call, uri: str) -> dict[str, Any]:
    """The JSON behind ``uri``; :class:`MCPError` for a resource hati does not serve."""
    if uri == TABLES_URI:
        return await catalog.tables(call)
    prefix = TABLES_URI + "/"
    if uri.startswith(prefix) and len(uri) > len(prefix):
        return await catalog.describe(call, unquote(uri[len(prefix) :]))
    raise MCPError(
        code=types.INVALID_PARAMS,
        message=f"unknown resource {uri}; hati serves {TABLES_URI} and {TABLE_URI}",
        data={"uri": uri},
    )


async def read_resource(call: Call, uri: str) -> types.ReadResourceResult:
    """``resources/read``: the resource as JSON text, or an :class:`MCPError`."""
    try:
        payload = await read(call, uri)
    except HatiError as err:
        raise MCPError(
            code=types.INVALID_PARAMS if err.sqlstate == "42P01" else types.INTERNAL_ERROR,
            message=f"ERROR {err.sqlstate}: {err.message}",
            data={"uri": uri, **err.as_dict()},
        ) from err
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(
                uri=uri, text=json.dumps(payload, ensure_ascii=False), mime_type=_JSON
            )
        ]
    )
