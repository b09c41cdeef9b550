"""`hati compact`: a stopped data directory gives a discarded branch's bytes back.

Real servers, real files: the file is measured after each clean stop (the server
checkpoints on the way out), so sizes are of the checkpointed file alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import RunningServer, internal, start_server
from hati.cli import main
from hati.compact import CompactError, compact

ROWS = 200_000


def _q(server: RunningServer, sql: str) -> list[tuple[Any, ...]]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _in(server: RunningServer, branch: str, sql: str) -> list[tuple[Any, ...]]:
    return _q(server, f"SELECT branch_query('{branch}', '{sql.replace(chr(39), chr(39) * 2)}')")


def _stopped_size(server: RunningServer) -> int:
    server.thread.stop()
    db = server.data_dir / "hati.duckdb"
    assert not db.with_name("hati.duckdb.wal").exists()
    return db.stat().st_size


def _compact(data: Path) -> str:
    res = CliRunner().invoke(main, ["compact", "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    return res.output


def test_compact_gives_back_a_discarded_branch_and_keeps_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    s = start_server(data)
    _q(s, "CREATE TABLE items (id INTEGER PRIMARY KEY, v INTEGER, name VARCHAR)")
    _q(s, f"INSERT INTO items SELECT i, i % 97, 'item ' || i FROM range({ROWS}) t(i)")
    _q(s, "CREATE TABLE events (ts BIGINT, payload VARCHAR)")  # no key: full copies
    _q(s, f"INSERT INTO events SELECT i, 'event payload ' || i FROM range({ROWS}) t(i)")
    _q(s, "CREATE INDEX items_v ON items (v)")
    _q(s, "CREATE VIEW rare AS SELECT id FROM items WHERE v = 96")
    _q(s, "CREATE SEQUENCE tickets START 100")
    assert _q(s, "SELECT nextval('tickets')") == [(100,)]
    _q(s, "CREATE VIEW twice AS SELECT 2 * 21 AS v")
    main_sum = _q(s, "SELECT sum(v) FROM items")[0][0]
    for name in ("keep-delta", "keep-full", "big"):
        _q(s, f"SELECT branch_create('{name}')")
    _in(s, "keep-delta", "UPDATE items SET v = -1 WHERE id = 7")  # a row delta
    _in(s, "keep-full", "INSERT INTO events VALUES (-1, 'branch only')")  # a full copy
    without_big = _stopped_size(s)

    s = start_server(data)
    _in(s, "big", "ALTER TABLE items ADD COLUMN note VARCHAR")  # full copies, all rows
    _in(s, "big", "UPDATE items SET note = 'rewritten ' || id")
    _in(s, "big", "UPDATE events SET payload = payload || ' rewritten in big'")
    with_big = _stopped_size(s)
    big_bytes = with_big - without_big
    assert big_bytes > 5_000_000, (without_big, with_big)

    s = start_server(data)
    _q(s, "SELECT branch_discard('big')")
    _q(s, "SELECT branch_create('idle')")  # journal-only: no row until a fold
    _q(s, "SELECT branch_create('idle-child', 'keep-delta')")
    after_discard = _stopped_size(s)
    assert "idle" in (data / "hati.duckdb.branches").read_text()

    out = _compact(data)
    after_compact = (data / "hati.duckdb").stat().st_size
    assert "given back" in out and "->" in out
    # DuckDB may cut free blocks off the file's end at discard, never the ones inside;
    # after compaction the file is back to (about) its size before the branch wrote.
    sizes = (without_big, with_big, after_discard, after_compact)
    assert after_compact < after_discard, sizes
    assert with_big - after_compact >= 0.8 * big_bytes, sizes
    assert sorted(p.name for p in data.iterdir()) == ["hati.duckdb", "hati.duckdb.branches"]

    s = start_server(data)
    try:
        assert {r[0] for r in _q(s, "SELECT * FROM branch_list()")} == {
            "keep-delta",
            "keep-full",
            "idle",
            "idle-child",
        }
        # main is intact, with its index, view, sequence and macro
        assert _q(s, "SELECT count(*), sum(v) FROM items") == [(ROWS, main_sum)]
        assert _q(s, "SELECT v FROM items WHERE id = 7") == [(7,)]
        assert _q(s, "SELECT count(*) FROM events") == [(ROWS,)]
        assert _q(s, "SELECT count(*) FROM rare") == [(ROWS // 97,)]
        assert _q(s, "SELECT nextval('tickets'), (SELECT v FROM twice)") == [(101, 42)]
        assert internal(
            s, "SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'items_v'"
        ) == [(1,)]
        # every remaining branch reads its own rows
        assert _in(s, "keep-delta", "SELECT v FROM items WHERE id = 7") == [(-1,)]
        assert _in(s, "keep-delta", "SELECT count(*), sum(v) FROM items") == [(ROWS, main_sum - 8)]
        assert _in(s, "keep-full", "SELECT count(*) FROM events") == [(ROWS + 1,)]
        assert _in(s, "keep-full", "SELECT payload FROM events WHERE ts = -1") == [("branch only",)]
        assert _in(s, "idle", "SELECT v FROM items WHERE id = 7") == [(7,)]
        assert _in(s, "idle-child", "SELECT v FROM items WHERE id = 7") == [(-1,)]
        # branches keep working: write, merge, fork again
        _in(s, "idle", "UPDATE items SET v = 500 WHERE id = 8")
        assert _in(s, "idle", "SELECT v FROM items WHERE id = 8") == [(500,)]
        _q(s, "SELECT branch_discard('idle-child')")
        merged = _q(s, "SELECT branch_merge('keep-delta')")
        assert merged[0][2:] == (0, 1, 0, 0, "merged"), merged
        assert _q(s, "SELECT v FROM items WHERE id = 7") == [(-1,)]
        assert _q(s, "SELECT count(*) FROM items") == [(ROWS,)]
        _q(s, "SELECT branch_create('after')")
        _in(s, "after", "INSERT INTO items VALUES (-5, 1, 'new')")
        assert _in(s, "after", "SELECT count(*) FROM items") == [(ROWS + 1,)]
        assert _q(s, "SELECT count(*) FROM items") == [(ROWS,)]
    finally:
        s.thread.stop()


def test_compact_of_a_fresh_dir(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    start_server(data).thread.stop()
    # what a compaction killed midway leaves: a partial copy, perhaps with its WAL
    (data / "hati.duckdb.compact").write_bytes(b"partial copy")
    (data / "hati.duckdb.compact.wal").write_bytes(b"partial wal")
    assert "given back" in _compact(data)
    assert not (data / "hati.duckdb.compact").exists()
    assert not (data / "hati.duckdb.compact.wal").exists()
    s = start_server(data)
    try:
        _q(s, "CREATE TABLE t (id INTEGER PRIMARY KEY)")
        _q(s, "SELECT branch_create('b')")
        _in(s, "b", "INSERT INTO t VALUES (1)")
        assert _in(s, "b", "SELECT count(*) FROM t") == [(1,)]
        assert _q(s, "SELECT count(*) FROM t") == [(0,)]
    finally:
        s.thread.stop()


def _hati(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hati", *args], capture_output=True, text=True, timeout=120
    )


def test_compact_runs_online_while_the_server_runs(tmp_path: Path) -> None:
    data = tmp_path / "running"
    started = _hati("init", "--dir", str(data), "--port", "0")
    assert started.returncode == 0, started.stderr
    try:
        inode = (data / "hati.duckdb").stat().st_ino  # a replaced file is a new one
        # the file itself is the server's: the offline rewrite is refused by its lock
        with pytest.raises(CompactError, match="in use") as refused:
            compact(data / "hati.duckdb")
        assert refused.value.hint and "hati stop" in refused.value.hint
        assert (data / "hati.duckdb").stat().st_ino == inode
        assert not (data / "hati.duckdb.compact").exists()
        r = _hati("compact", "--data-dir", str(data))  # the command asks the server
        assert r.returncode == 0, r.stderr
        assert "online" in r.stdout and "clients waited" in r.stdout, r.stdout
        assert (data / "hati.duckdb").stat().st_ino != inode
        assert not (data / "hati.duckdb.compact").exists()
    finally:
        assert _hati("stop", "--dir", str(data)).returncode == 0
    r = _hati("compact", "--dir", str(data))
    assert r.returncode == 0, r.stderr
    assert "given back" in r.stdout
