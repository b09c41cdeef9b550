"""hati over the wire: the server is started as a subprocess (``python -m hati serve``)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.core import file_bytes, free_port, perf
from benchmarks.drivers import Conn, Pg2Conn, Pg3Conn, sql_str
from benchmarks.systems.base import Agent, Session
from benchmarks.systems.schema_copy import ConnSession, ConnSystem, SchemaCopySystem

REPO = Path(__file__).resolve().parents[2]
USER = "agent"
DBNAME = "hatidata"


def _src() -> Path:
    """Where the server's code comes from: ``HATI_BENCH_SRC`` (e.g. an exported commit)
    or this repo's ``src``."""
    return Path(os.environ.get("HATI_BENCH_SRC") or REPO / "src")


def hati_source() -> dict[str, Any]:
    src = _src()
    # the checkout's own src/ is named relative to it (results carry no local paths)
    out: dict[str, Any] = {"src": "src" if src == REPO / "src" else str(src)}
    try:
        git = ["git", "-C", str(REPO)]
        out["repo_commit"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        if src == REPO / "src":
            dirty = subprocess.run(
                [*git, "status", "--porcelain", "src/hati"], capture_output=True, text=True
            ).stdout.strip()
            out["uncommitted_changes"] = bool(dirty)
    except OSError:
        pass
    return out


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = _src()
    if (src / "hati").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def hati_unavailable() -> str | None:
    if importlib.util.find_spec("hati") is None and not (REPO / "src" / "hati").is_dir():
        return "the hati package is not installed"
    try:
        out = subprocess.run(
            [sys.executable, "-m", "hati", "serve", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
            cwd=REPO,
        )
    except Exception as exc:  # noqa: BLE001
        return f"`python -m hati serve --help` failed: {exc}"
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["?"]
        return f"`python -m hati serve` is not available yet: {tail[0]}"
    return None


class HatiServer:
    """``python -m hati serve --dir D --port P`` in the foreground, as a child process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "hati"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "hati-server.log"

    @property
    def db_file(self) -> Path:
        return self.dir / "hati.duckdb"

    def start(self, timeout: float = 90.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hati",
                    "serve",
                    "--dir",
                    str(self.dir),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_env(),
                cwd=self.root,
            )
        import psycopg2

        end = perf() + timeout
        last: Exception | None = None
        while perf() < end:  # bounded readiness polling
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"hati serve exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                c = psycopg2.connect(
                    host="127.0.0.1", port=self.port, user=USER, dbname=DBNAME, connect_timeout=2
                )
                c.close()
                return
            except psycopg2.OperationalError as exc:
                last = exc
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"hati serve did not accept connections in {timeout}s: {last}")

    def log_tail(self, n: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def connect(self, driver: str = "psycopg2", **kw: Any) -> Conn:
        if driver == "psycopg3":
            return Pg3Conn("127.0.0.1", self.port, DBNAME, USER, **kw)
        return Pg2Conn("127.0.0.1", self.port, DBNAME, USER, **kw)


def offline_sizes(db_file: Path) -> dict[str, int]:
    """Sizes read by opening the data file directly (server stopped).

    The file is checkpointed first, as the server does when it closes, so that what
    is still in the WAL counts too."""
    import duckdb

    from benchmarks.systems.duckdb_inproc import duckdb_sizes

    con = duckdb.connect(str(db_file))
    try:
        con.execute("CHECKPOINT")
        out = duckdb_sizes(con, db_file)
    finally:
        con.close()
    out["file_bytes"] = file_bytes(db_file)
    return out


def measure_stopped(server: HatiServer) -> dict[str, int]:
    """Stop the server, read the data file's sizes directly, start it again.

    Over the wire ``CHECKPOINT`` fails while the server holds its own transactions
    open, so the sizes are only exact with the server stopped."""
    server.stop()
    try:
        return offline_sizes(server.db_file)
    finally:
        server.start()


class HatiAgent(Agent):
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def cycle(self, branch: str, table: str, row: tuple[int, int, str]) -> int:
        b = sql_str(branch)
        self.conn.run(f"SELECT branch_create({b})")
        try:
            ins = f"INSERT INTO {table} VALUES ({row[0]}, {row[1]}, '{row[2]}')"
            self.conn.run(f"SELECT branch_query({b}, {sql_str(ins)})")
            res = self.conn.run(f"SELECT branch_merge({b}, 'branch_wins')") or []
        except Exception:
            with contextlib.suppress(Exception):
                self.conn.run(f"SELECT branch_discard({b})")
            raise
        status = merge_status(self.conn.columns, res)
        if status.get("status") not in (None, "merged"):
            raise RuntimeError(f"merge status {status}")
        return 0

    def close(self) -> None:
        self.conn.close()


def merge_status(columns: list[str], rows: list[Any]) -> dict[str, Any]:
    if not rows:
        return {}
    row = rows[0]
    if len(columns) == len(row) and len(row) > 1:
        return dict(zip(columns, row, strict=True))
    val = row[0]
    if isinstance(val, dict):
        return val
    if isinstance(val, tuple | list):
        keys = ["branch", "strategy", "inserted", "updated", "deleted", "conflicts", "status"]
        return dict(zip(keys, val, strict=False))
    return {"status": str(val)}


class HatiServed(ConnSystem):
    """What every hati system shares: the server child process and its connections."""

    family = "hati"
    driver = "psycopg2"

    def __init__(self) -> None:
        super().__init__()
        self.server: HatiServer | None = None

    @classmethod
    def unavailable(cls) -> str | None:
        return hati_unavailable()

    def start(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = HatiServer(workdir)
        self.server.start()

    def stop(self) -> None:
        self.close_main()
        if self.server is not None:
            self.server.stop()

    def abort(self) -> None:
        if self.server is not None:
            self.server.kill()

    def info(self) -> dict[str, Any]:
        return hati_source()

    def connect(self) -> Conn:
        assert self.server is not None
        return self.server.connect(self.driver)

    def wire(self, branch: str | None = None) -> dict[str, str] | None:
        assert self.server is not None
        out = {"host": "127.0.0.1", "port": str(self.server.port), "user": USER, "dbname": DBNAME}
        if branch:  # the server's session setting, as PGOPTIONS would send it
            out["options"] = f"-c hatidata_branch={branch}"
        return out

    def disk(self) -> dict[str, int]:
        assert self.server is not None
        self.close_main()
        return measure_stopped(self.server)

    def checkpoint(self) -> None:
        """Over the wire (the server keeps running); a CHECKPOINT refused because
        another session writes only leaves the WAL as it is."""
        try:
            self.main().execute("CHECKPOINT")
        except Exception:  # noqa: BLE001 - sizes are then read with the WAL
            self.reconnect()

    def live_disk(self) -> dict[str, int]:
        """The data file and its WAL, the server running (online compaction at work)."""
        assert self.server is not None
        db = self.server.db_file
        return {"file_bytes": file_bytes(db) + file_bytes(db.with_name(db.name + ".wal"))}

    def compact(self) -> dict[str, Any]:
        """Stop the server, run ``hati compact`` on its data dir, measure, start again.

        Returns the sizes after compaction plus ``compact_s`` (what the command reports
        for the compaction itself) and ``command_s`` (the whole command, Python start-up
        included)."""
        assert self.server is not None
        self.close_main()
        self.server.stop()
        try:
            t0 = perf()
            out = subprocess.run(
                [sys.executable, "-m", "hati", "compact", "--dir", str(self.server.dir)],
                capture_output=True,
                text=True,
                timeout=3600,
                env=_env(),
                cwd=self.server.root,
            )
            command_s = perf() - t0
            if out.returncode != 0:
                tail = (out.stderr or out.stdout).strip().splitlines()[-2:]
                raise RuntimeError(f"hati compact failed: {' | '.join(tail)}")
            sizes: dict[str, Any] = dict(offline_sizes(self.server.db_file))
        finally:
            self.server.start()
        m = re.search(r" in ([0-9.]+) s\s*$", out.stdout)
        sizes["compact_s"] = float(m.group(1)) if m else None
        sizes["command_s"] = command_s
        return sizes


class Hati(HatiServed):
    key = "hati_psycopg2"
    label = "hati (psycopg2)"
    merge_note = "three-way merge of tracked changes"
    description = "hati server over the wire with psycopg2; branches via SQL functions"
    nested_branches = True

    def info(self) -> dict[str, Any]:
        rows = self.main().query("SELECT version()")
        return {"version": str(rows[0][0]) if rows else "?", "driver": self.driver, **hati_source()}

    def branch_create(self, name: str) -> None:
        self.main().query(f"SELECT branch_create({sql_str(name)})")
        self.branches.add(name)

    def branch_fork(self, name: str, parent: str) -> None:
        self.main().query(f"SELECT branch_create({sql_str(name)}, {sql_str(parent)})")
        self.branches.add(name)

    def branch_discard(self, name: str) -> None:
        self.main().query(f"SELECT branch_discard({sql_str(name)})")
        self.branches.discard(name)

    def branch_merge(self, name: str) -> dict[str, Any]:
        m = self.main()
        rows = m.query(f"SELECT branch_merge({sql_str(name)}, 'branch_wins')")
        self.branches.discard(name)
        return merge_status(m.conn.columns, rows)

    def session(self, branch: str | None) -> Session:
        conn = self.connect()
        if branch:
            conn.run(f"SET hatidata_branch = {sql_str(branch)}")
        return ConnSession(conn, None)

    def function_session(self, branch: str) -> Session:
        """Reads through ``branch_query(name, sql)`` instead of session routing."""
        return BranchQuerySession(self.connect(), branch)

    def agent(self) -> Agent:
        return HatiAgent(self.connect())


class BranchQuerySession(ConnSession):
    def __init__(self, conn: Conn, branch: str) -> None:
        super().__init__(conn, None)
        self.branch = branch

    def query(self, sql: str) -> list[Any]:
        return (
            self.conn.run(f"SELECT * FROM branch_query({sql_str(self.branch)}, {sql_str(sql)})")
            or []
        )

    def execute(self, sql: str) -> None:
        self.conn.run(f"SELECT branch_query({sql_str(self.branch)}, {sql_str(sql)})")


class HatiPsycopg3(Hati):
    key = "hati_psycopg3"
    label = "hati (psycopg 3)"
    driver = "psycopg3"
    description = (
        "hati server over the wire with psycopg 3 (extended protocol, "
        "server-side prepared after 5 runs)"
    )

    def roundtrip_clients(self) -> dict[str, Callable[[], object]]:
        assert self.server is not None
        m = self.main()
        b = self.server.connect("psycopg3", binary=True)
        return {"": lambda: m.query("SELECT 1"), "binary": lambda: b.run("SELECT 1")}


class HatiPlain(HatiServed, SchemaCopySystem):
    key = "hati_plain"
    label = "hati server, no branches"
    description = (
        "the same hati server used as a plain SQL server (psycopg2): the schema-copy "
        "SQL of the DuckDB baseline sent over the wire, to show server overhead"
    )
