"""SQL-level prepared statements of one session: PREPARE, EXECUTE, DEALLOCATE.

``PREPARE name [(types)] AS statement`` keeps the statement's text (each ``$n`` cast to
its declared type); ``EXECUTE name (args)`` runs it through the session's pipeline with
the arguments as its parameters, answering that statement's own command tag, as
PostgreSQL does. ``DEALLOCATE`` forgets one or all of them (a name PREPARE did not make
is left alone: drivers deallocate their protocol-level statements the same way).
"""

from __future__ import annotations

import copy
from typing import Any, Protocol

from pglast import ast
from pglast.stream import RawStream

from hati.errors import (
    DuplicatePreparedStatement,
    FeatureNotSupported,
    InvalidSqlStatementName,
    SyntaxError_,
)
from hati.pg.analyze import children
from hati.pg.translate import replace_child, walk
from hati.results import Result, command


class Runner(Protocol):
    def run_internal(self, sql: str, params: list[Any] | None = None) -> Result: ...


class PreparedStatements:
    def __init__(self) -> None:
        self.statements: dict[str, tuple[str, int]] = {}  # name -> (text, parameters)

    def run(self, session: Runner, node: ast.Node, value: Any) -> Result:
        """``value(expr)``: the value of an EXECUTE argument (a constant or parameter)."""
        if isinstance(node, ast.PrepareStmt):
            return self._prepare(node)
        if isinstance(node, ast.ExecuteStmt):
            return self._execute(session, node, value)
        assert isinstance(node, ast.DeallocateStmt)
        if node.isall:
            self.statements.clear()
            return command("DEALLOCATE ALL")
        self.statements.pop(str(node.name), None)
        return command("DEALLOCATE")

    def _prepare(self, node: ast.PrepareStmt) -> Result:
        name = str(node.name)
        if name in self.statements:
            raise DuplicatePreparedStatement(f'prepared statement "{name}" already exists')
        assert node.query is not None
        query = copy.deepcopy(node.query)
        types = list(node.argtypes or ())
        used = 0
        for parent in list(walk(query)):
            for attr, child in list(children(parent)):
                if isinstance(child, ast.ParamRef):
                    n = child.number or 0
                    used = max(used, n)
                    if 1 <= n <= len(types):
                        cast = ast.TypeCast(arg=child, typeName=types[n - 1])
                        replace_child(parent, attr, child, cast)
        self.statements[name] = (str(RawStream()(query)), max(used, len(types)))
        return command("PREPARE")

    def _execute(self, session: Runner, node: ast.ExecuteStmt, value: Any) -> Result:
        name = str(node.name)
        if name not in self.statements:
            raise InvalidSqlStatementName(f'prepared statement "{name}" does not exist')
        text, count = self.statements[name]
        args = list(node.params or ())
        if len(args) != count:
            raise SyntaxError_(
                f'wrong number of parameters for prepared statement "{name}"',
                hint=f"Expected {count} parameters but got {len(args)}.",
            )
        try:
            values = [value(a) for a in args]
        except ValueError:
            raise FeatureNotSupported(
                "EXECUTE arguments must be constants or parameters",
                hint="Compute the value first, or write it as a literal.",
            ) from None
        return session.run_internal(text, values)
