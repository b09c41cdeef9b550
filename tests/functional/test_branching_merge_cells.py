"""Cell-level three-way merge, conflict kinds, and merge SQL that no column name can
confuse (tables whose columns are named like the merge's own aliases)."""

from __future__ import annotations

import json
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
