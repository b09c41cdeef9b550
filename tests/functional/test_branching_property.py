"""Property test: random writes on main and on 1-3 branches (some forked from another
branch), merged with every strategy (children into their parent first),
must leave main exactly as a plain-Python three-way merge says.

Keyed tables merge per primary key; tables without a key are multisets and merge per
distinct row value by its count (merge.py): theirs == base -> ours; ours == base ->
theirs; ours == theirs -> ours; otherwise a conflict the strategy decides.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from hypothesis import HealthCheck, event, given, settings
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


class KeyedModel:
    """t(k INT PRIMARY KEY, v INT): a dict k -> v per namespace."""

    ddl = "CREATE TABLE {t} (k INTEGER PRIMARY KEY, v INTEGER)"

    @staticmethod
    def initial() -> st.SearchStrategy:
        return st.dictionaries(
            st.integers(0, 2), st.one_of(st.none(), st.integers(0, 2)), max_size=3
        )

    @staticmethod
    def op() -> st.SearchStrategy:
        k, v = st.integers(0, 2), st.one_of(st.none(), st.integers(0, 2))
        return st.one_of(
            st.tuples(st.just("ins"), k, v),
            st.tuples(st.just("upd"), k, v),
            st.tuples(st.just("del"), k),
        )

    @staticmethod
    def load(state: dict, table: str) -> tuple[str, list[tuple]]:
        return f"INSERT INTO {table} VALUES (%s, %s)", sorted(state.items())

    @staticmethod
    def apply(state: dict, op: tuple, table: str) -> tuple[str, tuple] | None:
        """Change ``state`` like the SQL does; return the SQL (None: nothing to send)."""
        if op[0] == "ins":
            if op[1] in state:
                return None  # would be a key violation; not what this test is about
            state[op[1]] = op[2]
            return f"INSERT INTO {table} VALUES (%s, %s)", (op[1], op[2])
        if op[0] == "upd":
            if op[1] in state:
                state[op[1]] = op[2]
            return f"UPDATE {table} SET v = %s WHERE k = %s", (op[2], op[1])
        state.pop(op[1], None)
        return f"DELETE FROM {table} WHERE k = %s", (op[1],)

    @staticmethod
    def contents(cur: Any, table: str) -> dict:
        return dict(_rows(cur, f"SELECT k, v FROM {table}"))

    @staticmethod
    def merge(base: dict, ours: dict, theirs: dict) -> tuple[dict, dict]:
        """(merged with conflicts left as ours, {key_json: (base, ours, theirs)})."""
        out, conflicts = {}, {}
        for k in sorted(set(base) | set(ours) | set(theirs)):
            b, o, t = (s.get(k, _ABSENT) for s in (base, ours, theirs))
            m, c = merge_value(b, o, t)
            if c:
                conflicts[_key({"k": k})] = (b, o, t)
            if m is not _ABSENT:
                out[k] = m
        return out, conflicts

    @staticmethod
    def resolution(draw: Any, key: str, side: tuple) -> tuple[str, Any]:
        """(argument for branch_resolve, the value that key then has: _ABSENT = no row)."""
        choice = draw(st.sampled_from(["main", "branch", "values"]))
        if choice == "main":
            return "main", side[1]
        if choice == "branch":
            return "branch", side[2]
        v = draw(st.integers(100, 103))
        return json.dumps({"v": v}), v

    @staticmethod
    def settle(state: dict, key: str, value: Any) -> None:
        k = json.loads(key)["k"]
        state.pop(k, None)
        if value is not _ABSENT:
            state[k] = value

    @staticmethod
    def conflict_row(key: str, side: tuple) -> tuple:
        k = json.loads(key)["k"]

        def row(x: Any) -> Any:
            return None if x is _ABSENT else {"k": k, "v": x}

        return key, row(side[0]), row(side[1]), row(side[2])


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
                conflicts[_key({"a": val[0], "b": val[1]})] = (b, o, t)
            if m:
                out[val] = m
        return out, conflicts

    @staticmethod
    def resolution(draw: Any, key: str, side: tuple) -> tuple[str, Any]:
        choice = draw(st.sampled_from(["main", "branch", "count"]))
        if choice == "main":
            return "main", side[1]
        if choice == "branch":
            return "branch", side[2]
        n = draw(st.integers(0, 3))
        return json.dumps({"count": n}), n

    @staticmethod
    def settle(state: Counter, key: str, value: int) -> None:
        kv = json.loads(key)
        val = (kv["a"], kv["b"])
        state.pop(val, None)
        if value:
            state[val] = value

    @staticmethod
    def conflict_row(key: str, side: tuple) -> tuple:
        return key, *({"count": n} for n in side)


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT = _Absent()


def _key(d: dict) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


# ----------------------------------------------------------------------------- the test
def run_scenario(server: RunningServer, model: Any, data: st.DataObject) -> None:  # noqa: C901 - one branch per operation the model draws
    n = next(_ids)
    table = f"p{n}"
    initial = data.draw(model.initial(), label="initial")
    n_branches = data.draw(st.integers(1, 3), label="branches")
    # Branch 1 forks from main; a later branch forks from main or from an earlier branch.
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

        forked = 0
        for pos, step in enumerate([*steps, None]):
            while forked < n_branches and fork_at[forked] <= pos:
                forked += 1
                fork(forked)
            if step is None:
                break
            target, op = step
            if target not in states:
                target = 0
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
            assert sorted((r[0], r[1], *map(_load, r[2:5])) for r in got) == sorted(
                (table, *model.conflict_row(k, s)) for k, s in conflicts.items()
            )
            before = model.contents(cursor(p), table)
            expected = merged
            if strategy == "branch_wins":
                for k, s in conflicts.items():
                    model.settle(expected, k, s[2])
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
