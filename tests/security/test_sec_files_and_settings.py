"""Findings 1 and 2: no server files, network, extensions; no global settings.

Each test runs the exact statement the issue reproduced and expects the SQLSTATE
PostgreSQL gives an ordinary role (42501 for privileges, 42883 for a function it does
not have, 0A000 for a statement kind it does not serve), then checks that the data,
the branch and the audit trail are as they were.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest
from security_support import assert_intact, baseline, cur, refused, seed, server  # noqa: F401  (pytest fixtures)

from conftest import RunningServer, start_server

pytestmark = pytest.mark.server


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    p = tmp_path / "secret.csv"
    p.write_text("a,b\n1,2\n")
    return p


def test_f1_read_text_server_file(server: RunningServer, cur, secret_file: Path) -> None:
    before = baseline(server)
    refused(cur, "SELECT read_text('/etc/shadow')", "42883")
    refused(cur, f"SELECT * FROM read_text('{secret_file}')", "42883")
    assert_intact(server, before)


def test_f1_read_csv_and_blob(server: RunningServer, cur, secret_file: Path) -> None:
    before = baseline(server)
    refused(cur, f"SELECT * FROM read_csv('{secret_file}')", "42883")
    refused(cur, f"SELECT * FROM read_csv_auto('{secret_file}')", "42883")
    refused(cur, f"SELECT * FROM read_blob('{secret_file}')", "42883")
    refused(cur, f"SELECT content FROM read_blob('{secret_file}')", "42883")
    assert_intact(server, before)


def test_f1_glob_root(server: RunningServer, cur) -> None:
    before = baseline(server)
    refused(cur, "SELECT * FROM glob('/root/*')", "42883")
    refused(cur, "SELECT glob('/root/*')", "42883")
    assert_intact(server, before)


def test_f1_select_from_path_literal(server: RunningServer, cur, secret_file: Path) -> None:
    """DuckDB's ``FROM '/path'`` is a quoted identifier in PostgreSQL: no such table."""
    before = baseline(server)
    with pytest.raises(psycopg2.Error) as info:
        cur.execute(f"SELECT * FROM '{secret_file}'")
    assert info.value.pgcode in ("42601", "42P01"), info.value.pgcode  # PG: syntax error
    with pytest.raises(psycopg2.Error) as info:
        cur.execute(f'SELECT * FROM "{secret_file}"')
    assert info.value.pgcode == "42P01"
    assert_intact(server, before)


def test_f1_copy_to_server_file(server: RunningServer, cur, tmp_path: Path) -> None:
    before = baseline(server)
    target = tmp_path / "out.csv"
    refused(cur, f"COPY ledger TO '{target}'", "42501")
    refused(cur, f"COPY (SELECT * FROM ledger) TO '{target}' WITH (FORMAT csv)", "42501")
    refused(cur, "COPY ledger TO PROGRAM 'cat > /tmp/x'", "42501")
    assert not target.exists()
    assert_intact(server, before)


def test_f1_copy_from_server_file(server: RunningServer, cur, secret_file: Path) -> None:
    before = baseline(server)
    refused(cur, f"COPY ledger FROM '{secret_file}' WITH (FORMAT csv, HEADER)", "42501")
    refused(cur, "COPY ledger FROM PROGRAM 'id'", "42501")
    assert_intact(server, before)


def test_f1_attach_database(server: RunningServer, cur, tmp_path: Path) -> None:
    before = baseline(server)
    other = tmp_path / "other.duckdb"
    refused(cur, f"ATTACH '{other}' AS x", "42601")  # not PostgreSQL syntax
    refused(cur, "CREATE TABLE x.main.t (a int)", "0A000")  # cross-database reference
    assert not other.exists()
    assert_intact(server, before)


def test_f1_install_and_load_extension(server: RunningServer, cur) -> None:
    before = baseline(server)
    with pytest.raises(psycopg2.Error) as info:
        cur.execute("INSTALL httpfs")
    assert info.value.pgcode == "42601"  # not PostgreSQL syntax
    with pytest.raises(psycopg2.Error) as info:
        cur.execute("LOAD 'httpfs'")
    assert info.value.pgcode == "0A000"
    refused(cur, "CREATE EXTENSION httpfs", "0A000")
    assert_intact(server, before)


def test_f1_agent_cannot_overwrite_hati_toml(tmp_path: Path) -> None:
    """bob (auth on, not in merge_agents) tries COPY ... TO hati.toml, then to merge."""
    data = tmp_path / "data"
    server = start_server(data, agent_keys={"alice": "ka", "bob": "kb"}, merge_agents=["alice"])
    server.thread.server.app.config.save()
    toml = (data / "hati.toml").read_text()
    try:
        alice = psycopg2.connect(
            host="127.0.0.1", port=server.port, user="alice", password="ka", dbname="hati"
        )
        alice.autocommit = True
        alice.cursor().execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        alice.cursor().execute("INSERT INTO t VALUES (1, 1)")
        alice.close()
        conn = psycopg2.connect(
            host="127.0.0.1", port=server.port, user="bob", password="kb", dbname="hati"
        )
        conn.autocommit = True
        cur = conn.cursor()
        payload = "SELECT '[server]' || chr(10) || 'merge_agents = [\"bob\"]'"
        refused(cur, f"COPY ({payload}) TO '{data / 'hati.toml'}' (HEADER false)", "42501")
        cur.execute("SELECT branch_create('bw')")
        cur.execute("SELECT * FROM branch_query('bw', 'UPDATE t SET v = 2')")
        refused(cur, "SELECT * FROM branch_merge('bw')", "42501")
        conn.close()
    finally:
        server.thread.stop()
    assert (data / "hati.toml").read_text() == toml


def test_f2_set_global_threads(server: RunningServer, cur) -> None:
    before = baseline(server)
    threads = server.internal("SELECT current_setting('threads')")[0][0]
    for sql in ("SET GLOBAL threads = 1", "SET threads = 1", "SET GLOBAL threads TO 1"):
        with pytest.raises(psycopg2.Error) as info:
            cur.execute(sql)
        assert info.value.pgcode in ("42601", "42704"), (sql, info.value.pgcode)
    assert server.internal("SELECT current_setting('threads')")[0][0] == threads
    assert_intact(server, before)


def test_f2_set_memory_limit(server: RunningServer, cur) -> None:
    before = baseline(server)
    limit = server.internal("SELECT current_setting('memory_limit')")[0][0]
    for sql in ("SET GLOBAL memory_limit = '1MB'", "SET memory_limit = '1MB'"):
        with pytest.raises(psycopg2.Error) as info:
            cur.execute(sql)
        assert info.value.pgcode in ("42601", "42704"), (sql, info.value.pgcode)
    assert server.internal("SELECT current_setting('memory_limit')")[0][0] == limit
    assert_intact(server, before)


def test_f2_set_lock_configuration(server: RunningServer, cur) -> None:
    before = baseline(server)
    for sql in (
        "SET GLOBAL lock_configuration = false",
        "SET lock_configuration = false",
        "SET enable_external_access = true",
        "SELECT set_config('enable_external_access', 'true', false)",
    ):
        with pytest.raises(psycopg2.Error) as info:
            cur.execute(sql)
        assert info.value.pgcode in ("42601", "42704"), (sql, info.value.pgcode)
    assert server.internal("SELECT current_setting('lock_configuration')")[0][0] is True
    assert server.internal("SELECT current_setting('enable_external_access')")[0][0] is False
    refused(cur, "SELECT read_text('/etc/hostname')", "42883")
    assert_intact(server, before)
