"""Branch lifecycle: branch_list, TTL expiry, restart with live branches, errors that
change nothing, and disk space across many create/write/discard cycles."""

from __future__ import annotations

import datetime as dt
import os
import time
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import branch_query as q
from conftest import internal, rows, start_server

LIST_COLUMNS = [
    "name",
    "parent",
    "created_by",
    "created_at",
    "tables_materialized",
    "rows_changed",
    "expires_at",
]


def branch_schemas(cur: Any) -> int:
    """Branch schemas that hold data (empty ones are made ahead of forks, in batches)."""
    return internal(
        cur,
        "SELECT count(DISTINCT schema_name) FROM duckdb_tables() "
        "WHERE regexp_matches(schema_name, '^_hbd?_[0-9]+$') AND database_name = current_database()",
    )[0][0]


@pytest.fixture
def cur(conn):
    c = conn.cursor()
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR)")
    c.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    return c


def test_branch_list_columns_and_values(hati_server, cur) -> None:
    cur.execute("SELECT * FROM branch_list()")
    assert [d[0] for d in cur.description] == LIST_COLUMNS
    assert cur.fetchall() == []
    with closing(hati_server.connect(agent="planner")) as c:
        c.cursor().execute("SELECT branch_create('one')")
    cur.execute("SELECT branch_create('two', 'one', 3600)")
    q(cur, "one", "UPDATE t SET v = 'x' WHERE k = 1")
    q(cur, "one", "INSERT INTO t VALUES (4, 'd')")
    q(cur, "one", "CREATE TABLE extra (x INTEGER)")
    listed = {r[0]: r for r in rows(cur, "SELECT * FROM branch_list()")}
    assert set(listed) == {"one", "two"}
    one, two = listed["one"], listed["two"]
    assert one[1:3] == ("main", "planner")
    assert one[4] == 2  # t and extra
    assert one[5] == 3  # update + insert + create_table
    assert one[6] is None
    assert two[1:3] == ("one", "tester")
    assert (two[4], two[5]) == (0, 0)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs((one[3] - now).total_seconds()) < 60
    assert 3500 < (two[6] - two[3]).total_seconds() <= 3600


def test_ttl_expiry_reclaims_the_branch(cur) -> None:
    cur.execute("SELECT branch_create('brief', NULL, 1)")
    q(cur, "brief", "UPDATE t SET v = 'tmp' WHERE k = 1")
    cur.execute("SELECT branch_create('stays')")
    listed = rows(cur, "SELECT * FROM branch_list()")
    assert {r[0] for r in listed} == {"brief", "stays"}
    assert next(r[6] for r in listed if r[0] == "brief") is not None
    assert branch_schemas(cur) == 1  # only brief wrote
    deadline = time.monotonic() + 20
    while True:
        names = {r[0] for r in rows(cur, "SELECT * FROM branch_list()")}
        if "brief" not in names:
            break
        assert time.monotonic() < deadline, "branch with a 1 s TTL never expired"
        time.sleep(0.1)  # polling interval, not synchronisation
    assert names == {"stays"}
    assert branch_schemas(cur) == 0
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_query('brief', 'SELECT 1')")
    assert err.value.pgcode == "42704"
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [(1, "a"), (2, "b"), (3, "c")]
    # The name is free again.
    cur.execute("SELECT branch_create('brief')")
    assert q(cur, "brief", "SELECT v FROM t WHERE k = 1") == [("a",)]


