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


def run_demo(agents: bool = False, keep: bool = False) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="hati-demo-"))
    try:
        with ServerThread(Config.load(data_dir, port=0)) as srv:
            print(
                f"Started a fresh server for the demo on localhost:{srv.port} ({data_dir})",
                file=sys.stderr,
            )
            if agents:
                import asyncio

                from hati.integrations.autogen.example import main as example_main

                asyncio.run(example_main("127.0.0.1", srv.port))
                return 0
            env = dict(os.environ, HATI_DEMO_PORT=str(srv.port))
            return subprocess.call([sys.executable, str(TUTORIAL)], env=env)
    finally:
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
