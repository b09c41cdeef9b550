"""Property test: random writes on main and on 1-3 branches (some forked from another
branch), or on a chain of 8 branches each forked from the one before (every level
writes, main and the levels above write in between), interleaved, merged with every
strategy (children into their parent first),
must leave main exactly as a plain-Python three-way merge says, and branch_conflicts
must list exactly the model's conflicts with their kind and columns.

Keyed tables merge per cell (two value columns, so one row can change in different
columns on both sides); tables without a key are multisets and merge per distinct row
value by its count. Per cell or count: theirs == base -> ours; ours == base -> theirs;
ours == theirs -> ours; otherwise a conflict the strategy decides.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st

from conftest import RunningServer, start_server
from conftest import rows as _rows

STRATEGIES = ["branch_wins", "main_wins", "abort", "manual"]
_ids = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = start_server(Path(tmp_path_factory.mktemp("prop")) / "data")
    try:
        yield s
    finally:
        s.thread.stop()


# ----------------------------------------------------------------------------- models
def merge_value(base: Any, ours: Any, theirs: Any) -> tuple[Any, bool]:
    """(merged, conflict). For a conflict ``merged`` is ours (left to the strategy)."""
    if theirs == base:
        return ours, False
    if ours in (base, theirs):
        return theirs, False
    return ours, True


@dataclass
class Info:
    """One conflict: what branch_conflicts lists for it, the key's value when the
    branch wins, and what a JSON resolution is applied to."""

    row: tuple  # (key, base, main, branch, kind, columns) as branch_conflicts shows it
    branch: Any  # the value with the branch's side (_ABSENT: no row)
    main: Any  # the value with main's side (the merge's default)
    sides: tuple  # (base, ours, theirs)


COLS = ("a", "b")


class KeyedModel:
    """t(k INT PRIMARY KEY, a INT, b INT): a dict k -> (a, b) per namespace, merged per cell."""

    ddl = "CREATE TABLE {t} (k INTEGER PRIMARY KEY, a INTEGER, b INTEGER)"

    @staticmethod
    def initial() -> st.SearchStrategy:
        cell = st.one_of(st.none(), st.integers(0, 1))
        return st.dictionaries(st.integers(0, 2), st.tuples(cell, cell), max_size=3)

    @staticmethod
    def op() -> st.SearchStrategy:
        k, v = st.integers(0, 2), st.one_of(st.none(), st.integers(0, 1))
        return st.one_of(
            st.tuples(st.just("ins"), k, v, v),
            st.tuples(st.just("upd"), k, st.sampled_from(COLS), v),
            st.tuples(st.just("del"), k),
            st.tuples(st.just("mov"), k, k),  # an UPDATE of the key
        )

    @staticmethod
    def load(state: dict, table: str) -> tuple[str, list[tuple]]:
        return f"INSERT INTO {table} VALUES (%s, %s, %s)", [
            (k, *v) for k, v in sorted(state.items())
        ]

    @staticmethod
    def apply(state: dict, op: tuple, table: str) -> tuple[str, tuple] | None:
        """Change ``state`` like the SQL does; return the SQL (None: nothing to send)."""
        if op[0] == "ins":
            if op[1] in state:
                return None  # would be a key violation; not what this test is about
            state[op[1]] = (op[2], op[3])
            return f"INSERT INTO {table} VALUES (%s, %s, %s)", (op[1], op[2], op[3])
        if op[0] == "upd":
            _, k, col, v = op
            if k in state:
                a, b = state[k]
                state[k] = (v, b) if col == "a" else (a, v)
            return f"UPDATE {table} SET {col} = %s WHERE k = %s", (v, k)
        if op[0] == "mov":
            _, k, to = op
            if k not in state or to in state:
                return None  # nothing to move, or a key violation
            state[to] = state.pop(k)
            return f"UPDATE {table} SET k = %s WHERE k = %s", (to, k)
        state.pop(op[1], None)
        return f"DELETE FROM {table} WHERE k = %s", (op[1],)

    @staticmethod
    def contents(cur: Any, table: str) -> dict:
        return {r[0]: (r[1], r[2]) for r in _rows(cur, f"SELECT k, a, b FROM {table}")}

    @staticmethod
    def merge(base: dict, ours: dict, theirs: dict) -> tuple[dict, dict]:
        """(merged with conflicts left as main's side, {key_json: Info})."""
        out, conflicts = {}, {}
        for k in sorted(set(base) | set(ours) | set(theirs)):
            b, o, t = (s.get(k, _ABSENT) for s in (base, ours, theirs))
            m, info = KeyedModel._merge_row(k, b, o, t)
            if info is not None:
                conflicts[_key({"k": k})] = info
            if m is not _ABSENT:
                out[k] = m
        return out, conflicts

    @staticmethod
    def _merge_row(k: int, b: Any, o: Any, t: Any) -> tuple[Any, Info | None]:
        if t == b:
            return o, None
        if o in (b, t):
            return t, None

        def row(x: Any) -> Any:
            return None if x is _ABSENT else {"k": k, **dict(zip(COLS, x, strict=True))}

        def changed(x: Any, y: Any) -> list[str]:
            return [c for i, c in enumerate(COLS) if x[i] != y[i]]

        if t is _ABSENT:  # main updated, the branch deleted
            kind, cols, merged, theirs = "update/delete", changed(b, o), o, _ABSENT
        elif o is _ABSENT:  # main deleted, the branch updated
            kind, cols, merged, theirs = "delete/update", changed(b, t), _ABSENT, t
        elif b is _ABSENT:
            kind, cols, merged, theirs = "insert/insert", changed(o, t), o, t
        else:
            cells = [merge_value(b[i], o[i], t[i]) for i in range(len(COLS))]
            cols = [c for c, (_, conflict) in zip(COLS, cells, strict=True) if conflict]
            merged = tuple(v for v, _ in cells)
            if not cols:
                return merged, None
            kind = "update/update"
            theirs = tuple(t[i] if conflict else v for i, (v, conflict) in enumerate(cells))
        info = Info((_key({"k": k}), row(b), row(o), row(t), kind, cols), theirs, merged, (b, o, t))
        return merged, info

    @staticmethod
    def resolution(draw: Any, key: str, info: Info) -> tuple[str, Any]:
        """(argument for branch_resolve, the value that key then has: _ABSENT = no row)."""
        choice = draw(st.sampled_from(["main", "branch", "values"]))
        if choice == "main":
            return "main", info.main
        if choice == "branch":
            return "branch", info.branch
        col = draw(st.sampled_from(COLS))
        v = draw(st.integers(100, 103))
        # The columns given, over the merged row (or the branch's, where main deleted it).
        row = info.main if info.main is not _ABSENT else info.sides[2]
        row = (v, row[1]) if col == "a" else (row[0], v)
        return json.dumps({col: v}), row

    @staticmethod
    def settle(state: dict, key: str, value: Any) -> None:
        k = json.loads(key)["k"]
        state.pop(k, None)
        if value is not _ABSENT:
            state[k] = value


class BagModel:
    """u(a INT, b INT) without a key: a Counter of (a, b) per namespace."""

    ddl = "CREATE TABLE {t} (a INTEGER, b INTEGER)"

    @staticmethod
    def initial() -> st.SearchStrategy:
        val = st.tuples(st.integers(0, 1), st.one_of(st.none(), st.integers(0, 1)))
        return st.lists(val, max_size=6).map(Counter)

    @staticmethod
    def op() -> st.SearchStrategy:
        a, b = st.integers(0, 1), st.one_of(st.none(), st.integers(0, 1))
        return st.one_of(
            st.tuples(st.just("ins"), a, b),
            st.tuples(st.just("upd"), a, b),  # every row with this a gets b
            st.tuples(st.just("del"), a, b),  # every copy of (a, b)
        )

    @staticmethod
    def load(state: Counter, table: str) -> tuple[str, list[tuple]]:
        return f"INSERT INTO {table} VALUES (%s, %s)", list(state.elements())

    @staticmethod
    def apply(state: Counter, op: tuple, table: str) -> tuple[str, tuple] | None:
        kind, a, b = op
        if kind == "ins":
            state[(a, b)] += 1
            return f"INSERT INTO {table} VALUES (%s, %s)", (a, b)
        if kind == "upd":
            moved = sum(n for (ra, _), n in state.items() if ra == a)
            for val in [v for v in state if v[0] == a]:
                del state[val]
            if moved:
                state[(a, b)] += moved
            return f"UPDATE {table} SET b = %s WHERE a = %s", (b, a)
        state.pop((a, b), None)
        return f"DELETE FROM {table} WHERE a = %s AND b IS NOT DISTINCT FROM %s", (a, b)

    @staticmethod
    def contents(cur: Any, table: str) -> Counter:
        return Counter(_rows(cur, f"SELECT a, b FROM {table}"))

    @staticmethod
    def merge(base: Counter, ours: Counter, theirs: Counter) -> tuple[Counter, dict]:
        out, conflicts = Counter(), {}
        for val in set(base) | set(ours) | set(theirs):
            b, o, t = base[val], ours[val], theirs[val]
            m, c = merge_value(b, o, t)
            if c:
                key = _key({"a": val[0], "b": val[1]})
                kind = (
                    "insert/insert"
                    if b == 0
                    else "delete/update"
                    if o == 0
                    else "update/delete"
                    if t == 0
                    else "update/update"
                )
                listed = (key, {"count": b}, {"count": o}, {"count": t}, kind, ["a", "b"])
                conflicts[key] = Info(listed, t, o, (b, o, t))
            if m:
                out[val] = m
        return out, conflicts

    @staticmethod
    def resolution(draw: Any, key: str, info: Info) -> tuple[str, Any]:
        choice = draw(st.sampled_from(["main", "branch", "count"]))
        if choice == "main":
            return "main", info.main
        if choice == "branch":
            return "branch", info.branch
        n = draw(st.integers(0, 3))
        return json.dumps({"count": n}), n

    @staticmethod
    def settle(state: Counter, key: str, value: Any) -> None:
        kv = json.loads(key)
        val = (kv["a"], kv["b"])
        state.pop(val, None)
        if value:
            state[val] = value


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT = _Absent()


def _key(d: dict) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------- the test
Event = tuple[Any, ...]  # ("fork", i) or ("op", namespace, op): 0 is main


def random_shape(model: Any, data: st.DataObject) -> tuple[dict[int, int], list[Event]]:
    """1-3 branches; branch 1 forks from main, a later one from main or an earlier
    branch; writes on any namespace, forks at random points between them."""
    n_branches = data.draw(st.integers(1, 3), label="branches")
    parent = {1: 0}
    for i in range(2, n_branches + 1):
        parent[i] = data.draw(st.integers(0, i - 1), label=f"parent{i}")
    steps = data.draw(
        st.lists(st.tuples(st.integers(0, n_branches), model.op()), min_size=4, max_size=16),
        label="steps",
    )
    # Branch i (1-based) forks just before step fork_at[i]; the first forks before any step.
    fork_at = [
        0,
        *sorted(data.draw(st.integers(0, len(steps)), label="fork") for _ in range(n_branches - 1)),
    ]
    events: list[Event] = []
    forked = 0
    for pos, step in enumerate([*steps, None]):
        while forked < n_branches and fork_at[forked] <= pos:
            forked += 1
            events.append(("fork", forked))
        if step is not None:
            events.append(("op", *step))
    return parent, events


def chain_shape(model: Any, data: st.DataObject, depth: int) -> tuple[dict[int, int], list[Event]]:
    """A chain of ``depth`` branches, each forked from the one before; every level writes
    after its fork, and main and earlier levels write in between (so the parents change
    what their children forked from)."""
    parent = {i: i - 1 for i in range(1, depth + 1)}
    events: list[Event] = []
    for i in range(1, depth + 1):
        events.append(("fork", i))
        own = data.draw(st.lists(model.op(), min_size=1, max_size=3), label=f"level{i}")
        others = data.draw(
            st.lists(st.tuples(st.integers(0, i - 1), model.op()), max_size=2), label=f"up{i}"
        )
        mixed = [(i, op) for op in own] + others
        order = data.draw(st.permutations(range(len(mixed))), label=f"order{i}")
        events += [("op", *mixed[j]) for j in order]
    return parent, events


def run_scenario(  # noqa: C901 - one branch per operation the model draws
    server: RunningServer, model: Any, data: st.DataObject, depth: int = 0
) -> None:
    """Random writes and forks (``random_shape``, or ``chain_shape`` of ``depth``), then
    every namespace's contents and every merge checked against the model."""
    n = next(_ids)
    table = f"p{n}"
    initial = data.draw(model.initial(), label="initial")
    parent, events = chain_shape(model, data, depth) if depth else random_shape(model, data)
    n_branches = len(parent)

    main_conn = server.connect(agent="prop")
    mc = main_conn.cursor()
    conns: dict[int, Any] = {}
    names = {i: f"pb{n}_{i}" for i in range(1, n_branches + 1)}
    try:
        mc.execute(model.ddl.format(t=table))
        sql, rows = model.load(initial, table)
        if rows:
            mc.executemany(sql, rows)
        states: dict[int, Any] = {0: initial.copy()}  # 0 is main
        bases: dict[int, Any] = {}

        def cursor(i: int) -> Any:
            return mc if i == 0 else conns[i].cursor()

        def fork(i: int) -> None:
            p = parent[i]
            mc.execute("SELECT branch_create(%s, %s)", (names[i], names.get(p, "main")))
            c = server.connect(agent=f"agent{i}")
            c.cursor().execute("SET hatidata_branch = %s", (names[i],))
            conns[i] = c
            bases[i] = states[p].copy()
            states[i] = states[p].copy()

        for ev in events:
            if ev[0] == "fork":
                fork(ev[1])
                continue
            _, target, op = ev
            if target not in states:
                target = 0  # a branch not forked yet: main writes instead
            stmt = model.apply(states[target], op, table)
            if stmt is not None:
                cursor(target).execute(*stmt)

        # Every namespace reads exactly its own state (isolation) before any merge.
        for i, state in states.items():
            assert model.contents(cursor(i), table) == state, f"namespace {i}"

        # Children merge (or are discarded) before their parents.
        for i in range(n_branches, 0, -1):
            name, p = names[i], parent[i]
            strategy = data.draw(st.sampled_from(STRATEGIES), label=f"strategy{i}")
            merged, conflicts = model.merge(bases[i], states[p], states[i])
            event(f"{strategy} with{'' if conflicts else 'out'} conflicts")
            if p:
                event("nested merge")
            got = _rows(mc, "SELECT * FROM branch_conflicts(%s)", (name,))
            assert sorted((r[0], r[1], *map(_load, r[2:5]), r[5], r[6]) for r in got) == sorted(
                (table, *info.row) for info in conflicts.values()
            )
            before = model.contents(cursor(p), table)
            expected = merged
            if strategy == "branch_wins":
                for k, info in conflicts.items():
                    model.settle(expected, k, info.branch)
            elif strategy == "abort" and conflicts:
                with pytest.raises(psycopg2.Error) as err:
                    mc.execute("SELECT branch_merge(%s, 'abort')", (name,))
                assert err.value.pgcode == "40001"
                assert model.contents(cursor(p), table) == before
                mc.execute("SELECT branch_discard(%s)", (name,))
                continue
            elif strategy == "manual" and conflicts:
                resolve_all = data.draw(st.booleans(), label=f"resolve_all{i}")
                keys = sorted(conflicts)
                chosen = keys if resolve_all else keys[:-1]
                for k in chosen:
                    arg, value = model.resolution(data.draw, k, conflicts[k])
                    mc.execute("SELECT branch_resolve(%s, %s, %s, %s)", (name, table, k, arg))
                    model.settle(expected, k, value)
                if not resolve_all:
                    mc.execute("SELECT * FROM branch_merge(%s, 'manual')", (name,))
                    row = mc.fetchone()
                    assert row[6] == "conflicts" and row[5] == 1, row
                    assert model.contents(cursor(p), table) == before
                    # The branch is still there, untouched.
                    assert model.contents(cursor(i), table) == states[i]
                    mc.execute("SELECT branch_discard(%s)", (name,))
                    continue
            mc.execute("SELECT * FROM branch_merge(%s, %s)", (name, strategy))
            row = mc.fetchone()
            assert row[0] == name and row[1] == strategy and row[6] == "merged", row
            assert row[5] == len(conflicts)
            states[p] = expected
            assert model.contents(cursor(p), table) == expected, (strategy, conflicts)
        live = {r[0] for r in _rows(mc, "SELECT * FROM branch_list()")}
        assert not live & set(names.values()), "merged or discarded branches must be gone"
    finally:
        # A failing example must not leave its branches behind for the next one.
        live = {r[0] for r in _rows(mc, "SELECT * FROM branch_list()")}
        for i in range(n_branches, 0, -1):
            if names[i] in live:
                mc.execute("SELECT branch_discard(%s)", (names[i],))
        mc.execute(f"DROP TABLE IF EXISTS {table}")
        for c in conns.values():
            c.close()
        main_conn.close()


def _load(v: str | None) -> Any:
    return None if v is None else json.loads(v)


_settings = settings(
    max_examples=int(os.environ.get("HATI_PROP_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@_settings
@given(data=st.data())
def test_keyed_merge_matches_model(server: RunningServer, data: st.DataObject) -> None:
    run_scenario(server, KeyedModel, data)


@_settings
@given(data=st.data())
def test_multiset_merge_matches_model(server: RunningServer, data: st.DataObject) -> None:
    run_scenario(server, BagModel, data)


# Deep chains: fewer examples by default (each forks and merges 8 branches).
_deep_settings = settings(
    _settings, max_examples=int(os.environ.get("HATI_PROP_DEEP_EXAMPLES", "8"))
)
DEPTH = 8


@_deep_settings
@given(data=st.data())
def test_deep_chain_keyed_matches_model(server: RunningServer, data: st.DataObject) -> None:
    """8 levels of branches of branches, writes at every level and on main in between:
    each level reads its own state, and merging them up the chain matches the model."""
    run_scenario(server, KeyedModel, data, depth=DEPTH)


@_deep_settings
@given(data=st.data())
def test_deep_chain_multiset_matches_model(server: RunningServer, data: st.DataObject) -> None:
    run_scenario(server, BagModel, data, depth=DEPTH)


# ----------------------------------------------------------------------------- constraints
def _ok(row: Any) -> bool:
    """CHECK (a <= b): NULL passes."""
    return row is _ABSENT or row[0] is None or row[1] is None or row[0] <= row[1]


def _checked(state: dict, op: tuple, table: str) -> tuple[str, tuple] | None:
    """KeyedModel.apply, except a write the CHECK refuses is not sent."""
    trial = dict(state)
    stmt = KeyedModel.apply(trial, op, table)
    if stmt is None or not all(_ok(v) for v in trial.values()):
        return None
    state.clear()
    state.update(trial)
    return stmt


def _row_json(k: int, x: Any) -> Any:
    return None if x is _ABSENT else {"k": k, **dict(zip(COLS, x, strict=True))}


def check_model(base: dict, ours: dict, theirs: dict, strategy: str) -> tuple[dict, list[tuple]]:
    """(main after the merge, the rows branch_conflicts lists) with CHECK (a <= b): a
    merged row the CHECK refuses keeps main's row (main_wins) or takes the branch's
    whole row (branch_wins); branch_conflicts assumes the branch's side of cells."""
    merged, conflicts = KeyedModel.merge(base, ours, theirs)
    listed = [info.row for info in conflicts.values()]
    out = {}
    for k in sorted(set(base) | set(ours) | set(theirs)):
        info = conflicts.get(_key({"k": k}))
        b, o, t = (s.get(k, _ABSENT) for s in (base, ours, theirs))
        branch_side = info.branch if info else merged.get(k, _ABSENT)
        main_side = merged.get(k, _ABSENT)
        if t != b and not _ok(branch_side):
            row = (_key({"k": k}), _row_json(k, b), _row_json(k, o), _row_json(k, t))
            listed.append((*row, "check", ["a", "b"]))
        chosen = branch_side if strategy == "branch_wins" else main_side
        if t != b and not _ok(chosen):
            chosen = t if strategy == "branch_wins" else o
        if chosen is not _ABSENT:
            out[k] = chosen
    return out, listed


# The constraint scenarios: fewer examples by default (each starts its own tables).
_constraint_settings = settings(
    _settings, max_examples=int(os.environ.get("HATI_PROP_EXAMPLES", "20"))
)


@_constraint_settings
@given(data=st.data())
def test_cell_merges_that_break_a_check_match_model(
    server: RunningServer, data: st.DataObject
) -> None:
    """Per-cell merges of a table with CHECK (a <= b), main and one branch writing in
    turn: branch_conflicts lists the cell and check conflicts, and every strategy
    leaves main as the model says (abort: 40001 and main unchanged)."""
    n = next(_ids)
    table, name = f"c{n}", f"cb{n}"
    # Few keys, mostly updates: one row changed in different cells on both sides.
    cell = st.one_of(st.none(), st.integers(0, 2))
    rows_ = st.dictionaries(st.integers(0, 1), st.tuples(cell, cell), min_size=1)
    initial = {k: v for k, v in data.draw(rows_, label="initial").items() if _ok(v)}
    k = st.integers(0, 1)
    op = st.one_of(
        st.tuples(st.just("upd"), k, st.sampled_from(COLS), cell),
        st.tuples(st.just("upd"), k, st.sampled_from(COLS), cell),
        st.tuples(st.just("upd"), k, st.sampled_from(COLS), cell),
        st.tuples(st.just("ins"), k, cell, cell),
        st.tuples(st.just("del"), k),
    )
    initial[0] = (0, 2)  # main raises a, the branch lowers b: their merge may break it
    va, vb = data.draw(st.integers(0, 2), label="a"), data.draw(st.integers(0, 2), label="b")
    firsts = [(False, ("upd", 0, "a", va)), (True, ("upd", 0, "b", vb))]
    steps = firsts + data.draw(st.lists(st.tuples(st.booleans(), op), max_size=8), label="steps")
    strategy = data.draw(st.sampled_from(["branch_wins", "main_wins", "abort"]), label="strategy")
    mconn, bconn = server.connect(agent="prop"), server.connect(agent="prop-b")
    mc = mconn.cursor()
    try:
        mc.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY, a INTEGER, b INTEGER, "
                   "CHECK (a <= b))")  # fmt: skip
        sql, rows = KeyedModel.load(initial, table)
        if rows:
            mc.executemany(sql, rows)
        mc.execute("SELECT branch_create(%s)", (name,))
        bc = bconn.cursor()
        bc.execute("SET hatidata_branch = %s", (name,))
        main, branch = dict(initial), dict(initial)
        for on_branch, op in steps:
            stmt = _checked(branch if on_branch else main, op, table)
            if stmt is not None:
                (bc if on_branch else mc).execute(*stmt)
        assert KeyedModel.contents(bc, table) == branch
        expected, listed = check_model(initial, main, branch, strategy)
        event(f"{strategy}: {sorted({r[4] for r in listed})}")
        got = _rows(mc, "SELECT * FROM branch_conflicts(%s)", (name,))
        assert sorted((r[1], *map(_load, r[2:5]), r[5], r[6]) for r in got) == sorted(
            (r[0], *map(_load_json, r[1:4]), r[4], r[5]) for r in listed
        )
        if strategy == "abort" and listed:
            with pytest.raises(psycopg2.Error) as err:
                mc.execute("SELECT branch_merge(%s, 'abort')", (name,))
            assert err.value.pgcode == "40001"
            assert KeyedModel.contents(mc, table) == main
            mc.execute("SELECT branch_discard(%s)", (name,))
            return
        mc.execute("SELECT * FROM branch_merge(%s, %s)", (name, strategy))
        assert mc.fetchone()[6] == "merged"
        assert KeyedModel.contents(mc, table) == expected
    finally:
        live = {r[0] for r in _rows(mc, "SELECT * FROM branch_list()")}
        if name in live:
            mc.execute("SELECT branch_discard(%s)", (name,))
        mc.execute(f"DROP TABLE IF EXISTS {table}")
        bconn.close()
        mconn.close()


def _load_json(v: Any) -> Any:
    """A row the model built (a dict already, or None) in branch_conflicts' parsed form."""
    return v if v is None or isinstance(v, dict) else json.loads(v)


# DuckDB's foreign keys refuse an UPDATE of an indexed column of a row a child
# references (it is a delete and an insert there); PostgreSQL allows it.
DUCKDB_REFERENCED_UPDATE = "is still referenced by a foreign key"


@pytest.mark.xfail(
    strict=True,
    raises=psycopg2.errors.SerializationFailure,
    reason="main's plain foreign keys are DuckDB's, which refuse to update a UNIQUE column "
    "of a referenced row: the branch's UPDATE is accepted, its merge fails with 40001 and "
    "branch_conflicts lists nothing",
)
def test_update_of_a_referenced_rows_unique_column(server: RunningServer) -> None:
    conn = server.connect(agent="fk-unique")
    conn.autocommit = True
    mc = conn.cursor()
    mc.execute("CREATE TABLE fu_p (id INTEGER PRIMARY KEY, u INTEGER UNIQUE)")
    mc.execute("CREATE TABLE fu_c (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES fu_p(id))")
    mc.execute("INSERT INTO fu_p VALUES (0, 0), (1, 1)")
    mc.execute("INSERT INTO fu_c VALUES (0, 0)")
    mc.execute("SELECT branch_create('fu')")
    try:
        assert _rows(mc, "SELECT * FROM branch_query('fu', 'UPDATE fu_p SET u = 2 WHERE id = 0')")
        mc.execute("SELECT * FROM branch_merge('fu', 'abort')")
        assert mc.fetchone()[6] == "merged"
        assert _rows(mc, "SELECT * FROM fu_p ORDER BY id") == [(0, 2), (1, 1)]
    finally:
        if "fu" in {r[0] for r in _rows(mc, "SELECT * FROM branch_list()")}:
            mc.execute("SELECT branch_discard('fu')")
        conn.close()


@_constraint_settings
@given(data=st.data())
def test_unique_and_foreign_key_conflicts_never_half_merge(
    server: RunningServer, data: st.DataObject
) -> None:
    """Random writes on main and one branch to a parent with a UNIQUE column and a
    child referencing it: every strategy either merges or answers 40001 leaving main
    unchanged, ``abort`` fails exactly when branch_conflicts lists something, and
    resolving every listed row then merging 'manual' never gives another error."""
    n = next(_ids)
    par, chi, name = f"up{n}", f"uc{n}", f"ub{n}"
    val, pid = st.integers(2, 4), st.integers(0, 3)
    op = st.one_of(
        st.tuples(st.just("pins"), st.integers(2, 3), val),
        st.tuples(st.just("pupd"), pid, val),
        st.tuples(st.just("pdel"), pid),
        st.tuples(st.just("cins"), st.integers(1, 3), pid),
        st.tuples(st.just("cdel"), st.integers(0, 3)),
    )
    steps = data.draw(
        st.lists(st.tuples(st.booleans(), op), min_size=2, max_size=10), label="steps"
    )
    strategy = data.draw(st.sampled_from(STRATEGIES), label="strategy")
    mconn, bconn = server.connect(agent="prop"), server.connect(agent="prop-b")
    mconn.autocommit = bconn.autocommit = True
    mc = mconn.cursor()

    def state(cur: Any) -> tuple:
        return (
            _rows(cur, f"SELECT * FROM {par} ORDER BY 1"),
            _rows(cur, f"SELECT * FROM {chi} ORDER BY 1"),
        )

    try:
        mc.execute(f"CREATE TABLE {par} (id INTEGER PRIMARY KEY, u INTEGER UNIQUE)")
        mc.execute(f"CREATE TABLE {chi} (id INTEGER PRIMARY KEY, pid INTEGER REFERENCES {par}(id))")
        mc.execute(f"INSERT INTO {par} VALUES (0, 0), (1, 1)")
        mc.execute(f"INSERT INTO {chi} VALUES (0, 0)")
        mc.execute("SELECT branch_create(%s)", (name,))
        bc = bconn.cursor()
        bc.execute("SET hatidata_branch = %s", (name,))
        sql = {
            "pins": f"INSERT INTO {par} VALUES (%s, %s)",
            "pupd": f"UPDATE {par} SET u = %s WHERE id = %s",
            "pdel": f"DELETE FROM {par} WHERE id = %s",
            "cins": f"INSERT INTO {chi} VALUES (%s, %s)",
            "cdel": f"DELETE FROM {chi} WHERE id = %s",
        }
        for on_branch, (kind, *args) in steps:
            params = tuple(reversed(args)) if kind == "pupd" else tuple(args)
            try:
                (bc if on_branch else mc).execute(sql[kind], params)
            except psycopg2.Error as err:  # the side's own constraints refuse it
                assert err.pgcode in ("23505", "23503"), err
        listed = _rows(mc, "SELECT * FROM branch_conflicts(%s)", (name,))
        event(f"{strategy}: {sorted({r[5] for r in listed})}")
        before = state(mc)
        if strategy == "manual":
            for r in listed:
                choice = data.draw(st.sampled_from(["main", "branch"]), label="choice")
                mc.execute("SELECT branch_resolve(%s, %s, %s, %s)", (name, r[0], r[1], choice))
        try:
            mc.execute("SELECT * FROM branch_merge(%s, %s)", (name, strategy))
        except psycopg2.Error as err:
            assert err.pgcode == "40001", err
            assert state(mc) == before
            if not listed and DUCKDB_REFERENCED_UPDATE in str(err):
                # Out of this test's scope: test_update_of_a_referenced_rows_unique_column.
                reject()
            assert strategy != "abort" or listed
            return
        status = mc.fetchone()[6]
        assert status in ("merged", "conflicts")
        if strategy == "abort":
            assert not listed
        if status == "conflicts":
            assert state(mc) == before
    finally:
        live = {r[0] for r in _rows(mc, "SELECT * FROM branch_list()")}
        if name in live:
            mc.execute("SELECT branch_discard(%s)", (name,))
        mc.execute(f"DROP TABLE IF EXISTS {chi}")
        mc.execute(f"DROP TABLE IF EXISTS {par}")
        bconn.close()
        mconn.close()