def test_restart_with_live_branches(tmp_path) -> None:
    data = tmp_path / "data"
    server = start_server(data)
    try:
        with closing(server.connect(agent="before")) as c:
            cur = c.cursor()
            cur.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR)")
            cur.execute("CREATE TABLE bag (x INTEGER)")
            cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
            cur.execute("INSERT INTO bag VALUES (1), (1)")
            cur.execute("SELECT branch_create('live')")
            cur.execute("SELECT branch_create('kid', 'live')")
            cur.execute("SELECT branch_create('untouched', NULL, 3600)")
            q(cur, "live", "UPDATE t SET v = 'L1' WHERE k = 1")
            q(cur, "live", "CREATE TABLE made (y VARCHAR)")
            q(cur, "live", "INSERT INTO made VALUES ('m')")
            q(cur, "kid", "INSERT INTO bag VALUES (2)")
            cur.execute("UPDATE t SET v = 'M1' WHERE k = 1")  # snapshot for 'live' and 'untouched'
            cur.execute("UPDATE t SET v = 'M2' WHERE k = 2")
            cur.execute("SELECT branch_resolve('live', 't', '{\"k\": 1}', '{\"v\": \"R1\"}')")
            before = sorted(r[:3] + r[4:] for r in rows(cur, "SELECT * FROM branch_list()"))
    finally:
        server.thread.stop()

    server = start_server(data)
    try:
        with closing(server.connect()) as c:
            cur = c.cursor()
            assert sorted(r[:3] + r[4:] for r in rows(cur, "SELECT * FROM branch_list()")) == before
            assert rows(cur, "SELECT * FROM t ORDER BY k") == [(1, "M1"), (2, "M2"), (3, "c")]
            assert q(cur, "live", "SELECT * FROM t ORDER BY k") == [(1, "L1"), (2, "b"), (3, "c")]
            assert q(cur, "untouched", "SELECT * FROM t ORDER BY k") == [
                (1, "a"),
                (2, "b"),
                (3, "c"),
            ]
            # 'kid' forked from 'live' before 'live' wrote t: it keeps that version.
            assert q(cur, "kid", "SELECT * FROM t ORDER BY k") == [(1, "a"), (2, "b"), (3, "c")]
            assert q(cur, "kid", "SELECT x FROM bag ORDER BY x") == [(1,), (1,), (2,)]
            assert q(cur, "live", "SELECT * FROM made") == [("m",)]
            # Main keeps writing after the restart; the branches still do not see it.
            cur.execute("UPDATE t SET v = 'M3' WHERE k = 3")
            assert q(cur, "untouched", "SELECT v FROM t WHERE k = 3") == [("c",)]
            # Merges still work, and the recorded resolution survived.
            cur.execute("SELECT * FROM branch_merge('kid')")
            assert cur.fetchone()[6] == "merged"
            cur.execute("SELECT * FROM branch_merge('live', 'manual')")
            assert cur.fetchone()[5:] == (1, "merged")
            assert rows(cur, "SELECT * FROM t ORDER BY k") == [(1, "R1"), (2, "M2"), (3, "M3")]
            assert rows(cur, "SELECT x FROM bag ORDER BY x") == [(1,), (1,), (2,)]
            assert rows(cur, "SELECT * FROM made") == [("m",)]
            assert [r[0] for r in rows(cur, "SELECT * FROM branch_list()")] == ["untouched"]
    finally:
        server.thread.stop()


ERROR_CASES = [
    ("SELECT branch_merge('ghost')", "42704"),
    ("SELECT branch_discard('ghost')", "42704"),
    ("SELECT branch_query('ghost', 'SELECT 1')", "42704"),
    ("SELECT branch_query('ghost', 'DELETE FROM t')", "42704"),
    ("SELECT * FROM branch_diff('ghost')", "42704"),
    ("SELECT * FROM branch_conflicts('ghost')", "42704"),
    ("SELECT branch_resolve('ghost', 't', '{\"k\": 1}', 'main')", "42704"),
    ("SELECT branch_create('orphan', 'ghost')", "42704"),
    ("SET hatidata_branch = 'ghost'", "42704"),
    ("SELECT branch_create('existing')", "42710"),
    ("SELECT branch_create('bad name')", "22023"),
    ("SELECT branch_create('')", "22023"),
    ("SELECT branch_create('-dash')", "22023"),
    ("SELECT branch_create('main')", "22023"),
    ("SELECT branch_create('" + "x" * 64 + "')", "22023"),
    ("SELECT branch_create('semi;colon')", "22023"),
    ("SELECT branch_create('neg', NULL, -5)", "22023"),
    ("SELECT branch_merge('existing', 'yolo')", "22023"),
    ("SELECT branch_merge('existing', '')", "22023"),
    ("SELECT branch_query('existing', 'UPDATE nosuch SET x = 1')", "42P01"),
    ("SELECT branch_query('existing', 'INSERT INTO t VALUES (1, ''dup'')')", "23505"),
    ("SELECT branch_query('existing', 'SELECT 1; SELECT 2')", "0A000"),
]


