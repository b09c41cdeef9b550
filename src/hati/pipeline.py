"""The statement pipeline: the named steps a client's SQL takes, each on its own.

    split -> compile -> intercept -> [route -> prepare] -> execute -> finish

``split`` cuts a Query message into statements exactly as PostgreSQL's parser does;
``compile`` (the front end, ``pg/frontend.py``) parses one with PostgreSQL's grammar,
analyzes it, lets the guard refuse what a client may not run, and translates it for
DuckDB, making a :class:`Statement`; ``intercept`` recognises a call of one of hati's
branch functions (run by ``functions.py``, not by DuckDB); the branch engine's router
``prepare``s the tables a statement in a branch touches (``EngineSession.prepare``);
``execute`` runs the text the front end printed, and ``finish``
(``pg.statements.finish``) gives its Result and command tag. The session
(``session.py``) drives the steps and owns what lies between them: transaction state,
locks through the engine, the audit record.

Each step takes and returns plain values, so it can be tested against a temp DuckDB
file without a socket, and replaced alone.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import duckdb
from pglast import ast
from pglast.enums import OnConflictAction

from hati.errors import CardinalityViolation, FeatureNotSupported, HatiError, InvalidParameter
from hati.pg import (
    conflicts,
    emulate,
    groupby,
    lex,
    numspecials,
    render,
    statements,
    written_datetimes,
)
from hati.pg.analyze import DEFAULT_SCHEMAS, Analysis
from hati.pg.arraytext import duck_list
from hati.pg.dml import PlainWrite, plain_write
from hati.pg.frontend import Compiled, FrontEnd
from hati.pg.regex import bytea_input
from hati.pg.translate import walk
from hati.results import Result, command

# hati's branch functions: name -> (fewest, most) arguments.
BRANCH_FUNCTIONS = {
    "branch_create": (1, 3),
    "branch_query": (2, 2),
    "branch_merge": (1, 2),
    "branch_discard": (1, 1),
    "branch_list": (0, 0),
    "branch_diff": (1, 1),
    "branch_conflicts": (1, 1),
    "branch_resolve": (4, 4),
    "hati_compact": (0, 0),  # not a branch's: online compaction of the file (hati.compactor)
}
# Kinds whose statements never run inside an implicit multi-statement transaction.
_OWN_TRANSACTION = frozenset({"TRANSACTION", "CHECKPOINT", "VACUUM"})
_UNSET: Any = object()


@dataclass(frozen=True)
class BranchCall:
    function: str
    args: tuple[Any, ...]
    alias: str | None = None


@dataclass(eq=False)
class Statement:
    """One statement on its way through the pipeline."""

    compiled: Compiled
    params: list[Any] = field(default_factory=list)
    _write: Any = field(default=_UNSET, repr=False)
    _sql: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """As the client wrote it (the audit records this)."""
        return self.compiled.text

    @property
    def analysis(self) -> Analysis:
        return self.compiled.analysis

    @property
    def kind(self) -> str:
        return self.compiled.analysis.kind

    @property
    def relation(self) -> str | None:
        """The table the statement writes or alters (errors name it)."""
        writes = self.compiled.analysis.writes
        return writes[0].name if writes else None

    @property
    def node(self) -> ast.Node:
        return self.compiled.node

    @property
    def pre(self) -> tuple[str, ...]:
        """Statements DuckDB runs first (the sequences of SERIAL columns)."""
        return self.compiled.template.pre

    in_branch: bool = False  # set by the session before it executes the statement
    fire: bool = True  # its table's triggers fire (not for hati's own writes of the rows)
    # What a write on main carries for live branches (branching/undo.Fused: ``wrap``
    # gives the text DuckDB runs), set before an execution and used by it only.
    capture: Any = None
    target_schema: str | None = None  # see relocate_target
    # Nodes printed as given text for this execution only (the session's answers, such
    # as the value of a set_config() call).
    answers: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def sql(self) -> str:
        """What DuckDB runs: the front end's text, with ``public.t`` placed where the
        session reads it (main's ``main.t``, or the branch's ``t`` through its DuckDB
        search path)."""
        if self._sql is None:
            place: Callable[[ast.Node], str | None] = _in_branch if self.in_branch else _on_main
            key: Hashable = "branch" if self.in_branch else "main"
            if self.target_schema is not None:
                place = _relocated(self.node, self.target_schema, place)
                key = ("target", self.target_schema)
            if self.answers:
                answers = self.answers
                placed = place

                def answered(node: ast.Node) -> str | None:
                    return answers.get(id(node)) or placed(node)

                self._sql = self.compiled.sql_once(answered)
            else:
                self._sql = self.compiled.sql(key, place)
        return self._sql

    def relocate_target(self, schema: str | None) -> None:
        """Print the written table (an INSERT's, UPDATE's or DELETE's) in ``schema``
        (a branch's row delta, delta.py); None: where the session reads it."""
        if schema != self.target_schema:
            self.target_schema = schema
            self._sql = None

    def write(self) -> PlainWrite | None:
        """What a plain INSERT/UPDATE/DELETE changes (None: it cannot say)."""
        if self._write is _UNSET:
            a = self.analysis
            self._write = (
                plain_write(self.compiled, self.params) if a.writes and not a.drops else None
            )
        return self._write


def _placed(node: ast.Node, schema: str | None) -> str | None:
    if isinstance(node, ast.RangeVar) and node.schemaname in DEFAULT_SCHEMAS:
        return render.relation(node, schema)
    return None


def _relocated(
    stmt: ast.Node, schema: str, place: Callable[[ast.Node], str | None]
) -> Callable[[ast.Node], str | None]:
    target = getattr(stmt, "relation", None)

    def relocated(node: ast.Node) -> str | None:
        if node is target:
            return render.relation(node, schema)
        return place(node)

    return relocated


def _on_main(node: ast.Node) -> str | None:
    return _placed(node, "main")


def _in_branch(node: ast.Node) -> str | None:
    return _placed(node, None)


def split(fe: FrontEnd, sql: str) -> list[str]:
    """The statements of one Query message (empty ones dropped)."""
    return fe.split(sql)


def compile_one(
    fe: FrontEnd, text: str, params: list[Any] | None = None, fire: bool = True
) -> Statement:
    """One statement (``fire``: its table's triggers fire, not for hati's own writes)."""
    stmt = Statement(fe.compile(text), list(params or []))
    stmt.fire = fire
    return stmt


def compile_or_error(
    fe: FrontEnd, text: str, params: list[Any] | None = None
) -> Statement | HatiError:
    """The statement, or the error compiling it raised (a batch reports it in its turn)."""
    try:
        return compile_one(fe, text, params)
    except HatiError as exc:
        return exc


def one_transaction(stmts: list[Statement]) -> bool:
    """Whether a multi-statement Query message runs as one implicit transaction, as in
    PostgreSQL: not when a statement controls transactions itself, cannot run inside
    one, or is a branch call that commits on its own."""
    return not any(s.kind in _OWN_TRANSACTION or intercept(s) is not None for s in stmts)


def _branch_function(node: ast.Node | None) -> str | None:
    if isinstance(node, ast.FuncCall) and len(node.funcname) == 1:
        name = node.funcname[0].sval
        return name if name in BRANCH_FUNCTIONS else None
    return None


def _called(sel: ast.SelectStmt) -> tuple[ast.FuncCall, str | None] | None:
    """The call of ``SELECT f(...) [AS x]`` or ``SELECT * FROM f(...)``."""
    plain = not (
        sel.whereClause
        or sel.groupClause
        or sel.havingClause
        or sel.sortClause
        or sel.limitCount
        or sel.distinctClause
        or sel.withClause
    )
    targets = sel.targetList or ()
    if not plain or len(targets) != 1:
        return None
    target = targets[0]
    if not sel.fromClause and isinstance(target.val, ast.FuncCall):
        return target.val, target.name
    if sel.fromClause and len(sel.fromClause) == 1:
        rf = sel.fromClause[0]
        star = isinstance(target.val, ast.ColumnRef) and isinstance(
            target.val.fields[-1], ast.A_Star
        )
        if star and isinstance(rf, ast.RangeFunction) and len(rf.functions) == 1:
            call = rf.functions[0][0]
            if isinstance(call, ast.FuncCall):
                return call, None
    return None


def intercept(stmt: Statement, describing: bool = False) -> BranchCall | None:
    """The branch function this statement calls on its own (``SELECT branch_merge('x')``,
    ``SELECT * FROM branch_list()``), if any. A branch function inside a larger query
    is refused: they change state, or (list, diff, conflicts) answer on their own.
    ``describing``: a statement described before its parameters are bound (they are None)."""
    node = stmt.node
    mentioned = any(f[-1] in BRANCH_FUNCTIONS for f in stmt.analysis.functions)
    if mentioned and composed(stmt) and _called(node) is None:
        return None  # run as a relation of the query (functions.materialize)
    if not mentioned or not isinstance(node, ast.SelectStmt):
        if mentioned:
            raise _not_alone()
        return None
    found = _called(node)
    name = _branch_function(found[0]) if found else None
    if found is None or name is None:
        raise _not_alone()
    call, alias = found
    lo, hi = BRANCH_FUNCTIONS[name]
    args = call.args or ()
    if not lo <= len(args) <= hi:
        raise InvalidParameter(f"{name} takes {lo}..{hi} arguments, got {len(args)}")
    values = []
    for arg in args:
        try:
            values.append(stmt.compiled.value(arg, stmt.params))
        except ValueError as exc:
            if describing and isinstance(arg, ast.ParamRef):
                values.append(None)
                continue
            raise FeatureNotSupported(
                f"branch function arguments must be constants or parameters ({exc})",
                hint="Write e.g. SELECT branch_create('plan-a').",
            ) from None
    return BranchCall(name, tuple(values), alias)


# Branch functions that only read: a query may use their rows like a table's.
READ_ONLY = frozenset({"branch_list", "branch_diff", "branch_conflicts"})


def composed(stmt: Statement) -> list[tuple[ast.RangeFunction, ast.FuncCall]]:
    """The read-only branch functions a SELECT reads in FROM, when every branch
    function it mentions is one of them (else empty)."""
    if not isinstance(stmt.node, ast.SelectStmt):
        return []
    found, calls = [], 0
    for n in walk(stmt.node):
        if isinstance(n, ast.FuncCall) and _branch_function(n) is not None:
            calls += 1
        if isinstance(n, ast.RangeFunction) and len(n.functions or ()) == 1:
            call = n.functions[0][0]
            if _branch_function(call) in READ_ONLY:
                found.append((n, call))
    return found if found and len(found) == calls else []


def _not_alone() -> FeatureNotSupported:
    return FeatureNotSupported(
        "branch functions must be called on their own",
        hint="Write SELECT branch_merge('x') or SELECT * FROM branch_list(), not inside "
        "a larger query.",
    )


def execute(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> Result:
    """Run the statement (after what must run first) and ``finish`` its Result."""
    capture, stmt.capture = stmt.capture, None  # for this execution only
    for pre in stmt.pre:
        cur.execute(pre)
    steps = stmt.compiled.template.steps
    if steps:
        place = _in_branch if stmt.in_branch else _on_main
        emulate.run_steps(cur, steps, lambda node: emulate.text(node, place), stmt.in_branch)
        return command(statements.tag(stmt.analysis))
    _name_leading_columns(cur, stmt)
    _written_literals(cur, stmt)
    _arbiter(cur, stmt)
    _jsonb_subscripts(cur, stmt)
    _grouped_by_key(cur, stmt)
    _guard_specials(stmt)
    if capture is not None and capture.hide_new:
        # A SELECT of the write's row count (undo.Fused): DuckDB commits a statement
        # of its own once its rows are all read.
        row = cur.execute(capture.wrap(stmt.sql), stmt.params or None).fetchall()[0]
        return command(statements.tag(stmt.analysis, int(row[0])), int(row[0]))
    sql = stmt.sql if capture is None else capture.wrap(stmt.sql)
    rel = cur.execute(sql, stmt.params or None)
    return statements.finish(cur, rel, stmt.analysis)


def _arbiter(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> None:
    """ON CONFLICT's arbiter as PostgreSQL infers it (pg/conflicts.py)."""
    node = stmt.node
    clause = node.onConflictClause if isinstance(node, ast.InsertStmt) else None
    if clause is None or clause.infer is None or node.relation is None:
        return
    table = str(node.relation.relname)
    if clause.infer.conname:
        cols = conflicts.constraint_columns(cur, table, str(clause.infer.conname))
        stmt.answers[id(clause.infer)] = conflicts.target_text(cols)
        stmt._sql = None
    else:
        target = conflicts.conflict_columns(clause)
        if target is not None:
            conflicts.check_target(cur, table, target)


def _guard_specials(stmt: Statement) -> None:
    """Reads of columns that hold numeric's NaN or Infinity (pg/numspecials.py)."""
    found = numspecials.guards(stmt.node)
    if found:
        stmt.answers.update(found)
        stmt._sql = None


def _grouped_by_key(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> None:
    """A query grouped by a table's primary key reads its other columns (pg/groupby.py)."""
    node = stmt.node
    if isinstance(node, ast.SelectStmt) and node.groupClause:
        found = groupby.answers(cur, node)
        if found:
            stmt.answers.update(found)
            stmt._sql = None


def _name_leading_columns(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> None:
    """``INSERT INTO t VALUES (1)`` into a wider table: PostgreSQL fills the columns
    after the values with their defaults, DuckDB wants a value for each. The values go
    to the table's leading columns, named (the table's columns as the statement's place
    sees them, read when it runs: the translation is cached by text)."""
    node = stmt.node
    if not isinstance(node, ast.InsertStmt) or node.relation is None:
        return
    if node.cols:
        _upserts_once(stmt, [str(c.name) for c in node.cols])
        return
    select = node.selectStmt
    values = getattr(select, "valuesLists", None)
    targets = getattr(select, "targetList", None)
    if values:
        width = len(values[0])
    elif targets and not any(
        isinstance(t.val, ast.ColumnRef) and isinstance(t.val.fields[-1], ast.A_Star)
        for t in targets
    ):
        width = len(targets)  # INSERT INTO t SELECT a, b
    else:
        return
    rel = node.relation
    place = _in_branch if stmt.in_branch else _on_main
    desc = _target_columns(cur, stmt, rel)
    if desc is None:
        return  # DuckDB's own error follows, from the statement itself
    names = [d[0] for d in desc]
    _upserts_once(stmt, names)
    if len(names) <= width:
        return
    text = place(rel) or render.relation(rel, rel.schemaname)
    cols = ", ".join(render.quote_name(n) for n in names[:width])
    stmt.answers[id(rel)] = f"{text} ({cols})"
    stmt._sql = None


def _target_columns(cur: duckdb.DuckDBPyConnection, stmt: Statement, rel: ast.RangeVar) -> Any:
    """DuckDB's description of the table an INSERT writes, where the session is (None:
    DuckDB cannot read it)."""
    place = _in_branch if stmt.in_branch else _on_main
    bare = ast.RangeVar(relname=rel.relname, schemaname=rel.schemaname, inh=True)
    target = place(bare) or render.relation(bare, rel.schemaname)
    try:
        return cur.execute(f"SELECT * FROM {target} LIMIT 0").description
    except duckdb.Error:
        return None


def reads_datestyle(stmt: Statement) -> bool:
    """Does an INSERT ... VALUES / UPDATE ... SET write a string constant that is read by
    the session's DateStyle? (Only then are the settings handed to DuckDB first: any
    statement before the table lock would start the transaction's snapshot too early.)"""
    node = stmt.node
    if isinstance(node, ast.InsertStmt):
        rows = getattr(node.selectStmt, "valuesLists", None) or ()
        values = [v for row in rows for v in row]
    elif isinstance(node, ast.UpdateStmt):
        values = [t.val for t in node.targetList or () if isinstance(t, ast.ResTarget)]
    else:
        return False
    return any(
        (text := _text(stmt, v)) is not None and written_datetimes.candidate(text) for v in values
    )


def _written_literals(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> None:
    """String constants an INSERT ... VALUES or UPDATE ... SET writes to a column, read as
    PostgreSQL reads them for the column's type (the table's column types, read when it
    runs: the translation is cached by text):

    - ``'{1,2}'`` written to an array column is PostgreSQL's text of an array; DuckDB
      reads a list's text as ``[1,2]``, so it is given in DuckDB's spelling;
    - ``'tomorrow'``, ``'Feb 10 17:32:01 1997'`` written to a date or timestamp column
      are read by PostgreSQL's input rules (``pg/written_datetimes.py``);
    - ``'\\x00ff'`` written to a bytea column is bytea's input (hex or escape form);
      DuckDB reads it as a zero byte and two f's."""
    node = stmt.node
    if not isinstance(node, ast.InsertStmt | ast.UpdateStmt) or node.relation is None:
        return
    found: list[tuple[int | str, Any, str]] = []  # (position or column, node, text)
    if isinstance(node, ast.InsertStmt):
        rows = getattr(node.selectStmt, "valuesLists", None) or ()
        found = [(i, v, t) for row in rows for i, v in enumerate(row) if (t := _text(stmt, v))]
    else:
        found = [
            (str(t.name), t.val, text)
            for t in node.targetList or ()
            if isinstance(t, ast.ResTarget) and t.name and not t.indirection
            if (text := _text(stmt, t.val))
        ]
    if not found:
        return
    desc = _target_columns(cur, stmt, node.relation)
    if desc is None:
        return  # DuckDB's own error follows, from the statement itself
    types = {d[0]: str(d[1]) for d in desc}
    names = [d[0] for d in desc]
    if isinstance(node, ast.InsertStmt) and node.cols:
        names = [str(c.name) for c in node.cols]
    for where, value, text in found:
        if id(value) in stmt.answers:
            continue  # given already (rounded to a timestamp(p) column's digits, lengths.py)
        name = names[where] if isinstance(where, int) and where < len(names) else where
        answer = _written_as(cur, value, text, str(name), types.get(str(name), ""))
        if answer is not None:
            stmt.answers[id(value)] = answer
            stmt._sql = None


def _written_as(
    cur: duckdb.DuckDBPyConnection, value: ast.Node, text: str, column: str, typ: str
) -> str | None:
    """DuckDB's SQL for the string constant ``text`` written to ``column`` of DuckDB type
    ``typ`` (None: DuckDB reads it as PostgreSQL does)."""
    if typ.endswith("]"):
        duck = duck_list(text) if isinstance(value, ast.A_Const) else None
        return lex.quote_string(duck) if duck is not None else None
    if typ in written_datetimes.KINDS and written_datetimes.candidate(text):
        return written_datetimes.expression(text, written_datetimes.KINDS[typ])
    if typ.startswith("DECIMAL(") and numspecials.kind(text):
        return numspecials.written(cur, text, column, typ)
    if typ == "BLOB" and "\\" in text:
        return f"unhex('{bytea_input(text).hex()}')"
    return None


_SUBSCRIPTED = {"pg_array_set": "pg_jsonb_set1", "pg_array_set_path": "pg_jsonb_set_path"}


def _jsonb_subscripts(cur: duckdb.DuckDBPyConnection, stmt: Statement) -> None:
    """``UPDATE t SET c[k] = v``: the translation assigns to an array's element
    (``pg_array_set``); when ``c`` is a json column (the table's type, read when the
    statement runs), the calls are printed as jsonb's (``pg/jsonb_assign.py``)."""
    node = stmt.node
    if not isinstance(node, ast.UpdateStmt) or node.relation is None:
        return
    calls = {
        str(t.name): found
        for t in node.targetList or ()
        if isinstance(t, ast.ResTarget) and t.name and isinstance(t.val, ast.FuncCall)
        for found in [[n for n in _walk(t.val) if _subscripted(n)]]
        if found
    }
    if not calls:
        return
    desc = _target_columns(cur, stmt, node.relation)
    types = {d[0]: str(d[1]) for d in desc or ()}
    for column, found in calls.items():
        if types.get(column) == "JSON":
            for call in found:
                name = call.funcname[-1]
                stmt.answers[id(name)] = _SUBSCRIPTED[str(name.sval)]
            stmt._sql = None


def _subscripted(node: ast.Node) -> bool:
    return isinstance(node, ast.FuncCall) and str(node.funcname[-1].sval) in _SUBSCRIPTED


def _walk(node: ast.Node) -> list[ast.Node]:
    out = [node]
    for arg in getattr(node, "args", None) or ():
        if isinstance(arg, ast.FuncCall):
            out.extend(_walk(arg))
    return out


def _text(stmt: Statement, node: ast.Node | None) -> str | None:
    """The text of a string constant written as it is (in place or lifted out), if it
    is one DuckDB may read otherwise than PostgreSQL (an array's, a date's, a bytea's)."""
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        text = str(node.val.sval or "")
    elif isinstance(node, ast.ParamRef) and (node.number or 0) > stmt.compiled.params:
        lit = stmt.compiled.literals[node.number - stmt.compiled.params - 1]
        if not lit.startswith("'"):
            return None
        text = lit[1:-1].replace("''", "'")
    else:
        return None
    if duck_list(text) is not None or written_datetimes.candidate(text) or "\\" in text:
        return text
    if numspecials.kind(text):
        return text
    return None


def _upserts_once(stmt: Statement, names: list[str]) -> None:
    """21000 for ``INSERT ... VALUES (1, 'a'), (1, 'b') ON CONFLICT (k) DO UPDATE``:
    PostgreSQL updates a row at most once per command; DuckDB would take both."""
    node = stmt.node
    clause = node.onConflictClause
    values = getattr(node.selectStmt, "valuesLists", None)
    if clause is None or clause.action != OnConflictAction.ONCONFLICT_UPDATE or not values:
        return
    elems = clause.infer.indexElems if clause.infer else None
    keys = [getattr(e, "name", None) for e in elems or ()]
    if len(values) < 2 or not keys or not all(k in names for k in keys):
        return
    at = [names.index(str(k)) for k in keys]
    seen: set[tuple[Any, ...]] = set()
    for row in values:
        try:
            key = tuple(stmt.compiled.value(row[i], stmt.params) for i in at if i < len(row))
        except ValueError:
            return  # an expression: DuckDB's answer stands
        if None in key or len(key) < len(at):
            continue
        if key in seen:
            raise CardinalityViolation(
                "ON CONFLICT DO UPDATE command cannot affect row a second time",
                hint="Ensure that no rows proposed for insertion within the same command "
                "have duplicate constrained values.",
            )
        seen.add(key)
