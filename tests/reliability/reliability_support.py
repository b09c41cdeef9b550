"""Helpers for the reliability tests: a real ``hati serve`` subprocess, figures, flags."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

LONG = os.environ.get("HATI_LONG_TESTS") == "1"
START_TIMEOUT = 60.0


def long_or_short(long: Any, short: Any) -> Any:
    """The long variant's setting with HATI_LONG_TESTS=1, else the short one."""
    return long if LONG else short


def report(line: str) -> None:
    """Figures for the closing note: printed, and appended to $HATI_FIGURES if set."""
    print(f"[reliability] {line}")
    path = os.environ.get("HATI_FIGURES")
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")


class ProcServer:
    """``python -m hati serve --dir D --port 0`` as a child process we can kill -9."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> ProcServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pid_file = self.data_dir / "hati.pid"
        pid_file.unlink(missing_ok=True)
        log = open(self.data_dir / "serve.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hati",
                "serve",
                "--dir",
                str(self.data_dir),
                "--port",
                "0",
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:  # bounded polling for process start-up
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited during start-up:\n{self.log_tail()}")
            with contextlib.suppress(FileNotFoundError, ValueError):
                pid_s, port_s = pid_file.read_text().split()[:2]
                if int(pid_s) == self.proc.pid and _accepts(int(port_s)):
                    self.port = int(port_s)
                    return self
            time.sleep(0.02)
        self.kill9()
        raise AssertionError(f"server did not start in {START_TIMEOUT}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def log_tail(self, n: int = 30) -> str:
        path = self.data_dir / "serve.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])

    def connect(self, agent: str = "tester", **kw: Any) -> Any:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=kw.pop("user", agent),
            dbname="hati",
            options=f"-c hatidata_agent_id={agent}",
            connect_timeout=10,
            **kw,
        )
        conn.autocommit = True
        return conn

    def internal(self, sql: str) -> list[tuple[Any, ...]]:
        """DuckDB SQL on the database file itself, past the front end (hati's bookkeeping,
        which no client can read): the server stops for the read and starts again."""
        self.stop()
        con = duckdb.connect(str(self.data_dir / "hati.duckdb"), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
            self.start()

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def __enter__(self) -> ProcServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False
