"""The PyPI ``hatidata-agent`` SDK's own ``LocalDuckDBEngine`` (its offline mode).

Its branches are a schema of views over main (one view per table, made at create time);
writes go through ``branch_query`` with ``search_path = branch,main``, and
``branch_merge`` replaces each materialized table in main with ``DROP TABLE`` +
``CREATE TABLE AS``. What fails or gives wrong results is reported by the workloads.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from benchmarks.drivers import Row
from benchmarks.systems.base import Agent, Session, System
from benchmarks.systems.duckdb_inproc import duckdb_sizes


def _rows(result: list[dict[str, Any]]) -> list[Row]:
    if len(result) == 1 and set(result[0]) == {"error"}:
        raise RuntimeError(result[0]["error"])
    return [tuple(d.values()) for d in result]


class MainSession(Session):
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def query(self, sql: str) -> list[Row]:
        return _rows(self.engine.query(sql))

    def execute(self, sql: str) -> None:
        self.engine.execute(sql)


class BranchSession(Session):
    def __init__(self, engine: Any, branch_id: str) -> None:
        self.engine = engine
        self.branch_id = branch_id

    @property
    def schema(self) -> str:
        return f"branch_{self.branch_id}"

    def query(self, sql: str) -> list[Row]:
        return _rows(self.engine.branch_query(self.branch_id, sql))

    def execute(self, sql: str) -> None:
        _rows(self.engine.branch_query(self.branch_id, sql))


def manual_materialize(engine: Any, schema: str, table: str) -> None:
    engine.conn.execute(f'DROP VIEW IF EXISTS "{schema}"."{table}"')
    engine.conn.execute(f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM main."{table}"')


class SdkAgent(Agent):
    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.workarounds = 0

    def cycle(self, branch: str, table: str, row: tuple[int, int, str]) -> int:
        info = self.engine.branch_create(branch)
        sess = BranchSession(self.engine, info["branch_id"])
        ins = f"INSERT INTO {table} VALUES ({row[0]}, {row[1]}, '{row[2]}')"
        try:
            sess.execute(ins)
        except Exception:  # noqa: BLE001 - any SDK failure takes the workaround
            # The SDK cannot write through its views; materialize by hand and retry.
            self.workarounds += 1
            manual_materialize(self.engine, sess.schema, table)
            sess.execute(ins)
        res = self.engine.branch_merge(info["branch_id"], "branch_wins")
        if "error" in res:
            raise RuntimeError(res["error"])
        return 0

    def close(self) -> None:
        self.engine.close()


class SdkLocalEngine(System):
    key = "sdk_local"
    one_connection = True
    label = "hatidata-agent LocalDuckDBEngine"
    family = "hatidata-agent"
    merge_note = "DROP TABLE + CREATE TABLE AS of each materialized table"
    merge_keeps_table = False
    merge_scans_main = True
    description = (
        "PyPI hatidata-agent 0.4 `LocalDuckDBEngine` in-process on a DuckDB file; "
        "branch = schema of views (one per table), merge = replace table"
    )

    def __init__(self) -> None:
        super().__init__()
        self.engine: Any = None
        self.path: Path | None = None
        self.ids: dict[str, str] = {}

    @classmethod
    def unavailable(cls) -> str | None:
        if importlib.util.find_spec("hatidata_agent") is None:
            return "the hatidata-agent package is not installed"
        return None

    def _engine(self) -> Any:
        from hatidata_agent.local_engine import LocalDuckDBEngine

        assert self.path is not None
        return LocalDuckDBEngine(str(self.path))

    def start(self, workdir: Path) -> None:
        self.workdir = workdir
        self.path = workdir / "sdk" / "local.duckdb"
        self.engine = self._engine()

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    def info(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"hatidata-agent": version("hatidata-agent")}

    def main(self) -> Session:
        return MainSession(self.engine)

    def branch_create(self, name: str) -> None:
        info = self.engine.branch_create(name)
        self.ids[name] = info["branch_id"]
        self.branches.add(name)

    def branch_discard(self, name: str) -> None:
        bid = self.ids.pop(name, None)
        if bid is not None:
            self.engine.branch_discard(bid)
        self.branches.discard(name)

    def branch_merge(self, name: str) -> dict[str, Any]:
        bid = self.ids.pop(name)
        self.branches.discard(name)
        res = self.engine.branch_merge(bid, "branch_wins")
        if "error" in res:
            raise RuntimeError(res["error"])
        return dict(res)

    def session(self, branch: str | None) -> Session:
        if branch is None:
            return MainSession(self.engine)
        return BranchSession(self.engine, self.ids[branch])

    def materialize_workaround(self, session: Session, table: str) -> None:
        assert isinstance(session, BranchSession)
        manual_materialize(self.engine, session.schema, table)

    def interrupt(self) -> None:
        super().interrupt()
        if self.engine is not None:
            self.engine.conn.interrupt()

    def checkpoint(self) -> None:
        self.engine.conn.execute("CHECKPOINT")

    def disk(self) -> dict[str, int]:
        assert self.path is not None
        return duckdb_sizes(self.engine.conn, self.path)

    def agent(self) -> Agent:
        return SdkAgent(self._engine())
