"""Row-level copy-on-write for tables with a primary key.

Copying a whole table on a branch's first write costs seconds at millions of rows.
For a keyed table the branch instead keeps only the rows it touched:

- ``_hbd_<id>.<t>``: the branch's version of every row it touched (same DDL as t);
- ``_hbd_<id>."<t>$hide"``: the keys of base rows the branch took over;
- ``_hb_<id>.<t>``: a view, base rows whose key is not hidden plus the touched rows.

A write that qualifies (``plan_write``: one plain INSERT, or an UPDATE / DELETE of
one table whose WHERE reads no other copy of it) runs *unchanged* with
``search_path = _hbd_<id>, _hb_<id>, main``, so its target is the touched-rows table.
Before an UPDATE or DELETE the base rows its WHERE matches are copied in and their
keys hidden ("pulled"), so the statement sees exactly the rows it would see in the
whole table. Anything else (ALTER, MERGE, upserts, self-joins, tables with other
unique constraints) turns the table into a full copy first, as before.

Merging such a table touches only the changed keys (see ``apply_unchanged_base``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import TokenType

from hati.branching.analysis import Analysis
from hati.branching.layout import hide_table
from hati.errors import UniqueViolation
from hati.storage.duckdb_backend import qident, qname

# Volatile functions: evaluating such a WHERE twice could pick different rows.
_VOLATILE = re.compile(r"\b(random|uuid|gen_random_uuid|nextval|setseed|currval)\s*\(", re.I)
_TOKENIZER = Postgres().tokenizer_class()


@dataclass
class DeltaWrite:
    """A write statement the touched-rows table can take as it is."""

    table: str
    kind: str  # INSERT / UPDATE / DELETE
    alias: str
    cond: str | None = None  # the WHERE text, placeholders renumbered from $1
    cond_params: list[Any] = field(default_factory=list)
    # Columns an UPDATE assigns; None when that cannot be told (then assume the key).
    set_columns: list[str] | None = None

    def may_break_keys(self, key: list[str]) -> bool:
        """True when the statement can create a key the base already has."""
        if self.kind == "INSERT":
            return True
        if self.kind == "UPDATE":
            return self.set_columns is None or bool(set(self.set_columns) & set(key))
        return False


def plan_write(a: Analysis, sql: str, params: list[Any]) -> DeltaWrite | None:  # noqa: C901 - a checklist of what a delta cannot take, read top to bottom
    """The DeltaWrite for ``sql``, or None when it needs a full copy of its table."""
    stmt = a.tree
    if stmt is None or a.kind not in ("INSERT", "UPDATE", "DELETE") or len(a.writes) != 1:
        return None
    target = a.writes[0]
    if target.schema is not None or stmt.find(exp.CTE) is not None:
        return None
    mentions = [t for t in stmt.find_all(exp.Table) if t.name == target.name]
    if len(mentions) != 1:
        return None  # the statement also reads its own target (subquery, self-join)
    alias = mentions[0].alias or target.name
    if isinstance(stmt, exp.Insert):
        if any(stmt.args.get(k) for k in ("conflict", "alternative", "ignore", "overwrite")):
            return None
        return DeltaWrite(target.name, "INSERT", alias)
    if isinstance(stmt, exp.Update) and stmt.args.get("from_"):
        return None
    if isinstance(stmt, exp.Delete) and stmt.args.get("using"):
        return None
    if stmt.args.get("order") or stmt.args.get("limit"):
        return None
    cond = _where_text(sql, params)
    if cond is None:
        return None
    text, cond_params = cond
    if text and _VOLATILE.search(text):
        return None
    dw = DeltaWrite(target.name, a.kind, alias, text or None, cond_params)
    if isinstance(stmt, exp.Update):
        sets = stmt.expressions
        if all(isinstance(e, exp.EQ) and isinstance(e.this, exp.Column) for e in sets):
            dw.set_columns = [e.this.name for e in sets]
    return dw


def _where_text(sql: str, params: list[Any]) -> tuple[str, list[Any]] | None:  # noqa: C901 - one pass over the tokens, a branch per token kind
    """The top-level WHERE clause of ``sql`` as written, with its own parameters.

    Returns ("", []) when there is no WHERE, None when it cannot be cut out safely.
    """
    try:
        tokens = _TOKENIZER.tokenize(sql)
    except Exception:  # noqa: BLE001 - any tokenizer failure: take the safe path
        return None
    depth, start, end = 0, None, len(sql)
    qmarks_before = 0
    for i, tok in enumerate(tokens):
        tt = tok.token_type
        if tt == TokenType.L_PAREN:
            depth += 1
        elif tt == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and tt == TokenType.WHERE and start is None:
            start = i + 1
        elif depth == 0 and tt in (TokenType.RETURNING, TokenType.SEMICOLON) and start is not None:
            end = tok.start
            break
        if start is None and tt == TokenType.PLACEHOLDER:
            qmarks_before += 1
    if start is None:
        return "", []
    if start >= len(tokens) or tokens[start].start >= end:
        return None
    begin = tokens[start].start
    pieces: list[str] = []
    pos = begin
    used: list[Any] = []
    numbering: dict[int, int] = {}
    qmarks = 0
    i = start
    while i < len(tokens) and tokens[i].start < end:
        tok = tokens[i]
        if tok.token_type == TokenType.PLACEHOLDER:
            qmarks += 1
        elif tok.token_type == TokenType.PARAMETER and i + 1 < len(tokens):
            nxt = tokens[i + 1]
            if nxt.token_type != TokenType.NUMBER or nxt.start != tok.end + 1:
                return None
            n = int(nxt.text)
            if n < 1 or n > len(params):
                return None
            if n not in numbering:
                numbering[n] = len(numbering) + 1
                used.append(params[n - 1])
            pieces.append(sql[pos : tok.start] + f"${numbering[n]}")
            pos = nxt.end + 1
            i += 2
            continue
        i += 1
    pieces.append(sql[pos:end])
    if qmarks:
        if numbering:
            return None
        used = list(params[qmarks_before : qmarks_before + qmarks])
    return "".join(pieces).strip(), used


# ---------------------------------------------------------------------- storage
def key_match(key: list[str], a: str, b: str) -> str:
    return " AND ".join(f"{a}.{qident(k)} = {b}.{qident(k)}" for k in key)


def overlay_sql(base_rel: str, dschema: str, table: str, key: list[str]) -> str:
    """The branch's whole table: base rows not taken over, plus the touched rows."""
    hide = qname(dschema, hide_table(table))
    return (
        f"SELECT * FROM {base_rel} x WHERE NOT EXISTS "
        f"(SELECT 1 FROM {hide} h WHERE {key_match(key, 'h', 'x')}) "
        f"UNION ALL SELECT * FROM {qname(dschema, table)}"
    )


