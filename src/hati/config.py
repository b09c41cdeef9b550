"""Server settings: one dataclass, loaded once from the data dir and the environment.

The data dir holds ``hati.toml`` (this config), ``hati.duckdb`` (all data: main,
branches, snapshots and metadata in one file so a merge is one transaction),
``hati.log`` and ``hati.pid``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hati.auth import stored_form

DEFAULT_PORT = 5439
DEFAULT_HOST = "127.0.0.1"
CONFIG_NAME = "hati.toml"
DB_NAME = "hati.duckdb"
LOG_NAME = "hati.log"
PID_NAME = "hati.pid"
# Schemas no branch copies (see docs/storage.md): statements in a branch read and write
# them on main. By default the HatiData SDK's agent memory, reasoning steps and triggers:
# what an agent learns stays learned whichever branch it was in.
DEFAULT_SHARED_SCHEMAS = (
    "_hatidata_memory_local",
    "_hatidata_cot_local",
    "_hatidata_triggers_local",
)


@dataclass
class Config:
    """Everything the server needs to start. Paths derive from ``data_dir``."""

    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    password: str | None = None
    agent_keys: dict[str, str] = field(default_factory=dict)
    allow_cleartext: bool = False
    merge_agents: list[str] | None = None
    write_agents: list[str] | None = None  # who writes main directly (see auth.Roles)
    read_only_agents: list[str] = field(default_factory=list)
    max_message_bytes: int = 64 * 1024 * 1024
    max_connections: int = 256
    startup_timeout_seconds: float = 60.0
    audit_max_rows: int = 1_000_000
    threads: int | None = None
    server_files: bool = False  # COPY to/from files on the server (administrators only)
    memory_limit: str | None = None  # DuckDB's cap ("2GB"): a statement over it fails, 53200
    shared_schemas: tuple[str, ...] = DEFAULT_SHARED_SCHEMAS  # [server] shared_schemas = [...]
    # Online compaction (hati.compactor): when free blocks are at least this share of
    # the file and this many MB, the running server rewrites its file; clients' open
    # transactions may hold a compaction up this long before it is retried later.
    auto_compact: bool = True
    compact_free_percent: float = 20.0
    compact_free_mb: float = 16.0
    compact_wait_seconds: float = 5.0

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_NAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def pid_path(self) -> Path:
        return self.data_dir / PID_NAME

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_NAME

    @property
    def auth_required(self) -> bool:
        return bool(self.password or self.agent_keys)

    @classmethod
    def load(cls, data_dir: str | Path | None = None, **overrides: object) -> Config:
        """Read ``hati.toml`` if present, then environment, then explicit overrides."""
        directory = Path(data_dir or os.environ.get("HATI_DIR") or ".hati").resolve()
        values: dict[str, Any] = {}  # from TOML and the environment: checked by use
        path = directory / CONFIG_NAME
        if path.exists():
            with path.open("rb") as fh:
                values.update(tomllib.load(fh).get("server", {}))
        if "HATI_PORT" in os.environ:
            values["port"] = int(os.environ["HATI_PORT"])
        if "HATI_HOST" in os.environ:
            values["host"] = os.environ["HATI_HOST"]
        if os.environ.get("HATI_PASSWORD"):
            values["password"] = os.environ["HATI_PASSWORD"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "shared_schemas" in values:
            values["shared_schemas"] = tuple(values["shared_schemas"])
        known = {f.name for f in fields(cls)} - {"data_dir"}
        return cls(data_dir=directory, **{k: v for k, v in values.items() if k in known})

    def save(self) -> None:
        """Write the settings a restarted server must reuse."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        lines = ["[server]", f'host = "{self.host}"', f"port = {self.port}"]
        if self.password:  # as a SCRAM verifier: the file never holds the password
            lines.append(f"password = {_toml_str(stored_form(self.password))}")
        if self.allow_cleartext:
            lines.append("allow_cleartext = true")
        if self.server_files:
            lines.append("server_files = true")
        for key in ("merge_agents", "write_agents", "read_only_agents"):
            agents = getattr(self, key)
            if agents is not None and (agents or key != "read_only_agents"):
                lines.append(f"{key} = [{', '.join(_toml_str(a) for a in agents)}]")
        lines.append(f"max_message_bytes = {self.max_message_bytes}")
        lines.append(f"max_connections = {self.max_connections}")
        lines.append(f"audit_max_rows = {self.audit_max_rows}")
        for key in ("auto_compact", "compact_free_percent", "compact_free_mb"):
            value = getattr(self, key)
            if value != _DEFAULTS[key]:
                lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
        if self.compact_wait_seconds != _DEFAULTS["compact_wait_seconds"]:
            lines.append(f"compact_wait_seconds = {self.compact_wait_seconds}")
        if self.agent_keys:
            lines.append("")
            lines.append("[server.agent_keys]")
            lines.extend(
                f"{_toml_str(k)} = {_toml_str(stored_form(v))}" for k, v in self.agent_keys.items()
            )
        self.data_dir.chmod(0o700)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        self.config_path.chmod(0o600)  # private always: it may hold secrets


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    import json

    return json.dumps(value)


_DEFAULTS = {f.name: f.default for f in fields(Config)}
