"""Plain DuckDB in-process (no server): the floor for every operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.core import file_bytes
from benchmarks.drivers import Conn, DuckDBConn
from benchmarks.systems.schema_copy import SchemaCopySystem


def duckdb_sizes(con: Any, path: Path) -> dict[str, int]:
    row = con.execute(
        "SELECT block_size, total_blocks, used_blocks, free_blocks FROM pragma_database_size()"
    ).fetchone()
    block, total, used, free = (int(x) for x in row)
    return {
        "file_bytes": file_bytes(path),
        "used_bytes": used * block,
        "free_bytes": free * block,
        "total_bytes": total * block,
    }


class DuckDBInProcess(SchemaCopySystem):
    key = "duckdb"
    label = "DuckDB in-process"
    family = "duckdb"
    description = (
        "duckdb Python package on a file, one cursor per session; branch = schema + "
        "copy of every table (same primary key), merge = full-scan two-way diff"
    )

    def __init__(self) -> None:
        super().__init__()
        self.con: Any = None
        self.path: Path | None = None

    def start(self, workdir: Path) -> None:
        import duckdb

        self.workdir = workdir
        self.path = workdir / "plain.duckdb"
        self.con = duckdb.connect(str(self.path))

    def stop(self) -> None:
        self.close_main()
        if self.con is not None:
            self.con.close()
            self.con = None

    def info(self) -> dict[str, Any]:
        import duckdb

        return {"duckdb": duckdb.__version__}

    def connect(self) -> Conn:
        return DuckDBConn(self.con.cursor())

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")

    def disk(self) -> dict[str, int]:
        assert self.path is not None
        return duckdb_sizes(self.con, self.path)
