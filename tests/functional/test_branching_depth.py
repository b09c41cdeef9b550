"""Branches of branches (docs/storage.md, "Deltas compose"): a branch's row delta is
composed over the first full relation below it, so its table is one anti-join at any
depth; a point filter reaches the base table's scan. Every level still sees exactly
its own version, through parents' later writes (snapshots), main's later writes and
merges of one level into the next."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from conftest import RunningServer, internal, rows

N = 2000
DEPTH = 8


def level_writes(d: int) -> list[str]:
    """Level ``d`` updates a row every level updates, one of its own, inserts two keys,
    deletes one base row and one row the level above inserted."""
    out = [
        "UPDATE t SET v = v + 1, note = 'l' || CAST(v AS VARCHAR) WHERE k = 7",
        f"UPDATE t SET v = v * 2 WHERE k = {100 + d}",
        f"INSERT INTO t VALUES ({N + 10 * d}, {d}, 'ins'), ({N + 10 * d + 1}, {d}, 'ins')",
        f"DELETE FROM t WHERE k = {1000 + d}",
    ]
    if d > 1:
        out.append(f"DELETE FROM t WHERE k = {N + 10 * (d - 1) + 1}")
    return out


def model_apply(state: dict[int, tuple[int, str]], d: int) -> None:
    v, _ = state[7]
    state[7] = (v + 1, f"l{v}")
    v, note = state[100 + d]
    state[100 + d] = (v * 2, note)
    state[N + 10 * d] = (d, "ins")
    state[N + 10 * d + 1] = (d, "ins")
    state.pop(1000 + d, None)
    if d > 1:
        state.pop(N + 10 * (d - 1) + 1, None)


def contents(cur: Any) -> dict[int, tuple[int, str]]:
    return {k: (v, n) for k, v, n in rows(cur, "SELECT k, v, note FROM t")}


def branch_schema(server: RunningServer, name: str) -> str:
    bid = internal(server, "SELECT id FROM _hati.branches WHERE name = %s", (name,))[0][0]
    return f"_hb_{bid}"


def plan(server: RunningServer, name: str, k: int) -> str:
    sql = f'EXPLAIN SELECT v FROM "{branch_schema(server, name)}".t WHERE k = {k}'
    return "\n".join(r[1] for r in internal(server, sql))


@pytest.fixture
def chain(hati_server: RunningServer) -> Iterator[tuple[Any, list[Any], list[dict]]]:
    """main's cursor, a cursor per level (1..DEPTH), and each level's expected state."""
    conns = []
    with closing(hati_server.connect()) as m:
        mc = m.cursor()
        mc.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL, note VARCHAR)")
        mc.execute(f"INSERT INTO t SELECT range, range % 5, 'n' || range FROM range({N})")
        state = contents(mc)
        states, curs = [dict(state)], [mc]
        for d in range(1, DEPTH + 1):
            parent = "main" if d == 1 else f"l{d - 1}"
            mc.execute("SELECT branch_create(%s, %s)", (f"l{d}", parent))
            conn = hati_server.connect(agent=f"level{d}")
            conns.append(conn)
            c = conn.cursor()
            c.execute("SET hatidata_branch = %s", (f"l{d}",))
            for sql in level_writes(d):
                c.execute(sql)
            model_apply(state, d)
            states.append(dict(state))
            curs.append(c)
        try:
            yield mc, curs, states
        finally:
            for conn in conns:
                conn.close()


def test_every_level_sees_its_own_version(chain) -> None:
    _, curs, states = chain
    for d in range(DEPTH + 1):
        assert contents(curs[d]) == states[d], f"level {d}"


def _scan_of(plan_text: str, table: str) -> str:
    """The lines of the plan box that scans ``table`` (column of the box's start)."""
    lines = plan_text.splitlines()
    for i, line in enumerate(lines):
        at = line.find(f"Table: {table} ")
        if at < 0:
            continue
        left = line.rfind("│", 0, at)
        box = []
        for below in lines[i:]:
            cell = below[left : left + 40]
            if cell.startswith("╰"):
                break
            box.append(cell)
        return "\n".join(box)
    return ""


def test_point_read_plan_is_flat_at_depth(hati_server, chain) -> None:
    """At depth 1 and at depth 8 the plan reads main's table once, with the point
    filter in its scan, and only the level's own delta tables (no other level's)."""
    for name in ("l1", f"l{DEPTH}"):
        p = plan(hati_server, name, 1234)
        own = branch_schema(hati_server, name).replace("_hb_", "_hbd_")
        assert p.count("main.t ") == 1, p
        assert "Filters: k = 1234" in _scan_of(p, "hati.main.t"), p
        schemas = {w.split(".")[1] for w in p.split() if w.startswith("hati._hbd_")}
        assert schemas <= {own}, p
        assert len(p.splitlines()) < 30, p


def test_writes_at_depth_pull_from_the_composed_table(chain) -> None:
    _, curs, states = chain
    c = curs[DEPTH]
    c.execute("UPDATE t SET v = -v WHERE k IN (7, 101, %s, 1500)", (N + 10,))
    for k in (7, 101, N + 10, 1500):
        v, note = states[DEPTH][k]
        states[DEPTH][k] = (-v, note)
    c.execute("DELETE FROM t WHERE k = %s", (N + 20,))
    states[DEPTH].pop(N + 20)
    assert contents(c) == states[DEPTH]
    for d in range(DEPTH):
        assert contents(curs[d]) == states[d], f"level {d}"


def test_parent_and_main_writes_after_the_forks(chain) -> None:
    """A level in the middle and main write after their children forked: every level
    below keeps the version it forked from (snapshots, re-pointed deltas)."""
    mc, curs, states = chain
    mid = DEPTH // 2
    curs[mid].execute("UPDATE t SET v = 999 WHERE k IN (7, 8)")
    curs[mid].execute("DELETE FROM t WHERE k = 9")
    states[mid][7] = (999, states[mid][7][1])
    states[mid][8] = (999, states[mid][8][1])
    states[mid].pop(9)
    mc.execute("UPDATE t SET v = 555 WHERE k IN (7, 10)")
    mc.execute("DELETE FROM t WHERE k = 11")
    mc.execute("INSERT INTO t VALUES (%s, 1, 'main')", (N + 5,))
    states[0][7] = (555, states[0][7][1])
    states[0][10] = (555, states[0][10][1])
    states[0].pop(11)
    states[0][N + 5] = (1, "main")
    for d in range(DEPTH + 1):
        assert contents(curs[d]) == states[d], f"level {d}"
    # and they go on writing
    curs[DEPTH].execute("UPDATE t SET v = 1 WHERE k = 10")
    states[DEPTH][10] = (1, states[DEPTH][10][1])
    curs[mid + 1].execute("INSERT INTO t VALUES (%s, 2, 'x')", (N + 5,))
    states[mid + 1][N + 5] = (2, "x")
    for d in range(DEPTH + 1):
        assert contents(curs[d]) == states[d], f"level {d}"


def test_merges_up_the_chain(chain) -> None:
    """Each level merges into its parent, deepest first; diffs list only the level's
    own changes; main ends with the deepest version."""
    mc, curs, states = chain
    for d in range(DEPTH, 0, -1):
        diff = rows(mc, "SELECT * FROM branch_diff(%s)", (f"l{d}",))
        changed = sorted(json.loads(r[2])["k"] for r in diff)
        keys = set(states[d]) | set(states[d - 1])
        assert changed == sorted(k for k in keys if states[d].get(k) != states[d - 1].get(k))
        mc.execute("SELECT * FROM branch_merge(%s)", (f"l{d}",))
        assert mc.fetchone()[6] == "merged"
        states[d - 1] = states[d]
        assert contents(curs[d - 1]) == states[d - 1], f"level {d - 1} after merging {d}"
        for e in range(d - 1):
            assert contents(curs[e]) == states[e], f"level {e} after merging {d}"


def test_a_key_an_ancestor_deleted_merges_as_an_insert(hati_server) -> None:
    """A level inherits a deletion (its seeded delta hides the key), inserts the key
    again and merges into its unchanged parent: the row is inserted, not lost."""
    with closing(hati_server.connect()) as m:
        mc = m.cursor()
        mc.execute("CREATE TABLE q (k INTEGER PRIMARY KEY, a INTEGER)")
        mc.execute("INSERT INTO q VALUES (0, 0), (1, 1)")
        mc.execute("SELECT branch_create('q1')")
        mc.execute("SELECT branch_query('q1', 'DELETE FROM q WHERE k = 0')")
        mc.execute("SELECT branch_create('q2', 'q1')")
        mc.execute("SELECT branch_query('q2', 'INSERT INTO q VALUES (2, 2)')")
        mc.execute("SELECT branch_create('q3', 'q2')")
        mc.execute("SELECT branch_query('q3', 'INSERT INTO q VALUES (0, 10)')")
        mc.execute("SELECT * FROM branch_merge('q3')")
        assert rows(mc, "SELECT branch_query('q2', 'SELECT k, a FROM q ORDER BY k')") == [
            (0, 10),
            (1, 1),
            (2, 2),
        ]
        diff = rows(mc, "SELECT * FROM branch_diff('q2')")
        assert sorted((json.loads(r[2])["k"], r[1]) for r in diff) == [(0, "insert"), (2, "insert")]
