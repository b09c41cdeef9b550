"""Every method of the PyPI ``hatidata-agent`` SDK (0.4) that sends SQL, against hati.

One test per method, run twice: on main, and inside a branch (the SDK's connection
switched with ``SET hatidata_branch``). Each asserts the result the method must give.
Tests that fail against today's server are marked ``xfail(strict=True)`` with the
missing server feature (or the SDK's own bug) as the reason, so they turn into
failures the moment that changes. docs/mcp.md lists the exact SQL of each method.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import pytest
from psycopg2 import errors

hatidata_agent = pytest.importorskip("hatidata_agent")
from hatidata_agent import mcp_server as sdk_mcp  # noqa: E402
from hatidata_agent.langchain import HatiDataSQLDatabase  # noqa: E402

# -- why some of these fail today --------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A reason a test fails today, and the exception that shows it."""

    reason: str
    raises: type[BaseException] | tuple[type[BaseException], ...]

    def __add__(self, other: Gap) -> Gap:
        return Gap(f"{self.reason}; and {other.reason}", _types(self.raises) + _types(other.raises))


def _types(t: Any) -> tuple[type[BaseException], ...]:
    return t if isinstance(t, tuple) else (t,)


SCHEMATA = Gap("server: information_schema.schemata lists schema main three times", AssertionError)
SDK_SET_STATE = Gap(
    "SDK bug: set_state passes params while its SQL holds strftime('%Y-%m-%d...'), and "
    "psycopg2 reads those % as placeholders (IndexError before the INSERT is sent)",
    IndexError,
)
SDK_USAGE_STATS = Gap(
    "SDK: get_usage_stats selects from duckdb_tables(), one of DuckDB's catalog functions "
    "that hati does not expose to clients (42883; the SDK also names its column wrongly)",
    errors.UndefinedFunction,
)
SDK_BRANCHES = Gap(
    "SDK design: its branch tools build a schema of views over main instead of calling "
    "hati's branch functions, and writes through a view fail (Can only update base table)",
    psycopg2.Error,
)
SDK_BRANCHES_IN_BRANCH = Gap(
    "server: a branch session cannot create a schema and views outside the branch "
    "(42501), which the SDK's own branch tools do",
    errors.InsufficientPrivilege,
)


def where(main: Gap | None = None, branch: Gap | None = None) -> pytest.MarkDecorator:
    """Run a test on main and in a branch, each possibly a strict xfail."""

    def param(name: str, gap: Gap | None) -> Any:
        marks = (
            [pytest.mark.xfail(strict=True, reason=gap.reason, raises=gap.raises)] if gap else []
        )
        return pytest.param(name, marks=marks, id=name)

    return pytest.mark.parametrize("place", [param("main", main), param("branch", branch)])


class _Recording:
    """The agent as the SDK's MCP handlers see it, keeping the exception they swallow."""

    def __init__(self, agent: Any) -> None:
        self._agent = agent
        self.error: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._agent, name)
        if not callable(attr):
            return attr

        def recorded(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except Exception as exc:
                self.error = exc
                raise

        return recorded


@dataclass
class Env:
    """An SDK agent on a fresh server; ``enter()`` moves its connection into a branch."""

    server: Any
    place: str
    agent: Any
    branch: str | None = None
    others: list[Any] = field(default_factory=list)

    def enter(self) -> None:
        if self.place == "branch" and self.branch is None:
            self.branch = "sdk-branch"
            self.agent.execute("SELECT branch_create(%s)", (self.branch,))
            self.agent.execute(f"SET hatidata_branch = '{self.branch}'")

    def on_main(self, sql: str, params: tuple | None = None) -> list[tuple]:
        """Read main directly (another connection), to check a branch left it alone."""
        return self.server.query(sql, params)

    def other_agent(self, agent_id: str) -> Any:
        other = hatidata_agent.HatiDataAgent(
            host=self.server.host, port=self.server.port, agent_id=agent_id
        )
        self.others.append(other)
        return other

    def tool(self, tool_name: str, /, **arguments: Any) -> Any:
        """Call the SDK's MCP server tool handler (cloud mode) with this agent.

        The handler turns exceptions into error text; the real one is raised here.
        """
        backend = _Recording(self.agent)
        result = sdk_mcp.handle_tool_call(backend, tool_name, arguments)
        text = result["content"][0]["text"]
        if result.get("isError"):
            if backend.error is not None:
                raise backend.error
            raise AssertionError(text)
        return json.loads(text)


@pytest.fixture
def env(hati_server, place: str) -> Iterator[Env]:
    agent = hatidata_agent.HatiDataAgent(
        host=hati_server.host, port=hati_server.port, agent_id="sdk-agent"
    )
    e = Env(hati_server, place, agent)
    try:
        yield e
    finally:
        for a in [agent, *e.others]:
            a.close()


def _docs(env: Env) -> None:
    env.agent.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body VARCHAR)")
    env.agent.execute(
        "INSERT INTO docs VALUES (1, 'enterprise accounts renew in march'), "
        "(2, 'enterprise enterprise plan pricing'), (3, 'consumer plan')"
    )


