"""The tutorial from shared/seeds, run verbatim, must print exactly what it shows."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import hati.demo

DEMO = Path(hati.demo.__file__).parent
EXPECTED = (DEMO / "expected_output.txt").read_text()


def _run_tutorial(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO / "tutorial.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tutorial_output_matches_seed_text() -> None:
    """The expected output file is the seed's own output lines, in order."""
    seeds = Path(__file__).resolve().parents[3] / "shared" / "seeds"
    if not seeds.exists():
        pytest.skip("shared/seeds is not beside this checkout")
    seed = next(seeds.glob("*.txt")).read_text()
    for line in EXPECTED.splitlines():
        if line.strip():
            assert line.strip() in seed, line


def test_tutorial_against_thread_server(hati_server) -> None:
    env = dict(os.environ, HATI_DEMO_PORT=str(hati_server.port))
    result = _run_tutorial(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == EXPECTED


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_tutorial_verbatim_on_5439_via_hati_init(tmp_path: Path) -> None:
    """`hati init` then the unmodified script (port 5439), then data survives stop/init."""
    if not _port_free(5439):
        pytest.skip("port 5439 is taken on this machine")
    data = tmp_path / "proj"
    init = subprocess.run(
        [sys.executable, "-m", "hati", "init", "--dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert init.returncode == 0, init.stderr
        assert init.stdout.splitlines()[:2] == [
            "HatiData initialized successfully.",
            "Proxy running on localhost:5439",
        ]
        env = {k: v for k, v in os.environ.items() if k != "HATI_DEMO_PORT"}
        result = _run_tutorial(env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == EXPECTED
        again = subprocess.run(
            [sys.executable, "-m", "hati", "init", "--dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0
        assert "already running" in again.stdout
    finally:
        subprocess.run([sys.executable, "-m", "hati", "stop", "--dir", str(data)], timeout=60)
    # Data survives a stop and a new init.
    init = subprocess.run(
        [sys.executable, "-m", "hati", "init", "--dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert init.returncode == 0, init.stderr
        import psycopg2

        with psycopg2.connect(host="127.0.0.1", port=5439, user="t", dbname="hati") as c:
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute("SELECT count(*), sum(replicas) FROM deploy_config")
                assert cur.fetchone() == (4, 8)
                cur.execute("SELECT * FROM branch_list()")
                assert cur.fetchall() == []
    finally:
        subprocess.run([sys.executable, "-m", "hati", "stop", "--dir", str(data)], timeout=60)
