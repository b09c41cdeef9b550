"""Three-way merge: conflict detection, branch_conflicts/branch_diff, strategies,
manual resolution, abort, nested branches, and schema changes made in a branch."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import branch_query as q
from conftest import internal, rows


def merge(cur: Any, name: str, strategy: str = "branch_wins") -> tuple:
    cur.execute("SELECT * FROM branch_merge(%s, %s)", (name, strategy))
    assert [d[0] for d in cur.description] == [
        "branch",
        "strategy",
        "inserted",
        "updated",
        "deleted",
        "conflicts",
        "status",
    ]
    return cur.fetchone()


def conflicts(cur: Any, name: str) -> list[tuple]:
    cur.execute("SELECT * FROM branch_conflicts(%s)", (name,))
    assert [d[0] for d in cur.description] == [
        "table_name",
        "key",
        "base_values",
        "main_values",
        "branch_values",
        "kind",
        "columns",
    ]
    return [
        (r[0], json.loads(r[1]), *(None if v is None else json.loads(v) for v in r[2:5]))
        for r in cur.fetchall()
    ]


def live(cur: Any) -> list[str]:
    return [r[0] for r in rows(cur, "SELECT * FROM branch_list()")]


@pytest.fixture
def cur(conn):
    c = conn.cursor()
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR)")
    c.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd'), (5, 'e')")
    return c


def _row(k: int, v: str) -> dict:
    return {"k": k, "v": v}


def _both_sides(cur: Any) -> None:
    """Main and branch 'x' each change rows 1-5 and 8, 9 in the ways the SPEC lists."""
    cur.execute("SELECT branch_create('x')")
    # main
    cur.execute("UPDATE t SET v = 'main1' WHERE k = 1")  # update/update, different
    cur.execute("UPDATE t SET v = 'same' WHERE k = 2")  # update/update, identical
    cur.execute("UPDATE t SET v = 'main3' WHERE k = 3")  # update (main) / delete (branch)
    cur.execute("DELETE FROM t WHERE k = 4")  # delete (main) / update (branch)
    cur.execute("DELETE FROM t WHERE k = 5")  # delete/delete
    cur.execute("INSERT INTO t VALUES (8, 'main8')")  # insert/insert, different
    cur.execute("INSERT INTO t VALUES (9, 'nine')")  # insert/insert, identical
    # branch
    q(cur, "x", "UPDATE t SET v = 'br1' WHERE k = 1")
    q(cur, "x", "UPDATE t SET v = 'same' WHERE k = 2")
    q(cur, "x", "DELETE FROM t WHERE k = 3")
    q(cur, "x", "UPDATE t SET v = 'br4' WHERE k = 4")
    q(cur, "x", "DELETE FROM t WHERE k = 5")
    q(cur, "x", "INSERT INTO t VALUES (8, 'br8')")
    q(cur, "x", "INSERT INTO t VALUES (9, 'nine')")
    q(cur, "x", "INSERT INTO t VALUES (10, 'ten')")  # branch only


EXPECTED_CONFLICTS = [
    ("t", {"k": 1}, _row(1, "a"), _row(1, "main1"), _row(1, "br1")),
    ("t", {"k": 3}, _row(3, "c"), _row(3, "main3"), None),
    ("t", {"k": 4}, _row(4, "d"), None, _row(4, "br4")),
    ("t", {"k": 8}, None, _row(8, "main8"), _row(8, "br8")),
]


def test_conflict_detection_and_branch_conflicts_output(cur) -> None:
    _both_sides(cur)
    assert sorted(conflicts(cur, "x"), key=lambda r: r[1]["k"]) == EXPECTED_CONFLICTS
    # Looking does not change anything.
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "main1"),
        (2, "same"),
        (3, "main3"),
        (8, "main8"),
        (9, "nine"),
    ]
    assert live(cur) == ["x"]


def test_branch_diff_lists_the_branch_changes(cur) -> None:
    cur.execute("SELECT branch_create('d')")
    q(cur, "d", "UPDATE t SET v = 'B' WHERE k = 2")
    q(cur, "d", "DELETE FROM t WHERE k = 3")
    q(cur, "d", "INSERT INTO t VALUES (6, 'f')")
    cur.execute("UPDATE t SET v = 'main' WHERE k = 1")  # main's changes are not the branch's
    cur.execute("SELECT * FROM branch_diff('d')")
    assert [d[0] for d in cur.description] == [
        "table_name",
        "change",
        "key",
        "old_values",
        "new_values",
    ]
    got = sorted(
        (r[0], r[1], json.loads(r[2]), r[3] and json.loads(r[3]), r[4] and json.loads(r[4]))
        for r in cur.fetchall()
    )
    assert got == sorted(
        [
            ("t", "update", {"k": 2}, _row(2, "b"), _row(2, "B")),
            ("t", "delete", {"k": 3}, _row(3, "c"), None),
            ("t", "insert", {"k": 6}, None, _row(6, "f")),
        ]
    )


def test_branch_wins(cur) -> None:
    _both_sides(cur)
    r = merge(cur, "x", "branch_wins")
    assert r[5:] == (4, "merged")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "br1"),
        (2, "same"),
        (4, "br4"),
        (8, "br8"),
        (9, "nine"),
        (10, "ten"),
    ]
    assert live(cur) == []


def test_main_wins(cur) -> None:
    _both_sides(cur)
    r = merge(cur, "x", "main_wins")
    assert r[5:] == (4, "merged")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "main1"),
        (2, "same"),
        (3, "main3"),
        (8, "main8"),
        (9, "nine"),
        (10, "ten"),
    ]


def test_abort_fails_with_40001_and_changes_nothing(cur) -> None:
    _both_sides(cur)
    before = rows(cur, "SELECT * FROM t ORDER BY k")
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_merge('x', 'abort')")
    assert err.value.pgcode == "40001"
    assert rows(cur, "SELECT * FROM t ORDER BY k") == before
    assert live(cur) == ["x"]
    assert len(conflicts(cur, "x")) == 4
    # Without conflicts, abort merges.
    cur.execute("SELECT branch_create('clean')")
    q(cur, "clean", "INSERT INTO t VALUES (20, 'twenty')")
    assert merge(cur, "clean", "abort")[2:] == (1, 0, 0, 0, "merged")
    assert rows(cur, "SELECT v FROM t WHERE k = 20") == [("twenty",)]


def test_manual_resolution_then_merge(cur) -> None:
    _both_sides(cur)
    before = rows(cur, "SELECT * FROM t ORDER BY k")
    cur.execute("SELECT branch_resolve('x', 't', '{\"k\": 1}', 'main')")
    cur.execute("SELECT branch_resolve('x', 't', '{\"k\":3}', 'branch')")  # take the delete
    cur.execute("""SELECT branch_resolve('x', 't', '{"k": 4}', '{"v": "custom4"}')""")
    # One conflict (k=8) still unresolved: status 'conflicts', nothing applied.
    r = merge(cur, "x", "manual")
    assert r[2:] == (0, 0, 0, 1, "conflicts")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == before
    assert live(cur) == ["x"]
    # Resolving it again replaces an earlier choice.
    cur.execute("SELECT branch_resolve('x', 't', '{\"k\": 8}', 'main')")
    cur.execute("SELECT branch_resolve('x', 't', '{\"k\": 8}', 'branch')")
    r = merge(cur, "x", "manual")
    assert r[5:] == (4, "merged")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "main1"),
        (2, "same"),
        (4, "custom4"),
        (8, "br8"),
        (9, "nine"),
        (10, "ten"),
    ]
    assert live(cur) == []


def test_bad_resolution_is_22023(cur) -> None:
    cur.execute("SELECT branch_create('r')")
    for choice in ("neither", "[1, 2]", '{"count": -1}'):
        with pytest.raises(psycopg2.Error) as err:
            cur.execute("SELECT branch_resolve('r', 't', '{\"k\": 1}', %s)", (choice,))
        assert err.value.pgcode == "22023", choice


def test_resolving_a_row_that_is_not_in_conflict_is_22023(cur) -> None:
    """Only rows branch_conflicts lists can be resolved, with the table's own columns;
    a rejected resolution records nothing."""
    _both_sides(cur)
    for table, key, choice, hint in (
        ("t", '{"k": 2}', "main", "branch_conflicts"),  # the same change on both sides
        ("t", '{"k": 10}', "branch", "branch_conflicts"),  # only the branch changed it
        ("t", '{"k": 777}', "main", "branch_conflicts"),  # no such row
        ("no_such_table", '{"k": 1}', "main", "branch_conflicts"),
        ("t", '{"k": 1}', '{"nope": 1}', "Its columns: k, v."),  # a conflict; bad column
    ):
        with pytest.raises(psycopg2.Error) as err:
            cur.execute("SELECT branch_resolve('x', %s, %s, %s)", (table, key, choice))
        assert err.value.pgcode == "22023", key
        assert hint in err.value.diag.message_hint, key
    assert internal(cur, "SELECT count(*) FROM _hati.resolutions") == [(0,)]


def test_multiset_conflicts_and_count_resolution(cur) -> None:
    cur.execute("CREATE TABLE bag (service VARCHAR, status VARCHAR)")
    cur.execute("INSERT INTO bag VALUES ('api', 'up'), ('api', 'up'), ('db', 'up')")
    cur.execute("SELECT branch_create('m')")
    cur.execute("INSERT INTO bag VALUES ('api', 'up')")  # main: 3 copies
    q(cur, "m", "DELETE FROM bag WHERE service = 'api'")  # branch: 0 copies
    q(cur, "m", "UPDATE bag SET status = 'down' WHERE service = 'db'")  # branch only
    assert conflicts(cur, "m") == [
        ("bag", {"service": "api", "status": "up"}, {"count": 2}, {"count": 3}, {"count": 0}),
    ]
    cur.execute(
        """SELECT branch_resolve('m', 'bag', '{"status": "up", "service": "api"}', '{"count": 1}')"""
    )
    assert merge(cur, "m", "manual")[5:] == (1, "merged")
    assert rows(cur, "SELECT * FROM bag ORDER BY 1, 2") == [("api", "up"), ("db", "down")]


def test_nested_branch_merges_into_its_parent_then_main(cur) -> None:
    cur.execute("CREATE TABLE side (x INTEGER)")
    cur.execute("INSERT INTO side VALUES (1)")
    cur.execute("SELECT branch_create('parent')")
    q(cur, "parent", "UPDATE t SET v = 'p1' WHERE k = 1")
    cur.execute("SELECT branch_create('child', 'parent')")
    # Main changes a table neither branch has touched: both keep their fork's view.
    cur.execute("UPDATE side SET x = 2")
    assert q(cur, "child", "SELECT x FROM side") == [(1,)]
    assert q(cur, "parent", "SELECT x FROM side") == [(1,)]
    q(cur, "parent", "INSERT INTO side VALUES (3)")
    assert q(cur, "child", "SELECT x FROM side") == [(1,)]
    assert [(r[0], r[1]) for r in rows(cur, "SELECT * FROM branch_list()")] == [
        ("parent", "main"),
        ("child", "parent"),
    ]
    # The child sees the parent as it was at the fork, not main, not later parent writes.
    assert q(cur, "child", "SELECT v FROM t WHERE k = 1") == [("p1",)]
    q(cur, "parent", "UPDATE t SET v = 'p2' WHERE k = 2")
    assert q(cur, "child", "SELECT v FROM t WHERE k = 2") == [("b",)]
    q(cur, "child", "UPDATE t SET v = 'c3' WHERE k = 3")
    q(cur, "child", "INSERT INTO t VALUES (6, 'c6')")
    q(cur, "child", "CREATE TABLE child_notes (note VARCHAR)")
    q(cur, "child", "INSERT INTO child_notes VALUES ('hello')")
    cur.execute("UPDATE t SET v = 'm5' WHERE k = 5")
    # A parent with live children can be neither merged nor discarded.
    for sql in ("SELECT branch_merge('parent')", "SELECT branch_discard('parent')"):
        with pytest.raises(psycopg2.Error) as err:
            cur.execute(sql)
        assert err.value.pgcode == "2BP01"

    assert merge(cur, "child")[5:] == (0, "merged")
    assert live(cur) == ["parent"]
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
        (5, "m5"),
    ]
    assert q(cur, "parent", "SELECT * FROM t ORDER BY k") == [
        (1, "p1"),
        (2, "p2"),
        (3, "c3"),
        (4, "d"),
        (5, "e"),
        (6, "c6"),
    ]
    assert q(cur, "parent", "SELECT * FROM child_notes") == [("hello",)]

    assert merge(cur, "parent")[5:] == (0, "merged")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "p1"),
        (2, "p2"),
        (3, "c3"),
        (4, "d"),
        (5, "m5"),
        (6, "c6"),
    ]
    assert rows(cur, "SELECT * FROM child_notes") == [("hello",)]
    assert rows(cur, "SELECT x FROM side ORDER BY x") == [(2,), (3,)]
    assert live(cur) == []


def test_nested_child_conflicts_with_its_parent(cur) -> None:
    cur.execute("SELECT branch_create('p')")
    cur.execute("SELECT branch_create('c', 'p')")
    q(cur, "p", "UPDATE t SET v = 'parent' WHERE k = 1")
    q(cur, "c", "UPDATE t SET v = 'child' WHERE k = 1")
    assert conflicts(cur, "c") == [
        ("t", {"k": 1}, _row(1, "a"), _row(1, "parent"), _row(1, "child"))
    ]
    assert merge(cur, "c", "main_wins")[5:] == (1, "merged")
    assert q(cur, "p", "SELECT v FROM t WHERE k = 1") == [("parent",)]
    assert rows(cur, "SELECT v FROM t WHERE k = 1") == [("a",)]


def test_ddl_in_a_branch_and_merging_it(hati_server, cur) -> None:
    cur.execute("CREATE TABLE gone (x INTEGER)")
    cur.execute("INSERT INTO gone VALUES (1)")
    cur.execute("CREATE TABLE emptied (x INTEGER)")
    cur.execute("INSERT INTO emptied VALUES (1), (2)")
    cur.execute("SELECT branch_create('ddl')")
    with closing(hati_server.connect(hatidata_branch="ddl")) as c:
        s = c.cursor()
        s.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR)")
        s.execute("INSERT INTO notes VALUES (1, 'n1'), (2, 'n2')")
        s.execute("ALTER TABLE t ADD COLUMN score INTEGER")
        s.execute("UPDATE t SET score = k * 10 WHERE k <= 2")
        s.execute("DROP TABLE gone")
        s.execute("CREATE INDEX t_v ON t (v)")
        s.execute("TRUNCATE emptied")
        s.execute("CREATE TABLE summary AS SELECT count(*) AS n FROM t")
        assert rows(s, "SELECT * FROM t WHERE k <= 2 ORDER BY k") == [(1, "a", 10), (2, "b", 20)]
        with pytest.raises(psycopg2.Error) as err:
            s.execute("SELECT * FROM gone")
        assert err.value.pgcode == "42P01"
        assert rows(s, "SELECT count(*) FROM emptied") == [(0,)]
    # Main is untouched before the merge.
    assert [d for d in rows(cur, "SELECT * FROM t WHERE k = 1")] == [(1, "a")]
    assert rows(cur, "SELECT * FROM gone") == [(1,)]
    assert rows(cur, "SELECT count(*) FROM emptied") == [(2,)]
    cur.execute("UPDATE t SET v = 'main5' WHERE k = 5")  # a main change the schema merge keeps
    r = merge(cur, "ddl")
    assert r[6] == "merged"
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "a", 10),
        (2, "b", 20),
        (3, "c", None),
        (4, "d", None),
        (5, "main5", None),
    ]
    assert rows(cur, "SELECT * FROM notes ORDER BY id") == [(1, "n1"), (2, "n2")]
    assert rows(cur, "SELECT * FROM summary") == [(5,)]
    assert rows(cur, "SELECT count(*) FROM emptied") == [(0,)]
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT * FROM gone")
    assert err.value.pgcode == "42P01"
    indexes = internal(
        cur,
        "SELECT index_name FROM duckdb_indexes() WHERE schema_name = 'main' AND table_name = 't'",
    )
    assert indexes == [("t_v",)]
    # The merged table keeps its primary key.
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("INSERT INTO notes VALUES (1, 'dup')")
    assert err.value.pgcode == "23505"


def test_incompatible_schema_changes_conflict_clearly(cur) -> None:
    cur.execute("SELECT branch_create('s')")
    cur.execute("ALTER TABLE t ADD COLUMN extra INTEGER")
    q(cur, "s", "ALTER TABLE t ADD COLUMN extra VARCHAR")
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_merge('s', 'branch_wins')")
    assert err.value.pgcode == "40001"
    assert "extra" in str(err.value)
    assert [d[0] for d in (cur.execute("SELECT * FROM t LIMIT 0") or cur.description)] == [
        "k",
        "v",
        "extra",
    ]
    assert live(cur) == ["s"]
    assert rows(cur, "SELECT * FROM branch_conflicts('s')") == [
        (
            "t",
            "*",
            '{"extra": null}',
            '{"extra": "INTEGER"}',
            '{"extra": "VARCHAR"}',
            "schema",
            ["extra"],
        )
    ]


def test_table_created_on_both_sides_with_the_same_rows_merges(cur) -> None:
    cur.execute("SELECT branch_create('both')")
    cur.execute("CREATE TABLE shared (x INTEGER)")
    cur.execute("INSERT INTO shared VALUES (1)")
    q(cur, "both", "CREATE TABLE shared (x INTEGER)")
    q(cur, "both", "INSERT INTO shared VALUES (1)")
    q(cur, "both", "INSERT INTO shared VALUES (2)")
    assert merge(cur, "both")[6] == "merged"
    assert rows(cur, "SELECT * FROM shared ORDER BY x") == [(1,), (2,)]


@pytest.mark.parametrize("strategy", ["main_wins", "branch_wins"])
def test_table_dropped_in_main_and_changed_in_branch_is_a_table_conflict(cur, strategy) -> None:
    cur.execute("CREATE TABLE o (k INTEGER PRIMARY KEY, x INTEGER)")
    cur.execute("INSERT INTO o VALUES (1, 10), (2, 20)")
    cur.execute("CREATE TABLE quiet (x INTEGER)")
    cur.execute("SELECT branch_create('dr')")
    cur.execute("DROP TABLE o")
    cur.execute("DROP TABLE quiet")
    q(cur, "dr", "UPDATE o SET x = 11 WHERE k = 1")
    q(cur, "dr", "DELETE FROM quiet")  # materializes 'quiet' without changing it
    assert rows(cur, "SELECT * FROM branch_conflicts('dr')") == [
        ("o", "*", "table", "dropped", "changed", "schema", []),
    ]
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_merge('dr', 'abort')")
    assert err.value.pgcode == "40001"
    assert merge(cur, "dr", strategy)[5:] == (1, "merged")
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT * FROM quiet")
    assert err.value.pgcode == "42P01"
    if strategy == "branch_wins":
        assert rows(cur, "SELECT * FROM o ORDER BY k") == [(1, 11), (2, 20)]
    else:
        with pytest.raises(psycopg2.Error) as err:
            cur.execute("SELECT * FROM o")
        assert err.value.pgcode == "42P01"


def test_columns_added_in_main_after_the_fork_survive_a_merge(cur) -> None:
    cur.execute("SELECT branch_create('col')")
    cur.execute("ALTER TABLE t ADD COLUMN extra INTEGER")
    cur.execute("UPDATE t SET extra = k * 100")
    q(cur, "col", "UPDATE t SET v = 'B1' WHERE k = 1")
    q(cur, "col", "INSERT INTO t VALUES (7, 'g')")
    assert conflicts(cur, "col") == []
    assert merge(cur, "col")[2:] == (1, 1, 0, 0, "merged")
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "B1", 100),
        (2, "b", 200),
        (3, "c", 300),
        (4, "d", 400),
        (5, "e", 500),
        (7, "g", None),
    ]


def test_upsert_merge_and_multi_table_statements_in_a_branch(cur) -> None:
    cur.execute("CREATE TABLE o (k INTEGER PRIMARY KEY, x INTEGER)")
    cur.execute("INSERT INTO o VALUES (1, 10), (2, 20)")
    cur.execute("SELECT branch_create('dml')")
    q(
        cur,
        "dml",
        "INSERT INTO t VALUES (1, 'up'), (6, 'f') ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    )
    q(cur, "dml", "INSERT INTO t VALUES (2, 'skip') ON CONFLICT DO NOTHING")
    q(cur, "dml", "UPDATE t SET v = o.x::VARCHAR FROM o WHERE o.k = t.k AND t.k = 2")
    q(cur, "dml", "DELETE FROM t USING o WHERE o.x = 10 AND t.k = 3")
    q(
        cur,
        "dml",
        "MERGE INTO t USING (SELECT 4 AS k, 'm4' AS v UNION ALL SELECT 8, 'm8') s ON t.k = s.k "
        "WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.k, s.v)",
    )
    q(cur, "dml", "UPDATE o SET x = x + 1")
    expected = [(1, "up"), (2, "20"), (4, "m4"), (5, "e"), (6, "f"), (8, "m8")]
    assert q(cur, "dml", "SELECT * FROM t ORDER BY k") == expected
    assert rows(cur, "SELECT * FROM t ORDER BY k") == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
        (5, "e"),
    ]
    assert rows(cur, "SELECT * FROM o ORDER BY k") == [(1, 10), (2, 20)]
    assert merge(cur, "dml")[6] == "merged"
    assert rows(cur, "SELECT * FROM t ORDER BY k") == expected
    assert rows(cur, "SELECT * FROM o ORDER BY k") == [(1, 11), (2, 21)]


def test_unique_index_of_main_holds_in_a_branch(cur) -> None:
    cur.execute("CREATE UNIQUE INDEX t_unique_v ON t (v)")
    cur.execute("SELECT branch_create('u')")
    with pytest.raises(psycopg2.Error) as err:
        q(cur, "u", "INSERT INTO t VALUES (9, 'a')")
    assert err.value.pgcode == "23505"
    q(cur, "u", "UPDATE t SET v = 'z' WHERE k = 1")
    assert merge(cur, "u")[6] == "merged"
    assert rows(cur, "SELECT v FROM t WHERE k = 1") == [("z",)]


def test_composite_and_text_keys(cur) -> None:
    cur.execute(
        "CREATE TABLE ck (region VARCHAR, id INTEGER, note VARCHAR, PRIMARY KEY (region, id))"
    )
    cur.execute("INSERT INTO ck VALUES ('eu', 1, 'x'), ('us', 1, 'y'), ('it''s', 2, 'z')")
    cur.execute("SELECT branch_create('ck')")
    cur.execute("UPDATE ck SET note = 'main' WHERE region = 'it''s'")
    q(cur, "ck", "UPDATE ck SET note = 'branch' WHERE region = 'it''s'")
    q(cur, "ck", "UPDATE ck SET note = 'b-eu' WHERE region = 'eu'")
    q(cur, "ck", "INSERT INTO ck VALUES ('eu', 2, NULL)")
    got = conflicts(cur, "ck")
    assert got == [
        (
            "ck",
            {"id": 2, "region": "it's"},
            {"region": "it's", "id": 2, "note": "z"},
            {"region": "it's", "id": 2, "note": "main"},
            {"region": "it's", "id": 2, "note": "branch"},
        )
    ]
    cur.execute(
        "SELECT branch_resolve('ck', 'ck', %s, %s)",
        ('{"region": "it\'s", "id": 2}', '{"note": "agreed"}'),
    )
    assert merge(cur, "ck", "manual")[5:] == (1, "merged")
    assert rows(cur, "SELECT * FROM ck ORDER BY region, id") == [
        ("eu", 1, "b-eu"),
        ("eu", 2, None),
        ("it's", 2, "agreed"),
        ("us", 1, "y"),
    ]