def _audit(env: Env, where_sql: str, params: tuple) -> list[tuple]:
    return env.on_main(
        "SELECT request_id, reasoning_step, parent_request_id, branch, sql FROM hati_audit "
        f"WHERE {where_sql} ORDER BY seq",
        params,
    )


# -- HatiDataAgent ------------------------------------------------------------------------


@where()
def test_query(env: Env) -> None:
    _docs(env)
    env.enter()
    env.agent.execute("INSERT INTO docs VALUES (4, 'written here')")
    assert env.agent.query("SELECT id, body FROM docs WHERE id >= %s ORDER BY id", (3,)) == [
        {"id": 3, "body": "consumer plan"},
        {"id": 4, "body": "written here"},
    ]
    assert env.agent.query("SELECT count(*) AS n FROM docs", request_id="rid-query") == [{"n": 4}]
    rows = _audit(env, "request_id = %s", ("rid-query",))
    assert [r[4] for r in rows][-1] == "SELECT count(*) AS n FROM docs"
    assert rows[-1][3] == env.branch  # hati_audit.branch: None on main
    if env.branch:
        assert env.on_main("SELECT count(*) FROM docs") == [(3,)]


@where()
def test_execute(env: Env) -> None:
    _docs(env)
    env.enter()
    assert env.agent.execute("CREATE TABLE scratch (i INTEGER)") == -1
    assert env.agent.execute("INSERT INTO scratch VALUES (%s), (%s)", (1, 2)) == 2
    assert env.agent.execute("UPDATE docs SET body = 'x' WHERE id <= 2") == 2
    assert env.agent.execute("DELETE FROM docs WHERE id = %s", (3,)) == 1
    assert env.agent.query("SELECT id, body FROM docs ORDER BY id") == [
        {"id": 1, "body": "x"},
        {"id": 2, "body": "x"},
    ]
    if env.branch:
        assert env.on_main("SELECT count(*) FROM docs WHERE body = 'x'") == [(0,)]


@where()
def test_reasoning_chain(env: Env) -> None:
    env.enter()
    with env.agent.reasoning_chain("chain-1", parent_request_id="parent-0") as chain:
        assert chain.query("SELECT 1 AS step") == [{"step": 1}]
        assert chain.query("SELECT 2 AS step") == [{"step": 2}]
        assert chain.query("SELECT 5 AS step", step=5) == [{"step": 5}]
    env.agent.query("SELECT 'after' AS done")
    rows = _audit(env, "sql LIKE %s", ("SELECT % AS step",))
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("chain-1", "0", "parent-0", env.branch),
        ("chain-1", "1", "parent-0", env.branch),
        ("chain-1", "5", "parent-0", env.branch),
    ]
    after = _audit(env, "sql = %s", ("SELECT 'after' AS done",))
    assert [(r[0] or "", r[1] or "") for r in after] == [("", "")]  # the chain reset its tags