def create(
    cur: duckdb.DuckDBPyConnection,
    table_ddl_body: str,
    key_types: list[tuple[str, str]],
    dschema: str,
    table: str,
) -> None:
    """Create the empty touched-rows and hidden-keys tables."""
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {qident(dschema)}")
    cur.execute(f"CREATE TABLE {qname(dschema, table)}({table_ddl_body}")
    cols = ", ".join(f"{qident(k)} {t}" for k, t in key_types)
    pk = ", ".join(qident(k) for k, _ in key_types)
    cur.execute(f"CREATE TABLE {qname(dschema, hide_table(table))}({cols}, PRIMARY KEY ({pk}))")


def pull(
    cur: duckdb.DuckDBPyConnection,
    dw: DeltaWrite,
    base_rel: str,
    dschema: str,
    key: list[str],
    into: str | None = None,
) -> None:
    """Copy in the base rows ``dw``'s WHERE matches and hide their keys (into the
    touched-rows table ``into``, by default the one named like the target)."""
    alias = qident(dw.alias)
    into = into or dw.table
    hide = qname(dschema, hide_table(into))
    where = f"({dw.cond}) AND " if dw.cond else ""
    fresh = f"{where}NOT EXISTS (SELECT 1 FROM {hide} h WHERE {key_match(key, 'h', alias)})"
    params = dw.cond_params or None
    # Same predicate, same snapshot, hidden keys unchanged in between: same rows.
    cur.execute(
        f"INSERT INTO {qname(dschema, into)} SELECT {alias}.* FROM {base_rel} AS {alias} "
        f"WHERE {fresh}",
        params,
    )
    keys = ", ".join(f"{alias}.{qident(k)}" for k in key)
    cur.execute(
        f"INSERT INTO {hide} SELECT {keys} FROM {base_rel} AS {alias} WHERE {fresh}", params
    )


