"""The one-query catalog read a branch's first write uses, on a real DuckDB file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hati.storage.duckdb_backend import Database


@pytest.fixture
def db(tmp_path: Path):
    d = Database(tmp_path / "t.duckdb")
    yield d
    d.close()


def test_keys_types_and_unique_indexes(db: Database) -> None:
    cur = db.cursor()
    cur.execute('CREATE TABLE t(a INTEGER, "B" VARCHAR, v DOUBLE, PRIMARY KEY(a, "B"))')
    cur.execute("CREATE TABLE u(k BIGINT PRIMARY KEY, v VARCHAR)")
    cur.execute("CREATE UNIQUE INDEX u_v ON u(v)")
    cur.execute("CREATE TABLE n(x INTEGER)")
    t = db.table_info(cur, "main", "t")
    assert t.primary_key == ["a", "B"]  # column order
    assert t.types == {"a": "INTEGER", "B": "VARCHAR", "v": "DOUBLE"}
    assert not t.unique_index
    assert t.ddl.startswith("CREATE TABLE t(")
    u = db.table_info(cur, "main", "u")
    assert (u.primary_key, u.unique_index) == (["k"], True)
    n = db.table_info(cur, "main", "n")
    assert (n.primary_key, n.unique_index) == ([], False)
    with pytest.raises(LookupError):
        db.table_info(cur, "main", "missing")


def test_key_in_column_order_and_odd_names(db: Database) -> None:
    cur = db.cursor()
    cur.execute('CREATE SCHEMA "we.ird"')
    cur.execute('CREATE TABLE "we.ird"."T""x"(b VARCHAR, a INTEGER, PRIMARY KEY(a, b))')
    info = db.table_info(cur, "we.ird", 'T"x')
    assert info.primary_key == ["b", "a"]
    assert db.column_names(cur, "we.ird", 'T"x') == ["b", "a"]
