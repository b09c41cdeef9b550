"""``hati mcp``'s tool table: every declared tool has a handler and a valid schema, and
arguments are checked before anything is sent to hati (no server)."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("mcp")

import jsonschema

from hati.integrations.mcp.connection import Link, Target
from hati.integrations.mcp.handlers import HANDLERS
from hati.integrations.mcp.server import HatiMCP
from hati.integrations.mcp.tools import TOOLS


def test_every_tool_has_a_handler_and_every_handler_a_tool() -> None:
    assert list(HANDLERS) == list(TOOLS)


@pytest.mark.parametrize("name", list(TOOLS))
def test_schema_is_valid_and_names_agent_id(name: str) -> None:
    schema = TOOLS[name].input_schema
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "agent_id" in schema["properties"]
    assert set(TOOLS[name].required) <= set(schema["properties"])


def test_bad_arguments_are_refused_before_hati_is_asked() -> None:
    # Nothing listens at this target: the answer comes from the schema check alone
    # (and the unit tests refuse any socket connection).
    app = HatiMCP(Link(Target(port=1)))
    result = asyncio.run(app.call_tool("branch_merge", {"branch": "b", "strategy": "ours"}, None))
    assert result.is_error
    err = (result.structured_content or {})["error"]
    assert err["sqlstate"] == "22023" and "strategy" in err["message"]
    assert err["hint"].startswith("branch_merge takes {branch, strategy?, agent_id?}")
    unknown = asyncio.run(app.call_tool("branch_undo", {}, None))
    assert (unknown.structured_content or {})["error"]["sqlstate"] == "42883"
