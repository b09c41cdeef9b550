"""String constants written to date and timestamp columns, read by PostgreSQL's rules.

``INSERT INTO t VALUES ('tomorrow')`` / ``('Mon Feb 10 17:32:01 1997 PST')``: PostgreSQL
reads the constant as a value of the column's type with its own input rules
(``pg/datetime_in.py``); DuckDB casts it with its own, which take ISO text only. A typed
literal (``timestamp 'tomorrow'``) is translated when the statement is (``translate/
exprs.py``); a constant whose type only the table says is given here, when the statement
runs (the translation is cached by text and knows no table), as the DuckDB expression the
typed literal translates to.

Only text DuckDB would read otherwise is touched: ISO dates and times are left as they
are, so the usual INSERT pays nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pglast import ast

from hati.errors import HatiError
from hati.pg import datetime_in, render
from hati.pg.translate import Translation, translate

# DuckDB's column type -> the PostgreSQL type whose input rules read the constant.
KINDS = {
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIME WITH TIME ZONE": "timetz",
}
# What DuckDB reads as PostgreSQL does: an ISO date, with an ISO time of day.
_ISO = re.compile(r"\d{4}-\d\d-\d\d(?:[ T]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?)?")


def candidate(text: str) -> bool:
    """Whether ``text`` may read differently as a date or timestamp in PostgreSQL (a
    cheap test, made before the table's column types are looked up)."""
    if _ISO.fullmatch(text.strip()):
        return False
    try:
        datetime_in.parse(text, "MDY", "timestamp")
    except datetime_in.Unknown:
        return False
    except HatiError:
        return True  # PostgreSQL's error, raised when the column's type is known
    return True


@lru_cache(maxsize=1024)
def expression(text: str, kind: str) -> str | None:
    """DuckDB's SQL for ``text`` read as a value of ``kind`` (date, timestamp, timetz); None
    where DuckDB's own reading stands. Raises PostgreSQL's error for bad input."""
    cast = ast.TypeCast(
        arg=ast.A_Const(val=ast.String(sval=text)),
        typeName=ast.TypeName(names=(ast.String(sval="pg_catalog"), ast.String(sval=kind))),
    )
    stmt = ast.SelectStmt(targetList=(ast.ResTarget(val=cast),))
    ctx = Translation()
    node = translate(stmt, ctx)
    if not isinstance(node, ast.SelectStmt) or not node.targetList:
        return None
    value = node.targetList[0].val
    if isinstance(value, ast.TypeCast) and value.arg is not None:
        arg = value.arg
        if isinstance(arg, ast.A_Const) and getattr(arg.val, "sval", None) == text:
            return None  # the rules left it to DuckDB
    render.prepare(node)
    return render.render(value)
