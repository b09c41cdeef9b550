"""Integrity errors with the constraint's real name, looked up when the error happens.

DuckDB's constraint errors name no constraint (``Duplicate key "k: a" violates unique
constraint.``) and a foreign key's only by the referenced side. PostgreSQL names the
constraint as the client wrote it (``CONSTRAINT emu_k_unique UNIQUE (k)``, a unique
index's name) or as it names one itself (``emu_k_key``), and the other table of a
foreign key; clients read that from the message and from ``diag.constraint_name``.
``errors``/``wording`` give the wording; this module finds the names in DuckDB's
catalog and hati's record of client names (``emulate.NAMES``). Only the error path
pays for the lookups.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from hati.errors import ForeignKeyViolation, HatiError, UniqueViolation, as_hati_error
from hati.pg import emulate

_FK_MISSING = re.compile(r'foreign key constraint because key "(?P<key>.*)" does not exist')
_FK_REFERENCED = re.compile(r'foreign key constraint because key "(?P<key>.*)" is still referenced')


def named(cur: duckdb.DuckDBPyConnection, exc: BaseException, relation: str | None) -> HatiError:
    """``exc`` as the client sees it, with the names PostgreSQL would give."""
    err = as_hati_error(exc, relation)
    if relation is None or not isinstance(err, UniqueViolation | ForeignKeyViolation):
        return err
    # The failed statement aborted the session's transaction: read the catalog apart.
    with cur.cursor() as apart:
        try:
            if isinstance(err, ForeignKeyViolation):
                return _foreign(apart, err, relation, str(exc)) or err
            if err.constraint or _one_key(apart, err, relation):
                return _unique(apart, err, relation)
        except duckdb.Error:
            pass  # the catalog could not say: the error as DuckDB worded it
    return err


def _client_name(cur: duckdb.DuckDBPyConnection, table: str, duck: str) -> str | None:
    row = cur.execute(
        f"SELECT name FROM {emulate.NAMES} WHERE table_name = $1 AND duck_name = $2 "
        "ORDER BY schema_name <> 'main' LIMIT 1",
        [table, duck],
    ).fetchone()
    return None if row is None else str(row[0])


def _one_key(cur: duckdb.DuckDBPyConnection, err: HatiError, table: str) -> bool:
    """A duplicate DuckDB reported by its value only (``Key ?=(v)``): the table's one
    key, if it has one, is the one violated; its columns go into the detail."""
    if not (err.detail or "").startswith("Key ?="):
        return False
    rows = cur.execute(
        "SELECT DISTINCT constraint_column_names FROM duckdb_constraints() WHERE table_name = $1 "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
        [table],
    ).fetchall()
    if len(rows) != 1:
        err.detail = None
        return False
    err.detail = (err.detail or "").replace("Key ?=", f"Key ({', '.join(rows[0][0])})=", 1)
    return True


def _key_columns(detail: str | None) -> list[str]:
    m = re.match(r"Key \((.*)\)=\(", detail or "")
    return m.group(1).split(", ") if m else []


def _unique(cur: duckdb.DuckDBPyConnection, err: HatiError, table: str) -> HatiError:
    cols = _key_columns(err.detail)
    rows = cur.execute(
        "SELECT constraint_type, constraint_name FROM duckdb_constraints() WHERE table_name = $1 "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE') AND constraint_column_names = $2 "
        "ORDER BY schema_name <> 'main' LIMIT 1",
        [table, cols],
    ).fetchall()
    if rows:
        kind, duck = rows[0]
        default = f"{table}_pkey" if kind == "PRIMARY KEY" else "_".join([table, *cols, "key"])
        name = _client_name(cur, table, str(duck)) or default
    else:  # a unique index, named by the client
        found = cur.execute(
            "SELECT index_name FROM duckdb_indexes() WHERE table_name = $1 AND is_unique "
            "AND expressions = $2 ORDER BY schema_name <> 'main' LIMIT 1",
            [table, "[" + ", ".join(cols) + "]"],
        ).fetchone()
        if found is None:
            return err
        name = str(found[0])
    return UniqueViolation(
        f'duplicate key value violates unique constraint "{name}"',
        detail=err.detail, table=table, constraint=name,
    )  # fmt: skip


def _key(text: str) -> tuple[list[str], list[str]]:
    pairs = [p.partition(": ") for p in text.split(", ")]
    return [p[0] for p in pairs], [p[2] for p in pairs]


def _foreign(
    cur: duckdb.DuckDBPyConnection, err: HatiError, table: str, text: str
) -> HatiError | None:
    missing, referenced = _FK_MISSING.search(text), _FK_REFERENCED.search(text)
    if missing is not None:  # an INSERT/UPDATE of the referencing table
        cols, vals = _key(missing.group("key"))
        sql = ("SELECT table_name, constraint_column_names, referenced_table, constraint_name "
               "FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' "
               "AND table_name = $1 AND referenced_column_names = $2")  # fmt: skip
    elif referenced is not None:  # a DELETE/UPDATE of the referenced table
        cols, vals = _key(referenced.group("key"))
        sql = ("SELECT table_name, constraint_column_names, referenced_table, constraint_name, "
               "referenced_column_names FROM duckdb_constraints() WHERE constraint_type = "
               "'FOREIGN KEY' AND referenced_table = $1 AND constraint_column_names = $2")  # fmt: skip
    else:
        return None
    row: Any = cur.execute(
        sql + " ORDER BY schema_name <> 'main' LIMIT 1", [table, cols]
    ).fetchone()
    if row is None:
        return None
    child, fk_cols, parent, duck = str(row[0]), list(row[1]), str(row[2]), str(row[3])
    name = _client_name(cur, child, duck) or "_".join([child, *fk_cols, "fkey"])
    if missing is not None:
        message = f'insert or update on table "{child}" violates foreign key constraint "{name}"'
        detail = (
            f'Key ({", ".join(fk_cols)})=({", ".join(vals)}) is not present in table "{parent}".'
        )
    else:
        message = (f'update or delete on table "{parent}" violates foreign key constraint '
                   f'"{name}" on table "{child}"')  # fmt: skip
        detail = (f'Key ({", ".join(row[4])})=({", ".join(vals)}) is still referenced '
                  f'from table "{child}".')  # fmt: skip
    return ForeignKeyViolation(message, detail=detail, table=child, constraint=name)
