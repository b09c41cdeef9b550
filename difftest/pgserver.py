"""A throwaway PostgreSQL server from the system binaries.

``initdb`` on a temp dir (as OS user ``postgres`` when run as root), ``pg_ctl start``
on a free loopback port, ``stop`` on exit (fsync off with :data:`NO_DURABILITY`). Used by the differential
harness and by the benchmarks.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

BIN_DIRS = (
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/17/bin",
    "/usr/local/bin",
    "/usr/bin",
)

BASE_SETTINGS = {"listen_addresses": "127.0.0.1"}

# For a server whose data is thrown away: nothing is worth a durable write.
NO_DURABILITY = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

INSTALL_HINT = "install Debian's `postgresql` package (apt-get install postgresql)"


def find_bin(name: str) -> str | None:
    for d in BIN_DIRS:
        p = Path(d) / name
        if p.exists() and os.access(p, os.X_OK):
            return str(p)
    return shutil.which(name)


def pg_unavailable() -> str | None:
    """Why no PostgreSQL server can be started here, or None when one can."""
    missing = [b for b in ("initdb", "pg_ctl", "postgres") if find_bin(b) is None]
    if missing:
        return f"PostgreSQL server binaries not found ({', '.join(missing)}); {INSTALL_HINT}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no `postgres` user to run initdb/pg_ctl as"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """initdb + pg_ctl start on ``root`` and a free port; ``stop`` ends it.

    ``settings`` are passed as ``-c name=value`` on top of :data:`BASE_SETTINGS`;
    ``initdb_args`` are added to initdb's (e.g. ``--locale=C``)."""

    def __init__(
        self,
        root: Path,
        settings: dict[str, str] | None = None,
        initdb_args: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.user = "postgres"
        self.settings = {**BASE_SETTINGS, **(settings or {})}
        self.initdb_args = initdb_args
        self.version = ""

    def _cmd(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *args]
        return args

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            os.chmod(self.root.parent, 0o755)
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if not (initdb and pg_ctl):
            raise RuntimeError(pg_unavailable() or "initdb/pg_ctl not found")
        args = [initdb, "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8"]
        subprocess.run(
            self._cmd([*args, "--no-sync", *self.initdb_args]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = " ".join(f"-c {k}={v}" for k, v in self.settings.items())
        opts += f" -p {self.port} -k {self.root}"
        log = str(self.root / "server.log")
        subprocess.run(
            self._cmd(
                [pg_ctl, "-D", str(self.data), "-l", log, "-o", opts, "-w", "-t", "60", "start"]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        import psycopg2

        conn = psycopg2.connect(self.dsn("postgres"))
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                self.version = str(cur.fetchone()[0])  # type: ignore[index]
        finally:
            conn.close()

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def stop(self) -> None:
        pg_ctl = find_bin("pg_ctl")
        if pg_ctl and self.data.exists():
            subprocess.run(
                self._cmd([pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
            )

    def __enter__(self) -> PgServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