@where()
def test_get_context(env: Env) -> None:
    _docs(env)
    env.enter()
    env.agent.execute("INSERT INTO docs VALUES (5, 'enterprise deal from the branch')")
    rows = env.agent.get_context("docs", "enterprise", top_k=10)
    expected = {1, 2, 5} if env.branch else {1, 2}
    if not env.branch:
        env.agent.execute("DELETE FROM docs WHERE id = 5")
        rows = env.agent.get_context("docs", "enterprise", top_k=10)
    assert {r["id"] for r in rows} == expected  # only rows that match
    assert all("enterprise" in r["body"] for r in rows)
    best = env.agent.get_context("docs", "enterprise", top_k=1)
    assert [r["id"] for r in best] == [2]  # the row that matches best comes first


@where()
def test_get_rag_context(env: Env) -> None:
    env.agent.execute("CREATE TABLE vecs (id INTEGER, label VARCHAR, emb DOUBLE[])")
    env.agent.execute(
        "INSERT INTO vecs VALUES (1, 'x', [1.0, 0.0, 0.0]), (2, 'y', [0.0, 1.0, 0.0]), "
        "(3, 'mostly x', [0.9, 0.1, 0.0])"
    )
    env.enter()
    if env.branch:
        env.agent.execute("INSERT INTO vecs VALUES (4, 'nearly x', [1.0, 0.0, 0.01])")
    rows = env.agent.get_rag_context("vecs", "emb", [1.0, 0.0, 0.0], top_k=2)
    assert [r["id"] for r in rows] == ([1, 4] if env.branch else [1, 3])
    assert rows[0]["label"] == "x"


def _memories(env: Env) -> list[dict[str, Any]]:
    return env.agent.query(
        "SELECT memory_id, agent_id, content, memory_type, importance, metadata FROM "
        '"_hatidata_memory_local".agent_memories ORDER BY content'
    )


@where()
def test_store_memory(env: Env) -> None:
    env.enter()
    mid = env.agent.store_memory("likes enterprise plans", "preference", {"src": "chat"}, 0.9)
    assert re.fullmatch(r"[0-9a-f]{32}", mid)
    assert _memories(env) == [
        {
            "memory_id": mid,
            "agent_id": "sdk-agent",
            "content": "likes enterprise plans",
            "memory_type": "preference",
            "importance": 0.9,
            "metadata": '{"src": "chat"}',
        }
    ]


@where()
def test_search_memory(env: Env) -> None:
    env.other_agent("someone-else").store_memory("enterprise plans are theirs", importance=1.0)
    env.enter()
    a = env.agent
    a.store_memory("enterprise plans cost more", "fact", importance=0.3)
    a.store_memory("the user prefers enterprise plans", "preference", importance=0.9)
    a.store_memory("unrelated note about lunch", "fact", importance=1.0)
    found = a.search_memory("enterprise plans", top_k=10)
    assert [m["content"] for m in found] == [
        "the user prefers enterprise plans",
        "enterprise plans cost more",
    ]  # this agent's only, matching words, by importance
    assert [m["memory_type"] for m in a.search_memory("plans", memory_type="fact")] == ["fact"]
    assert len(a.search_memory("plans", min_importance=0.5)) == 1
    assert len(a.search_memory("plans", top_k=1)) == 1


@where()
def test_get_state(env: Env) -> None:
    env.enter()
    assert env.agent.get_state("missing") is None
    env.agent.execute(
        'INSERT INTO "_hatidata_memory_local".agent_state (agent_id, key, value) '
        "VALUES ('sdk-agent', 'plan', '{\"replicas\": 3}')"
    )
    assert env.agent.get_state("plan") == {"replicas": 3}
    assert env.other_agent("other").get_state("plan") is None


@where(main=SDK_SET_STATE, branch=SDK_SET_STATE)
def test_set_state(env: Env) -> None:
    env.enter()
    env.agent.set_state("plan", {"replicas": 3})
    assert env.agent.get_state("plan") == {"replicas": 3}
    env.agent.set_state("plan", {"replicas": 5})
    assert env.agent.get_state("plan") == {"replicas": 5}
    version = env.agent.query(
        "SELECT version FROM \"_hatidata_memory_local\".agent_state WHERE key = 'plan'"
    )
    assert version == [{"version": 2}]


