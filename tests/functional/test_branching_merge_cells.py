"""Cell-level three-way merge, conflict kinds, and merge SQL that no column name can
confuse (tables whose columns are named like the merge's own aliases)."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

import psycopg2
import pytest

from conftest import branch_query as q
from conftest import rows

pytestmark = pytest.mark.server

STRATEGIES = ["branch_wins", "main_wins", "abort", "manual"]
# Every name the merge and diff SQL makes up, without and with its prefix, and
# DuckDB's row id: as user columns, none may change what a diff or a merge does.
ALIASES = [
    "delta", "n", "base_n", "was_absent", "now_absent", "old_row", "new_row", "d_t",
    "d_o", "vid", "rn", "rid", "_rid", "k", "s", "b", "x", "t", "o", "c", "a", "w", "q",
    "ba", "ta", "oa", "oc", "oi", "tk", "kind", "b0", "t0", "o0", "x0", "cf0", "tch0",
    "och0", "$m_delta", "$m_n", "$m_b0", "$m_$", "$M_T0",
]  # fmt: skip


def merge(cur: Any, name: str, strategy: str) -> tuple:
    cur.execute("SELECT * FROM branch_merge(%s, %s)", (name, strategy))
    return cur.fetchone()


def conflicts(cur: Any, name: str) -> list[tuple]:
    """(table, key, base, main, branch, kind, columns), JSON parsed."""
    out = []
    for r in rows(cur, "SELECT * FROM branch_conflicts(%s)", (name,)):
        vals = [None if v is None else json.loads(v) for v in r[2:5]]
        out.append((r[0], json.loads(r[1]), *vals, r[5], r[6]))
    return out


def diff(cur: Any, name: str) -> list[tuple]:
    got = rows(cur, "SELECT * FROM branch_diff(%s)", (name,))
    return sorted(((r[0], r[1], json.loads(r[2])) for r in got), key=lambda r: json.dumps(r))


def _quoted(cols: list[str]) -> str:
    return ", ".join('"' + c.replace('"', '""') + '"' for c in cols)


@pytest.mark.parametrize("with_rowid", [False, True])
def test_keyless_table_with_alias_named_columns_diffs_and_merges_exactly(
    conn, with_rowid: bool
) -> None:
    cols = ALIASES + (["rowid"] if with_rowid else [])
    cur = conn.cursor()
    defs = ", ".join(f'"{c}" INTEGER' for c in cols)
    cur.execute(f"CREATE TABLE c ({defs})")
    marks = ", ".join("%s" for _ in cols)
    base = [[i % 3] * len(cols) for i in range(9)]  # values 0, 1, 2: three copies each
    cur.executemany(f"INSERT INTO c VALUES ({marks})", base)
    cur.execute("SELECT branch_create('al')")
    first = '"' + cols[0] + '"'
    q(cur, "al", f"DELETE FROM c WHERE {first} = 0")  # 3 deletes
    q(cur, "al", f"INSERT INTO c VALUES ({', '.join(['7'] * len(cols))})")  # 1 insert
    cur.execute(f"INSERT INTO c VALUES ({', '.join(['8'] * len(cols))})")  # main's own row
    row0 = {c: 0 for c in cols}
    row7 = {c: 7 for c in cols}
    assert diff(cur, "al") == sorted([("c", "delete", row0)] * 3 + [("c", "insert", row7)])
    assert conflicts(cur, "al") == []
    assert merge(cur, "al", "abort")[2:] == (1, 0, 3, 0, "merged")
    got = rows(cur, f"SELECT {first}, count(*) FROM c GROUP BY 1 ORDER BY 1")
    assert got == [(1, 3), (2, 3), (7, 1), (8, 1)]
    # Every column kept its value.
    assert rows(
        cur, f"SELECT count(*) FROM c WHERE ({_quoted(cols)}) = ({_quoted(cols[::-1])})"
    ) == [(8,)]


def test_keyless_conflicts_with_alias_named_columns(conn) -> None:
    cur = conn.cursor()
    cur.execute('CREATE TABLE h (delta INTEGER, n INTEGER, "$m_n" INTEGER)')
    cur.execute("INSERT INTO h VALUES (1, 1, 1), (1, 1, 1)")
    cur.execute("SELECT branch_create('hc')")
    cur.execute("INSERT INTO h VALUES (1, 1, 1)")
    q(cur, "hc", "DELETE FROM h")
    value = {"delta": 1, "n": 1, "$m_n": 1}
    assert conflicts(cur, "hc") == [
        ("h", value, {"count": 2}, {"count": 3}, {"count": 0}, "update/delete", list(value))
    ]
    cur.execute("SELECT branch_resolve('hc', 'h', %s, %s)", (json.dumps(value), '{"count": 5}'))
    assert merge(cur, "hc", "manual")[6] == "merged"
    assert rows(cur, "SELECT count(*) FROM h WHERE delta = 1 AND n = 1") == [(5,)]


def test_keyed_table_with_alias_named_columns(conn) -> None:
    cur = conn.cursor()
    others = [c for c in ALIASES if c != "k"]
    cur.execute(
        f'CREATE TABLE kt ("k" INTEGER PRIMARY KEY, {", ".join(f"{chr(34)}{c}{chr(34)} INTEGER" for c in others)})'
    )
    marks = ", ".join("%s" for _ in range(len(others) + 1))
    cur.executemany(f"INSERT INTO kt VALUES ({marks})", [[i] + [0] * len(others) for i in range(4)])
    cur.execute("SELECT branch_create('kb')")
    q(cur, "kb", 'UPDATE kt SET "delta" = 5 WHERE k = 1')
    q(cur, "kb", 'UPDATE kt SET "was_absent" = 6, "$m_b0" = 6 WHERE k = 2')
    q(cur, "kb", "DELETE FROM kt WHERE k = 3")
    cur.execute('UPDATE kt SET "now_absent" = 9 WHERE k = 1')  # another column: no conflict
    cur.execute('UPDATE kt SET "was_absent" = 7 WHERE k = 2')  # the same cell: a conflict
    assert [(r[1], r[5], r[6]) for r in conflicts(cur, "kb")] == [
        ({"k": 2}, "update/update", ["was_absent"])
    ]
    assert [(c, k["k"]) for _, c, k in diff(cur, "kb")] == [
        ("delete", 3),
        ("update", 1),
        ("update", 2),
    ]
    assert merge(cur, "kb", "main_wins")[2:] == (0, 2, 1, 1, "merged")
    got = rows(cur, 'SELECT k, "delta", "now_absent", "was_absent", "$m_b0" FROM kt ORDER BY k')
    assert got == [(0, 0, 0, 0, 0), (1, 5, 9, 0, 0), (2, 0, 0, 7, 6)]


@pytest.fixture
def cells(conn):
    c = conn.cursor()
    c.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, note VARCHAR)")
    c.execute("INSERT INTO r VALUES (1, 10, 20, 'x'), (2, 10, 20, 'y')")
    return c


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_different_columns_of_one_row_merge_cleanly(cells, strategy: str) -> None:
    cells.execute("SELECT branch_create('dc')")
    cells.execute("UPDATE r SET a = 11 WHERE id = 1")
    q(cells, "dc", "UPDATE r SET b = 21 WHERE id = 1")
    assert conflicts(cells, "dc") == []
    assert merge(cells, "dc", strategy)[2:] == (0, 1, 0, 0, "merged")
    assert rows(cells, "SELECT * FROM r ORDER BY id") == [(1, 11, 21, "x"), (2, 10, 20, "y")]


@pytest.mark.parametrize("strategy", ["branch_wins", "main_wins"])
def test_a_strategy_decides_only_the_conflicting_cells(cells, strategy: str) -> None:
    cells.execute("SELECT branch_create('sc')")
    cells.execute("UPDATE r SET a = 11, note = 'main' WHERE id = 1")
    q(cells, "sc", "UPDATE r SET a = 12, b = 22 WHERE id = 1")
    assert conflicts(cells, "sc") == [
        (
            "r",
            {"id": 1},
            {"id": 1, "a": 10, "b": 20, "note": "x"},
            {"id": 1, "a": 11, "b": 20, "note": "main"},
            {"id": 1, "a": 12, "b": 22, "note": "x"},
            "update/update",
            ["a"],
        )
    ]
    with pytest.raises(psycopg2.Error) as err:
        cells.execute("SELECT branch_merge('sc', 'abort')")
    assert err.value.pgcode == "40001"
    assert merge(cells, "sc", strategy)[5:] == (1, "merged")
    a = 12 if strategy == "branch_wins" else 11
    assert rows(cells, "SELECT * FROM r WHERE id = 1") == [(1, a, 22, "main")]


@pytest.mark.parametrize("choice", ["main", "branch", '{"a": 99}'])
def test_manual_resolution_of_a_cell(cells, choice: str) -> None:
    cells.execute("SELECT branch_create('mc')")
    cells.execute("UPDATE r SET a = 11, note = 'main' WHERE id = 1")
    q(cells, "mc", "UPDATE r SET a = 12, b = 22 WHERE id = 1")
    assert merge(cells, "mc", "manual")[5:] == (1, "conflicts")
    cells.execute("SELECT branch_resolve('mc', 'r', '{\"id\": 1}', %s)", (choice,))
    assert merge(cells, "mc", "manual")[5:] == (1, "merged")
    a = {"main": 11, "branch": 12}.get(choice, 99)
    assert rows(cells, "SELECT * FROM r WHERE id = 1") == [(1, a, 22, "main")]


def test_row_conflict_kinds_name_their_columns(cells) -> None:
    cells.execute("INSERT INTO r VALUES (3, 1, 1, 'z')")
    cells.execute("SELECT branch_create('rk')")
    cells.execute("UPDATE r SET note = 'm' WHERE id = 1")  # main updates, branch deletes
    q(cells, "rk", "DELETE FROM r WHERE id = 1")
    cells.execute("DELETE FROM r WHERE id = 2")  # main deletes, branch updates
    q(cells, "rk", "UPDATE r SET a = 0, b = 0 WHERE id = 2")
    cells.execute("INSERT INTO r VALUES (4, 1, 1, 'main')")  # both insert key 4
    q(cells, "rk", "INSERT INTO r VALUES (4, 1, 2, 'branch')")
    cells.execute("INSERT INTO r VALUES (5, 1, 1, 'same')")  # both insert key 5 alike
    q(cells, "rk", "INSERT INTO r VALUES (5, 1, 1, 'same')")
    got = {r[1]["id"]: (r[5], r[6]) for r in conflicts(cells, "rk")}
    assert got == {
        1: ("update/delete", ["note"]),
        2: ("delete/update", ["a", "b"]),
        4: ("insert/insert", ["b", "note"]),
    }
    for key, choice in ((1, "branch"), (2, "main"), (4, '{"note": "agreed"}')):
        cells.execute("SELECT branch_resolve('rk', 'r', %s, %s)", (json.dumps({"id": key}), choice))
    assert merge(cells, "rk", "manual")[5:] == (3, "merged")
    assert rows(cells, "SELECT * FROM r ORDER BY id") == [
        (3, 1, 1, "z"),
        (4, 1, 1, "agreed"),
        (5, 1, 1, "same"),
    ]


# ------------------------------------------------------------------ constraint conflicts
def _unique(cur: Any) -> None:
    cur.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email VARCHAR UNIQUE, n INTEGER)")
    cur.execute("INSERT INTO u VALUES (1, 'a', 0)")
    cur.execute("SELECT branch_create('cx')")
    cur.execute("INSERT INTO u VALUES (2, 'x', 0)")
    q(cur, "cx", "INSERT INTO u VALUES (3, 'x', 1)")


def _check(cur: Any) -> None:
    cur.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, lo INTEGER, hi INTEGER, CHECK (lo < hi))")
    cur.execute("INSERT INTO u VALUES (1, 1, 10)")
    cur.execute("SELECT branch_create('cx')")
    cur.execute("UPDATE u SET lo = 5 WHERE id = 1")
    q(cur, "cx", "UPDATE u SET hi = 3 WHERE id = 1")


def _not_null(cur: Any) -> None:
    cur.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, v VARCHAR)")
    cur.execute("INSERT INTO u VALUES (1, 'one')")
    cur.execute("SELECT branch_create('cx')")
    q(cur, "cx", "INSERT INTO u VALUES (2, NULL)")
    cur.execute("ALTER TABLE u ALTER COLUMN v SET NOT NULL")


def _child_orphan(cur: Any) -> None:
    cur.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name VARCHAR)")
    cur.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))")
    cur.execute("INSERT INTO p VALUES (1, 'one'), (2, 'two')")
    cur.execute("SELECT branch_create('cx')")
    cur.execute("DELETE FROM p WHERE id = 2")
    q(cur, "cx", "INSERT INTO u VALUES (11, 2)")


CASES = {
    # kind: (setup, table, key, columns, rows after 'main', after the JSON row)
    "unique": (
        _unique,
        {"id": 3},
        ["email"],
        '{"email": "y"}',
        "SELECT * FROM u ORDER BY id",
        [(1, "a", 0), (2, "x", 0)],
        [(1, "a", 0), (2, "x", 0), (3, "y", 1)],
    ),
    "check": (
        _check,
        {"id": 1},
        ["lo", "hi"],
        '{"lo": 2}',
        "SELECT * FROM u ORDER BY id",
        [(1, 5, 10)],
        [(1, 2, 3)],
    ),
    "not_null": (
        _not_null,
        {"id": 2},
        ["v"],
        '{"v": "two"}',
        "SELECT * FROM u ORDER BY id",
        [(1, "one")],
        [(1, "one"), (2, "two")],
    ),
    "foreign_key": (
        _child_orphan,
        {"id": 11},
        ["pid"],
        '{"pid": 1}',
        "SELECT * FROM u ORDER BY id",
        [],
        [(11, 1)],
    ),
}


@pytest.mark.parametrize("choice", ["main", "values"])
@pytest.mark.parametrize("kind", list(CASES))
def test_constraint_conflicts_are_listed_and_resolved(conn, kind: str, choice: str) -> None:
    setup, key, columns, values, query, after_main, after_values = CASES[kind]
    cur = conn.cursor()
    setup(cur)
    got = conflicts(cur, "cx")
    assert [(r[0], r[1], r[5], r[6]) for r in got] == [("u", key, kind, columns)]
    before = rows(cur, query)
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_merge('cx', 'abort')")
    assert err.value.pgcode == "40001"
    assert rows(cur, query) == before
    assert merge(cur, "cx", "manual")[5:] == (1, "conflicts")
    arg = "main" if choice == "main" else values
    cur.execute("SELECT branch_resolve('cx', 'u', %s, %s)", (json.dumps(key), arg))
    assert merge(cur, "cx", "manual")[5:] == (1, "merged")
    assert rows(cur, query) == (after_main if choice == "main" else after_values)


def test_unique_clash_given_to_the_branch_replaces_mains_row(conn) -> None:
    cur = conn.cursor()
    _unique(cur)
    assert merge(cur, "cx", "branch_wins")[5:] == (1, "merged")
    assert rows(cur, "SELECT * FROM u ORDER BY id") == [(1, "a", 0), (3, "x", 1)]


def test_main_wins_drops_the_branchs_side_of_a_constraint_conflict(conn) -> None:
    cur = conn.cursor()
    _check(cur)
    assert merge(cur, "cx", "main_wins")[5:] == (1, "merged")
    assert rows(cur, "SELECT * FROM u") == [(1, 5, 10)]


def test_a_constraint_the_branchs_row_still_breaks_is_40001_not_23xxx(conn) -> None:
    cur = conn.cursor()
    _child_orphan(cur)
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_merge('cx', 'branch_wins')")
    assert err.value.pgcode == "40001"
    assert rows(cur, "SELECT count(*) FROM u") == [(0,)]
    assert [r[0] for r in rows(cur, "SELECT * FROM branch_list()")] == ["cx"]


def test_a_deleted_parent_row_main_still_references_is_a_conflict(conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name VARCHAR)")
    cur.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))")
    cur.execute("INSERT INTO p VALUES (1, 'one'), (2, 'two')")
    cur.execute("SELECT branch_create('pr')")
    q(cur, "pr", "DELETE FROM p WHERE id = 1")
    cur.execute("INSERT INTO u VALUES (10, 1)")  # main now references it
    got = conflicts(cur, "pr")
    assert [(r[0], r[1], r[5], r[6]) for r in got] == [("p", {"id": 1}, "foreign_key", ["id"])]
    cur.execute("SELECT branch_resolve('pr', 'p', '{\"id\": 1}', 'main')")
    assert merge(cur, "pr", "manual")[5:] == (1, "merged")
    assert rows(cur, "SELECT * FROM p ORDER BY id") == [(1, "one"), (2, "two")]


# ------------------------------------------------------------------ foreign keys in branches
def test_foreign_keys_are_enforced_in_a_branch(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name VARCHAR)")
    cur.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id))")
    cur.execute("INSERT INTO p VALUES (1, 'one'), (2, 'two')")
    cur.execute("INSERT INTO u VALUES (10, 1)")
    cur.execute("SELECT branch_create('fk')")
    with hati_server.connect(hatidata_branch="fk") as bc:
        b = bc.cursor()
        for sql, message in (
            ("DELETE FROM p WHERE id = 1", 'update or delete on table "p"'),
            ("INSERT INTO u VALUES (11, 3)", 'insert or update on table "u"'),
            ("UPDATE u SET pid = 3 WHERE id = 10", 'insert or update on table "u"'),
        ):
            with pytest.raises(psycopg2.Error) as err:
                b.execute(sql)
            assert err.value.pgcode == "23503", sql
            assert err.value.pgerror.startswith(f"ERROR:  {message}"), err.value.pgerror
            bc.rollback()
        b.execute("INSERT INTO u VALUES (11, 2)")
        b.execute("DELETE FROM u WHERE id = 10")
        b.execute("DELETE FROM p WHERE id = 1")  # no longer referenced
        bc.commit()
        assert rows(b, "SELECT * FROM u ORDER BY id") == [(11, 2)]
    # Main writes tables with foreign keys while the branch is live.
    cur.execute("INSERT INTO u VALUES (12, 2)")
    cur.execute("UPDATE u SET pid = 2 WHERE id = 10")
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("INSERT INTO u VALUES (13, 9)")
    assert err.value.pgcode == "23503"
    conn.rollback()
    assert rows(cur, "SELECT * FROM u ORDER BY id") == [(10, 2), (12, 2)]


@pytest.mark.parametrize("choice", ["main", "branch"])
def test_a_schema_conflict_is_listed_and_resolved(conn, choice: str) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE s (k INTEGER PRIMARY KEY, x INTEGER)")
    cur.execute("INSERT INTO s VALUES (1, 10)")
    cur.execute("SELECT branch_create('sk')")
    cur.execute("DROP TABLE s")
    q(cur, "sk", "UPDATE s SET x = 11 WHERE k = 1")
    assert [(r[0], r[1], r[5]) for r in rows(cur, "SELECT * FROM branch_conflicts('sk')")] == [
        ("s", "*", "schema")
    ]
    assert merge(cur, "sk", "manual")[5:] == (1, "conflicts")
    cur.execute("SELECT branch_resolve('sk', 's', '*', %s)", (choice,))
    assert merge(cur, "sk", "manual")[5:] == (1, "merged")
    got = rows(cur, "SELECT count(*) FROM information_schema.tables WHERE table_name = 's'")
    if choice == "branch":
        assert rows(cur, "SELECT * FROM s") == [(1, 11)]
    else:
        assert got == [(0,)]


@pytest.mark.parametrize("choice", ["main", '{"pid": 1}'])
def test_a_keyless_row_referencing_a_deleted_parent_is_a_conflict(conn, choice: str) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, name VARCHAR)")
    cur.execute("CREATE TABLE h (pid INTEGER REFERENCES p(id), note VARCHAR)")
    cur.execute("INSERT INTO p VALUES (1, 'one'), (2, 'two')")
    cur.execute("INSERT INTO h VALUES (1, 'kept')")
    cur.execute("SELECT branch_create('hk')")
    cur.execute("DELETE FROM p WHERE id = 2")
    q(cur, "hk", "INSERT INTO h VALUES (2, 'x'), (1, 'y')")
    value = {"note": "x", "pid": 2}
    assert conflicts(cur, "hk") == [
        ("h", value, {"count": 0}, {"count": 0}, {"count": 1}, "foreign_key", ["pid"])
    ]
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT branch_merge('hk', 'branch_wins')")
    assert err.value.pgcode == "40001"
    cur.execute("SELECT branch_resolve('hk', 'h', %s, %s)", (json.dumps(value), choice))
    assert merge(cur, "hk", "manual")[6] == "merged"
    expected = [(1, "kept"), (1, "y")] + ([(1, "x")] if choice != "main" else [])
    assert rows(cur, "SELECT * FROM h ORDER BY note") == sorted(expected, key=lambda r: r[1])


def test_conflict_kind_and_columns_reach_asyncpg_and_psycopg3(hati_server, conn) -> None:
    """``columns`` is a text[]: binary (asyncpg) and text (psycopg 3) give a list."""
    import asyncio

    import asyncpg
    import psycopg

    cur = conn.cursor()
    cur.execute('CREATE TABLE r (id INTEGER PRIMARY KEY, a INTEGER, "b c" INTEGER)')
    cur.execute("INSERT INTO r VALUES (1, 1, 1)")
    cur.execute("SELECT branch_create('dr')")
    cur.execute('UPDATE r SET a = 2, "b c" = 2 WHERE id = 1')
    q(cur, "dr", 'UPDATE r SET a = 3, "b c" = 3 WHERE id = 1')

    async def go() -> tuple:
        c = await asyncpg.connect(
            host=hati_server.host, port=hati_server.port, user="u", database="hati"
        )
        try:
            stmt = await c.prepare("SELECT * FROM branch_conflicts($1)")
            described = [(a.name, a.type.name) for a in stmt.get_attributes()]
            return described, [tuple(r) for r in await stmt.fetch("dr")]
        finally:
            await c.close()

    described, got = asyncio.run(go())
    assert described[5:] == [("kind", "text"), ("columns", "text[]")]
    assert [(r[5], r[6]) for r in got] == [("update/update", ["a", "b c"])]
    dsn = f"host={hati_server.host} port={hati_server.port} user=u dbname=hati"
    with psycopg.connect(dsn, autocommit=True) as c:
        row = c.execute("SELECT * FROM branch_conflicts(%s)", ("dr",), prepare=True).fetchone()
        assert row is not None and (row[5], row[6]) == ("update/update", ["a", "b c"])
    assert [(r[5], r[6]) for r in rows(cur, "SELECT * FROM branch_conflicts('dr')")] == [
        ("update/update", ["a", "b c"])
    ]


def test_a_table_created_in_a_branch_with_a_foreign_key(hati_server, conn) -> None:
    cur = conn.cursor()
    cur.execute("CREATE TABLE zp (id INTEGER PRIMARY KEY, name VARCHAR)")
    cur.execute("INSERT INTO zp VALUES (1, 'one')")
    cur.execute("SELECT branch_create('cr')")
    with closing(hati_server.connect(hatidata_branch="cr")) as bc:
        bc.autocommit = True
        b = bc.cursor()
        b.execute("CREATE TABLE aw (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES zp(id))")
        b.execute("INSERT INTO zp VALUES (5, 'five')")
        b.execute("INSERT INTO aw VALUES (1, 1), (2, 5)")
        with pytest.raises(psycopg2.Error) as err:
            b.execute("INSERT INTO aw VALUES (3, 9)")
        assert err.value.pgcode == "23503"
        with pytest.raises(psycopg2.Error) as err:
            b.execute("DELETE FROM zp WHERE id = 5")
        assert err.value.pgcode == "23503"
    assert rows(cur, "SELECT * FROM zp ORDER BY id") == [(1, "one")]  # main untouched
    assert merge(cur, "cr", "abort")[6] == "merged"
    assert rows(cur, "SELECT * FROM aw ORDER BY id") == [(1, 1), (2, 5)]
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("INSERT INTO aw VALUES (3, 9)")  # the merged table keeps its foreign key
    assert err.value.pgcode == "23503"
