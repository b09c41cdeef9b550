"""hati servers for the harness: one per corpus file, each on a fresh data dir.

Each server runs in a child process forked from a fork server that has imported hati
once, so a fresh server costs about a tenth of a second, and a server that hangs (a
statement that ignores the cancel request) can be killed without taking the run with it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import shutil
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0
USER = "difftest"
DBNAME = "hati"


def _serve(data_dir: str, pipe: multiprocessing.connection.Connection) -> None:
    """Child process: start a server on ``data_dir``, report its port, stop on request.

    What the server prints (tracebacks it logs) goes to ``console.log`` in the data dir."""
    import os
    import sys

    from hati.config import Config
    from hati.server import ServerThread

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    console = os.open(str(Path(data_dir) / "console.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(console, 1)
    os.dup2(console, 2)
    sys.stdout = sys.stderr = open(console, "w", buffering=1, closefd=False)  # noqa: SIM115

    try:
        server = ServerThread(Config.load(data_dir, host="127.0.0.1", port=0)).start()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    pipe.send(("port", server.port))
    with contextlib.suppress(EOFError):
        pipe.recv()
    server.stop()


_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["hati.config", "hati.server"])
        _CONTEXT = ctx
    return _CONTEXT


class HatiServer:
    """A hati server on ``data_dir`` in a child process; ``stop`` or ``kill`` ends it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self._proc: BaseProcess | None = None
        self._pipe: multiprocessing.connection.Connection | None = None

    def start(self) -> HatiServer:
        ctx = _context()
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(str(self.data_dir), child), daemon=True)
        self._proc.start()
        child.close()
        self._pipe = parent
        if not parent.poll(START_TIMEOUT_S):
            self.kill()
            raise TimeoutError(f"hati did not start on {self.data_dir} in {START_TIMEOUT_S:.0f} s")
        kind, value = parent.recv()
        if kind != "port":
            self.kill()
            raise RuntimeError(f"hati did not start on {self.data_dir}: {value}")
        self.port = int(value)
        return self

    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={USER} dbname={DBNAME}"

    def stop(self) -> None:
        """Stop cleanly (the data file is checkpointed); kill if that takes too long."""
        if self._proc is None:
            return
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.send("stop")
        self._proc.join(timeout=30)
        self.kill()

    def kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=30)
        if self._pipe is not None:
            self._pipe.close()
        self._proc = None
        self._pipe = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.is_alive()


def copy_data_dir(template: Path, target: Path) -> None:
    """A fresh data dir that starts as ``template`` (a stopped server's dir)."""
    shutil.copytree(template, target, ignore=shutil.ignore_patterns("*.pid", "*.log"))