@where()
def test_delete_memory(env: Env) -> None:
    env.enter()
    mid = env.agent.store_memory("short-lived note")
    assert env.agent.delete_memory(mid) is True
    assert env.agent.delete_memory(mid) is False
    assert env.agent.search_memory("short-lived note") == []


# -- LangChain: HatiDataSQLDatabase ----------------------------------------------------------


def _langchain(env: Env, **kwargs: Any) -> HatiDataSQLDatabase:
    db = HatiDataSQLDatabase(host=env.server.host, port=env.server.port, **kwargs)
    db._agent.close()
    db._agent = env.agent  # the same connection, so it is in the branch too
    return db


@where()
def test_langchain_run(env: Env) -> None:
    _docs(env)
    env.enter()
    db = _langchain(env)
    assert db.run("SELECT id FROM docs ORDER BY id") == "[{'id': 1}, {'id': 2}, {'id': 3}]"
    assert db.run("SELECT id FROM docs ORDER BY id", fetch="one") == "{'id': 1}"
    assert db.run("UPDATE docs SET body = 'y' WHERE id = 3") == ""
    assert db.run_no_throw("SELECT * FROM no_such_table").startswith("Error: ")
    assert db.run("SELECT body FROM docs WHERE id = 3") == "[{'body': 'y'}]"


@where()
def test_langchain_get_usable_table_names(env: Env) -> None:
    _docs(env)
    env.enter()
    env.agent.execute("CREATE TABLE notes (n INTEGER)")
    assert _langchain(env).get_usable_table_names() == ["docs", "hati_audit", "notes"]
    assert _langchain(env, include_tables=["notes"]).get_usable_table_names() == ["notes"]


@where()
def test_langchain_get_table_info(env: Env) -> None:
    env.enter()
    env.agent.execute("CREATE TABLE notes (id INTEGER NOT NULL, note VARCHAR)")
    env.agent.execute("INSERT INTO notes VALUES (1, 'a'), (2, 'b')")
    db = _langchain(env, include_tables=["notes"], sample_rows_in_table_info=1)
    expected = (
        "CREATE TABLE notes (\n  id integer NOT NULL,\n  note character varying\n);\n\n"
        "/*\n1 rows from notes table:\nid\tnote\n1\ta\n*/"
    )
    assert db.get_table_info(["notes"]) == expected
    assert db.table_info == expected  # the property: every usable table
    assert db.get_table_info_no_throw(["notes"]) == expected


# -- the SDK's MCP server (hatidata-mcp-server), cloud mode over the wire ---------------------


@where()
def test_mcp_query(env: Env) -> None:
    _docs(env)
    env.enter()
    assert env.tool("query", sql="SELECT count(*) AS n FROM docs") == [{"n": 3}]


@where()
def test_mcp_read_query(env: Env) -> None:
    _docs(env)
    env.enter()
    rows = env.tool("read_query", sql="SELECT id FROM docs WHERE id < 3 ORDER BY id;")
    assert rows == [{"id": 1}, {"id": 2}]
    result = sdk_mcp.handle_tool_call(env.agent, "read_query", {"sql": "DELETE FROM docs"})
    assert result["isError"] is True  # wrapped in SELECT * FROM (...): not a read
    assert env.on_main("SELECT count(*) FROM docs") == [(3,)]


@where(main=SCHEMATA, branch=SCHEMATA)
def test_mcp_list_schemas(env: Env) -> None:
    env.agent.execute('CREATE SCHEMA "agent_space"')
    env.enter()
    assert env.tool("list_schemas") == ["agent_space", "information_schema", "main", "pg_catalog"]


@where()
def test_mcp_list_tables(env: Env) -> None:
    _docs(env)
    env.enter()
    env.agent.execute("CREATE TABLE notes (n INTEGER)")
    expected = [
        {"table_schema": "public", "table_name": "docs", "table_type": "BASE TABLE"},
        {"table_schema": "public", "table_name": "hati_audit", "table_type": "VIEW"},
        {"table_schema": "public", "table_name": "notes", "table_type": "BASE TABLE"},
    ]
    assert env.tool("list_tables") == expected
    assert env.tool("list_tables", schema="main") == expected


