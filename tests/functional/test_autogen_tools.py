"""hati.integrations.autogen tools: formatting, schemas, and behaviour against a real server.

The server tests use the ``hati_server`` fixture (a real hati on an ephemeral port).
Tool errors must come back as text with a SQLSTATE, never as exceptions in the chat.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import psycopg
import pytest

pytest.importorskip("autogen_agentchat")

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.base import TaskResult
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.messages import TextMessage, ToolCallExecutionEvent
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core import FunctionCall
from autogen_core.models import (
    CreateResult,
    FunctionExecutionResultMessage,
    ModelInfo,
    RequestUsage,
)
from autogen_ext.models.replay import ReplayChatCompletionClient

from hati.integrations.autogen import (
    TOOL_NAMES,
    HatiBranchTools,
    format_cell,
    format_diff,
    format_error,
    format_table,
)

SQLSTATE_ERROR = re.compile(r"^ERROR [0-9A-Z]{5}: ", re.M)
MODEL_INFO = ModelInfo(
    vision=False,
    function_calling=True,
    json_output=False,
    family="unknown",
    structured_output=False,
)


def _turn(*calls: tuple[str, dict[str, Any]]) -> CreateResult:
    return CreateResult(
        finish_reason="function_calls",
        content=[
            FunctionCall(id=f"c{i}-{name}", name=name, arguments=json.dumps(args))
            for i, (name, args) in enumerate(calls)
        ],
        usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
        cached=False,
    )


def _tools(server: Any, agent_id: str = "tester", **kw: Any) -> HatiBranchTools:
    return HatiBranchTools(server.host, server.port, agent_id=agent_id, **kw)


def _main_conn(server: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=server.host,
        port=server.port,
        user="agent",
        dbname="hatidata",
        autocommit=True,
        options="-c hatidata_agent_id=test-observer",
    )


# -- no server needed -------------------------------------------------------------------


def test_format_table_truncates_and_counts() -> None:
    rows = [(i, f"name-{i}") for i in range(7)]
    text = format_table(["id", "name"], rows, max_rows=3)
    lines = text.splitlines()
    assert lines[0].split(" | ") == ["id", "name"]
    assert len(lines) == 2 + 3 + 1  # header, rule, 3 rows, footer
    assert "7 rows, showing the first 3" in lines[-1]
    assert format_table(["x"], [(1,)]).endswith("(1 row)")
    assert format_table(["x"], []).endswith("(0 rows)")


def test_format_cell_is_single_line_and_short() -> None:
    assert format_cell(None) == "NULL"
    assert format_cell({"a": 1, "b": [1, 2]}) == '{"a":1,"b":[1,2]}'
    assert format_cell("two\nlines") == "two lines"
    long = format_cell("x" * 500, max_cell=20)
    assert len(long) == 20 and long.endswith("…")


def test_format_diff_is_one_line_per_change() -> None:
    rows = [
        ("t", "update", '{"id":2}', '{"id":2,"v":"b","n":1}', '{"id":2,"v":"z","n":1}'),
        ("t", "delete", '{"s":"x","n":1}', '{"s":"x","n":1}', None),  # keyless: key == row
        ("t", "insert", '{"s":"y","n":2}', None, '{"s":"y","n":2}'),
    ]
    assert format_diff(rows).splitlines() == [
        't update key={"id":2}: v: "b" → "z"',
        't delete: {"s":"x","n":1}',
        't insert: {"s":"y","n":2}',
        "(3 changes)",
    ]
    assert format_diff(rows, max_rows=1).splitlines()[-1] == "(3 changes, showing the first 1)"


def test_format_error_carries_sqlstate() -> None:
    assert format_error(psycopg.errors.UndefinedObject("branch nope does not exist")) == (
        "ERROR 42704: branch nope does not exist"
    )
    assert format_error(psycopg.OperationalError("refused")).startswith("ERROR (connection)")
    assert format_error(RuntimeError("boom")) == "ERROR: boom"


def test_tool_schemas_are_typed_and_documented() -> None:
    tools = HatiBranchTools(agent_id="schema-check")
    fts = {t.name: t for t in tools.tools()}
    assert list(fts) == list(TOOL_NAMES)
    for ft in fts.values():
        assert len(ft.description) > 40, ft.name  # enough for a model to act on
    merge = fts["merge_branch"].schema["parameters"]
    assert merge["required"] == ["branch"]
    assert merge["properties"]["strategy"]["enum"] == [
        "branch_wins",
        "main_wins",
        "manual",
        "abort",
    ]
    assert fts["query_branch"].schema["parameters"]["required"] == ["branch", "sql"]
    assert fts["compare_branches"].schema["parameters"]["properties"]["branches"]["type"] == "array"
    assert [t.name for t in tools.tools(["run_sql", "list_branches"])] == [
        "run_sql",
        "list_branches",
    ]
    with pytest.raises(ValueError, match="unknown hati tool"):
        tools.tools(["drop_everything"])


def test_connection_is_tagged_with_agent() -> None:
    tools = HatiBranchTools(agent_id="explorer two", framework="autogen")
    assert tools.options == "-c hatidata_agent_id=explorer\\ two -c hatidata_framework=autogen"


def test_unreachable_server_is_reported_not_raised() -> None:
    async def go() -> str:
        # Port 1 on loopback: nothing listens there, the connect fails at once.
        tools = HatiBranchTools("127.0.0.1", 1, agent_id="lost", connect_timeout=2)
        try:
            return await tools.list_branches()
        finally:
            await tools.close()

    assert asyncio.run(go()).startswith("ERROR")


# -- against a real server --------------------------------------------------------------


def test_branch_tools_round_trip(hati_server: Any) -> None:
    async def go() -> dict[str, str]:
        out: dict[str, str] = {}
        async with _tools(hati_server, "roundtrip") as t:
            out["ddl"] = await t.run_sql(
                "CREATE TABLE rt (id INTEGER PRIMARY KEY, v VARCHAR); "
                "INSERT INTO rt VALUES (1, 'a'), (2, 'b')"
            )
            out["create"] = await t.create_branch("rt-b")
            out["update"] = await t.query_branch("rt-b", "UPDATE rt SET v = 'z' WHERE id = 2")
            out["insert"] = await t.query_branch("rt-b", "INSERT INTO rt VALUES (3, 'c')")
            out["branch_rows"] = await t.query_branch("rt-b", "SELECT id, v FROM rt ORDER BY id")
            out["main_rows"] = await t.run_sql("SELECT id, v FROM rt ORDER BY id")
            out["list"] = await t.list_branches()
            out["diff"] = await t.diff_branch("rt-b")
            out["compare"] = await t.compare_branches(["rt-b"], "SELECT COUNT(*) AS n FROM rt")
            out["merge"] = await t.merge_branch("rt-b", "branch_wins")
            out["after"] = await t.run_sql("SELECT id, v FROM rt ORDER BY id")
            out["list_after"] = await t.list_branches()
        return out

    out = asyncio.run(go())
    assert not any(SQLSTATE_ERROR.search(v) for v in out.values()), out
    assert out["create"].startswith("Created branch 'rt-b'")
    assert out["update"].startswith("OK: UPDATE 1"), out["update"]
    assert out["insert"].startswith("OK: INSERT"), out["insert"]
    assert "| z" in out["branch_rows"] and "(3 rows)" in out["branch_rows"]
    assert "| b" in out["main_rows"] and "(2 rows)" in out["main_rows"]  # main untouched
    assert "rt-b" in out["list"]
    assert 'rt update key={"id":2}: v: "b" → "z"' in out["diff"], out["diff"]
    assert 'rt insert key={"id":3}: {"id":3,"v":"c"}' in out["diff"], out["diff"]
    assert out["compare"].index("== main ==") < out["compare"].index("== rt-b ==")
    assert out["merge"].startswith("Merged branch 'rt-b'"), out["merge"]
    assert "1 inserted, 1 updated, 0 deleted" in out["merge"]
    assert "| z" in out["after"] and "(3 rows)" in out["after"]
    assert out["list_after"] == "No live branches."


@pytest.mark.parametrize(
    ("call", "sqlstate"),
    [
        (lambda t: t.query_branch("no-such-branch", "SELECT 1"), "42704"),
        (lambda t: t.diff_branch("no-such-branch"), "42704"),
        (lambda t: t.merge_branch("no-such-branch"), "42704"),
        (lambda t: t.discard_branch("no-such-branch"), "42704"),
        (lambda t: t.create_branch("bad name!"), "22023"),
        (lambda t: t.create_branch("err-dup"), "42710"),
        (lambda t: t.merge_branch("err-dup", "whatever"), "22023"),  # type: ignore[arg-type]
        (lambda t: t.run_sql("SELEC 1"), "42601"),
        (lambda t: t.query_branch("err-dup", "SELECT * FROM no_such_table"), "42P01"),
    ],
)
def test_errors_come_back_as_text_with_sqlstate(hati_server: Any, call: Any, sqlstate: str) -> None:
    async def go() -> tuple[str, str]:
        async with _tools(hati_server, "errors") as t:
            if "err-dup" not in await t.list_branches():
                assert (await t.create_branch("err-dup")).startswith("Created")
            text = await call(t)
            still_ok = await t.run_sql("SELECT 1 AS one")  # the connection survives the error
            await t.discard_branch("err-dup")
        return text, still_ok

    text, still_ok = asyncio.run(go())
    assert text.startswith(f"ERROR {sqlstate}: "), text
    assert "(1 row)" in still_ok


def test_concurrent_calls_on_one_agent_are_safe(hati_server: Any) -> None:
    async def go() -> tuple[list[str], str]:
        async with _tools(hati_server, "busy") as t:
            await t.run_sql("CREATE TABLE busy (i INTEGER)")
            await t.create_branch("busy-b")
            results = await asyncio.gather(
                *[t.query_branch("busy-b", f"INSERT INTO busy VALUES ({i})") for i in range(20)],
                *[t.query_branch("busy-b", "SELECT COUNT(*) AS n FROM busy") for _ in range(5)],
            )
            count = await t.query_branch("busy-b", "SELECT COUNT(*) AS n, SUM(i) AS s FROM busy")
            await t.discard_branch("busy-b")
        return list(results), count

    results, count = asyncio.run(go())
    assert all(not r.startswith("ERROR") for r in results), results
    assert re.search(r"^20\s+\|\s+190$", count, re.M), count


def test_two_agents_run_in_parallel_and_are_attributed(hati_server: Any) -> None:
    async def go() -> None:
        a, b = _tools(hati_server, "agent-a"), _tools(hati_server, "agent-b")
        async with a, b:
            await a.run_sql("CREATE TABLE attrib (who VARCHAR)")
            await asyncio.gather(a.create_branch("attrib-a"), b.create_branch("attrib-b"))
            await asyncio.gather(
                a.query_branch("attrib-a", "INSERT INTO attrib VALUES ('a')"),
                b.query_branch("attrib-b", "INSERT INTO attrib VALUES ('b')"),
            )
            assert (await a.query_branch("attrib-a", "SELECT who FROM attrib")).splitlines()[
                2
            ] == "a"
            assert "(0 rows)" in await b.query_branch(
                "attrib-a", "SELECT who FROM attrib WHERE who = 'b'"
            )
            await asyncio.gather(a.discard_branch("attrib-a"), b.discard_branch("attrib-b"))

    asyncio.run(go())
    with _main_conn(hati_server) as conn:
        rows = conn.execute(
            "SELECT agent_id, COUNT(*) FROM hati_audit WHERE agent_id IN ('agent-a', 'agent-b') "
            "GROUP BY agent_id ORDER BY agent_id"
        ).fetchall()
    assert [r[0] for r in rows] == ["agent-a", "agent-b"]
    assert all(r[1] >= 3 for r in rows)


def test_failing_tool_calls_are_reported_and_the_chat_continues(hati_server: Any) -> None:
    """A bad branch name and bad SQL reach the model as text; it recovers; the next agent speaks."""
    worker_model = ReplayChatCompletionClient(
        [
            _turn(
                ("query_branch", {"branch": "ghost-branch", "sql": "SELECT 1"}),
                ("run_sql", {"sql": "SELEKT broken FROM nowhere"}),
            ),
            _turn(("run_sql", {"sql": "SELECT 40 + 2 AS answer"})),
            "Recovered: the branch did not exist and my SQL had a typo; the answer is 42.",
        ],
        model_info=MODEL_INFO,
    )
    reviewer_model = ReplayChatCompletionClient(
        ["Noted the recovery. TERMINATE"], model_info=MODEL_INFO
    )

    async def go() -> TaskResult:
        tools = _tools(hati_server, "worker")
        worker = AssistantAgent("worker", worker_model, tools=tools.tools(), max_tool_iterations=5)
        reviewer = AssistantAgent("reviewer", reviewer_model)
        stop = TextMentionTermination("TERMINATE", sources=["reviewer"]) | MaxMessageTermination(6)
        team = RoundRobinGroupChat([worker, reviewer], termination_condition=stop)
        try:
            return await team.run(task="Read the ghost branch, then compute the answer.")
        finally:
            await tools.close()

    result = asyncio.run(go())
    executions = [m for m in result.messages if isinstance(m, ToolCallExecutionEvent)]
    first = {r.name: r.content for r in executions[0].content}
    assert first["query_branch"].startswith("ERROR 42704: "), first
    assert SQLSTATE_ERROR.match(first["run_sql"]), first
    assert "42" in executions[1].content[0].content and not executions[1].content[0].is_error

    # The errors were fed back to the model as tool results before its next turn.
    second_call_msgs = worker_model.create_calls[1]["messages"]
    fed_back = [m for m in second_call_msgs if isinstance(m, FunctionExecutionResultMessage)]
    assert fed_back and any("ERROR 42704" in r.content for r in fed_back[-1].content)

    texts = [(m.source, m.content) for m in result.messages if isinstance(m, TextMessage)]
    assert texts[-2][0] == "worker" and texts[-2][1].startswith("Recovered")
    assert texts[-1] == ("reviewer", "Noted the recovery. TERMINATE")
