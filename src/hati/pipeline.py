"""The statement pipeline: the named steps a client's SQL takes, each on its own.

    split -> classify -> intercept -> adapt -> analyze -> prepare -> execute -> finish

``split`` cuts a Query message into statements; ``classify`` makes a
:class:`Statement` of one and names its kind; ``intercept`` recognises a branch
function call (run by ``functions.py``, not by DuckDB); ``adapt`` turns PostgreSQL's
dialect into what DuckDB runs (catalog queries, SERIAL columns); ``analyze`` finds the
tables a statement reads and writes; ``prepare`` (the branch engine's copy-on-write,
``EngineSession.prepare``) readies them; ``execute`` runs the statement and ``finish``
(``pg.statements.finish``) gives its Result and command tag. The session
(``session.py``) drives the steps and owns what lies between them: transaction state,
locks through the engine, the audit record.

Each step takes and returns plain values, so it can be tested against a temp DuckDB
file without a socket, and replaced alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from hati.branching.analysis import Analysis, analyze
from hati.branching.calls import BranchCall, mentions_branch_call, parse_call
from hati.pg import catalog, serial
from hati.pg.statements import OWN_TRANSACTION, finish, first_word, split_statements
from hati.results import Result


@dataclass
class Statement:
    """One statement on its way through the pipeline."""

    text: str  # what DuckDB runs (``adapt`` may rewrite it)
    params: list[Any] = field(default_factory=list)
    word: str = ""  # its first keyword, upper-cased
    pre: list[str] = field(default_factory=list)  # statements DuckDB runs first
    _analysis: Analysis | None = field(default=None, repr=False)

    def analysis(self) -> Analysis:
        """The ``analyze`` step, run at most once and only when something needs it."""
        if self._analysis is None:
            self._analysis = analyze(self.text)
        return self._analysis


def split(sql: str) -> list[str]:
    """The statements of one Query message (empty ones dropped)."""
    return split_statements(sql)


def one_transaction(statements: list[str]) -> bool:
    """Whether a multi-statement Query message runs as one implicit transaction, as in
    PostgreSQL: not when a statement controls transactions itself, cannot run inside
    one, or is a branch call that commits on its own."""
    for text in statements:
        if first_word(text) in OWN_TRANSACTION:
            return False
        if mentions_branch_call(text):
            try:
                if parse_call(text) is not None:
                    return False
            except Exception:  # noqa: BLE001 - the statement reports its own error when run
                return False
    return True


def classify(text: str, params: list[Any] | None = None) -> Statement:
    return Statement(text, list(params or []), first_word(text))


def intercept(stmt: Statement) -> BranchCall | None:
    """The branch function this statement calls (``SELECT branch_merge('x')``), if any."""
    return parse_call(stmt.text, stmt.params) if stmt.word == "SELECT" else None


def adapt(stmt: Statement) -> None:
    """PostgreSQL dialect -> DuckDB: catalog queries read hati's filtered catalog views,
    then SERIAL columns are spelled out (see ``expand``)."""
    if stmt.word in ("SELECT", "WITH"):
        stmt.text = catalog.adapt(stmt.text)
    expand(stmt)


def expand(stmt: Statement) -> None:
    """SERIAL / BIGSERIAL columns become an integer DEFAULT nextval of a sequence that
    is created just before the statement runs."""
    if stmt.word == "CREATE" and serial.mentions_serial(stmt.text):
        expanded = serial.expand(stmt.text)
        if expanded is not None:
            stmt.pre = list(expanded.sequences)
            stmt.text = expanded.sql


def execute(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> Result:
    """Run the statement (after what must run first) and ``finish`` its Result."""
    for pre in stmt.pre:
        cur.execute(pre)
    rel = cur.execute(stmt.text, stmt.params or None)
    return finish(cur, rel, stmt.text, stmt.word)
