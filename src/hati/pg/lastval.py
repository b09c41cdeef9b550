"""lastval(): the value the session's nextval() or setval() gave last, of any sequence.

DuckDB keeps currval() per connection and no lastval(). The session remembers the
sequence its last nextval() / setval() named (by a constant or parameter) and answers
lastval() as that sequence's currval(); before any, or after DISCARD, it is 55000.
Sequences drawn from by column defaults are not seen.
"""

from __future__ import annotations

from typing import Any

from pglast import ast
from pglast.enums import ObjectType

from hati.pg import lex
from hati.pg.sequences import relation_name
from hati.pg.translate import walk

_NAMING = ("nextval", "setval")


class LastValue:
    def __init__(self) -> None:
        self.sequence: str | None = None

    def answer(self, stmt: Any, called: set[str]) -> dict[int, str]:
        """Note the sequences ``stmt`` draws from; what its lastval() calls answer."""
        node = stmt.node
        if isinstance(node, ast.DropStmt) and node.removeType == ObjectType.OBJECT_SEQUENCE:
            dropped = {tuple(n.sval for n in o)[-1] for o in node.objects or ()}
            if self.sequence is not None and relation_name(self.sequence)[1] in dropped:
                self.sequence = None  # lastval() of a dropped sequence is undefined
        if not called & {"lastval", *_NAMING}:
            return {}
        calls = sorted(
            (n for n in walk(stmt.node) if isinstance(n, ast.FuncCall) and n.funcname),
            key=lambda n: n.location or 0,
        )
        answers: dict[int, str] = {}
        for call in calls:
            funcname: Any = call.funcname
            name, args = funcname[-1].sval, tuple(call.args or ())
            if name in _NAMING and args:
                try:
                    value = stmt.compiled.value(args[0], stmt.params)
                except ValueError:
                    continue
                if isinstance(value, str):
                    self.sequence = value
            elif name == "lastval" and not args:
                seq = self.sequence
                answers[id(call)] = (
                    f"currval({lex.quote_string(seq)})"
                    if seq is not None
                    else "error('lastval is not yet defined in this session')"
                )
        return answers
