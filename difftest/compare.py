"""What one statement did on one server, and whether two such answers agree.

Rows are tested before column names, so a different answer is never hidden behind a
different name. Values are compared as the servers print them (PostgreSQL's text format), so
``3.5`` and ``3`` differ, ``t`` and ``true`` differ, and NULL is not the string
``'NULL'``. Rows are compared as a multiset unless the statement's top-level
query has ORDER BY; then in order, except that rows whose sort keys tie may come
in any order (and, under LIMIT, the last tied group may hold different rows).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pglast
from pglast import ast
from pglast.enums import SetOperation

Row = tuple[str | None, ...]

# Disagreement classes, in the order they are tested: a statement gets the first that applies.
# The name reads "what PostgreSQL did"-vs-"what hati did".
ERROR_VS_OK = "error-vs-ok"  # PostgreSQL failed, hati succeeded
OK_VS_ERROR = "ok-vs-error"  # PostgreSQL succeeded, hati failed
SQLSTATE_CLASS = "sqlstate-class"  # both failed, with SQLSTATEs of different classes
ROWS = "rows"  # as many columns, different rows: a different answer without an error
COLUMNS = "columns"  # same rows, different result columns (names, count, or none)
TAG = "tag"  # same rows, different command tag
TIMEOUT = "timeout"  # hati did not answer in time (killed if it ignored the cancel)
NOT_RUN = "not-run"  # hati was gone (killed after a hang) before this statement
CLASSES = (ERROR_VS_OK, OK_VS_ERROR, SQLSTATE_CLASS, ROWS, COLUMNS, TAG, TIMEOUT, NOT_RUN)
AGREE = "agree"


@dataclass(frozen=True)
class Outcome:
    """One statement's answer from one server."""

    ok: bool
    sqlstate: str | None = None
    message: str = ""
    columns: tuple[str, ...] | None = None  # None: the statement returned no result set
    rows: tuple[Row, ...] = ()
    tag: str | None = None
    timeout: bool = False
    not_run: bool = False
    seconds: float = 0.0

    def summary(self, max_rows: int = 3, width: int = 160) -> str:
        """One line for a report: ``ERROR 22012 division by zero`` or ``?column? | 3``."""
        if self.not_run:
            return "(not run: the server was gone)"
        if self.timeout:
            return f"(no answer: {self.message})"
        if not self.ok:
            return _clip(f"ERROR {self.sqlstate or '?'}: {self.message}", width)
        if self.columns is None:
            return self.tag or "(no result)"
        head = " | ".join(self.columns)
        body = "; ".join(
            " | ".join("NULL" if v is None else v for v in row) for row in self.rows[:max_rows]
        )
        more = f" … ({len(self.rows)} rows)" if len(self.rows) > max_rows else ""
        return _clip(f"[{head}] {body}{more}" if body else f"[{head}] (0 rows)", width)

    def digest(self) -> dict[str, object]:
        """A small JSON form that later runs can diff per statement."""
        if self.not_run:
            return {"not_run": True}
        if self.timeout:
            return {"timeout": True}
        if not self.ok:
            return {"error": self.sqlstate, "message": _clip(self.message, 200)}
        out: dict[str, object] = {"tag": self.tag}
        if self.columns is not None:
            h = hashlib.sha1(repr(sorted(self.rows, key=_row_key)).encode()).hexdigest()[:12]
            out.update(columns=list(self.columns), nrows=len(self.rows), rows_sha1=h)
        return out


def _clip(s: str, width: int) -> str:
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 1] + "…"


@dataclass(frozen=True)
class Ordering:
    """What the top-level ORDER BY promises about the order of rows.

    ``keys``: per sort key, the result column it sorts by (a 1-based position or a
    column name), or None when the key is an expression not among the columns."""

    ordered: bool = False
    keys: tuple[int | str | None, ...] = ()
    limited: bool = False
    explain: bool = False


@dataclass
class Verdict:
    cls: str  # AGREE or one of CLASSES
    detail: str = ""
    # Agrees when command tags are not compared.
    core_agree: bool = field(default=False)


