"""``hati mcp`` driven by the official MCP client library, over stdio and streamable HTTP.

Each test spawns ``python -m hati mcp`` as a subprocess (PYTHONPATH pointing at this
checkout) against a real hati server from the ``hati_server`` fixture, and checks what
comes back through MCP and what hati recorded (main's rows, branches, ``hati_audit``).
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

import hati
from hati import daemon
from hati.config import Config
from hati.server import ServerThread

SRC = str(Path(hati.__file__).resolve().parents[1])
TOOL_NAMES = {
    "query",
    "execute",
    "list_tables",
    "describe_table",
    "branch_create",
    "branch_query",
    "branch_diff",
    "branch_conflicts",
    "branch_resolve",
    "branch_merge",
    "branch_discard",
    "branch_list",
}
STARTUP_SECONDS = 60.0


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATI_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)
    return env


def _mcp_args(port: int, *extra: str) -> list[str]:
    return ["-m", "hati", "mcp", "--port", str(port), "--no-start", *extra]


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout=240))


@asynccontextmanager
async def stdio_client(
    port: int, *extra: str, client_name: str = "test-client"
) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=sys.executable, args=_mcp_args(port, *extra), env=_env())
    info = types.Implementation(name=client_name, version="1.0")
    async with Client(params, mode="legacy", client_info=info) as client:
        yield client


@contextmanager
def http_mcp(port: int, *extra: str, log: Path) -> Iterator[str]:
    """Start ``hati mcp --http 0``; yield the URL it announces once it listens."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, *_mcp_args(port, "--http", "0", *extra)],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env=_env(),
        )
    try:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + STARTUP_SECONDS
        line = ""
        while not line and time.monotonic() < deadline and proc.poll() is None:
            if sel.select(timeout=deadline - time.monotonic()):
                line = proc.stdout.readline()
        assert line.startswith("MCP server running on http://"), (line, log.read_text())
        yield line.split()[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@asynccontextmanager
async def http_client(url: str, client_name: str = "http-client") -> AsyncIterator[Client]:
    """Connect, retrying a bounded number of times while the listener comes up."""
    info = types.Implementation(name=client_name, version="1.0")
    for attempt in range(50):
        client = Client(url, client_info=info)
        try:
            await client.__aenter__()
        except Exception:
            if attempt == 49:
                raise
            await asyncio.sleep(0.1)
            continue
        break
    try:
        yield client
    finally:
        await client.__aexit__(None, None, None)


async def call(client: Client, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured result."""
    result = await client.call_tool(name, args or {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, text
    assert result.structured_content == json.loads(text)
    return result.structured_content


async def fail(client: Client, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must fail; return its error (sqlstate, message, hint)."""
    result = await client.call_tool(name, args or {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error, text
    error = result.structured_content["error"]
    assert text.startswith(f"ERROR {error['sqlstate']}: {error['message']}")
    return error


# -- the tutorial, as tool calls ------------------------------------------------------------

BASELINE = [
    ["api-gateway", 3, "us-east-1"],
    ["data-pipeline", 1, "us-east-1"],
    ["ml-inference", 2, "us-east-1"],
]
FINAL = [
    ["api-gateway", 3, "500m", "us-east-1"],
    ["data-pipeline", 1, "1000m", "us-east-1"],
    ["ml-inference", 2, "4000m", "eu-west-1"],
    ["ml-inference", 2, "4000m", "us-east-1"],
]


async def tutorial(client: Client, judge: str) -> list[str]:
    """Create two branches, write in each, diff, merge one, discard the other."""
    ids = []
    r = await call(
        client,
        "execute",
        {
            "sql": "CREATE TABLE deploy_config (service VARCHAR, replicas INTEGER, "
            "cpu_limit VARCHAR, memory_limit VARCHAR, region VARCHAR)"
        },
    )
    assert r["results"] == [{"status": "CREATE TABLE", "rows_affected": 0}]
    ids.append(r["request_id"])
    r = await call(
        client,
        "execute",
        {
            "sql": "INSERT INTO deploy_config VALUES "
            "('api-gateway', 3, '500m', '512Mi', 'us-east-1'), "
            "('ml-inference', 2, '2000m', '4Gi', 'us-east-1'), "
            "('data-pipeline', 1, '1000m', '2Gi', 'us-east-1')"
        },
    )
    assert r["results"][0]["rows_affected"] == 3
    r = await call(
        client,
        "query",
        {"sql": "SELECT service, replicas, region FROM deploy_config ORDER BY service"},
    )
    assert r["columns"] == ["service", "replicas", "region"]
    assert r["rows"] == BASELINE and r["row_count"] == 3 and r["truncated"] is False

    for name in ("horizontal-scale", "vertical-scale"):
        assert (await call(client, "branch_create", {"name": name}))["branch"] == name
    writes = [
        ("horizontal-scale", "UPDATE deploy_config SET replicas = replicas * 3", "UPDATE 3"),
        (
            "horizontal-scale",
            "INSERT INTO deploy_config VALUES ('cache-layer', 6, '250m', '256Mi', 'us-east-1')",
            "INSERT 0 1",
        ),
        (
            "vertical-scale",
            "UPDATE deploy_config SET cpu_limit = '4000m', memory_limit = '8Gi' "
            "WHERE service = 'ml-inference'",
            "UPDATE 1",
        ),
        (
            "vertical-scale",
            "INSERT INTO deploy_config VALUES ('ml-inference', 2, '4000m', '8Gi', 'eu-west-1')",
            "INSERT 0 1",
        ),
    ]
    for branch, sql, status in writes:
        r = await call(client, "branch_query", {"branch": branch, "sql": sql})
        assert r["status"] == status, r

    totals = {}
    for branch in ("horizontal-scale", "vertical-scale"):
        r = await call(
            client,
            "branch_query",
            {"branch": branch, "sql": "SELECT SUM(replicas) AS total FROM deploy_config"},
        )
        totals[branch] = r["rows"][0][0]
    assert totals == {"horizontal-scale": 24, "vertical-scale": 8}
    main = await call(client, "query", {"sql": "SELECT SUM(replicas) FROM deploy_config"})
    assert main["rows"] == [[6]]

    diff = await call(client, "branch_diff", {"branch": "vertical-scale"})
    changes = sorted(
        (c["change"], (c["new_values"] or c["old_values"])["region"], c["table"])
        for c in diff["changes"]
    )
    # No primary key: the UPDATE is a delete of the old row plus an insert of the new one.
    assert changes == [
        ("delete", "us-east-1", "deploy_config"),
        ("insert", "eu-west-1", "deploy_config"),
        ("insert", "us-east-1", "deploy_config"),
    ]
    assert diff["count"] == 3 and diff["truncated"] is False
    horizontal = await call(client, "branch_diff", {"branch": "horizontal-scale", "max_rows": 2})
    assert horizontal["count"] == 7 and len(horizontal["changes"]) == 2
    assert horizontal["truncated"] is True
    assert (await call(client, "branch_conflicts", {"branch": "vertical-scale"}))["conflicts"] == []

    listed = await call(client, "branch_list")
    assert sorted(b["name"] for b in listed["branches"]) == ["horizontal-scale", "vertical-scale"]

    merge = await call(client, "branch_merge", {"branch": "vertical-scale", "agent_id": judge})
    assert merge["status"] == "merged" and merge["strategy"] == "branch_wins"
    assert (merge["inserted"], merge["deleted"], merge["conflicts"]) == (2, 1, 0)
    ids.append(merge["request_id"])
    r = await call(client, "branch_discard", {"branch": "horizontal-scale", "agent_id": judge})
    assert r["discarded"] == "horizontal-scale"
    assert (await call(client, "branch_list"))["branches"] == []
    final = await call(
        client,
        "query",
        {
            "sql": "SELECT service, replicas, cpu_limit, region FROM deploy_config "
            "ORDER BY service, region"
        },
    )
    assert final["rows"] == FINAL
    return ids


def check_main_and_audit(hati_server, agent: str, judge: str, ids: list[str]) -> None:
    """What hati itself recorded, read directly over psycopg2 (not through MCP)."""
    rows = hati_server.query(
        "SELECT service, replicas, cpu_limit, region FROM deploy_config ORDER BY service, region"
    )
    assert [list(r) for r in rows] == FINAL
    assert hati_server.query("SELECT * FROM branch_list()") == []
    create_id, merge_id = ids
    audit = hati_server.query(
        "SELECT agent_id, framework, sql, outcome FROM hati_audit WHERE request_id = %s "
        "ORDER BY seq",
        (create_id,),
    )
    assert [(a, f) for a, f, _, _ in audit] == [(agent, "mcp")] * 2
    assert "CREATE TABLE deploy_config" in audit[-1][2]
    merged = hati_server.query(
        "SELECT agent_id, sql FROM hati_audit WHERE request_id = %s AND sql LIKE %s",
        (merge_id, "SELECT branch_merge%"),
    )
    assert [a for a, _ in merged] == [judge]
    assert merged[0][1] == "SELECT branch_merge($1, $2)  -- params: 'vertical-scale', 'branch_wins'"
    by_agent = dict(
        hati_server.query(
            "SELECT agent_id, count(*) FROM hati_audit WHERE framework = 'mcp' GROUP BY agent_id"
        )
    )
    assert set(by_agent) == {agent, judge}


# -- tests --------------------------------------------------------------------------------


def test_stdio_initialize_and_tools(hati_server):
    async def go() -> None:
        async with stdio_client(hati_server.port) as client:
            assert client.server_info is not None and client.server_info.name == "hati"
            assert "branch" in (client.instructions or "")
            assert client.server_capabilities.tools is not None
            assert client.server_capabilities.resources is not None
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == TOOL_NAMES
            for t in tools.values():
                schema = t.input_schema
                assert schema["type"] == "object" and schema["additionalProperties"] is False
                assert "agent_id" in schema["properties"]
                assert set(schema["required"]) <= set(schema["properties"])
                assert len(t.description or "") > 100, t.name
            assert tools["query"].input_schema["required"] == ["sql"]
            assert tools["branch_query"].input_schema["required"] == ["branch", "sql"]
            assert tools["query"].annotations.read_only_hint is True
            assert tools["execute"].annotations.destructive_hint is True
            assert tools["branch_merge"].input_schema["properties"]["strategy"]["enum"] == [
                "branch_wins",
                "main_wins",
                "manual",
                "abort",
            ]

    run(go())


def test_tutorial_over_stdio(hati_server):
    async def go() -> list[str]:
        async with stdio_client(hati_server.port, client_name="tutorial-client") as client:
            return await tutorial(client, judge="judge")

    ids = run(go())
    # No --agent-id: calls carry the MCP client's name; agent_id arguments override it.
    check_main_and_audit(hati_server, "tutorial-client", "judge", ids)


def test_tutorial_over_http(hati_server, tmp_path):
    with http_mcp(hati_server.port, "--agent-id", "planner", log=tmp_path / "mcp.log") as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")

        async def go() -> list[str]:
            async with http_client(url) as client:
                tools = await client.list_tools()
                assert {t.name for t in tools.tools} == TOOL_NAMES
                return await tutorial(client, judge="http-judge")

        ids = run(go())
    # --agent-id wins over the client's name.
    check_main_and_audit(hati_server, "planner", "http-judge", ids)


def _snapshot(hati_server) -> tuple[Any, ...]:
    return (
        hati_server.query("SELECT * FROM items ORDER BY id"),
        sorted(r[0] for r in hati_server.query("SELECT * FROM branch_list()")),
        hati_server.query("SELECT seq, sql, outcome FROM hati_audit ORDER BY seq"),
    )


def test_bad_input_is_a_tool_error_and_everything_stays_up(hati_server):
    conn = hati_server.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR)")
        cur.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two')")
        cur.execute("SELECT branch_create('kept')")
    conn.close()
    rows_before, branches_before, audit_before = _snapshot(hati_server)

    async def go() -> None:
        async with stdio_client(hati_server.port) as client:
            err = await fail(client, "no_such_tool", {"sql": "SELECT 1"})
            assert err["sqlstate"] == "42883" and "branch_query" in err["hint"]

            for name, args, where in [
                ("query", {"sql": 123}, "sql"),
                ("query", {"sql": "SELECT 1", "max_rows": "ten"}, "max_rows"),
                ("query", {"sql": "SELECT 1", "max_rows": -1}, "max_rows"),
                ("query", {}, "'sql' is a required property"),
                ("query", {"sql": "SELECT 1", "bogus": True}, "bogus"),
                ("branch_query", {"branch": ["kept"], "sql": "SELECT 1"}, "branch"),
                ("branch_merge", {"branch": "kept", "strategy": "ours"}, "strategy"),
                ("branch_create", {"name": "x", "ttl_seconds": 1.5}, "ttl_seconds"),
            ]:
                err = await fail(client, name, args)
                assert err["sqlstate"] == "22023", (name, args, err)
                assert where in err["message"], err
                assert err["hint"].startswith(f"{name} takes {{")

            # SQL errors keep hati's SQLSTATE and hint.
            assert (await fail(client, "execute", {"sql": "SELEC 1"}))["sqlstate"] == "42601"
            assert (await fail(client, "query", {"sql": "SELEC 1"}))["sqlstate"] == "42601"
            err = await fail(client, "query", {"sql": "SELECT * FROM missing_table"})
            assert err["sqlstate"] == "42P01"
            err = await fail(client, "execute", {"sql": "INSERT INTO items VALUES (1, 'dup')"})
            assert err["sqlstate"] == "23505"
            err = await fail(client, "describe_table", {"table": "missing_table"})
            assert err["sqlstate"] == "42P01" and "list_tables" in err["hint"]
            err = await fail(client, "query", {"sql": "SELECT $1::int", "params": ["x"]})
            assert err["sqlstate"] == "22P02"

            # Writes through query are refused before they reach hati.
            for sql in (
                "DELETE FROM items",
                "WITH gone AS (DELETE FROM items RETURNING *) SELECT * FROM gone",
                "SELECT * INTO copy_of_items FROM items",
                "SELECT branch_create('sneaky')",
                "SELECT 1; SELECT 2",
            ):
                err = await fail(client, "query", {"sql": sql})
                assert err["sqlstate"] in ("25006", "42601"), (sql, err)
                assert err["hint"]

            # A branch that does not exist.
            for name, args in [
                ("branch_query", {"branch": "nope", "sql": "SELECT 1"}),
                ("branch_diff", {"branch": "nope"}),
                ("branch_conflicts", {"branch": "nope"}),
                ("branch_merge", {"branch": "nope"}),
                ("branch_discard", {"branch": "nope"}),
                (
                    "branch_resolve",
                    {"branch": "nope", "table": "items", "key": {"id": 1}, "resolution": "main"},
                ),
                ("describe_table", {"table": "items", "branch": "nope"}),
                ("branch_create", {"name": "child", "parent": "nope"}),
            ]:
                err = await fail(client, name, args)
                assert err["sqlstate"] == "42704", (name, err)
                assert "nope" in err["message"] and err["hint"]
            assert (await fail(client, "branch_create", {"name": "kept"}))["sqlstate"] == "42710"
            assert (await fail(client, "branch_create", {"name": "bad name!"}))[
                "sqlstate"
            ] == "22023"
            err = await fail(
                client,
                "branch_resolve",
                {"branch": "kept", "table": "items", "key": {"id": 1}, "resolution": "main"},
            )
            assert err["sqlstate"] == "22023"  # no such conflict

            # Connection state stays per call: no SET hatidata_*, no dangling BEGIN.
            err = await fail(client, "execute", {"sql": "SET hatidata_branch = 'kept'"})
            assert err["sqlstate"] == "0A000" and "branch_query" in err["hint"]
            err = await fail(client, "execute", {"sql": "BEGIN; INSERT INTO items VALUES (9, 'x')"})
            assert err["sqlstate"] == "25001"

            # The MCP server still answers, and so does hati through it.
            assert {t.name for t in (await client.list_tools()).tools} >= TOOL_NAMES
            assert (await call(client, "query", {"sql": "SELECT count(*) FROM items"}))["rows"] == [
                [2]
            ]

    run(go())
    rows_after, branches_after, audit_after = _snapshot(hati_server)
    assert rows_after == rows_before and branches_after == branches_before
    assert audit_after[: len(audit_before)] == audit_before  # nothing recorded was lost
    assert hati_server.query("SELECT 1") == [(1,)]


def test_query_results_are_json_and_capped(hati_server):
    async def go() -> None:
        async with stdio_client(hati_server.port) as client:
            r = await call(
                client,
                "query",
                {
                    "sql": "SELECT 1.5::DECIMAL(10,2) AS d, DATE '2024-01-02' AS day, "
                    "NULL AS nothing, true AS yes, 'it''s' AS s, 'nan'::DOUBLE AS nan",
                },
            )
            assert r["rows"] == [[1.5, "2024-01-02", None, True, "it's", "nan"]]
            assert r["types"][:2] == ["numeric", "date"]
            r = await call(
                client,
                "query",
                {"sql": "SELECT * FROM range($1) t(i)", "params": [250], "max_rows": 10},
            )
            assert len(r["rows"]) == 10 and r["row_count"] == 250 and r["truncated"] is True
            r = await call(client, "query", {"sql": "SELECT * FROM range(250) t(i)"})
            assert len(r["rows"]) == 100 and r["truncated"] is True  # the default cap
            r = await call(client, "query", {"sql": "SHOW hatidata_branch"})
            assert r["rows"] == [["main"]]
            r = await call(
                client,
                "execute",
                {"sql": "CREATE TABLE n (i INTEGER); INSERT INTO n VALUES (1), (2) RETURNING i"},
            )
            assert r["results"][0] == {"status": "CREATE TABLE", "rows_affected": 0}
            assert r["results"][1]["columns"] == ["i"] and r["results"][1]["rows"] == [[1], [2]]
            # Statements of one call are one unit: a failing one takes the others with it.
            err = await fail(
                client, "execute", {"sql": "INSERT INTO n VALUES (3); INSERT INTO nope VALUES (1)"}
            )
            assert err["sqlstate"] == "42P01"
            assert (await call(client, "query", {"sql": "SELECT count(*) FROM n"}))["rows"] == [[2]]

    run(go())


def test_resources_describe_tables(hati_server):
    hati_server.query("CREATE TABLE deploy_config (service VARCHAR PRIMARY KEY, replicas INTEGER)")
    hati_server.query('CREATE TABLE "odd name" (x INTEGER)')

    async def go() -> None:
        async with stdio_client(hati_server.port) as client:
            uris = {str(r.uri) for r in (await client.list_resources()).resources}
            assert {
                "hati://tables",
                "hati://tables/deploy_config",
                "hati://tables/odd%20name",
            } <= uris
            templates = (await client.list_resource_templates()).resource_templates
            assert [t.uri_template for t in templates] == ["hati://tables/{name}"]
            body = await client.read_resource("hati://tables/deploy_config")
            table = json.loads(body.contents[0].text)  # type: ignore[union-attr]
            assert table["primary_key"] == ["service"]
            assert [(c["name"], c["type"], c["nullable"]) for c in table["columns"]] == [
                ("service", "character varying", False),
                ("replicas", "integer", True),
            ]
            odd = json.loads(
                (await client.read_resource("hati://tables/odd%20name")).contents[0].text
            )  # type: ignore[union-attr]
            assert odd["table"] == "odd name"
            listing = json.loads((await client.read_resource("hati://tables")).contents[0].text)  # type: ignore[union-attr]
            assert {"name": "deploy_config", "type": "table", "columns": 2} in listing["tables"]
            with pytest.raises(MCPError) as exc:
                await client.read_resource("hati://tables/missing")
            assert "42P01" in str(exc.value)
            with pytest.raises(MCPError):
                await client.read_resource("hati://elsewhere")
            # describe_table in a branch: the branch's own columns.
            await call(client, "branch_create", {"name": "wider"})
            await call(
                client,
                "branch_query",
                {"branch": "wider", "sql": "ALTER TABLE deploy_config ADD COLUMN region VARCHAR"},
            )
            r = await call(client, "describe_table", {"table": "deploy_config", "branch": "wider"})
            assert [c["name"] for c in r["columns"]] == ["service", "replicas", "region"]
            r = await call(client, "describe_table", {"table": "deploy_config"})
            assert [c["name"] for c in r["columns"]] == ["service", "replicas"]

    run(go())


def test_manual_merge_with_resolve(hati_server):
    hati_server.query("CREATE TABLE kv (k INTEGER PRIMARY KEY, v VARCHAR)")
    hati_server.query("INSERT INTO kv VALUES (1, 'base'), (2, 'base')")

    async def go() -> None:
        async with stdio_client(hati_server.port) as client:
            await call(client, "branch_create", {"name": "edit"})
            await call(
                client, "branch_query", {"branch": "edit", "sql": "UPDATE kv SET v = 'branch'"}
            )
            await call(client, "execute", {"sql": "UPDATE kv SET v = 'main' WHERE k = 1"})
            conflicts = await call(client, "branch_conflicts", {"branch": "edit"})
            assert conflicts["count"] == 1
            c = conflicts["conflicts"][0]
            assert c["key"] == {"k": 1} and c["main_values"]["v"] == "main"
            merge = await call(client, "branch_merge", {"branch": "edit", "strategy": "manual"})
            assert merge["status"] == "conflicts" and "branch_resolve" in merge["hint"]
            r = await call(
                client,
                "branch_resolve",
                {
                    "branch": "edit",
                    "table": c["table"],
                    "key": c["key"],
                    "resolution": {"k": 1, "v": "both"},
                },
            )
            assert r["branch"] == "edit" and r["table"] == "kv"
            merge = await call(client, "branch_merge", {"branch": "edit", "strategy": "manual"})
            assert merge["status"] == "merged"
            final = await call(client, "query", {"sql": "SELECT k, v FROM kv ORDER BY k"})
            assert final["rows"] == [[1, "both"], [2, "branch"]]

    run(go())


def test_read_only_server_refuses_changes_to_main(hati_server):
    hati_server.query("CREATE TABLE t (i INTEGER)")

    async def go() -> None:
        async with stdio_client(hati_server.port, "--read-only") as client:
            err = await fail(client, "execute", {"sql": "INSERT INTO t VALUES (1)"})
            assert err["sqlstate"] == "25006" and "--read-only" in err["message"]
            await call(client, "branch_create", {"name": "try"})
            await call(client, "branch_query", {"branch": "try", "sql": "INSERT INTO t VALUES (1)"})
            assert (await fail(client, "branch_merge", {"branch": "try"}))["sqlstate"] == "25006"
            await call(client, "branch_discard", {"branch": "try"})

    run(go())
    assert hati_server.query("SELECT count(*) FROM t") == [(0,)]


def test_lost_connection_is_reopened_on_the_next_call(hati_server):
    hati_server.query("CREATE TABLE t (i INTEGER)")
    port = hati_server.port

    def restart() -> None:
        hati_server.thread.stop()
        hati_server.thread = ServerThread(Config.load(hati_server.data_dir, port=port)).start()

    async def go() -> None:
        async with stdio_client(port) as client:
            await call(client, "execute", {"sql": "INSERT INTO t VALUES (1)"})
            await asyncio.to_thread(restart)
            # The old connection died with the server; the next calls reconnect.
            assert (await call(client, "query", {"sql": "SELECT count(*) FROM t"}))["rows"] == [[1]]
            await call(client, "execute", {"sql": "INSERT INTO t VALUES (2)"})
            # hati down: a clear error, and the MCP server stays up.
            await asyncio.to_thread(hati_server.thread.stop)
            err = await fail(client, "query", {"sql": "SELECT 1"})
            assert err["sqlstate"] in ("08001", "08006") and err["hint"]
            assert {t.name for t in (await client.list_tools()).tools} >= TOOL_NAMES
            hati_server.thread = ServerThread(Config.load(hati_server.data_dir, port=port)).start()
            assert (await call(client, "query", {"sql": "SELECT count(*) FROM t"}))["rows"] == [[2]]

    run(go())


def test_starts_hati_when_none_answers(tmp_path):
    data_dir = tmp_path / "data"
    cfg = Config.load(data_dir, port=0)
    try:

        async def go() -> None:
            params = StdioServerParameters(
                command=sys.executable,
                args=["-m", "hati", "mcp", "--dir", str(data_dir), "--port", "0"],
                env=_env(),
            )
            async with Client(params, mode="legacy") as client:
                await call(client, "execute", {"sql": "CREATE TABLE started (i INTEGER)"})
                r = await call(client, "list_tables")
                assert {"name": "started", "type": "table", "columns": 1} in r["tables"]

        run(go())
        st = daemon.status(cfg)
        assert st.running  # a background server, as `hati init` starts: it outlives hati mcp
    finally:
        daemon.stop(cfg)


def test_no_start_fails_clearly(tmp_path, unused_port):
    proc = subprocess.run(
        [sys.executable, *_mcp_args(unused_port)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert f"no hati server answers on 127.0.0.1:{unused_port}" in proc.stderr
    assert "hint" in proc.stderr


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connections_per_agent_are_capped(hati_server):
    from hati.integrations.mcp.connection import MAX_CONNECTIONS, Link, Target

    async def go() -> None:
        link = Link(Target(hati_server.host, hati_server.port))
        try:
            for i in range(MAX_CONNECTIONS + 8):
                (result,) = await link.run(f"agent-{i}", f"req-{i}", "SELECT $1::int", [i])
                assert result.rows == [[i]]
            assert len(link._conns) == MAX_CONNECTIONS  # the least recently used were closed
            (again,) = await link.run("agent-0", "req-again", "SELECT 0")  # reopened
            assert again.rows == [[0]]
        finally:
            await link.close()

    run(go())
    agents = hati_server.query(
        "SELECT DISTINCT agent_id FROM hati_audit WHERE request_id LIKE 'req-%'"
    )
    assert len(agents) == MAX_CONNECTIONS + 8
