"""PostgreSQL statements as text: split a Query message, classify, tag, describe.

Pure functions over SQL text and a DuckDB cursor's description, no session state:
``split_statements`` (the hand splitter), ``first_word`` (the classification the
pipeline routes on), ``finish`` (the Result and PostgreSQL command tag of a statement
DuckDB has run), ``describe_probe`` (a read with the columns a statement will send).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from hati.pg.colnames import pg_column_names
from hati.pg.settings import SERVER_VERSION
from hati.results import Result, command, rows_result, text_columns
from hati.wire import types as pgtypes

TXN_BEGIN = frozenset({"BEGIN", "START"})
TXN_END = frozenset({"COMMIT", "END", "ROLLBACK", "ABORT"})
TXN_CONTROL = TXN_BEGIN | TXN_END | {"SAVEPOINT", "RELEASE"}
SETTINGS = frozenset({"SET", "RESET", "SHOW"})
NOOPS = frozenset({"DISCARD", "DEALLOCATE", "LISTEN", "UNLISTEN", "NOTIFY", "CLOSE"})
# Statements that only read (a WITH may hide a write: see is_plain_read).
READS = frozenset(
    {"SELECT", "WITH", "VALUES", "TABLE", "FROM", "EXPLAIN", "DESCRIBE", "PRAGMA", "SUMMARIZE"}
)
# Statements that keep a multi-statement Query message from running as one transaction:
# explicit transaction control (the client manages it) and DuckDB statements that cannot
# run inside one.
OWN_TRANSACTION = TXN_CONTROL | {
    "CHECKPOINT",
    "FORCE",
    "VACUUM",
    "ATTACH",
    "DETACH",
    "INSTALL",
    "LOAD",
    "USE",
    "EXPORT",
    "IMPORT",
}
# Kinds whose result is a command tag even when DuckDB returns a row (its count).
_TAG_ONLY = frozenset(
    {
        "CREATE",
        "DROP",
        "ALTER",
        "SET",
        "RESET",
        "COPY",
        "ATTACH",
        "DETACH",
        "LOAD",
        "INSTALL",
        "CHECKPOINT",
        "VACUUM",
        "CALL",
        "TRUNCATE",
    }
)
_DML = ("INSERT", "UPDATE", "DELETE", "MERGE")

_WS = r"(?:\s|/\*.*?\*/|--[^\n]*\n)*"
_FIRST_WORD = re.compile(_WS + r"([A-Za-z]+)", re.S)
_BLANK = re.compile(r"(\s|--[^\n]*(\n|$)|/\*.*?\*/)*", re.S)
_DOLLAR = re.compile(r"\$[A-Za-z_]*\$")
_RETURNING = re.compile(r"\bRETURNING\b", re.I)
_WITH_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.I)
_VERSION = re.compile(r"^\s*SELECT\s+(?:pg_catalog\.)?version\(\)\s*;?\s*$", re.I)
_CURRENT_SCHEMA = re.compile(r"^\s*SELECT\s+(?:pg_catalog\.)?current_schema\(\)\s*;?\s*$", re.I)
_CHECKPOINT = re.compile(r"^\s*(FORCE\s+)?CHECKPOINT\b\s*([A-Za-z_][\w\"]*)?\s*;?\s*$", re.I)
_ROLLBACK_TO = re.compile(r"ROLLBACK\s+(WORK\s+|TRANSACTION\s+)?TO\b")
_WITH_TOKEN = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|[()]|[A-Za-z_]\w*", re.S
)
_WITH_BODY = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES", "TABLE", "FROM"}
_PARAM = re.compile(r"\$(\d+)")


def first_word(sql: str) -> str:
    """The statement's first keyword, upper-cased ("" when there is none)."""
    m = _FIRST_WORD.match(sql)
    return m.group(1).upper() if m else ""


def split_statements(sql: str) -> list[str]:
    """Split on semicolons outside quotes, dollar quotes and comments."""
    if ";" not in sql and "--" not in sql and "/*" not in sql:
        return [sql] if sql.strip() else []
    out, start, i, n = [], 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            i = _end_of_quoted(sql, i)
        elif c == "$":
            m = _DOLLAR.match(sql, i)
            if m:
                end = sql.find(m.group(0), i + len(m.group(0)))
                i = n if end < 0 else end + len(m.group(0))
            else:
                i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == ";":
            out.append(sql[start:i])
            start = i = i + 1
        else:
            i += 1
    out.append(sql[start:])
    return [s for s in out if s.strip() and not _BLANK.fullmatch(s)]


def _end_of_quoted(sql: str, i: int) -> int:
    """Just past the quoted string or identifier starting at ``i`` (doubled quotes kept)."""
    c, j, n = sql[i], i + 1, len(sql)
    while j < n:
        if sql[j] == c:
            if j + 1 < n and sql[j + 1] == c:
                j += 2
                continue
            break
        j += 1
    return j + 1


def has_returning(sql: str) -> bool:
    return _RETURNING.search(sql) is not None


def is_plain_read(word: str, sql: str) -> bool:
    """A statement that cannot write (a WITH only when no INSERT/UPDATE/DELETE shows)."""
    if word == "WITH":
        return _WITH_WRITE.search(sql) is None
    return word in READS and not has_returning(sql)


def is_rollback_to(sql: str) -> bool:
    return _ROLLBACK_TO.match(sql.strip().rstrip(";").upper()) is not None


def checkpoint(sql: str) -> tuple[bool, str] | None:
    """(FORCE?, database) of a CHECKPOINT statement, None for anything else."""
    m = _CHECKPOINT.match(sql)
    return None if m is None else (bool(m.group(1)), m.group(2) or "")


