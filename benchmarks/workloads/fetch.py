"""Rows per second fetching a whole table into Python, per driver.

``SELECT id, v, s FROM t`` of ``fetch_rows`` rows, every row made a Python tuple (or
asyncpg Record): psycopg2, psycopg 3 and asyncpg over the wire to hati and PostgreSQL,
``fetchall()`` of an in-process DuckDB cursor. Two data-frame readers too: pandas
``read_sql`` over a SQLAlchemy (psycopg2) connection, and connectorx ``read_sql``
(its default binary ``COPY ... TO STDOUT`` into a pandas DataFrame, from Rust). Each
driver connects (untimed), warms up on 1000 rows, then fetches the table
``fetch_reps`` times.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
from typing import Any, Protocol

from benchmarks.core import human_rows, perf, summarize
from benchmarks.workloads.base import Ctx, big_main, short_error

KEY = "fetch"
TITLE = "Fetch of a whole table: rows/s per driver"
SYSTEMS = ("hati_psycopg2", "duckdb", "pg_template")
ELSEWHERE = "the drivers are compared on hati (psycopg2's server), PostgreSQL and DuckDB"
DRIVERS = {  # -> the module it needs
    "psycopg2": "psycopg2",
    "psycopg3": "psycopg",
    "asyncpg": "asyncpg",
    "pandas": "pandas",
    "connectorx": "connectorx",
}


class Fetcher(Protocol):
    def fetch(self, sql: str) -> int: ...

    def close(self) -> None: ...


class _DbApi:
    """psycopg2 or psycopg 3: ``cursor.execute`` + ``fetchall``."""

    def __init__(self, module: str, wire: dict[str, str]) -> None:
        mod = importlib.import_module(module)
        self.conn = mod.connect(**wire)
        self.conn.autocommit = True

    def fetch(self, sql: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            return len(cur.fetchall())

    def close(self) -> None:
        self.conn.close()


class _Asyncpg:
    """asyncpg on an event loop of its own (binary results, prepared statements)."""

    def __init__(self, wire: dict[str, str]) -> None:
        import asyncpg

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(
            asyncpg.connect(
                host=wire["host"],
                port=int(wire["port"]),
                user=wire["user"],
                database=wire["dbname"],
            )
        )

    def fetch(self, sql: str) -> int:
        return len(self.loop.run_until_complete(self.conn.fetch(sql)))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def _url(scheme: str, wire: dict[str, str]) -> str:
    return f"{scheme}://{wire['user']}@{wire['host']}:{wire['port']}/{wire['dbname']}"


class _Pandas:
    """``pandas.read_sql`` on a SQLAlchemy connection (psycopg2 underneath)."""

    def __init__(self, wire: dict[str, str]) -> None:
        import pandas
        import sqlalchemy

        self.read_sql = pandas.read_sql
        self.engine = sqlalchemy.create_engine(_url("postgresql+psycopg2", wire))
        self.conn = self.engine.connect()

    def fetch(self, sql: str) -> int:
        return len(self.read_sql(sql, self.conn))

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


class _Connectorx:
    """``connectorx.read_sql`` into pandas: a connection per call, as connectorx makes."""

    def __init__(self, wire: dict[str, str]) -> None:
        import connectorx

        self.read_sql = connectorx.read_sql
        self.url = _url("postgresql", wire)

    def fetch(self, sql: str) -> int:
        return len(self.read_sql(self.url, sql))

    def close(self) -> None:
        pass


class _InProcess:
    def __init__(self, ctx: Ctx) -> None:
        self.session = ctx.sys.main()

    def fetch(self, sql: str) -> int:
        return len(self.session.query(sql))

    def close(self) -> None:
        pass


def _open(ctx: Ctx, driver: str) -> Fetcher:
    wire = ctx.sys.wire()
    if wire is None:
        return _InProcess(ctx)
    if driver == "asyncpg":
        return _Asyncpg(wire)
    if driver == "pandas":
        return _Pandas(wire)
    if driver == "connectorx":
        return _Connectorx(wire)
    return _DbApi(DRIVERS[driver], wire)


def run(ctx: Ctx) -> None:
    p = ctx.profile
    rows = big_main(ctx, p.fetch_rows)
    drivers = list(DRIVERS) if ctx.sys.wire() is not None else ["fetchall"]
    sql = "SELECT id, v, s FROM t"
    for i, driver in enumerate(ctx.points(drivers, lambda d: (d, rows))):
        ctx.tick(f"{driver}: {human_rows(rows)} rows")
        if driver in DRIVERS and importlib.util.find_spec(DRIVERS[driver]) is None:
            ctx.add(driver, x=rows, status="skipped", note=f"{driver} is not installed")
            continue
        times: list[float] = []
        wrong = ""
        try:
            f = _open(ctx, driver)
        except Exception as exc:  # noqa: BLE001 - the driver cannot connect: a finding
            ctx.add(driver, x=rows, correct=False, note=f"failed: {short_error(exc)}")
            continue
        try:
            f.fetch(sql + " LIMIT 1000")
            for _ in ctx.repeat(p.fetch_reps, 1 / (len(drivers) - i)):
                t0 = perf()
                n = f.fetch(sql)
                times.append(perf() - t0)
                if n != rows:
                    wrong = f"fetched {n} rows, expected {rows}"
        except Exception as exc:  # noqa: BLE001 - the statement fails with this driver
            wrong = f"failed: {short_error(exc)}"
        finally:
            f.close()
        st = summarize(times)
        values: dict[str, Any] = {"rows": rows}
        if times:
            values["rows_per_s"] = rows / (st["p50_ms"] / 1000)
            values["best_rows_per_s"] = rows / (st["min_ms"] / 1000)
        ctx.add(driver, x=rows, stats=st, values=values, correct=not wrong, note=wrong)