def ordering_of(sql: str) -> Ordering:
    """Read the statement's top-level ORDER BY / LIMIT with PostgreSQL's own parser."""
    try:
        stmts = pglast.parse_sql(sql)
    except pglast.parser.ParseError:
        return Ordering()
    if len(stmts) != 1:
        return Ordering()
    node = stmts[0].stmt
    if isinstance(node, ast.ExplainStmt):
        return Ordering(explain=True)
    if not isinstance(node, ast.SelectStmt) or not node.sortClause:
        return Ordering()
    keys = tuple(_sort_key(s, node) for s in node.sortClause)
    limited = node.limitCount is not None or node.limitOffset is not None
    return Ordering(ordered=True, keys=keys, limited=limited)


def _sort_key(sort: ast.SortBy, select: ast.SelectStmt) -> int | str | None:
    expr = sort.node
    if isinstance(expr, ast.A_Const) and isinstance(expr.val, ast.Integer):
        return int(expr.val.ival)
    if isinstance(expr, ast.ColumnRef) and expr.fields:
        last = expr.fields[-1]
        if isinstance(last, ast.String):
            return str(last.sval)
    if select.op == SetOperation.SETOP_NONE and select.targetList:
        # ORDER BY an expression that is also a select-list item: sort by that column.
        for pos, target in enumerate(select.targetList, start=1):
            if isinstance(target, ast.ResTarget) and target.val == expr:
                return pos
    return None


def _row_key(row: Row) -> tuple[tuple[int, str], ...]:
    return tuple((0, "") if v is None else (1, v) for v in row)


def rows_agree(
    pg: Sequence[Row], hati: Sequence[Row], ordering: Ordering, columns: Sequence[str]
) -> bool:
    """Do the rows agree, under what the statement's ORDER BY promises?"""
    if len(pg) != len(hati):
        return False
    if not ordering.ordered:
        return Counter(pg) == Counter(hati)
    if list(pg) == list(hati):
        return True
    idx = _key_indexes(ordering.keys, columns)
    if idx is None:
        return False
    pg_keys = [tuple(r[i] for i in idx) for r in pg]
    if pg_keys != [tuple(r[i] for i in idx) for r in hati]:
        return False
    # Same sequence of sort keys: rows within each run of tied keys may come in any order.
    start = 0
    while start < len(pg):
        end = start
        while end < len(pg) and pg_keys[end] == pg_keys[start]:
            end += 1
        last_group = end == len(pg)
        if Counter(pg[start:end]) != Counter(hati[start:end]) and not (
            last_group and ordering.limited
        ):
            return False
        start = end
    return True


def _key_indexes(keys: Sequence[int | str | None], columns: Sequence[str]) -> list[int] | None:
    out: list[int] = []
    for key in keys:
        if isinstance(key, int):
            if not 1 <= key <= len(columns):
                return None
            out.append(key - 1)
        elif isinstance(key, str):
            matches = [i for i, c in enumerate(columns) if c == key]
            if len(matches) != 1:
                return None
            out.append(matches[0])
        else:
            return None
    return out


def compare(pg: Outcome, hati: Outcome, ordering: Ordering) -> Verdict:
    """Classify hati's answer against PostgreSQL's (see CLASSES)."""
    if hati.not_run:
        return Verdict(NOT_RUN)
    if hati.timeout and not pg.timeout:
        return Verdict(TIMEOUT, hati.message)
    if not pg.ok and hati.ok:
        return Verdict(ERROR_VS_OK, f"PostgreSQL {pg.sqlstate}")
    if pg.ok and not hati.ok:
        return Verdict(OK_VS_ERROR, f"hati {hati.sqlstate}")
    if not pg.ok:
        if (pg.sqlstate or "")[:2] != (hati.sqlstate or "")[:2]:
            return Verdict(SQLSTATE_CLASS, f"{pg.sqlstate} vs {hati.sqlstate}")
        return Verdict(AGREE, core_agree=True)
    if ordering.explain:
        return Verdict(AGREE, core_agree=True)
    same_arity = (pg.columns is None) == (hati.columns is None) and len(pg.columns or ()) == len(
        hati.columns or ()
    )
    if (
        same_arity
        and pg.columns is not None
        and not rows_agree(pg.rows, hati.rows, ordering, pg.columns)
    ):
        return Verdict(ROWS)
    if pg.columns != hati.columns:
        return Verdict(COLUMNS, f"{pg.columns} vs {hati.columns}")
    if pg.tag != hati.tag:
        return Verdict(TAG, f"{pg.tag} vs {hati.tag}", core_agree=True)
    return Verdict(AGREE, core_agree=True)