def constant_answer(sql: str) -> Result | None:
    """``SELECT version()`` and ``SELECT current_schema()``, answered as PostgreSQL would."""
    if _VERSION.match(sql):
        return rows_result(text_columns("version"), [(f"PostgreSQL {SERVER_VERSION} on DuckDB",)])
    if _CURRENT_SCHEMA.match(sql):
        return rows_result([("current_schema", pgtypes.NAME)], [("main",)])
    return None


def with_verb(sql: str) -> str:
    """The statement a ``WITH ...`` prefix belongs to (SELECT, INSERT, UPDATE, ...)."""
    depth = 0
    for m in _WITH_TOKEN.finditer(sql):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok.upper() in _WITH_BODY:
            return tok.upper()
    return "WITH"


_DDL_NOISE = {"OR", "REPLACE", "TEMP", "TEMPORARY", "UNIQUE", "IF", "NOT", "EXISTS"}


def tag_for(kind: str, sql: str, n: int) -> str:
    """PostgreSQL's command tag for a statement of ``kind`` that affected ``n`` rows."""
    if kind == "INSERT":
        return f"INSERT 0 {n}"
    if kind == "TRUNCATE":
        return "TRUNCATE TABLE"
    if kind in ("UPDATE", "DELETE", "MERGE", "COPY"):
        return f"{kind} {n}"
    if kind in ("CREATE", "DROP", "ALTER", "CREATE_INDEX", "CREATE_OTHER", "DROP_OTHER"):
        words = [w.upper() for w in re.findall(r"[A-Za-z]+", sql)[:4]]
        return " ".join([w for w in words if w not in _DDL_NOISE][:2])
    if kind == "SELECT":
        return f"SELECT {n}"
    return kind.upper()


def columns_of(description: Any) -> list[tuple[str, int]]:
    """(name, type oid) of a DuckDB cursor's description."""
    return [(d[0], pgtypes.oid_for(d[1])) for d in description]


def pg_named(sql: str, cols: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Columns renamed as PostgreSQL names them (``count(*)`` -> ``count``)."""
    names = [c[0] for c in cols]
    if not any("(" in n for n in names):
        return cols
    return [(n, c[1]) for n, c in zip(pg_column_names(sql, names), cols, strict=True)]


def finish(cur: duckdb.DuckDBPyConnection, rel: Any, sql: str, word: str) -> Result:
    """The Result of ``sql`` that DuckDB has just run on ``cur``: a command tag with its
    row count, or the columns and a stream of the rows."""
    desc = cur.description
    kind = with_verb(sql) if word == "WITH" else word
    if kind in _DML and not has_returning(sql):
        row = rel.fetchone() if desc else None
        n = int(row[0]) if row and row[0] is not None else 0
        return command(tag_for(kind, sql, n), n)
    if desc is None or kind in _TAG_ONLY:
        n = 0
        if desc and kind == "COPY":
            row = rel.fetchone()
            n = int(row[0]) if row and isinstance(row[0], int) else 0
        elif desc:
            rel.fetchall()
        return command(tag_for(kind, sql, n), n)
    # INSERT/UPDATE/DELETE ... RETURNING keep their own tag; the row count is filled in
    # once the rows are sent, as for SELECT.
    tag = tag_for(kind, sql, 0) if kind in _DML else "SELECT"
    return Result(tag, pg_named(sql, columns_of(desc)), fetch_more=lambda k: cur.fetchmany(k))


QUERIES = frozenset({"SELECT", "WITH", "VALUES", "TABLE", "FROM"})


def describe_probe(sql: str) -> tuple[str, str] | None:
    """A read with exactly the columns ``sql`` will send (to run with NULL parameters),
    and the text to name them by; None when the statement sends no rows or cannot be
    probed."""
    word = first_word(sql)
    if word in QUERIES:
        return f"SELECT * FROM ({sql.rstrip().rstrip(';')}) LIMIT 0", sql
    if word in ("INSERT", "UPDATE", "DELETE") and has_returning(sql):
        probe = returning_probe(sql)
        return None if probe is None else (probe, probe)
    return None


def parameter_count(sql: str) -> int:
    """The highest ``$n`` the text mentions."""
    return max((int(i) for i in _PARAM.findall(sql)), default=0)


def returning_probe(sql: str) -> str | None:
    """``SELECT <the RETURNING list> FROM <target> LIMIT 0``: a read with the columns an
    INSERT/UPDATE/DELETE ... RETURNING will send, so a prepared statement can be
    described before it runs. The RETURNING list is the user's own text; None when
    the statement is not such a write or the list may name other tables."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
        tokens = sqlglot.Tokenizer().tokenize(sql)
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError):
        return None
    if not isinstance(tree, exp.Insert | exp.Update | exp.Delete) or tree.args.get("with_"):
        return None
    if tree.args.get("from_") or tree.args.get("using"):
        return None
    table = _target(tree.this)
    depth, start = 0, None
    for tok in tokens:
        if tok.token_type in (sqlglot.TokenType.L_PAREN, sqlglot.TokenType.L_BRACKET):
            depth += 1
        elif tok.token_type in (sqlglot.TokenType.R_PAREN, sqlglot.TokenType.R_BRACKET):
            depth -= 1
        elif depth == 0 and tok.token_type == sqlglot.TokenType.RETURNING:
            start = tok.end + 1
    if table is None or start is None:
        return None
    returning = sql[start:].strip().rstrip(";").strip()
    return f"SELECT {returning} FROM {table.sql(dialect='postgres')} LIMIT 0"


def _target(node: exp.Expression | None) -> exp.Table | None:
    if node is None or isinstance(node, exp.Table):
        return node
    if isinstance(node, exp.Schema):
        return node.this if isinstance(node.this, exp.Table) else None
    return node.find(exp.Table)
