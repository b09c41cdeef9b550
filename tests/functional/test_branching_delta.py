"""Row-level copy-on-write (branching/delta.py): a branch's writes to a keyed table
keep only the rows they touch, yet every statement sees and changes the whole table."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import psycopg2
import pytest

from conftest import RunningServer, internal, rows, run_in_threads, start_server

N = 5000


def touched_rows(cur: Any, table: str) -> int | None:
    """Rows in the branch's touched-rows table, None when the table is not a delta."""
    found = internal(
        cur,
        "SELECT schema_name FROM duckdb_tables() WHERE regexp_matches(schema_name, '^_hbd_[0-9]+$') "
        "AND table_name = %s",
        (table,),
    )
    if not found:
        return None
    return internal(cur, f'SELECT count(*) FROM "{found[0][0]}"."{table}"')[0][0]


@pytest.fixture
def cur(hati_server: RunningServer):
    with closing(hati_server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL, note VARCHAR)")
        c.execute(f"INSERT INTO t SELECT range, range % 7, 'n' || range FROM range({N})")
        c.execute("SELECT branch_create('b')")
        yield c


def in_b(conn: Any) -> Any:
    c = conn.cursor()
    c.execute("SET hatidata_branch = 'b'")
    return c


def test_first_write_copies_only_the_touched_rows(hati_server, cur) -> None:
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("UPDATE t SET v = -1 WHERE k = 42")
        assert b.rowcount == 1
        assert touched_rows(cur, "t") == 1
        b.execute("DELETE FROM t WHERE k BETWEEN 100 AND 109")
        assert b.rowcount == 10
        b.execute("INSERT INTO t VALUES (%s, 1, 'new')", (N + 1,))
        assert touched_rows(cur, "t") == 2  # 42 and the new key; deletions are hidden keys
        assert rows(b, "SELECT count(*), sum(v) FROM t") == [
            (
                N - 10 + 1,
                sum(i % 7 for i in range(N)) - 42 % 7 - 1 + 1 - sum(i % 7 for i in range(100, 110)),
            )
        ]
        assert rows(b, "SELECT v FROM t WHERE k = 42") == [(-1,)]
        assert rows(b, "SELECT count(*) FROM t WHERE k BETWEEN 100 AND 109") == [(0,)]
        # A second write to a touched row works on the touched copy, not the base.
        b.execute("UPDATE t SET v = v - 1 WHERE k IN (42, 43) RETURNING k, v")
        assert sorted(b.fetchall()) == [(42, -2), (43, 43 % 7 - 1)]
    assert rows(cur, "SELECT v FROM t WHERE k = 42") == [(0,)]
    assert rows(cur, "SELECT count(*) FROM t") == [(N,)]


def test_keys_stay_unique_across_base_and_touched_rows(hati_server, cur) -> None:
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("UPDATE t SET v = 0 WHERE k = 1")
        for bad in (
            "INSERT INTO t VALUES (7, 0, 'dup of an untouched row')",
            "INSERT INTO t VALUES (1, 0, 'dup of a touched row')",
            "UPDATE t SET k = 8 WHERE k = 1",  # moves onto an untouched key
        ):
            with pytest.raises(psycopg2.Error) as err:
                b.execute(bad)
            assert err.value.pgcode == "23505", bad
        # Nothing of the failed statements remains; the session keeps working.
        assert rows(b, "SELECT k, v FROM t WHERE k IN (1, 7, 8) ORDER BY k") == [
            (1, 0),
            (7, 0),
            (8, 1),
        ]
        b.execute("UPDATE t SET k = %s WHERE k = 1", (N + 5,))  # onto a free key: fine
        b.execute("DELETE FROM t WHERE k = 7")
        b.execute("INSERT INTO t VALUES (7, 70, 'reinserted')")  # a deleted key is free
        assert rows(b, "SELECT k, v FROM t WHERE k IN (1, 7, %s) ORDER BY k", (N + 5,)) == [
            (7, 70),
            (N + 5, 0),
        ]
    cur.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert rows(cur, "SELECT k, v FROM t WHERE k IN (1, 7, %s) ORDER BY k", (N + 5,)) == [
        (7, 70),
        (N + 5, 0),
    ]
    assert rows(cur, "SELECT count(*) FROM t") == [(N,)]


def test_server_side_parameters_select_the_same_rows(hati_server, cur) -> None:
    """psycopg 3 sends $n parameters; the WHERE is evaluated with its own ones."""
    with psycopg.connect(hati_server.dsn, autocommit=True) as conn:
        conn.execute("SET hatidata_branch = 'b'")
        for prepare in (False, True):
            n = conn.execute(
                "UPDATE t SET note = %s WHERE k >= %s AND k < %s AND v = %s",
                ("p", 10, 40, 3),
                prepare=prepare,
            ).rowcount
            assert n == sum(1 for k in range(10, 40) if k % 7 == 3)
        got = conn.execute("SELECT k FROM t WHERE note = 'p' ORDER BY k").fetchall()
        assert [r[0] for r in got] == [k for k in range(10, 40) if k % 7 == 3]
    assert touched_rows(cur, "t") == len([k for k in range(10, 40) if k % 7 == 3])


