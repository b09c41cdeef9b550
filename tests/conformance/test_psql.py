"""psql meta-commands against a real server: they must work and hide hati's internals."""

from __future__ import annotations

import shutil

import pytest

from conftest import psql, run_psql

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")


@pytest.fixture
def server(hati_server):
    hati_server.query(
        "CREATE TABLE deploy_config (id INTEGER PRIMARY KEY, name VARCHAR NOT NULL, weight DOUBLE)"
    )
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("SELECT branch_create('exp')")
        # A write in the branch materializes the table in the branch's schema.
        cur.execute("SELECT branch_query('exp', 'INSERT INTO deploy_config VALUES (1, ''a'', 1)')")
        # The internals the meta-commands must hide do exist (read in the database itself:
        # clients cannot see them).
        own = hati_server.thread.server.app.db.cursor()
        try:
            internal = {
                r[0] for r in own.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
            }
        finally:
            own.close()
        assert {"_hati", "_hati_snap"} <= internal
        assert any(name.startswith("_hb_") for name in internal)
    finally:
        c.close()
    return hati_server


INTERNAL = ("_hati", "_hb_", "hati_regclass", "pg_get_userbyid")


def test_dt_lists_user_tables_only(server):
    out = psql(server, r"\dt")
    assert out.splitlines() == ["public|deploy_config|table|hati"]


def test_d_table_shows_columns(server):
    out = psql(server, r"\d deploy_config")
    lines = out.splitlines()
    assert "id|integer||not null|" in lines
    assert "name|character varying||not null|" in lines
    assert "weight|double precision|||" in lines
    footer = psql(server, r"\d deploy_config", tuples_only=False).splitlines()
    assert '    "deploy_config_pkey" PRIMARY KEY, btree (id)' in footer


def test_dn_hides_internal_schemas(server):
    out = psql(server, r"\dn")
    assert out.splitlines() == ["public|hati"]


def test_l_lists_the_database(server):
    out = psql(server, r"\l")
    names = [line.split("|")[0] for line in out.splitlines()]
    assert names == ["hati"] or names == [server.data_dir.name]


def test_dv_and_df_hide_internals(server):
    for cmd in (r"\dv", r"\dtv *.*", r"\df", r"\dn *"):
        out = psql(server, cmd)
        for word in INTERNAL:
            assert word not in out, (cmd, out)


def test_plain_query_and_error(server):
    assert psql(server, "SELECT count(*) FROM deploy_config").strip() == "0"
    proc = run_psql(
        server,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "SELEC 1",
    )
    assert proc.returncode != 0
    assert "syntax error" in proc.stderr.lower()


def test_tables_made_in_a_branch_show_in_that_branch(server):
    c = server.connect()
    try:
        cur = c.cursor()
        cur.execute("SELECT branch_create('cat')")
        cur.execute("SET hatidata_branch = 'cat'")
        cur.execute("CREATE TABLE only_here (id int PRIMARY KEY, note varchar(20))")
        cur.execute("CREATE INDEX only_here_note ON only_here (note)")
        cur.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'only_here'"
        )
        assert cur.fetchall() == [("public",)]
    finally:
        c.close()
    out = psql(server, r"\dt", branch="cat").splitlines()
    assert out == ["public|deploy_config|table|hati", "public|only_here|table|hati"]
    described = psql(server, r"\d only_here", branch="cat", tuples_only=False).splitlines()
    assert described[0].strip() == 'Table "public.only_here"'
    assert '    "only_here_note" btree (note)' in described
    assert psql(server, r"\dt").split() == ["public|deploy_config|table|hati"]  # not on main


def _pane(session: str) -> str:
    import subprocess

    return subprocess.run(
        ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=True
    ).stdout


def _wait_for(session: str, text: str, seconds: float = 20.0) -> str:
    import time

    deadline = time.monotonic() + seconds
    while True:
        screen = _pane(session)
        if text in screen or time.monotonic() > deadline:
            return screen
        time.sleep(0.05)  # polling the screen of a terminal program, bounded by the deadline


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_tab_completion_of_table_names(server, tmp_path):
    """psql completes a table name with its own catalog query (it needs pg_catalog in
    pg_namespace), typed in a real terminal."""
    import os
    import subprocess

    session = f"hati-complete-{os.getpid()}"
    env = {
        "PGHOST": server.host,
        "PGPORT": str(server.port),
        "PGUSER": "tester",
        "PGDATABASE": "hati",
        "PSQL_HISTORY": str(tmp_path / "history"),
        "INPUTRC": "/dev/null",
    }
    command = " ".join(f"{k}={v}" for k, v in env.items()) + " psql -X"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40", command], check=True
    )
    try:
        assert "hati=" in _wait_for(session, "hati=")
        subprocess.run(["tmux", "send-keys", "-t", session, "SELECT * FROM deploy_c", "Tab"])
        screen = _wait_for(session, "deploy_config")
        assert "SELECT * FROM deploy_config" in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "C-u", r"\d+ deploy_con", "Tab"])
        screen = _wait_for(session, r"\d+ deploy_config")
        assert r"\d+ deploy_config" in screen, screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def test_d_plus_du_and_roles(server):
    out = psql(server, r"\d+ deploy_config", tuples_only=False).splitlines()
    assert out[0].strip() == 'Table "public.deploy_config"'
    assert any(line.startswith("id|integer|") for line in out)
    assert '    "deploy_config_pkey" PRIMARY KEY, btree (id)' in out
    assert psql(server, r"\du").split("|")[0] == "hati"
    assert psql(server, "SELECT usename FROM pg_user") == "hati\n"
    assert psql(server, "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'") == "1\n"
    assert psql(server, "SELECT catcode FROM pg_get_keywords() WHERE word = 'select'") == "R\n"
    assert psql(server, "SELECT pg_database_size(current_database()) > 0") == "t\n"
