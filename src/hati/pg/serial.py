"""SERIAL columns, which DuckDB lacks, made the way PostgreSQL makes them.

In PostgreSQL ``SERIAL`` is not a type but a shorthand: an integer column whose
default is ``nextval`` of a sequence named ``<table>_<column>_seq``, NOT NULL.
Clients and model-written SQL use it constantly (SQLAlchemy emits it for every
integer primary key). ``expand`` finds the pseudo-type with sqlglot's tokenizer and
replaces only those words in the user's text; the rest of the statement is untouched.

The sequence lives in the table's schema, or in ``main`` for an unqualified name,
also when the table is created in a branch: a branch's rows then draw from the same
sequence as main's (sequences are not transactional in PostgreSQL either), so a merge
brings no duplicate ids and the copied DEFAULT still resolves after the merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import TokenType

from hati.storage.duckdb_backend import qident, qlit, qname

_TYPES = {
    "serial": "INTEGER",
    "serial4": "INTEGER",
    "bigserial": "BIGINT",
    "serial8": "BIGINT",
    "smallserial": "SMALLINT",
    "serial2": "SMALLINT",
}
_MENTION = re.compile(r"\b(?:big|small)?serial[248]?\b", re.I)
_NAME_TOKENS = (TokenType.VAR, TokenType.IDENTIFIER)
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names


@dataclass(frozen=True)
class Expanded:
    sql: str  # the CREATE TABLE with each SERIAL word replaced
    sequences: list[str]  # CREATE SEQUENCE statements to run first


def mentions_serial(sql: str) -> bool:
    return _MENTION.search(sql) is not None


def expand(sql: str) -> Expanded | None:
    """The statement with SERIAL columns spelled out, or None if it has none."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
        tokens = Postgres().tokenize(sql)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None
    if not isinstance(tree, exp.Create) or (tree.args.get("kind") or "").upper() != "TABLE":
        return None
    schema_node = tree.this
    table = schema_node.this if isinstance(schema_node, exp.Schema) else schema_node
    if not isinstance(table, exp.Table):
        return None
    schema = table.args["db"].name if table.args.get("db") is not None else "main"
    pieces, sequences, pos, depth = [], [], 0, 0
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
        base = _TYPES.get(tok.text.lower())
        if base is None or depth != 1 or i < 2 or tokens[i - 1].token_type not in _NAME_TOKENS:
            continue
        if tokens[i - 2].token_type not in (TokenType.L_PAREN, TokenType.COMMA):
            continue
        seq = f"{table.name}_{tokens[i - 1].text}_seq"[:MAX_IDENTIFIER]
        sequences.append(f"CREATE SEQUENCE IF NOT EXISTS {qname(schema, seq)}")
        nextval = f"nextval({qlit(qident(schema) + '.' + qident(seq))})"
        pieces += [sql[pos : tok.start], f"{base} DEFAULT {nextval} NOT NULL"]
        pos = tok.end + 1
    if not sequences:
        return None
    return Expanded("".join(pieces) + sql[pos:], sequences)
