"""The branch engine on a temp DuckDB file, driven step by step without a session:
prepare (copy-on-write) -> execute -> finish, snapshots, discard, recovery."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from hati import pipeline
from hati.app import App
from hati.branching import layout, store
from hati.branching.catalog import Branch
from hati.branching.engine import BranchEngine, EngineSession
from hati.errors import (
    DependentObjectsStillExist,
    DuplicateObject,
    DuplicateTable,
    InvalidParameter,
    UndefinedObject,
    UndefinedTable,
)
from hati.pg.frontend import FrontEnd
from hati.pg.guard import Policy
from hati.storage.duckdb_backend import transaction


@pytest.fixture
def engine(app: App) -> BranchEngine:
    return app.engine


@pytest.fixture
def cur(app: App) -> Iterator[duckdb.DuckDBPyConnection]:
    c = app.db.cursor()
    c.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    c.execute("INSERT INTO t SELECT range, range FROM range(10)")
    c.execute("CREATE TABLE bag (x INTEGER)")  # no key: copied whole on a write
    c.execute("INSERT INTO bag VALUES (1), (1), (2)")
    yield c
    c.close()


FE = FrontEnd(Policy(reserved_schema=layout.is_internal_schema))


def in_branch(es: EngineSession, cur: Any, b: Branch, sql: str) -> list[tuple[Any, ...]]:
    """One statement in ``b`` in its own transaction, through the pipeline's steps."""
    stmt = pipeline.compile_one(FE, sql)
    a = stmt.analysis
    committed = False
    try:
        with transaction(cur):
            plan = es.prepare(b, a, stmt.write)
            assert plan is not None
            stmt.relocate_target(plan.target_schema)
            ok = False
            try:
                res = pipeline.execute(cur, stmt).buffer()
                ok = True
            finally:
                es.finish(b, a, plan, ok)
        committed = True
    finally:
        es.end(committed)
    return res.tuples()


def tables_in(cur: Any, schema: str) -> set[str]:
    rows = cur.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE schema_name = ?",
        [schema, schema],
    ).fetchall()
    return {r[0] for r in rows}


def test_fork_copies_nothing_and_a_keyed_write_keeps_a_row_delta(engine, cur) -> None:
    b = engine.create(cur, "b", agent="unit")
    assert tables_in(cur, b.schema) == set()
    es = engine.open_session(cur)
    es.route(b)
    in_branch(es, cur, b, "UPDATE t SET v = 100 WHERE k = 3")
    dschema = layout.delta_schema(b.id)
    assert cur.execute(f'SELECT * FROM "{dschema}".t').fetchall() == [(3, 100)]
    assert tables_in(cur, b.schema) == {"t"}  # the overlay view, not a copy
    assert cur.execute("SELECT v FROM t WHERE k = 3").fetchall() == [(100,)]
    es.route(None)
    assert cur.execute("SELECT v FROM t WHERE k = 3").fetchall() == [(3,)]
    assert engine.diff(cur, "b") == [("t", "update", '{"k":3}', '{"k":3,"v":3}', '{"k":3,"v":100}')]
    assert [(i.name, i.parent, i.rows_changed) for i in engine.list_branches(cur)] == [
        ("b", "main", 1)
    ]


def test_a_keyless_write_copies_its_table_and_ddl_is_recorded(engine, cur) -> None:
    b = engine.create(cur, "b")
    es = engine.open_session(cur)
    es.route(b)
    in_branch(es, cur, b, "DELETE FROM bag WHERE x = 2")
    assert cur.execute(f'SELECT count(*) FROM "{b.schema}".bag').fetchall() == [(2,)]
    in_branch(es, cur, b, "DROP TABLE t")
    assert store.dropped_tables(cur, b.id) == {"t"}
    with pytest.raises(UndefinedTable):
        in_branch(es, cur, b, "SELECT * FROM t")
    in_branch(es, cur, b, "CREATE TABLE t (a TEXT)")
    assert store.dropped_tables(cur, b.id) == set()
    with pytest.raises(DuplicateTable):
        in_branch(es, cur, b, "CREATE TABLE bag (y INT)")
    es.route(None)
    assert cur.execute("SELECT count(*) FROM t").fetchall() == [(10,)]


def test_a_branch_keeps_reading_its_fork_after_main_writes(engine, cur) -> None:
    b = engine.create(cur, "b")
    es = engine.open_session(cur)
    main = pipeline.compile_one(FE, "UPDATE t SET v = -1 WHERE k < 5")
    with es.writing(in_block=False):
        es.before_main_write(main)
        pipeline.execute(cur, main)
    # Main's plain UPDATE kept just the rows it changed: an undo snapshot.
    (snap,) = engine.catalog.snapshots[(0, "t")]
    assert snap.table in engine.space.undo
    es.route(b)
    assert in_branch(es, cur, b, "SELECT count(*) FROM t WHERE v < 0") == [(0,)]
    es.route(None)
    assert cur.execute("SELECT count(*) FROM t WHERE v < 0").fetchall() == [(5,)]
    engine.discard(cur, "b")
    assert engine.collect_garbage(cur) == 0  # discard collected the snapshot already
    assert tables_in(cur, layout.SNAP) == set()


def test_create_and_discard_check_their_arguments(engine, cur) -> None:
    with pytest.raises(InvalidParameter):
        engine.create(cur, "main")
    with pytest.raises(InvalidParameter):
        engine.create(cur, "x", ttl_seconds=0)
    engine.create(cur, "a")
    with pytest.raises(DuplicateObject):
        engine.create(cur, "a")
    engine.create(cur, "a.child", parent="a")
    with pytest.raises(DependentObjectsStillExist):
        engine.discard(cur, "a")
    engine.discard(cur, "a.child")
    engine.discard(cur, "a")
    with pytest.raises(UndefinedObject):
        engine.branch("a")


def test_a_fork_survives_a_restart_through_the_journal(tmp_path) -> None:
    app = App.open(tmp_path / "d")
    cur = app.db.cursor()
    b = app.engine.create(cur, "kept")
    cur.close()
    app.close()
    again = App.open(tmp_path / "d")
    try:
        assert again.engine.branch("kept").id == b.id
        assert again.engine.branch("kept").schema == layout.branch_schema(b.id)
    finally:
        again.close()


def test_recovery_drops_orphans_and_restores_missing_schemas(tmp_path) -> None:
    app = App.open(tmp_path / "d")
    cur = app.db.cursor()
    cur.execute("CREATE TABLE t (k INT PRIMARY KEY, v INT)")
    b = app.engine.create(cur, "b")
    es = app.engine.open_session(cur)
    es.route(b)
    in_branch(es, cur, b, "INSERT INTO t VALUES (1, 1)")  # records the branch's row
    es.route(None)
    orphan = layout.branch_schema(999_999)
    cur.execute(f'CREATE SCHEMA "{orphan}"; CREATE TABLE "{orphan}".x (a INT)')
    cur.execute(f'DROP SCHEMA "{b.schema}" CASCADE')
    cur.close()
    app.close()
    again = App.open(tmp_path / "d")
    try:
        assert sorted(again.recovered) == [
            f"dropped orphan schema {orphan}",
            f"re-created missing schema {b.schema}",
        ]
    finally:
        again.close()