def test_statements_a_delta_cannot_take_fall_back_to_a_full_copy(hati_server, cur) -> None:
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("UPDATE t SET v = 100 WHERE k = 3")
        assert touched_rows(cur, "t") == 1
        # Reads its own target in a subquery: the table becomes a full copy first.
        b.execute("UPDATE t SET v = (SELECT max(v) FROM t) + 1 WHERE k = 4")
        assert touched_rows(cur, "t") is None
        assert rows(b, "SELECT k, v FROM t WHERE k IN (3, 4) ORDER BY k") == [(3, 100), (4, 101)]
        assert rows(b, "SELECT count(*) FROM t") == [(N,)]
        b.execute("INSERT INTO t VALUES (3, 0, 'x') ON CONFLICT (k) DO UPDATE SET v = 5")
        assert rows(b, "SELECT v FROM t WHERE k = 3") == [(5,)]
    cur.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert rows(cur, "SELECT k, v FROM t WHERE k IN (3, 4) ORDER BY k") == [(3, 5), (4, 101)]


def test_merge_of_a_delta_is_three_way(hati_server, cur) -> None:
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("UPDATE t SET v = 1000 WHERE k IN (1, 2)")
        b.execute("DELETE FROM t WHERE k = 3")
    cur.execute("UPDATE t SET v = 2000 WHERE k = 2")  # conflicts with the branch
    cur.execute("UPDATE t SET v = 3000 WHERE k = 9")  # the branch never touched it
    assert [r[:2] for r in rows(cur, "SELECT * FROM branch_conflicts('b')")] == [("t", '{"k":2}')]
    cur.execute("SELECT * FROM branch_merge('b', 'main_wins')")
    assert [r[2:6] for r in cur.fetchall()] == [(0, 1, 1, 1)]
    assert rows(cur, "SELECT k, v FROM t WHERE k IN (1, 2, 3, 9) ORDER BY k") == [
        (1, 1000),
        (2, 2000),
        (9, 3000),
    ]


