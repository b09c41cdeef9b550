"""The `hati` command as a user runs it: real processes, real data directories."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
from click.testing import CliRunner

from hati.cli import main


def _hati(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hati", *args], capture_output=True, text=True, timeout=120, env=env
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def project(tmp_path: Path):
    data, port = tmp_path / "proj", _free_port()
    yield data, port
    _hati("stop", "--dir", str(data))


def test_init_status_branches_stop(project) -> None:
    data, port = project
    r = _hati("init", "--dir", str(data), "--port", str(port))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "HatiData initialized successfully.",
        f"Proxy running on localhost:{port}",
    ]
    assert (data / "hati.duckdb").exists() and (data / "hati.toml").exists()
    c = psycopg2.connect(host="127.0.0.1", port=port, user="u", dbname="hati")
    c.autocommit = True
    c.cursor().execute("SELECT branch_create('cli-branch')")
    c.close()
    st = _hati("status", "--dir", str(data))
    assert st.returncode == 0 and "1 live branch" in st.stdout
    br = _hati("branches", "--dir", str(data))
    assert br.returncode == 0 and "cli-branch" in br.stdout
    logs = _hati("logs", "--dir", str(data))
    assert logs.returncode == 0 and "listening" in logs.stdout
    stop = _hati("stop", "--dir", str(data))
    assert stop.returncode == 0 and "stopped" in stop.stdout
    st = _hati("status", "--dir", str(data))
    assert st.returncode == 3 and "not running" in st.stdout


def test_port_in_use_is_a_clear_error(project) -> None:
    data, _ = project
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        r = _hati("init", "--dir", str(data), "--port", str(port))
    assert r.returncode == 2
    assert f"port {port}" in r.stderr and "already in use" in r.stderr
    assert "--port" in r.stderr  # tells the user what to do next


def test_stale_pid_file_is_replaced(project) -> None:
    data, port = project
    data.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (data / "hati.pid").write_text(f"{dead.pid} {port}\n")
    st = _hati("status", "--dir", str(data))
    assert st.returncode == 3 and "stale pid file" in st.stdout
    r = _hati("init", "--dir", str(data), "--port", str(port))
    assert r.returncode == 0, r.stderr
    assert (data / "hati.pid").read_text().split()[0] != str(dead.pid)


def test_env_vars_choose_dir_and_port(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, HATI_DIR=str(tmp_path / "envdir"), HATI_PORT=str(port))
    try:
        r = _hati("init", env=env)
        assert r.returncode == 0, r.stderr
        assert f"localhost:{port}" in r.stdout
        assert (tmp_path / "envdir" / "hati.pid").exists()
    finally:
        _hati("stop", env=env)


def test_commands_on_missing_directory_explain(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = str(tmp_path / "nothing-here")
    res = runner.invoke(main, ["branches", "--dir", missing])
    assert res.exit_code == 3
    res = runner.invoke(main, ["logs", "--dir", missing])
    assert res.exit_code == 1


def test_every_command_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in main.commands:
        assert f"hati {name}" in readme, name
