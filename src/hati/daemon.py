"""Starting, finding and stopping a server process for a data directory."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from hati.config import Config

READY_TIMEOUT_SECONDS = 60.0


class DaemonError(Exception):
    def __init__(self, message: str, hint: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


@dataclass
class Started:
    pid: int
    port: int
    already_running: bool = False


@dataclass
class Status:
    running: bool
    pid: int | None = None
    port: int | None = None
    branches: int | None = 0  # None: not known (the CLI has no password to ask with)
    stale_pid: int | None = None


def _read_pid(cfg: Config) -> tuple[int, int] | None:
    try:
        pid_s, port_s = cfg.pid_path.read_text().split()[:2]
        return int(pid_s), int(port_s)
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """A live hati process has that pid: not a dead one's zombie, not a reused pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if _zombie(pid):  # killed (kill -9) and not reaped yet: it serves nothing
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"hati" in fh.read()
    except OSError:  # no /proc: trust the signal
        return True


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _connect_host(cfg: Config) -> str:
    return "127.0.0.1" if cfg.host in ("0.0.0.0", "", "localhost") else cfg.host


def status(cfg: Config) -> Status:
    info = _read_pid(cfg)
    if info is None:
        return Status(False)
    pid, port = info
    if not _alive(pid):
        return Status(False, stale_pid=pid)
    branches: int | None
    try:
        branches = len(query(cfg, port, "SELECT * FROM branch_list()"))
    except Exception:  # noqa: BLE001 - status must answer even if the server is busy
        branches = None
    return Status(True, pid, port, branches)


def query(cfg: Config, port: int, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    user, password = "hati", _plain(cfg.password)
    if cfg.agent_keys and not password:
        # any configured agent will do, if its key was given to this command
        given = [(agent, _plain(key)) for agent, key in cfg.agent_keys.items()]
        user, password = next(((a, k) for a, k in given if k), (user, password))
    if cfg.auth_required and not password:
        raise DaemonError(
            "the server requires a password, and hati.toml keeps only its SCRAM verifier",
            hint="Set HATI_PASSWORD to the server's password and run the command again.",
            code=2,
        )
    try:
        conn = psycopg2.connect(
            host=_connect_host(cfg),
            port=port,
            user=user,
            dbname="hati",
            password=password,
            connect_timeout=5,
            options="-c hatidata_agent_id=hati-cli",
        )
    except psycopg2.OperationalError as exc:
        raise DaemonError(
            f"could not connect to hati on port {port}: {str(exc).strip()}",
            hint="If the password was rejected, set HATI_PASSWORD to the server's password.",
            code=2,
        ) from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


def _plain(secret: str | None) -> str:
    """A password this process was given (flag or HATI_PASSWORD), not a stored verifier."""
    from hati.auth import Verifier

    return secret if secret and Verifier.parse(secret) is None else ""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def start_background(cfg: Config) -> Started:
    """Start ``hati serve`` detached and wait until it accepts connections."""
    st = status(cfg)
    if st.running and st.pid and st.port:
        return Started(st.pid, st.port, already_running=True)
    if st.stale_pid:
        cfg.pid_path.unlink(missing_ok=True)
    if cfg.port and not _port_free(cfg.host, cfg.port):
        raise DaemonError(
            f"port {cfg.port} on {cfg.host} is already in use by another program",
            hint="Stop that program, or pick another port: hati init --port 5440",
            code=2,
        )
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    cfg.save()
    os.umask(0o077)  # the log, the pid file and the data: private to the server's user
    log = open(cfg.log_path, "ab")  # noqa: SIM115 - handed to the child process
    cmd = [
        sys.executable,
        "-m",
        "hati",
        "serve",
        "--dir",
        str(cfg.data_dir),
        "--port",
        str(cfg.port),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(cfg.data_dir),
    )
    log.close()
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        info = _read_pid(cfg)
        if info and info[0] == proc.pid and _accepts(_connect_host(cfg), info[1]):
            return Started(proc.pid, info[1])
        if proc.poll() is not None:
            tail = cfg.log_path.read_text(errors="replace").splitlines()[-5:]
            raise DaemonError(
                "the server exited during start-up:\n  " + "\n  ".join(tail),
                hint=f"See the full log with: hati logs --dir {cfg.data_dir}",
            )
        time.sleep(0.05)
    proc.terminate()
    raise DaemonError(
        "the server did not start listening in time", hint=f"See hati logs --dir {cfg.data_dir}"
    )


def serve_foreground(cfg: Config) -> None:
    """Run the server in this process until SIGTERM/SIGINT."""
    import asyncio

    from hati.server.listener import Server

    os.umask(0o077)  # every file the server makes (data, WAL, pid) is private
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    info = _read_pid(cfg)
    if info and info[0] != os.getpid() and _alive(info[0]):
        raise DaemonError(
            f"another hati server (pid {info[0]}) already runs for {cfg.data_dir}",
            hint="Stop it with `hati stop`, or use another --dir.",
            code=2,
        )

    async def run() -> None:
        try:
            server = Server(cfg)
        except Exception as exc:
            raise DaemonError(str(exc), getattr(exc, "hint", None), 2) from exc
        try:
            await server.start()
        except OSError as exc:
            server.app.close()
            raise DaemonError(
                f"cannot listen on {cfg.host}:{cfg.port}: {exc.strerror}",
                hint="Pick another port with --port.",
                code=2,
            ) from exc
        cfg.pid_path.write_text(f"{os.getpid()} {server.port}\n")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"Proxy running on localhost:{server.port}", flush=True)
        serving = asyncio.create_task(server.serve_forever())
        await stop.wait()
        serving.cancel()
        await server.stop()
        with contextlib.suppress(FileNotFoundError):
            if _read_pid(cfg) and _read_pid(cfg)[0] == os.getpid():  # type: ignore[index]
                cfg.pid_path.unlink()

    asyncio.run(run())


def stop(cfg: Config, timeout: float = 30.0) -> bool:
    info = _read_pid(cfg)
    if info is None or not _alive(info[0]):
        cfg.pid_path.unlink(missing_ok=True)
        return False
    pid = info[0]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid) or _zombie(pid):
            cfg.pid_path.unlink(missing_ok=True)
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    cfg.pid_path.unlink(missing_ok=True)
    return True


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] == "Z"
    except (FileNotFoundError, IndexError):
        return False
