"""Findings 7 and 9 (hati init after kill -9): hati's files on disk."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from conftest import start_server

pytestmark = pytest.mark.server


def _hati(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hati", *args], capture_output=True, text=True, timeout=120
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_f7_data_directory_and_files_private(tmp_path: Path) -> None:
    """With a password set (and without), hati init leaves 0700 / 0600 behind."""
    data, port = tmp_path / "proj", _free_port()
    old = os.umask(0o022)  # a permissive umask, as a user's shell has
    try:
        r = _hati("init", "--dir", str(data), "--port", str(port), "--password", "s3cret")
    finally:
        os.umask(old)
    try:
        assert r.returncode == 0, r.stderr
        c = psycopg2.connect(
            host="127.0.0.1", port=port, user="u", password="s3cret", dbname="hati"
        )
        c.autocommit = True
        c.cursor().execute("CREATE TABLE t AS SELECT 1 AS a")  # the WAL exists now
        c.close()
        assert _mode(data) == 0o700
        files = [p for p in data.iterdir() if p.is_file()]
        names = {p.name for p in files}
        assert {"hati.duckdb", "hati.toml", "hati.log", "hati.pid"} <= names, names
        for p in files:
            assert _mode(p) == 0o600, (p.name, oct(_mode(p)))
    finally:
        _hati("stop", "--dir", str(data))


def test_f7_in_process_server_files_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    server = start_server(data)
    server.thread.stop()
    assert _mode(data) == 0o700
    assert _mode(data / "hati.duckdb") == 0o600


def test_f9_init_after_kill_9(tmp_path: Path) -> None:
    data, port = tmp_path / "proj", _free_port()
    r = _hati("init", "--dir", str(data), "--port", str(port))
    assert r.returncode == 0, r.stderr
    try:
        pid = int((data / "hati.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        r = _hati("init", "--dir", str(data), "--port", str(port))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "already" not in r.stdout + r.stderr
        new_pid = int((data / "hati.pid").read_text().split()[0])
        assert new_pid != pid
        c = psycopg2.connect(host="127.0.0.1", port=port, user="u", dbname="hati")
        c.cursor().execute("SELECT 1")
        c.close()
    finally:
        _hati("stop", "--dir", str(data))


def test_f9_pid_of_another_program_is_stale(tmp_path: Path) -> None:
    """A pid file naming a live process that is not hati (a reused pid) is stale."""
    data, port = tmp_path / "proj", _free_port()
    data.mkdir()
    other = subprocess.Popen(["sleep", "60"])
    try:
        (data / "hati.pid").write_text(f"{other.pid} {port}\n")
        r = _hati("init", "--dir", str(data), "--port", str(port))
        assert r.returncode == 0, r.stdout + r.stderr
        assert int((data / "hati.pid").read_text().split()[0]) != other.pid
    finally:
        other.kill()
        other.wait()
        _hati("stop", "--dir", str(data))
