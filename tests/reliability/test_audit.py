"""Audit trail: every statement with its agent tags, queryable as ``hati_audit``, rotated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import psycopg2

from conftest import RunningServer, start_server

COLS = (
    "agent_id, framework, request_id, reasoning_step, parent_request_id, branch, "
    "duration_ms, rows, outcome, sqlstate, command, sql"
)


def _audit(conn: Any, where: str) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {COLS} FROM hati_audit WHERE {where} ORDER BY seq")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_every_statement_is_recorded_with_sdk_tags(hati_server: RunningServer) -> None:
    conn = psycopg2.connect(
        hati_server.dsn,
        options="-c hatidata_agent_id=agent-7 -c hatidata_framework=langgraph",
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SET hatidata_request_id = 'req-1'")
            cur.execute("SET hatidata_reasoning_step = '3'")
            cur.execute("SET hatidata_parent_request_id = 'req-0'")
            cur.execute("CREATE TABLE audited (id INT, note VARCHAR)")
            cur.execute("INSERT INTO audited VALUES (1, 'a'), (2, 'b'), (3, 'c')")
            cur.execute("SELECT * FROM audited WHERE id >= 2")
            assert len(cur.fetchall()) == 2
            try:
                cur.execute("SELECT * FROM no_such_table")
            except psycopg2.Error as exc:
                assert exc.pgcode == "42P01"
            else:
                raise AssertionError("a missing table must fail")
            cur.execute("SET hatidata_request_id = 'req-2'")
            cur.execute("SELECT branch_create('aud-b')")
            cur.execute("SELECT branch_query('aud-b', 'UPDATE audited SET note = ''z''')")
            cur.execute("SET hatidata_branch = 'aud-b'")
            cur.execute("DELETE FROM audited WHERE id = 1")
            cur.execute("RESET hatidata_branch")
        rows = _audit(conn, "agent_id = 'agent-7'")
    finally:
        conn.close()

    by_sql = {r["sql"]: r for r in rows}
    assert all(r["framework"] == "langgraph" for r in rows), rows
    ins = by_sql["INSERT INTO audited VALUES (1, 'a'), (2, 'b'), (3, 'c')"]
    assert (ins["request_id"], ins["reasoning_step"], ins["parent_request_id"]) == (
        "req-1",
        "3",
        "req-0",
    )
    assert (ins["rows"], ins["outcome"], ins["sqlstate"], ins["branch"]) == (3, "ok", None, None)
    assert ins["command"] == "INSERT 0 3" and ins["duration_ms"] >= 0
    sel = by_sql["SELECT * FROM audited WHERE id >= 2"]
    assert (sel["rows"], sel["outcome"]) == (2, "ok")
    bad = by_sql["SELECT * FROM no_such_table"]
    assert (bad["outcome"], bad["sqlstate"], bad["rows"]) == ("error", "42P01", None)
    upd = by_sql["SELECT branch_query('aud-b', 'UPDATE audited SET note = ''z''')"]
    assert (upd["branch"], upd["request_id"], upd["outcome"]) == ("aud-b", "req-2", "ok")
    dele = by_sql["DELETE FROM audited WHERE id = 1"]
    assert (dele["branch"], dele["rows"]) == ("aud-b", 1)
    # Statements are recorded in order and none is missing.
    sqls = [r["sql"] for r in rows]
    assert sqls.index("CREATE TABLE audited (id INT, note VARCHAR)") < sqls.index(ins["sql"])
    assert "SET hatidata_branch = 'aud-b'" in sqls and "RESET hatidata_branch" in sqls


def test_audit_with_psycopg3_extended_protocol_and_from_a_branch(
    hati_server: RunningServer,
) -> None:
    dsn = f"host=127.0.0.1 port={hati_server.port} user=p3 dbname=hati"
    with psycopg.connect(
        dsn, autocommit=True, options="-c hatidata_agent_id=p3-agent -c hatidata_framework=crewai"
    ) as conn:
        conn.execute("SET hatidata_request_id = 'r-77'")
        conn.execute("CREATE TABLE ext (id INT)")
        conn.execute("INSERT INTO ext SELECT * FROM range(5)")
        assert len(conn.execute("SELECT id FROM ext WHERE id < %s", [4]).fetchall()) == 4
        conn.execute("SELECT branch_create(%s)", ["ext-b"])
        conn.execute("SET hatidata_branch = 'ext-b'")
        # hati_audit resolves inside a branch too, and is never copied into it.
        rows = conn.execute(
            "SELECT sql, rows, request_id, framework FROM hati_audit "
            "WHERE agent_id = 'p3-agent' ORDER BY seq"
        ).fetchall()
        conn.execute("RESET hatidata_branch")
        assert [r[0] for r in conn.execute("SELECT * FROM branch_list()").fetchall()] == ["ext-b"]
    sel = [r for r in rows if r[0].startswith("SELECT id FROM ext")]
    assert sel and sel[0][1] == 4 and sel[0][2] == "r-77" and sel[0][3] == "crewai"
    assert "4" in sel[0][0], "bound parameters are recorded with the statement"


def test_audit_is_rotated_to_at_most_max_rows(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", audit_max_rows=40)
    try:
        conn = server.connect(agent="rotator")
        with conn.cursor() as cur:
            for i in range(300):
                cur.execute(f"SELECT {i} AS marker")
            cur.execute(
                "SELECT count(*), max(sql) FILTER (WHERE sql LIKE 'SELECT 299%') FROM hati_audit"
            )
            count, last = cur.fetchone()
        conn.close()
        assert 1 <= count <= 40, count
        assert last == "SELECT 299 AS marker", "the newest records are kept"
    finally:
        server.thread.stop()
    # Still bounded after a restart on the same data.
    server = start_server(tmp_path / "data", audit_max_rows=40)
    try:
        (count,) = server.query("SELECT count(*) FROM hati_audit")[0]
        assert 1 <= count <= 40
    finally:
        server.thread.stop()
