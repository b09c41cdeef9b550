"""Rows/s of result encoding: in process (DuckDB cursor to DataRow bytes) and over the wire.

    python -m benchmarks.encode_rows                      # in process, 1 M rows
    python -m benchmarks.encode_rows --wire               # also through drivers, hati vs PostgreSQL
    python -m benchmarks.encode_rows --wire --before-src /path/to/older/src

In process, the same 1 M rows of (int8, float8, text, timestamp, numeric) are encoded two
ways, CHUNK_ROWS at a time as the server sends them: the per-value path (``fetchmany``
tuples, one encoder call per value, one DataRow at a time) and the column-wise path
(Arrow batches from the cursor, ``hati.wire.datarows``). Over the wire, a client fetches
the whole table with psycopg2 and psycopg 3 (text and binary) from a hati server started
as a child process and from PostgreSQL started from the system binaries.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb

COLUMNS = "int8, float8, text, timestamp, numeric(12,2)"
DUCK_TABLE = """
CREATE TABLE t AS SELECT i::BIGINT AS a, i * 1.5::DOUBLE AS b, 'row number ' || i AS c,
    TIMESTAMP '2024-01-01' + to_microseconds(i * 1000003) AS d, (i / 7)::DECIMAL(12,2) AS e
FROM range({n}) r(i)
"""
PG_TABLE = """
CREATE TABLE t AS SELECT i::int8 AS a, i * 1.5::float8 AS b, 'row number ' || i AS c,
    timestamp '2024-01-01' + i::int8 * 1000003 * interval '1 microsecond' AS d,
    (i / 7.0)::numeric(12,2) AS e
FROM generate_series(0, {last}) i
"""


def _best(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t0)
    return best, n


def in_process(rows: int, repeat: int) -> dict[str, float]:
    from hati.results import cursor_result
    from hati.server.connection import CHUNK_ROWS
    from hati.wire import codec, datarows
    from hati.wire import types as pgtypes

    con = duckdb.connect(config={"arrow_lossless_conversion": True})
    con.execute(DUCK_TABLE.format(n=rows))
    cur = con.cursor()

    def columns() -> list[tuple[str, int]]:
        return [(d[0], pgtypes.oid_for(d[1])) for d in cur.description]

    def per_value() -> int:
        cur.execute("SELECT * FROM t")
        cols = columns()
        encoders = [pgtypes.column_encoder(oid, 0) for _, oid in cols]
        total = 0
        while True:
            chunk = cur.fetchmany(CHUNK_ROWS)
            if not chunk:
                return total
            b"".join(
                codec.encode_data_row(
                    [None if v is None else e(v) for e, v in zip(encoders, row, strict=False)]
                )
                for row in chunk
            )
            total += len(chunk)

    def column_wise(fmt: int) -> Callable[[], int]:
        def run() -> int:
            cur.execute("SELECT * FROM t")
            res = cursor_result("SELECT", columns(), cur)
            total = 0
            while True:
                chunk = res.fetch(CHUNK_ROWS)
                if not len(chunk):
                    return total
                datarows.encode_rows(res.columns or [], (fmt,), chunk)
                total += len(chunk)

        return run

    out = {}
    for name, fn in (
        ("per-value text (before)", per_value),
        ("column-wise text", column_wise(0)),
        ("column-wise binary", column_wise(1)),
    ):
        secs, n = _best(fn, repeat)
        out[name] = n / secs
        print(f"  {name:28s} {n / secs:>12,.0f} rows/s  ({secs:.2f} s for {n:,} rows)")
    con.close()
    return out


def _fetchers(host: str, port: int, user: str, db: str) -> dict[str, Callable[[], int]]:
    import psycopg
    import psycopg2

    def pg2() -> int:
        with contextlib.closing(psycopg2.connect(host=host, port=port, user=user, dbname=db)) as c:
            cur = c.cursor()
            cur.execute("SELECT * FROM t")
            return len(cur.fetchall())

    def pg3(binary: bool) -> Callable[[], int]:
        def run() -> int:
            dsn = f"host={host} port={port} user={user} dbname={db}"
            with psycopg.connect(dsn, autocommit=True) as c:
                cur = c.cursor(binary=binary)
                cur.execute("SELECT * FROM t")
                return len(cur.fetchall())

        return run

    return {"psycopg2": pg2, "psycopg 3 text": pg3(False), "psycopg 3 binary": pg3(True)}


@contextlib.contextmanager
def _hati(root: Path, rows: int, src: Path | None) -> Iterator[tuple[str, int, str, str]]:
    from benchmarks.systems.hati import DBNAME, USER, HatiServer

    old = os.environ.get("HATI_BENCH_SRC")
    if src is not None:
        os.environ["HATI_BENCH_SRC"] = str(src)
    server = HatiServer(root)
    try:
        server.start()
        c = server.connect()
        c.run(DUCK_TABLE.format(n=rows))
        c.close()
        yield "127.0.0.1", server.port, USER, DBNAME
    finally:
        server.stop()
        if src is not None:
            if old is None:
                os.environ.pop("HATI_BENCH_SRC", None)
            else:
                os.environ["HATI_BENCH_SRC"] = old


@contextlib.contextmanager
def _postgres(root: Path, rows: int) -> Iterator[tuple[str, int, str, str]]:
    from benchmarks.systems.postgres import PgCluster

    cluster = PgCluster(root / "pg")
    try:
        cluster.start()
        c = cluster.connect("postgres")
        c.run(PG_TABLE.format(last=rows - 1))
        c.close()
        yield "127.0.0.1", cluster.port, cluster.user, "postgres"
    finally:
        cluster.stop()


def over_the_wire(rows: int, repeat: int, before: Path | None) -> dict[str, dict[str, float]]:
    from benchmarks.systems.postgres import pg_unavailable

    systems: list[tuple[str, Any]] = [("hati", lambda r: _hati(r, rows, None))]
    if before is not None:
        systems.insert(0, ("hati (before)", lambda r: _hati(r, rows, before)))
    if pg_unavailable() is None:
        systems.append(("PostgreSQL", lambda r: _postgres(r, rows)))
    out: dict[str, dict[str, float]] = {}
    for name, start in systems:
        root = Path(tempfile.mkdtemp(prefix="hati-encode-"))
        os.chmod(root, 0o755)
        try:
            with start(root) as where:
                out[name] = {}
                for driver, fetch in _fetchers(*where).items():
                    secs, n = _best(fetch, repeat)
                    assert n == rows, f"{name} {driver}: {n} rows"
                    out[name][driver] = n / secs
                    print(f"  {name:14s} {driver:17s} {n / secs:>10,.0f} rows/s  ({secs:.2f} s)")
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--wire", action="store_true", help="also fetch through drivers")
    ap.add_argument("--before-src", type=Path, help="a src/ directory to compare with (wire)")
    args = ap.parse_args()
    print(f"in process, {args.rows:,} rows of ({COLUMNS}):")
    in_process(args.rows, args.repeat)
    if args.wire:
        print(f"over the wire, SELECT * of {args.rows:,} rows ({COLUMNS}), fetchall():")
        over_the_wire(args.rows, args.repeat, args.before_src)


if __name__ == "__main__":
    main()