def test_unique_columns_besides_the_key_take_a_full_copy(hati_server) -> None:
    with closing(hati_server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE u (k INTEGER PRIMARY KEY, email VARCHAR UNIQUE)")
        c.execute("INSERT INTO u VALUES (1, 'a@x'), (2, 'b@x')")
        c.execute("SELECT branch_create('b')")
        b = in_b(conn)
        with pytest.raises(psycopg2.Error) as err:
            b.execute("UPDATE u SET email = 'b@x' WHERE k = 1")
        assert err.value.pgcode == "23505"
        assert touched_rows(c, "u") is None
        assert rows(b, "SELECT * FROM u ORDER BY k") == [(1, "a@x"), (2, "b@x")]


def test_touched_rows_survive_a_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data")
    with closing(server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
        c.execute("INSERT INTO t SELECT range, 0 FROM range(100)")
        c.execute("SELECT branch_create('b')")
        c.execute("SELECT branch_query('b', 'UPDATE t SET v = 1 WHERE k < 5')")
        c.execute("SELECT branch_query('b', 'DELETE FROM t WHERE k = 99')")
    server.thread.stop()
    server = start_server(tmp_path / "data")
    try:
        with closing(server.connect()) as conn:
            c = conn.cursor()
            assert rows(c, "SELECT branch_query('b', 'SELECT count(*), sum(v) FROM t')") == [
                (99, 5)
            ]
            c.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
            assert [r[2:5] for r in c.fetchall()] == [(0, 5, 1)]
            assert rows(c, "SELECT count(*), sum(v) FROM t") == [(99, 5)]
    finally:
        server.thread.stop()


def test_merge_into_an_unchanged_parent_applies_moves_and_reinserts(hati_server, cur) -> None:
    """The parent never changed t, so the merge applies the delta by key alone."""
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("UPDATE t SET v = 100 WHERE k = 10")  # only v is written back
        b.execute("UPDATE t SET k = %s WHERE k = 11", (N + 11,))  # a key moves
        b.execute("DELETE FROM t WHERE k = 12")
        b.execute("INSERT INTO t VALUES (12, 99, 'again')")  # same key, a new row
        b.execute("DELETE FROM t WHERE k = 13")
    cur.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert [r[2:7] for r in cur.fetchall()] == [(1, 2, 2, 0, "merged")]
    assert rows(cur, "SELECT * FROM t WHERE k IN (10, 11, 12, 13, %s) ORDER BY k", (N + 11,)) == [
        (10, 100, "n10"),
        (12, 99, "again"),
        (N + 11, 11 % 7, "n11"),
    ]
    assert rows(cur, "SELECT count(*) FROM t") == [(N - 1,)]


def test_a_rolled_back_first_write_records_the_branch_again(hati_server, cur) -> None:
    """The branch row a first write inserts goes away with its transaction; the next
    write must insert it again, or the branch would live only in the fork journal."""
    with closing(hati_server.connect(autocommit=False)) as conn:
        b = conn.cursor()
        b.execute("SET hatidata_branch = 'b'")
        b.execute("UPDATE t SET v = -1 WHERE k = 1")
        conn.rollback()
        assert internal(cur, "SELECT count(*) FROM _hati.branches WHERE name = 'b'") == [(0,)]
        b.execute("UPDATE t SET v = -2 WHERE k = 2")
        conn.commit()
    assert internal(cur, "SELECT count(*) FROM _hati.branches WHERE name = 'b'") == [(1,)]
    assert rows(
        cur, "SELECT branch_query('b', 'SELECT k, v FROM t WHERE k IN (1, 2) ORDER BY k')"
    ) == [
        (1, 1),
        (2, -2),
    ]


def test_a_child_merge_into_an_unwritten_branch_is_seen_by_its_next_write(hati_server, cur) -> None:
    """A branch nobody wrote yet skips listing its schema until a statement or a merge
    into it prepares that schema."""
    cur.execute("SELECT branch_create('kid', 'b')")
    cur.execute("SELECT branch_query('kid', 'UPDATE t SET v = 100 WHERE k = 7')")
    cur.execute("SELECT * FROM branch_merge('kid', 'branch_wins')")
    cur.execute("SELECT branch_query('b', 'UPDATE t SET v = v + 1 WHERE k = 7')")
    assert rows(cur, "SELECT branch_query('b', 'SELECT v FROM t WHERE k = 7')") == [(101,)]
    assert rows(cur, "SELECT v FROM t WHERE k = 7") == [(0,)]


def test_concurrent_writers_in_one_branch_all_succeed(hati_server, cur) -> None:
    """Agents sharing a branch write at once; the first writes race to create the
    branch's tables. Outside a transaction a write that lost the race is run again,
    as PostgreSQL would wait for the other writer, instead of failing with 40001."""
    writers, per_writer = 6, 5

    def write(w: int, go: Callable[[], object]) -> None:
        with closing(hati_server.connect()) as conn:
            b = in_b(conn)
            go()
            for i in range(per_writer):
                b.execute("UPDATE t SET v = -1 WHERE k = %s", (w * 100 + i,))

    assert run_in_threads(write, writers) == []
    assert rows(cur, "SELECT branch_query('b', 'SELECT count(*) FROM t WHERE v = -1')") == [
        (writers * per_writer,)
    ]
    assert rows(cur, "SELECT count(*) FROM t WHERE v = -1") == [(0,)]


def test_column_marks_follow_commits_and_rollbacks(hati_server, cur) -> None:
    """The merge of an unchanged parent writes only the columns the branch assigned; a
    column whose first assignment rolled back is recorded by the next one."""
    with closing(hati_server.connect(autocommit=False)) as conn:
        b = in_b(conn)
        b.execute("UPDATE t SET note = 'rolled back' WHERE k = 1")
        conn.rollback()
        b.execute("UPDATE t SET note = 'kept' WHERE k = 2")
        conn.commit()
        b.execute("UPDATE t SET note = 'again' WHERE k = 3")  # the mark is known: no insert
        b.execute("UPDATE t SET v = 100 WHERE k = 3")
        conn.commit()
    assert internal(
        cur, "SELECT col FROM _hati.delta_columns WHERE table_name = 't' ORDER BY col"
    ) == [
        ("note",),
        ("v",),
    ]
    cur.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert rows(cur, "SELECT k, v, note FROM t WHERE k BETWEEN 1 AND 3 ORDER BY k") == [
        (1, 1, "n1"),
        (2, 2, "kept"),
        (3, 100, "again"),
    ]


# ------------------------------------------------------------------ tables without a key
@pytest.fixture
def bag(hati_server: RunningServer):
    """cfg(k, v) without a key: duplicates and NULLs, as the tutorial's deploy_config."""
    with closing(hati_server.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE cfg (k VARCHAR, v INTEGER)")
        c.execute("INSERT INTO cfg SELECT 'k' || (range % 50), range % 3 FROM range(5000)")
        c.execute("INSERT INTO cfg VALUES ('dup', 1), ('dup', 1), (NULL, NULL), ('n', NULL)")
        c.execute("SELECT branch_create('b')")
        yield c


def _bag(cur: Any, sql: str = "SELECT k, v FROM cfg") -> dict[tuple, int]:
    out: dict[tuple, int] = {}
    for r in rows(cur, sql):
        out[r] = out.get(r, 0) + 1
    return out


def test_first_write_to_a_keyless_table_copies_only_what_it_matches(hati_server, bag) -> None:
    before = _bag(bag)
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("UPDATE cfg SET v = 7 WHERE k = 'dup'")
        assert b.rowcount == 2  # both copies of the same value
        assert touched_rows(bag, "cfg") == 2
        b.execute("DELETE FROM cfg WHERE v IS NULL")  # NULLs match by IS NULL, hide null-safely
        assert b.rowcount == 2
        b.execute("INSERT INTO cfg VALUES ('dup', 1), ('k1', 1)")  # 'k1', 1 is also in the base
        assert touched_rows(bag, "cfg") == 4  # no copy of the 5,004-row table
        want = dict(before)
        del want[("dup", 1)], want[(None, None)], want[("n", None)]
        want[("dup", 7)] = 2
        want[("dup", 1)] = 1
        want[("k1", 1)] += 1
        assert _bag(b) == want
        # The second copy of ('k1', 1) the branch inserted moves with the base's copies.
        b.execute("UPDATE cfg SET v = 9 WHERE k = 'k1' AND v = 1")
        assert b.rowcount == want.pop(("k1", 1))
        want[("k1", 9)] = b.rowcount
        assert _bag(b) == want
    assert _bag(bag) == before  # main is untouched
    diff = rows(
        bag, "SELECT change, count(*) FROM branch_diff('b') GROUP BY change ORDER BY change"
    )
    # Per value: ('dup',1) 2->1, NULL rows 2->0, ('k1',1) ->0 (each a delete), plus inserts.
    removed = 1 + 2 + before[("k1", 1)]
    assert diff == [("delete", removed), ("insert", 2 + want[("k1", 9)])]
    bag.execute("SELECT * FROM branch_merge('b')")
    merged = bag.fetchone()
    assert merged[2:5] == (2 + want[("k1", 9)], 0, removed)
    assert _bag(bag) == want


def test_keyless_merge_after_main_changed_is_three_way(hati_server, bag) -> None:
    with closing(hati_server.connect()) as conn:
        b = in_b(conn)
        b.execute("DELETE FROM cfg WHERE k = 'dup'")
        b.execute("UPDATE cfg SET v = 5 WHERE k = 'k2'")
        # main changes another value and the same one the branch deleted, differently
        bag.execute("UPDATE cfg SET v = 8 WHERE k = 'k3'")
        bag.execute("INSERT INTO cfg VALUES ('dup', 1)")
        assert _bag(b).get(("k3", 8)) is None  # the branch still reads its fork
        theirs = _bag(b)
    conflicts = rows(bag, "SELECT key, kind FROM branch_conflicts('b')")
    assert conflicts == [('{"k":"dup","v":1}', "update/delete")]  # 3 on main, 0 in the branch
    bag.execute("SELECT * FROM branch_merge('b', 'branch_wins')")
    assert bag.fetchone()[6] == "merged"
    got = _bag(bag)
    assert got.get(("dup", 1)) is None  # the branch's delete won
    assert got[("k3", 8)] > 0 and got.get(("k3", 0)) is None  # main's change stays
    assert got[("k2", 5)] == theirs[("k2", 5)] and got.get(("k2", 1)) is None


def test_keyless_delta_survives_a_restart_and_a_full_copy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    s = start_server(data)
    with closing(s.connect()) as conn:
        c = conn.cursor()
        c.execute("CREATE TABLE cfg (k VARCHAR, v INTEGER)")
        c.execute("INSERT INTO cfg VALUES ('a', 1), ('a', 1), ('b', NULL)")
        c.execute("SELECT branch_create('b')")
        b = in_b(conn)
        b.execute("UPDATE cfg SET v = 2 WHERE v IS NULL")
        b.execute("RESET hatidata_branch")
    s.thread.stop()
    s = start_server(data)
    try:
        with closing(s.connect()) as conn:
            b = in_b(conn)
            assert _bag(b) == {("a", 1): 2, ("b", 2): 1}
            b.execute("DELETE FROM cfg WHERE v = 1")  # after the restart: the same delta
            assert touched_rows(conn.cursor(), "cfg") == 1
            b.execute("ALTER TABLE cfg ADD COLUMN w INTEGER")  # a delta cannot take DDL
            assert touched_rows(conn.cursor(), "cfg") is None
            assert _bag(b) == {("b", 2): 1}
            b.execute("RESET hatidata_branch")
            c = conn.cursor()
            c.execute("SELECT * FROM branch_merge('b')")
            assert _bag(c) == {("b", 2): 1}
    finally:
        s.thread.stop()
