"""DDL hati runs as several DuckDB statements, driven by real clients: pgbench's
initialisation (DROP / TRUNCATE of several tables, ADD PRIMARY KEY), ALTER TABLE with
several actions and rebuilds, on main and in a branch; a failing action leaves the table
as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import closing

import psycopg2
import pytest

from conftest import rows

pytestmark = pytest.mark.server


@pytest.mark.skipif(shutil.which("pgbench") is None, reason="pgbench is not installed")
def test_pgbench_initialises_twice(hati_server) -> None:
    env = dict(
        os.environ,
        PGHOST=hati_server.host,
        PGPORT=str(hati_server.port),
        PGUSER="tester",
        PGDATABASE="hati",
    )
    for _ in range(2):  # the second run drops and truncates the tables the first made
        done = subprocess.run(
            ["pgbench", "-i", "-s", "1", "-q"], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    with closing(hati_server.connect()) as conn:
        cur = conn.cursor()
        assert rows(cur, "SELECT count(*) FROM pgbench_accounts") == [(100000,)]
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("INSERT INTO pgbench_branches VALUES (1, 0, '')")
        assert rows(
            cur,
            "SELECT conname FROM pg_constraint WHERE contype = 'p' ORDER BY 1",
        ) == [("pgbench_accounts_pkey",), ("pgbench_branches_pkey",), ("pgbench_tellers_pkey",)]


def _alter_and_check(cur, catalog: bool = True) -> None:
    cur.execute("CREATE INDEX acc_v ON acc (v)")
    cur.execute(
        "ALTER TABLE acc ADD CONSTRAINT acc_v_pos CHECK (v > 0), ALTER COLUMN v TYPE bigint, "
        "ADD COLUMN note text DEFAULT 'n'"
    )
    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute("INSERT INTO acc (id, v) VALUES (10, -1)")
    assert rows(cur, "SELECT id, v, note FROM acc ORDER BY id") == [(1, 10, "n"), (2, 20, "n")]
    assert rows(cur, "SELECT pg_typeof(v)::text FROM acc LIMIT 1") == [("bigint",)]
    # Where one action fails, none of them happened.
    with pytest.raises(psycopg2.errors.UndefinedColumn):
        cur.execute("ALTER TABLE acc DROP CONSTRAINT acc_v_pos, ALTER COLUMN nope SET NOT NULL")
    with pytest.raises(psycopg2.errors.CheckViolation):
        cur.execute("INSERT INTO acc (id, v) VALUES (10, -1)")
    cur.execute("ALTER TABLE acc DROP CONSTRAINT acc_v_pos")
    cur.execute("INSERT INTO acc (id, v) VALUES (3, -1)")
    if not catalog:
        return
    # The index came through the rebuilds.
    assert rows(cur, "SELECT indexname FROM pg_indexes WHERE tablename = 'acc' ORDER BY 1") == [
        ("acc_pkey",),
        ("acc_v",),
    ]


def test_alter_table_rebuilds_on_main(hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE acc (id int PRIMARY KEY, v int)")
        cur.execute("INSERT INTO acc VALUES (1, 10), (2, 20)")
        _alter_and_check(cur)


def test_alter_table_rebuilds_in_a_branch_leave_main_alone(hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE acc (id int PRIMARY KEY, v int)")
        cur.execute("INSERT INTO acc VALUES (1, 10), (2, 20)")
        cur.execute("CREATE TABLE gone1 (x int)")
        cur.execute("CREATE TABLE gone2 (x int)")
        cur.execute("SELECT branch_create('alt')")
        cur.execute("SET hatidata_branch = 'alt'")
        _alter_and_check(cur, catalog=False)
        cur.execute("DROP TABLE gone1, gone2")
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.execute("SELECT * FROM gone1")
        cur.execute("RESET hatidata_branch")
        assert rows(cur, "SELECT id, v FROM acc ORDER BY id") == [(1, 10), (2, 20)]
        cur.execute("INSERT INTO acc (id, v) VALUES (9, -1)")  # no CHECK on main
        assert rows(cur, "SELECT count(*) FROM gone1") == [(0,)]


def test_multi_table_statements_are_atomic(hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE t1 (id serial, v int)")
        cur.execute("INSERT INTO t1 (v) VALUES (1), (2)")
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.execute("TRUNCATE t1, no_such_table")
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.execute("DROP TABLE t1, no_such_table")
        assert rows(cur, "SELECT count(*) FROM t1") == [(2,)]
        cur.execute("TRUNCATE t1 RESTART IDENTITY")
        assert rows(cur, "INSERT INTO t1 (v) VALUES (3) RETURNING id") == [(1,)]
        cur.execute("SELECT branch_create('tr')")
        cur.execute("SET hatidata_branch = 'tr'")
        with pytest.raises(psycopg2.errors.FeatureNotSupported):
            cur.execute("TRUNCATE t1 RESTART IDENTITY")  # main's sequence is shared
        cur.execute("TRUNCATE t1")
        assert rows(cur, "SELECT count(*) FROM t1") == [(0,)]
