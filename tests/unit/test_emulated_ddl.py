"""DDL cut into steps (translate/ddl.py) and run on a real DuckDB file (pg/emulate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pglast import parse_sql

from hati.errors import FeatureNotSupported, UndefinedObject, UndefinedTable
from hati.pg import emulate, guard, install, rebuild
from hati.pg.frontend import FrontEnd
from hati.storage.duckdb_backend import Database


def _steps(sql: str) -> tuple[object, ...]:
    fe = FrontEnd(guard.Policy(reserved_schema=lambda s: False))
    return fe.compile(sql).template.steps


def test_which_statements_are_cut() -> None:
    assert len(_steps("DROP TABLE a, b, c")) == 1  # one DropTables step, ordered at run time
    assert len(_steps("TRUNCATE a, b RESTART IDENTITY")) == 4
    assert len(_steps("ALTER TABLE t ADD COLUMN x int, DROP COLUMN y")) == 2
    # ADD COLUMN reaches the table's children too (alter_checks.py): a step of its own
    assert [type(s).__name__ for s in _steps("ALTER TABLE t ADD COLUMN x int")] == ["CheckedAction"]
    assert _steps("ALTER TABLE t ALTER COLUMN x DROP DEFAULT") == ()
    assert _steps("DROP TABLE a") == ()
    assert _steps("TRUNCATE a") == ()
    with pytest.raises(FeatureNotSupported):
        _steps("CREATE UNIQUE INDEX i ON t (a) WHERE b > 0")
    steps = _steps("CREATE TABLE c (p int REFERENCES p (id) ON DELETE CASCADE)")
    assert [type(s).__name__ for s in steps] == ["CreateStmt", "Define"]  # kept by hati
    assert "REFERENCES" not in emulate.text(steps[0])


def test_default_and_duckdb_names() -> None:
    create = parse_sql(
        "CREATE TABLE t (a int PRIMARY KEY, b int, c int, UNIQUE (b, c), CHECK (c > b), "
        "CHECK (b > 0), FOREIGN KEY (b) REFERENCES p (id))"
    )[0].stmt
    names = [
        (d, rebuild.duck_name(create, c, col.colname if col else None))
        for d, c, col in rebuild.constraints(create)
    ]
    assert names == [
        ("t_pkey", "t_a_pkey"),
        ("t_b_c_key", "t_b_c_key"),
        ("t_check", "t_b_c_check"),
        ("t_b_check", "t_b_check"),
        ("t_b_fkey", "t_b_id_fkey"),
    ]


def _run(db: Database, fe: FrontEnd, sql: str) -> None:
    cur = db.cursor()
    compiled = fe.compile(sql)
    for pre in compiled.template.pre:
        cur.execute(pre)
    if compiled.template.steps:
        emulate.run_steps(cur, compiled.template.steps, lambda n: emulate.text(n))
    else:
        cur.execute(compiled.sql())


def test_rebuild_keeps_rows_defaults_indexes_and_is_all_or_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "h.duckdb")
    install.install(db.cursor())
    fe = FrontEnd(guard.Policy(reserved_schema=lambda s: False))
    _run(db, fe, "CREATE TABLE p (id int PRIMARY KEY)")
    _run(db, fe, "CREATE TABLE t (id serial, v int DEFAULT 7, pid int REFERENCES p (id))")
    _run(db, fe, "CREATE INDEX t_v ON t (v)")
    _run(db, fe, "INSERT INTO p VALUES (1)")
    _run(db, fe, "INSERT INTO t (pid) VALUES (1), (1)")
    _run(db, fe, "ALTER TABLE t ADD PRIMARY KEY (id), ADD CONSTRAINT t_v_pos CHECK (v > 0)")
    cur = db.cursor()
    assert cur.execute("SELECT id, v, pid FROM t ORDER BY id").fetchall() == [(1, 7, 1), (2, 7, 1)]
    cur.execute("INSERT INTO t (pid) VALUES (1)")  # the sequence default came along
    assert cur.execute("SELECT max(id) FROM t").fetchall() == [(3,)]
    assert cur.execute("SELECT index_name FROM duckdb_indexes()").fetchall() == [("t_v",)]
    before = cur.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 't'").fetchall()
    with pytest.raises(UndefinedObject):
        _run(db, fe, "ALTER TABLE t DROP CONSTRAINT t_v_pos, DROP CONSTRAINT nope")
    after = cur.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 't'").fetchall()
    assert after == before
    _run(db, fe, "ALTER TABLE p ADD COLUMN note text")  # p is referenced: DuckDB's own
    _run(db, fe, "UPDATE p SET note = 'n'")
    _run(db, fe, "ALTER TABLE p ALTER COLUMN note SET NOT NULL")  # a rebuild with its child
    assert cur.execute("SELECT count(*) FROM t").fetchall() == [(3,)]
    db.close()


def test_index_rename_moves_the_index_and_constraint_names(tmp_path: Path) -> None:
    db = Database(tmp_path / "h.duckdb")
    install.install(db.cursor())
    fe = FrontEnd(guard.Policy(reserved_schema=lambda s: False))
    cur = db.cursor()
    _run(db, fe, "CREATE TABLE t (a int PRIMARY KEY, b int)")
    _run(db, fe, "CREATE INDEX t_b ON t (b)")
    _run(db, fe, "ALTER INDEX t_b RENAME TO t_b2")
    _run(db, fe, "ALTER TABLE t RENAME TO u")  # DuckDB renames no table with an index
    assert cur.execute("SELECT index_name, table_name FROM duckdb_indexes()").fetchall() == [
        ("t_b2", "u")
    ]
    _run(db, fe, "ALTER INDEX u_pkey RENAME TO u_key")  # the constraint's index
    _run(db, fe, "ALTER TABLE u DROP CONSTRAINT u_key")
    assert cur.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'u' "
        "AND constraint_type = 'PRIMARY KEY'"
    ).fetchall() == [(0,)]
    with pytest.raises(UndefinedTable):
        _run(db, fe, "ALTER INDEX nope RENAME TO x")
    _run(db, fe, "ALTER INDEX IF EXISTS nope RENAME TO x")
    db.close()