def test_errors_leave_everything_unchanged(cur) -> None:
    cur.execute("SELECT branch_create('existing')")
    q(cur, "existing", "UPDATE t SET v = 'e' WHERE k = 2")

    def state() -> tuple:
        listing = sorted(r[:2] + r[4:] for r in rows(cur, "SELECT * FROM branch_list()"))
        return (
            rows(cur, "SELECT * FROM t ORDER BY k"),
            q(cur, "existing", "SELECT * FROM t ORDER BY k"),
            listing,
            branch_schemas(cur),
            internal(cur, "SELECT count(*) FROM _hati.resolutions"),
        )

    before = state()
    for sql, code in ERROR_CASES:
        with pytest.raises(psycopg2.Error) as err:
            cur.execute(sql)
        assert err.value.pgcode == code, (sql, err.value.pgcode, str(err.value))
        assert state() == before, sql


def _db_size(cur: Any) -> tuple[int, int]:
    """(total blocks, used blocks) after a checkpoint."""
    deadline = time.monotonic() + 10
    while True:  # the audit writer may hold a short write transaction: retry
        try:
            cur.execute("CHECKPOINT")
            break
        except psycopg2.errors.SerializationFailure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    r = internal(
        cur,
        "SELECT total_blocks, used_blocks FROM pragma_database_size() WHERE database_name = current_database()",
    )
    return int(r[0][0]), int(r[0][1])


def _cycles(server: Any, n: int) -> list[tuple[int, int, int]]:
    """n create/write/discard cycles; (cycle, total_blocks, file bytes) every n//10."""
    out = []
    with closing(server.connect()) as c:
        cur = c.cursor()
        cur.execute(
            "CREATE TABLE big AS SELECT range AS id, md5(range::VARCHAR) AS payload FROM range(5000)"
        )
        cur.execute("CREATE TABLE small (k INTEGER PRIMARY KEY, v INTEGER)")
        cur.execute("INSERT INTO small SELECT range, range FROM range(100)")
        for i in range(n):
            name = f"cycle{i}"
            cur.execute("SELECT branch_create(%s)", (name,))
            q(cur, name, "UPDATE big SET payload = 'changed' WHERE id % 7 = 0")
            q(cur, name, "INSERT INTO small VALUES (1000, 1)")
            q(cur, name, "CREATE TABLE scratch AS SELECT * FROM range(1000)")
            if i % 2:
                cur.execute("UPDATE small SET v = v + 1 WHERE k = 1")  # main writes: a snapshot
            cur.execute("SELECT branch_discard(%s)", (name,))
            if (i + 1) % max(n // 10, 1) == 0:
                total, _ = _db_size(cur)
                out.append((i + 1, total, server.data_dir.joinpath("hati.duckdb").stat().st_size))
        assert rows(cur, "SELECT * FROM branch_list()") == []
        assert branch_schemas(cur) == 0
        assert internal(
            cur, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_hati_snap'"
        ) == [(0,)]
    return out


def _assert_plateau(samples: list[tuple[int, int, int]]) -> None:
    # After the first samples the file must stop growing: freed blocks are reused.
    early = max(s[1] for s in samples[:3])
    late = max(s[1] for s in samples[-3:])
    assert late <= early * 1.25 + 16, samples
    early_bytes = max(s[2] for s in samples[:3])
    assert samples[-1][2] <= early_bytes * 1.25 + (4 << 20), samples


def test_disk_space_plateaus_across_create_write_discard_cycles(hati_server) -> None:
    samples = _cycles(hati_server, 100)
    print(samples)
    _assert_plateau(samples)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("HATI_LONG_TESTS"), reason="set HATI_LONG_TESTS=1")
def test_disk_space_plateaus_across_1000_cycles(hati_server) -> None:
    _assert_plateau(_cycles(hati_server, 1000))