@where()
def test_mcp_describe_table(env: Env) -> None:
    env.enter()
    env.agent.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, note VARCHAR)")
    assert env.tool("describe_table", table_name="notes") == [
        {"column_name": "id", "data_type": "integer", "is_nullable": "NO"},
        {"column_name": "note", "data_type": "character varying", "is_nullable": "YES"},
    ]


@where(main=SDK_USAGE_STATS, branch=SDK_USAGE_STATS)
def test_mcp_get_usage_stats(env: Env) -> None:
    _docs(env)
    env.enter()
    stats = env.tool("get_usage_stats")
    assert {"table_schema": "main", "table_name": "docs"}.items() <= stats[0].items()
    assert stats[0]["column_count"] == 2


@where()
def test_mcp_store_memory(env: Env) -> None:
    env.enter()
    mid = env.tool("store_memory", content="remember me", importance=0.7)["memory_id"]
    assert [(m["memory_id"], m["importance"]) for m in _memories(env)] == [(mid, 0.7)]


@where()
def test_mcp_search_memory(env: Env) -> None:
    env.enter()
    env.tool("store_memory", content="deploy on fridays is risky", memory_type="observation")
    found = env.tool("search_memory", query="fridays deploy", memory_type="observation")
    assert [m["content"] for m in found] == ["deploy on fridays is risky"]


@where()
def test_mcp_get_agent_state(env: Env) -> None:
    env.enter()
    assert env.tool("get_agent_state", key="k") == {"key": "k", "value": None}


@where(main=SDK_SET_STATE, branch=SDK_SET_STATE)
def test_mcp_set_agent_state(env: Env) -> None:
    env.enter()
    assert env.tool("set_agent_state", key="k", value=[1, 2]) == {"key": "k", "status": "ok"}
    assert env.tool("get_agent_state", key="k") == {"key": "k", "value": [1, 2]}


@where()
def test_mcp_delete_memory(env: Env) -> None:
    env.enter()
    mid = env.tool("store_memory", content="to forget")["memory_id"]
    assert env.tool("delete_memory", memory_id=mid) == {"deleted": True, "memory_id": mid}
    assert _memories(env) == []


def _log_steps(env: Env) -> None:
    env.tool("log_reasoning_step", session_id="s1", content="observe: it's slow")
    env.tool("log_reasoning_step", session_id="s1", step_type="decision", content="scale out")


@where()
def test_mcp_log_reasoning_step(env: Env) -> None:
    env.enter()
    _log_steps(env)
    steps = env.agent.query(
        "SELECT step_number, step_type, content, prev_hash = '' AS first FROM "
        '"_hatidata_cot_local".agent_traces ORDER BY step_number'
    )
    assert steps == [
        {
            "step_number": 0,
            "step_type": "observation",
            "content": "observe: it's slow",
            "first": True,
        },
        {"step_number": 1, "step_type": "decision", "content": "scale out", "first": False},
    ]


@where()
def test_mcp_replay_decision(env: Env) -> None:
    _log_steps(env)  # on main; a branch reads them as they were when it was created
    env.enter()
    replay = env.tool("replay_decision", session_id="s1", verify_chain=True)
    assert replay["step_count"] == 2 and replay["chain_valid"] is True
    assert [s["content"] for s in replay["steps"]] == ["observe: it's slow", "scale out"]


@where()
def test_mcp_get_session_history(env: Env) -> None:
    _log_steps(env)
    env.enter()
    history = env.tool("get_session_history", agent_id="sdk-agent")
    assert [(h["session_id"], h["agent_id"], h["step_count"]) for h in history] == [
        ("s1", "sdk-agent", 2)
    ]
    assert env.tool("get_session_history", agent_id="nobody") == []


def _trigger(env: Env) -> str:
    return env.tool("register_trigger", name="renewals", concept="enterprise renewal")["trigger_id"]