def check_unique(
    cur: duckdb.DuckDBPyConnection, base_rel: str, dschema: str, table: str, key: list[str]
) -> None:
    """A touched row may not reuse the key of a base row the branch still shows."""
    hide = qname(dschema, hide_table(table))
    row = cur.execute(
        f"SELECT {', '.join(f'd.{qident(k)}' for k in key)} FROM {qname(dschema, table)} d "
        f"WHERE EXISTS (SELECT 1 FROM {base_rel} x WHERE {key_match(key, 'x', 'd')}) "
        f"AND NOT EXISTS (SELECT 1 FROM {hide} h WHERE {key_match(key, 'h', 'd')}) LIMIT 1"
    ).fetchone()
    if row is not None:
        shown = ", ".join(str(v) for v in row)
        raise UniqueViolation(
            f'duplicate key value violates unique constraint on "{table}"',
            detail=f"Key ({', '.join(key)})=({shown}) already exists.",
        )


def changed_keys_sql(dschema: str, table: str, key: list[str]) -> str:
    cols = ", ".join(qident(k) for k in key)
    return (
        f"SELECT {cols} FROM {qname(dschema, hide_table(table))} "
        f"UNION SELECT {cols} FROM {qname(dschema, table)}"
    )


def restrict(
    cur: duckdb.DuckDBPyConnection, rel: str, keys_sql: str, key: list[str], into: str
) -> None:
    """Temp table ``into``: the rows of ``rel`` whose key the branch changed."""
    ks = ", ".join(qident(k) for k in key)
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT r.* FROM {rel} r "
        f"WHERE ({', '.join(f'r.{qident(k)}' for k in key)}) IN (SELECT ({ks}) FROM ({keys_sql}))"
        if len(key) > 1
        else f"CREATE OR REPLACE TEMP TABLE {into} AS SELECT r.* FROM {rel} r "
        f"WHERE r.{ks} IN (SELECT {ks} FROM ({keys_sql}))"
    )


def marks(dw: DeltaWrite, key: list[str], deleted_before: bool) -> list[str]:
    """What to record in ``_hati.delta_columns`` after ``dw`` ran (see that table)."""
    if dw.kind == "UPDATE":
        if dw.may_break_keys(key):  # a key moved: its old key is now a deletion
            return ["*", "-"]
        return list(dw.set_columns or [])
    if dw.kind == "DELETE":
        return ["-"]
    return ["*"] if deleted_before else []  # a re-inserted key replaces a whole row


def apply_unchanged_base(
    cur: duckdb.DuckDBPyConnection,
    target: str,
    dschema: str,
    table: str,
    key: list[str],
    columns: list[str],
    assigned: set[str],
) -> tuple[int, int, int]:
    """Merge into a parent table that has not changed since the fork: no conflict is
    possible, so the touched rows are applied by key without reading the base, and
    an UPDATE writes only the columns the branch's statements assigned (in DuckDB the
    cost of updating scattered rows grows with every column written).
    Returns (inserted, updated, deleted)."""
    delta, hide = qname(dschema, table), qname(dschema, hide_table(table))
    hidden = f"EXISTS (SELECT 1 FROM {hide} h WHERE {key_match(key, 'h', 'd')})"

    def count(sql: str) -> int:
        row = cur.execute(sql).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    keys = ", ".join(qident(k) for k in key)
    gone = f"SELECT {keys} FROM {hide} d WHERE NOT EXISTS (SELECT 1 FROM {delta} x WHERE {key_match(key, 'x', 'd')})"
    deleted = 0
    if "-" in assigned and count(f"SELECT count(*) FROM ({gone})"):
        deleted = count(f"DELETE FROM {target} o USING ({gone}) g WHERE {key_match(key, 'o', 'g')}")
    others = [c for c in columns if c not in key and ("*" in assigned or c in assigned)]
    updated = 0
    if others:
        pick = ", ".join(f"d.{qident(c)}" for c in [*key, *others])
        updated = count(
            f"UPDATE {target} o SET "
            + ", ".join(f"{qident(c)} = d.{qident(c)}" for c in others)
            + f" FROM (SELECT {pick} FROM {delta} d WHERE {hidden}) d "
            f"WHERE {key_match(key, 'o', 'd')}"
        )
    cols = ", ".join(qident(c) for c in columns)
    inserted = count(
        f"INSERT INTO {target} ({cols}) SELECT {', '.join(f'd.{qident(c)}' for c in columns)} "
        f"FROM {delta} d WHERE NOT {hidden} ORDER BY d.rowid"
    )
    return inserted, updated, deleted
