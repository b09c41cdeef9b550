"""ALTER TABLE actions that tune PostgreSQL's heap, planner or replication, and mean
nothing to DuckDB: ``SET (fillfactor = 70)``, ``RESET (...)``, ``ALTER COLUMN c SET
STATISTICS n``, ``SET STORAGE``, ``SET (n_distinct = ...)``, ``CLUSTER ON``, ``SET
WITHOUT CLUSTER``, ``SET LOGGED / UNLOGGED``, ``REPLICA IDENTITY``, ``SET ACCESS METHOD
heap``. They are checked as PostgreSQL checks them (the table, the column, the index and
the option must exist, values must be in range) and then change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import AlterTableType as T

from hati.errors import InvalidParameter, UndefinedColumn, UndefinedObject
from hati.pg.emulate import Emulated, Printer

ACTIONS = frozenset(
    {
        T.AT_SetRelOptions,
        T.AT_ResetRelOptions,
        T.AT_ReplaceRelOptions,
        T.AT_SetStatistics,
        T.AT_SetStorage,
        T.AT_SetOptions,
        T.AT_ResetOptions,
        T.AT_ClusterOn,
        T.AT_DropCluster,
        T.AT_SetLogged,
        T.AT_SetUnLogged,
        T.AT_ReplicaIdentity,
        T.AT_SetAccessMethod,
        T.AT_SetCompression,
    }
)
_ON_COLUMN = frozenset(
    {T.AT_SetStatistics, T.AT_SetStorage, T.AT_SetOptions, T.AT_ResetOptions, T.AT_SetCompression}
)
# PostgreSQL 15's table storage parameters (src/backend/access/common/reloptions.c),
# with the range of the numeric ones.
_TABLE_OPTIONS: dict[str, tuple[float, float] | None] = {
    "fillfactor": (10, 100),
    "toast_tuple_target": (128, 8160),
    "parallel_workers": (0, 1024),
    "autovacuum_enabled": None,
    "autovacuum_vacuum_threshold": (0, 2**31 - 1),
    "autovacuum_vacuum_insert_threshold": (-1, 2**31 - 1),
    "autovacuum_analyze_threshold": (0, 2**31 - 1),
    "autovacuum_vacuum_cost_delay": (-1, 100),
    "autovacuum_vacuum_cost_limit": (-1, 10000),
    "autovacuum_freeze_min_age": (-1, 1_000_000_000),
    "autovacuum_freeze_max_age": (-1, 2_000_000_000),
    "autovacuum_freeze_table_age": (-1, 2_000_000_000),
    "autovacuum_multixact_freeze_min_age": (-1, 1_000_000_000),
    "autovacuum_multixact_freeze_max_age": (-1, 2_000_000_000),
    "autovacuum_multixact_freeze_table_age": (-1, 2_000_000_000),
    "log_autovacuum_min_duration": (-1, 2**31 - 1),
    "autovacuum_vacuum_scale_factor": (0, 100),
    "autovacuum_vacuum_insert_scale_factor": (0, 100),
    "autovacuum_analyze_scale_factor": (0, 100),
    "user_catalog_table": None,
    "vacuum_index_cleanup": None,
    "vacuum_truncate": None,
}
_COLUMN_OPTIONS: dict[str, tuple[float, float] | None] = {
    "n_distinct": (-1, float("inf")),
    "n_distinct_inherited": (-1, float("inf")),
}
_STORAGE = ("plain", "external", "extended", "main")
_COMPRESSION = ("pglz", "lz4", "default")


@dataclass
class StorageHint(Emulated):
    relation: Any
    cmd: ast.AlterTableCmd

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        rv = self.relation
        rel = printed(ast.RangeVar(relname=rv.relname, schemaname=rv.schemaname, inh=True))
        columns = [d[0] for d in cur.execute(f"SELECT * FROM {rel} LIMIT 0").description or ()]
        cmd, t = self.cmd, self.cmd.subtype
        if t in _ON_COLUMN and cmd.name not in columns:
            raise UndefinedColumn(
                f'column "{cmd.name}" of relation "{self.relation.relname}" does not exist'
            )
        if t in (T.AT_SetRelOptions, T.AT_ResetRelOptions, T.AT_ReplaceRelOptions):
            _options(cmd.def_, _TABLE_OPTIONS, reset=t == T.AT_ResetRelOptions)
        elif t in (T.AT_SetOptions, T.AT_ResetOptions):
            _options(cmd.def_, _COLUMN_OPTIONS, reset=t == T.AT_ResetOptions)
        elif t == T.AT_SetStatistics:
            _statistics(cmd.def_)
        elif t == T.AT_SetStorage:
            _one_of(cmd.def_, _STORAGE, "storage type")
        elif t == T.AT_SetCompression:
            _one_of(cmd.def_, _COMPRESSION, "compression method")
        elif t == T.AT_ClusterOn:
            found = cur.execute(
                "SELECT 1 FROM duckdb_indexes() WHERE index_name = $1", [cmd.name]
            ).fetchone()
            if found is None:
                raise UndefinedObject(
                    f'index "{cmd.name}" for table "{self.relation.relname}" does not exist'
                )
        elif t == T.AT_SetAccessMethod and cmd.name not in (None, "heap"):
            raise UndefinedObject(f'access method "{cmd.name}" does not exist')


def _value(arg: object) -> str:
    val = getattr(arg, "val", arg)
    for attr in ("sval", "ival", "fval", "boolval"):
        if getattr(val, attr, None) is not None:
            return str(getattr(val, attr)).lower()
    return "" if arg is None else str(arg).lower()


def _options(items: object, known: dict[str, tuple[float, float] | None], reset: bool) -> None:
    for opt in items if isinstance(items, tuple) else ():
        if not isinstance(opt, ast.DefElem):
            continue
        name = opt.defname if not opt.defnamespace else f"{opt.defnamespace}.{opt.defname}"
        if opt.defnamespace == "toast":
            name = opt.defname
        if name not in known:
            raise InvalidParameter(f'unrecognized parameter "{name}"')
        bounds = known[name]
        if reset or opt.arg is None:
            continue
        text = _value(opt.arg)
        if bounds is None:
            if text not in ("true", "false", "on", "off", "yes", "no", "1", "0", "auto"):
                raise InvalidParameter(f'invalid value for boolean option "{name}": {text}')
            continue
        try:
            number = float(text)
        except ValueError:
            raise InvalidParameter(f'invalid value for integer option "{name}": {text}') from None
        if not bounds[0] <= number <= bounds[1]:
            raise InvalidParameter(
                f'value {text} out of bounds for option "{name}"',
                hint=f"Valid values are between {bounds[0]:g} and {bounds[1]:g}.",
            )


def _statistics(arg: object) -> None:
    text = _value(arg)
    if text.lstrip("-").isdigit() and int(text) < -1:
        raise InvalidParameter(f"statistics target {text} is too low")


def _one_of(arg: object, allowed: tuple[str, ...], what: str) -> None:
    text = _value(arg)
    if text not in allowed:
        raise InvalidParameter(f'invalid {what} "{text}"')
