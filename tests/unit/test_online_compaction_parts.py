"""The parts online compaction stands on: the statement gate, and a copy that knows
whether the database changed after it began (hati.gate, hati.storage.rewrite)."""

from __future__ import annotations

import threading
from pathlib import Path

from hati.gate import Pass, StatementGate
from hati.storage.duckdb_backend import Database
from hati.storage.rewrite import Copy, check_alone, scratch_path


def test_the_gate_waits_for_those_inside_and_holds_new_ones() -> None:
    gate = StatementGate()
    inside = Pass(gate)
    inside.hold()
    assert not gate.close(0.05)  # someone inside: bounded wait, gate open again
    entered = threading.Event()

    def newcomer() -> None:
        with gate.passed():
            entered.set()

    closing = threading.Thread(target=lambda: gate.close(30))
    closing.start()
    inside.release()  # the last one out lets the closer in
    closing.join(30)
    assert not closing.is_alive() and gate.inside == 0
    late = threading.Thread(target=newcomer)
    late.start()
    assert not entered.wait(0.1)  # held at the closed gate
    gate.open()
    late.join(30)
    assert entered.is_set()


def test_a_pass_steps_outside_and_back() -> None:
    gate = StatementGate()
    p = Pass(gate)
    p.hold()
    with p.outside():
        assert gate.inside == 0 and gate.close(0) is True
        gate.open()
    assert gate.inside == 1 and p.held


def _db(tmp_path: Path) -> Database:
    path = tmp_path / "hati.duckdb"
    db = Database(path, scratch=scratch_path(path))
    cur = db.cursor()
    cur.execute("CREATE TABLE t AS SELECT range AS id FROM range(10000)")
    cur.execute("CREATE VIEW v AS SELECT count(*) FROM t")
    cur.execute("CHECKPOINT")
    cur.close()
    return db


def test_a_copy_knows_whether_anything_was_committed_after_it_began(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        copy = Copy(db, scratch_path(db.path))
        cur = db.cursor()
        cur.execute("SELECT count(*) FROM t").fetchall()  # reads change nothing
        assert copy.unchanged()
        assert check_alone(scratch_path(db.path)) > 0
        cur.execute("INSERT INTO t VALUES (-1)")  # one small commit
        assert not copy.unchanged()
        copy = Copy(db, scratch_path(db.path))
        cur.execute("CHECKPOINT")  # a checkpoint rewrites the file: also a change
        assert not copy.unchanged()
        cur.close()
    finally:
        db.close()


def test_the_sandbox_lets_the_database_write_its_copy_and_nothing_else(tmp_path: Path) -> None:
    db = _db(tmp_path)
    try:
        cur = db.cursor()
        try:
            cur.execute(f"ATTACH '{tmp_path / 'elsewhere.duckdb'}' AS other")
        except Exception as exc:  # noqa: BLE001 - the refusal is the point
            assert "Permission" in str(exc) or "disabled" in str(exc), exc
        else:
            raise AssertionError("the sandbox let the database attach another file")
        cur.close()
        Copy(db, scratch_path(db.path))
        assert scratch_path(db.path).exists()
    finally:
        db.close()
