"""Run ``hati mcp``: find (or start) the hati server, then serve MCP over stdio or HTTP.

stdout belongs to the MCP protocol in stdio mode, so everything this module reports
goes to stderr. In HTTP mode the one line ``MCP server running on http://HOST:PORT/mcp``
goes to stdout once the socket listens (``--http 0`` picks a free port; the line
says which).
"""

from __future__ import annotations

import contextlib
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import anyio

from hati import daemon
from hati.config import Config

from .connection import HatiError, Link, Target
from .server import HatiMCP

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int | None = None
    user: str = "hati"
    password: str | None = None
    agent_id: str | None = None
    data_dir: Path | None = None
    start: bool = True
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    read_only: bool = False


class LaunchError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def say(message: str) -> None:
    print(f"hati mcp: {message}", file=sys.stderr, flush=True)


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


def find_or_start(opts: Options) -> int:
    """The port of a hati server that answers on ``opts.host``; start one if allowed."""
    cfg = Config.load(opts.data_dir, port=opts.port, password=opts.password)
    port = opts.port
    if port is None:
        st = daemon.status(cfg)  # the data dir's own server, if it runs
        port = st.port if st.running and st.port else cfg.port
    if _answers(opts.host, port):
        return port
    if not opts.start:
        raise LaunchError(
            f"no hati server answers on {opts.host}:{port}",
            "Start one with `hati init`, or leave out --no-start so hati mcp starts it.",
        )
    if opts.host not in _LOOPBACK:
        raise LaunchError(
            f"no hati server answers on {opts.host}:{port}, and hati mcp starts servers "
            "only on this machine",
            f"Start hati on {opts.host}, or use --host 127.0.0.1.",
        )
    cfg.port = port
    try:
        started = daemon.start_background(cfg)
    except daemon.DaemonError as exc:
        raise LaunchError(exc.message, exc.hint) from exc
    say(
        f"started hati for {cfg.data_dir} on port {started.port} (pid {started.pid}); "
        f"it keeps running after this MCP server exits: `hati stop --dir {cfg.data_dir}`"
    )
    return started.port


async def _check(link: Link) -> None:
    """Fail at start-up, with the reason, if hati refuses us (wrong password ...)."""
    try:
        await link.probe()
    except HatiError as err:
        raise LaunchError(f"hati refused the connection: {err.message}", err.hint) from err


async def _serve_stdio(app: HatiMCP) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await app.server.run(read_stream, write_stream, app.server.create_initialization_options())


async def _serve_http(app: HatiMCP, host: str, port: int) -> None:
    import uvicorn

    asgi = app.server.streamable_http_app(host=host)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise LaunchError(
            f"cannot listen on {host}:{port}: {exc.strerror}", "Pick another port with --http."
        ) from exc
    bound = sock.getsockname()[1]

    class _Announcing(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if not self.should_exit:
                shown = f"[{host}]" if ":" in host else host
                print(f"MCP server running on http://{shown}:{bound}/mcp", flush=True)

    config = uvicorn.Config(asgi, log_level="warning", lifespan="on")
    await _Announcing(config).serve(sockets=[sock])


def run(opts: Options) -> None:
    """Blocking entry point behind ``hati mcp``; raises :class:`LaunchError`."""
    port = find_or_start(opts)
    link = Link(Target(opts.host, port, opts.user, opts.password))
    app = HatiMCP(link, opts.agent_id, read_only=opts.read_only)

    async def main() -> None:
        try:
            await _check(link)
            say(
                f"connected to hati on {opts.host}:{port} as agent "
                f"{opts.agent_id or '(the MCP client name)'}"
                + ("; read-only: main cannot be changed" if opts.read_only else "")
            )
            if opts.http_port is None:
                await _serve_stdio(app)
            else:
                await _serve_http(app, opts.http_host, opts.http_port)
        finally:
            await link.close()

    anyio.run(main, backend="asyncio")
