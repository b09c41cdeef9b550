"""Copy-on-write primitives: copy a table with its shape, start a row delta, or turn a
delta into a full copy. Each runs inside the caller's transaction."""

from __future__ import annotations

import re

import duckdb

from hati.branching import delta, layout
from hati.branching.catalog import Branch
from hati.branching.space import Space, split_rel
from hati.storage.duckdb_backend import qident, qname

_CREATE_HEAD = re.compile(
    r'^\s*CREATE\s+TABLE\s+(?:(?:"(?:[^"]|"")*"|[^\s(."]+)\.)*(?:"(?:[^"]|"")*"|[^\s(."]+)\s*\(',
    re.IGNORECASE,
)
_INDEX_HEAD = re.compile(
    r'^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:"(?:[^"]|"")*"|[^\s"]+)\s+ON\s+'
    r'(?:(?:"(?:[^"]|"")*"|[^\s(."]+)\.)*(?:"(?:[^"]|"")*"|[^\s(."]+)\s*\(',
    re.IGNORECASE,
)
_OTHER_UNIQUE = re.compile(r"\b(UNIQUE|REFERENCES)\b", re.IGNORECASE)
_NAME = r'(?:"(?:[^"]|"")*"|[^\s(."]+)'
_PAREN = r'\((?:"(?:[^"]|"")*"|[^")])*\)'
# DuckDB spells every foreign key as a table constraint, after the columns.
_FOREIGN_KEY = re.compile(
    rf",\s*FOREIGN\s+KEY\s*{_PAREN}\s*REFERENCES\s+{_NAME}(?:\.{_NAME})*\s*{_PAREN}",
    re.IGNORECASE,
)


_QUALIFIED_REFERENCE = re.compile(rf"(\bREFERENCES\s+)(?:{_NAME}\.)+({_NAME})", re.IGNORECASE)


def ddl_body(ddl: str, foreign_keys: bool = False) -> str | None:
    """What follows ``CREATE TABLE <name>(`` in a table's DDL (columns and constraints),
    so the same shape can be created under another name; None if it cannot be cut.
    Without ``foreign_keys`` the body has none: a copy in a branch or a snapshot would
    reference a table of its own schema (a view, or nothing); a branch checks its
    foreign keys itself (constraints.py)."""
    m = _CREATE_HEAD.match(ddl)
    if m is None:
        return None
    body = ddl[m.end() :]
    if not foreign_keys:
        return _FOREIGN_KEY.sub("", body)
    # DuckDB qualifies a reference outside the default schema (a branch's): the copy
    # references the table of its own schema.
    return _QUALIFIED_REFERENCE.sub(r"\1\2", body)


def copy_table(
    space: Space, cur: duckdb.DuckDBPyConnection, src: str, schema: str, name: str
) -> None:
    """Copy a table with its constraints (CTAS would drop the primary key)."""
    src_schema, src_table = space.physical(cur, src)
    body = ddl_body(space.db.table_sql(cur, src_schema, src_table), schema == layout.MAIN)
    if body is None:
        cur.execute(f"CREATE TABLE {qname(schema, name)} AS SELECT * FROM {src}")
        return
    cur.execute(f"CREATE TABLE {qname(schema, name)}(" + body)
    if schema != layout.SNAP:  # snapshots are only read whole: no index needed
        # Before the rows: DuckDB cannot index a table with uncommitted changes.
        copy_indexes(cur, src_schema, src_table, schema, name)
    cur.execute(f"INSERT INTO {qname(schema, name)} SELECT * FROM {src}")


def copy_indexes(
    cur: duckdb.DuckDBPyConnection, src_schema: str, src_table: str, schema: str, name: str
) -> None:
    """Create on ``schema.name`` the secondary indexes ``src`` has and it lacks."""
    q = (
        "SELECT index_name, sql FROM duckdb_indexes() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?"
    )
    have = {r[0] for r in cur.execute(q, [schema, name]).fetchall()}
    for index, sql in cur.execute(q, [src_schema, src_table]).fetchall():
        m = _INDEX_HEAD.match(sql or "")
        if index in have or m is None:
            continue
        body = sql[m.end() :].rstrip().rstrip(";")
        cur.execute(
            f"CREATE {m.group(1) or ''}INDEX {qident(index)} ON {qname(schema, name)}(" + body
        )


def create_overlay(
    cur: duckdb.DuckDBPyConnection,
    b: Branch,
    table: str,
    base: str,
    key: list[str],
    bag: bool = False,
) -> None:
    """(Re)create the view a branch reads ``table`` through: ``base`` plus its touched rows."""
    cur.execute(
        f"CREATE OR REPLACE VIEW {qname(b.schema, table)} AS "
        + delta.overlay_sql(base, layout.delta_schema(b.id), table, key, bag)
    )


def start_delta(
    space: Space, cur: duckdb.DuckDBPyConnection, b: Branch, src: str, table: str
) -> str | None:
    """Begin row-level copy-on-write of ``table`` over ``b``'s base ``src``; return the
    full relation the delta is composed over (None: the table needs a full copy). A
    table without a primary key keeps a delta of whole row values (delta.py). When
    ``src`` is an ancestor's overlay the delta starts with that ancestor's changes and
    reads the ancestor's base: one anti-join at any depth (``delta.seed``)."""
    info = space.table_info(cur, *space.physical(cur, src))
    key, body = info.primary_key, ddl_body(info.ddl)
    if body is None or _OTHER_UNIQUE.search(info.ddl) or info.unique_index:
        return None
    bag = not key
    if bag:
        key = list(info.types)
    key_types = [(k, info.types[k]) for k in key]
    dschema = layout.delta_schema(b.id)
    delta.create(cur, body, key_types, dschema, table, bag)
    base = src
    owner = space.overlay_owner(cur, src)
    if (
        owner is not None
        and space.is_bag(cur, owner, table) == bag
        and space.delta_key(cur, owner, table) == key
    ):  # (else, never seen: this delta stays over the ancestor's overlay)
        base = space.delta_base(cur, owner, table)
        delta.seed(cur, base, layout.delta_schema(owner.id), dschema, table, key, bag)
    create_overlay(cur, b, table, base, key, bag)
    space.keys[(b.id, table)] = key
    if bag:
        space.bags.add((b.id, table))
    return base


def to_full(space: Space, cur: duckdb.DuckDBPyConnection, owner: Branch, table: str) -> None:
    """Replace a delta table by a full copy (for statements a delta cannot take)."""
    dschema = layout.delta_schema(owner.id)
    src = space.delta_base(cur, owner, table)
    key = space.delta_key(cur, owner, table)
    bag = space.is_bag(cur, owner, table)
    body = ddl_body(space.db.table_sql(cur, dschema, table))
    assert body is not None
    target = qname(owner.schema, table)
    cur.execute(f"DROP VIEW IF EXISTS {target}")
    cur.execute(f"CREATE TABLE {target}(" + body)
    copy_indexes(cur, *split_rel(src), owner.schema, table)
    cur.execute(f"INSERT INTO {target} " + delta.overlay_sql(src, dschema, table, key, bag))
    cur.execute(f"DROP TABLE {qname(dschema, table)}")
    cur.execute(f"DROP TABLE {qname(dschema, layout.hide_table(table))}")
    space.keys.pop((owner.id, table), None)
    space.bags.discard((owner.id, table))
