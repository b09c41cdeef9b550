"""The ``hati`` command: a thin shell over :mod:`hati.server` and :mod:`hati.daemon`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.table import Table

from hati import daemon
from hati.config import DEFAULT_HOST, Config

console = Console()
err_console = Console(stderr=True)

_dir_option = click.option(
    "--dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $HATI_DIR or ./.hati).",
)
_port_option = click.option(
    "--port", type=int, default=None, help="TCP port (default: $HATI_PORT or 5439)."
)


def _fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    if hint:
        err_console.print(f"[dim]hint:[/dim] {hint}")
    sys.exit(code)


@click.group()
@click.version_option(package_name="hati")
def main() -> None:
    """hati: a PostgreSQL-wire SQL server over DuckDB with branchable state for AI agents."""


@main.command()
@_dir_option
@click.option("--host", default=None, help=f"Address to listen on (default {DEFAULT_HOST}).")
@_port_option
@click.option("--password", default=None, help="Require this password (SCRAM-SHA-256).")
def init(data_dir: Path | None, host: str | None, port: int | None, password: str | None) -> None:
    """Create the data directory and start the server in the background."""
    cfg = Config.load(data_dir, host=host, port=port, password=password)
    try:
        outcome = daemon.start_background(cfg)
    except daemon.DaemonError as exc:
        _fail(exc.message, exc.hint, exc.code)
    if outcome.already_running:
        console.print(f"hati is already running for {cfg.data_dir} (pid {outcome.pid}).")
        print(f"Proxy running on localhost:{outcome.port}")
        return
    print("HatiData initialized successfully.")
    print(f"Proxy running on localhost:{outcome.port}")


@main.command()
@_dir_option
@click.option("--host", default=None, help=f"Address to listen on (default {DEFAULT_HOST}).")
@_port_option
@click.option(
    "--password",
    default=None,
    help="Require this password (SCRAM-SHA-256); default: hati.toml or $HATI_PASSWORD.",
)
def serve(data_dir: Path | None, host: str | None, port: int | None, password: str | None) -> None:
    """Run the server in the foreground (for containers and supervisors)."""
    cfg = Config.load(data_dir, host=host, port=port, password=password)
    try:
        daemon.serve_foreground(cfg)
    except daemon.DaemonError as exc:
        _fail(exc.message, exc.hint, exc.code)


@main.command()
@_dir_option
def status(data_dir: Path | None) -> None:
    """Say whether the server for a data directory runs, and where."""
    cfg = Config.load(data_dir)
    st = daemon.status(cfg)
    if not st.running:
        console.print(f"hati is not running for {cfg.data_dir}.")
        if st.stale_pid:
            console.print(
                f"[dim]A stale pid file ({st.stale_pid}) was left behind; `hati init` replaces it.[/dim]"
            )
        sys.exit(3)
    count = (
        f"{st.branches} live branch(es)"
        if st.branches is not None
        else "live branches not counted (set HATI_PASSWORD to count them)"
    )
    console.print(
        f"hati is running for {cfg.data_dir} (pid {st.pid}) on localhost:{st.port}; {count}."
    )


@main.command()
@_dir_option
def stop(data_dir: Path | None) -> None:
    """Stop the background server (data stays on disk)."""
    cfg = Config.load(data_dir)
    try:
        stopped = daemon.stop(cfg)
    except daemon.DaemonError as exc:
        _fail(exc.message, exc.hint, exc.code)
    console.print("hati stopped." if stopped else f"hati was not running for {cfg.data_dir}.")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


@main.command()
@click.option(
    "--dir",
    "--data-dir",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $HATI_DIR or ./.hati).",
)
def compact(data_dir: Path | None) -> None:
    """Give the database file's free space back to the disk (stopped or running server)."""
    from hati.compact import CompactError
    from hati.compact import compact as compact_file

    cfg = Config.load(data_dir)
    st = daemon.status(cfg)
    if st.running and st.port is not None:
        try:
            with err_console.status(f"Compacting {cfg.db_path} online ..."):
                rows = daemon.query(cfg, st.port, "SELECT * FROM hati_compact()")
        except daemon.DaemonError as exc:
            _fail(exc.message, exc.hint, exc.code)
        except Exception as exc:  # noqa: BLE001 - the server's answer, e.g. 55006
            _fail(str(exc).strip(), "Retry once clients end their transactions.", 2)
        before, after, seconds, pause_ms = rows[0]
        console.print(
            f"{cfg.db_path}: {_mb(before)} -> {_mb(after)} ({_mb(before - after)} given back) "
            f"in {seconds:.2f} s online; clients waited {pause_ms:.0f} ms",
            soft_wrap=True,
        )
        return
    if not cfg.db_path.exists():
        _fail(f"no database at {cfg.db_path}", "Create one with `hati init`.", 3)
    try:
        with err_console.status(f"Compacting {cfg.db_path} ..."):
            result = compact_file(cfg.db_path)
    except CompactError as exc:
        _fail(exc.message, exc.hint, 2)
    console.print(
        f"{cfg.db_path}: {_mb(result.bytes_before)} -> {_mb(result.bytes_after)} "
        f"({_mb(result.reclaimed)}, {result.percent:.1f} % given back) "
        f"in {result.seconds:.2f} s",
        soft_wrap=True,
    )