@where()
def test_mcp_register_trigger(env: Env) -> None:
    env.enter()
    tid = _trigger(env)
    assert re.fullmatch(r"[0-9a-f]{32}", tid)
    assert [t["trigger_id"] for t in env.tool("list_triggers")] == [tid]


@where()
def test_mcp_list_triggers(env: Env) -> None:
    tid = _trigger(env)
    env.enter()
    assert [t["trigger_id"] for t in env.tool("list_triggers", status="active")] == [tid]
    assert env.tool("list_triggers", status="inactive") == []


@where()
def test_mcp_delete_trigger(env: Env) -> None:
    tid = _trigger(env)
    env.enter()
    assert env.tool("delete_trigger", trigger_id=tid) == {"deleted": True, "trigger_id": tid}
    assert [t["trigger_id"] for t in env.tool("list_triggers", status="inactive")] == [tid]


@where()
def test_mcp_test_trigger(env: Env) -> None:
    tid = _trigger(env)
    env.enter()
    hit = env.tool("test_trigger", trigger_id=tid, content="Enterprise renewal is due")
    assert (hit["matched"], hit["score"], hit["trigger_name"]) == (True, 1.0, "renewals")
    miss = env.tool("test_trigger", trigger_id=tid, content="lunch")
    assert (miss["matched"], miss["score"]) == (False, 0.0)
    assert env.tool("test_trigger", trigger_id="nope", content="x")["matched"] is False


def _sdk_branch(env: Env) -> str:
    """docs on main, the agent's connection in place, and an SDK "branch" of it."""
    _docs(env)
    env.enter()
    return env.tool("branch_create", name="sdk-plan")["branch_id"]


@where(branch=SDK_BRANCHES_IN_BRANCH)
def test_mcp_branch_create(env: Env) -> None:
    _docs(env)
    env.enter()
    created = env.tool("branch_create", name="sdk-plan")
    assert created["name"] == "sdk-plan" and created["table_count"] == 1
    assert created["schema_name"] == f"branch_{created['branch_id']}"


@where(main=SDK_BRANCHES, branch=SDK_BRANCHES_IN_BRANCH)
def test_mcp_branch_query(env: Env) -> None:
    bid = _sdk_branch(env)
    env.tool("branch_query", branch_id=bid, sql="UPDATE docs SET body = 'changed' WHERE id = 1")
    assert env.tool("branch_query", branch_id=bid, sql="SELECT body FROM docs WHERE id = 1") == [
        {"body": "changed"}
    ]
    assert env.tool("query", sql="SELECT body FROM docs WHERE id = 1") == [
        {"body": "enterprise accounts renew in march"}
    ]


@where(main=SDK_BRANCHES, branch=SDK_BRANCHES_IN_BRANCH)
def test_mcp_branch_merge(env: Env) -> None:
    bid = _sdk_branch(env)
    env.tool("branch_query", branch_id=bid, sql="UPDATE docs SET body = 'merged' WHERE id = 1")
    assert env.tool("branch_merge", branch_id=bid)["status"] == "completed"
    assert env.tool("query", sql="SELECT body FROM docs WHERE id = 1") == [{"body": "merged"}]
    assert env.tool("query", sql="SELECT count(*) AS n FROM docs") == [{"n": 3}]


@where(branch=SDK_BRANCHES_IN_BRANCH)
def test_mcp_branch_discard(env: Env) -> None:
    bid = _sdk_branch(env)
    assert env.tool("branch_discard", branch_id=bid) == {"discarded": True, "branch_id": bid}
    assert env.tool("branch_list") == []
    assert env.tool("query", sql="SELECT count(*) AS n FROM docs") == [{"n": 3}]


@where(branch=SDK_BRANCHES_IN_BRANCH)
def test_mcp_branch_list(env: Env) -> None:
    bid = _sdk_branch(env)
    assert env.tool("branch_list") == [
        {
            "branch_id": bid,
            "schema_name": f"branch_{bid}",
            "materialized_tables": 0,
            "views": 1,
        }
    ]
