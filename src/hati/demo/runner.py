"""``hati demo``: the tutorial (or the AutoGen example) against a freshly started server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hati.config import Config
from hati.server import ServerThread

TUTORIAL = Path(__file__).with_name("tutorial.py")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "autogen_branch_merge.py"


def _run_agents_example(port: int) -> int:
    """The AutoGen group chat lives in examples/ (a checkout); it needs hati[autogen]."""
    if not EXAMPLE.exists():
        print("The AutoGen example ships with the source checkout (examples/).", file=sys.stderr)
        return 2
    return subprocess.call(
        [sys.executable, str(EXAMPLE), "--host", "127.0.0.1", "--port", str(port)]
    )


def run_demo(agents: bool = False, keep: bool = False) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="hati-demo-"))
    try:
        with ServerThread(Config.load(data_dir, port=0)) as srv:
            print(
                f"Started a fresh server for the demo on localhost:{srv.port} ({data_dir})",
                file=sys.stderr,
            )
            if agents:
                return _run_agents_example(srv.port)
            env = dict(os.environ, HATI_DEMO_PORT=str(srv.port))
            return subprocess.call([sys.executable, str(TUTORIAL)], env=env)
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