@main.command()
@_dir_option
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
def logs(data_dir: Path | None, lines: int) -> None:
    """Show the end of the server log."""
    cfg = Config.load(data_dir)
    if not cfg.log_path.exists():
        _fail(f"no log at {cfg.log_path}", "Start the server with `hati init` first.")
    for line in cfg.log_path.read_text(errors="replace").splitlines()[-lines:]:
        print(line)


@main.command()
@_dir_option
def branches(data_dir: Path | None) -> None:
    """List live branches as a table."""
    cfg = Config.load(data_dir)
    st = daemon.status(cfg)
    if not st.running or st.port is None:
        _fail(f"hati is not running for {cfg.data_dir}", "Start it with `hati init`.", 3)
    try:
        rows = daemon.query(cfg, st.port, "SELECT * FROM branch_list()")
    except daemon.DaemonError as exc:
        _fail(exc.message, exc.hint, exc.code)
    headers = ("name", "parent", "created_by", "created_at", "tables", "rows_changed", "expires_at")
    if not console.is_terminal:  # pipes and scripts get tab-separated lines
        print("\t".join(headers))
        for r in rows:
            print("\t".join("" if v is None else str(v) for v in r))
        return
    table = Table(title=f"Branches ({len(rows)})")
    for col in (
        "name",
        "parent",
        "created_by",
        "created_at",
        "tables",
        "rows_changed",
        "expires_at",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    console.print(table)


@main.command()
@click.option("--agents", is_flag=True, help="Run the AutoGen group-chat example instead.")
@click.option("--keep", is_flag=True, help="Keep the temporary data directory.")
def demo(agents: bool, keep: bool) -> None:
    """Run the tutorial end to end against a freshly started server."""
    from hati.demo.runner import run_demo

    sys.exit(run_demo(agents=agents, keep=keep))


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    envvar="HATI_HOST",
    show_default=True,
    help="Host of the hati server to talk to.",
)
@click.option("--port", type=int, default=None, help="hati's port (default: $HATI_PORT or 5439).")
@click.option("--user", default="hati", show_default=True, help="User name to log in to hati with.")
@click.option("--password", default=None, help="hati's password (default: $HATI_PASSWORD).")
@click.option(
    "--agent-id",
    envvar="HATI_AGENT_ID",
    default=None,
    help="Agent id recorded in hati_audit (default: $HATI_AGENT_ID, else the MCP client's "
    "name, else 'mcp').",
)
@_dir_option
@click.option(
    "--no-start", is_flag=True, help="Fail instead of starting hati when no server answers."
)
@click.option(
    "--http",
    "http_port",
    type=int,
    default=None,
    metavar="PORT",
    help="Serve MCP over streamable HTTP on PORT (0: any free port) instead of stdio.",
)
@click.option(
    "--http-host", default="127.0.0.1", show_default=True, help="Address the HTTP server binds."
)
@click.option("--read-only", is_flag=True, help="Refuse tools that change main (execute, merge).")
def mcp(
    host: str,
    port: int | None,
    user: str,
    password: str | None,
    agent_id: str | None,
    data_dir: Path | None,
    no_start: bool,
    http_port: int | None,
    http_host: str,
    read_only: bool,
) -> None:
    """Serve hati to MCP clients (stdio by default), starting hati if none answers."""
    import os

    try:
        from hati.integrations.mcp.launch import LaunchError, Options, run
    except ImportError as exc:
        _fail(f"hati mcp needs the mcp extra ({exc})", 'pip install "hati[mcp]"', 2)
    env_port = os.environ.get("HATI_PORT")
    opts = Options(
        host=host,
        port=port if port is not None else (int(env_port) if env_port else None),
        user=user,
        password=password or os.environ.get("HATI_PASSWORD") or None,
        agent_id=agent_id,
        data_dir=data_dir,
        start=not no_start,
        http_port=http_port,
        http_host=http_host,
        read_only=read_only,
    )
    try:
        run(opts)
    except LaunchError as exc:
        _fail(exc.message, exc.hint, 2)
    except KeyboardInterrupt:  # pragma: no cover - Ctrl-C in a terminal
        pass


if __name__ == "__main__":  # pragma: no cover
    main()
