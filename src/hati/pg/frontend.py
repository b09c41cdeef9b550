"""The SQL front end: PostgreSQL's grammar in, checked DuckDB SQL out.

``FrontEnd.split`` cuts a Query message into statements exactly as PostgreSQL does.
``FrontEnd.compile`` turns one statement into a :class:`Compiled`: parsed with
PostgreSQL's own parser (pglast / libpg_query), analyzed, checked by the guard and
translated. Work is cached per statement *shape* (the text with its literals lifted,
see ``lex``), so a statement that differs from an earlier one only in its values costs a
scan and a splice. ``Compiled.sql`` prints it for DuckDB, placing each relation where
the caller's router says it lives.

DuckDB never sees the client's text: only what the front end printed from the tree it
analyzed, so a comment, a quote or a semicolon cannot smuggle in a second statement.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, parser

from hati.errors import HatiError, ProgramLimitExceeded, SyntaxError_
from hati.pg import catalog, expand, guard, lex, partition_rewrite, partitions, render
from hati.pg.analyze import Analysis, analyze
from hati.pg.translate import NeedsLiteral, Translation, translate

MAX_STATEMENT_BYTES = 8 << 20  # larger texts: COPY, or several statements
CACHE_ENTRIES = 4096
CACHED_TEXT_CHARS = 16_384  # longer statements are compiled each time, not cached
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def syntax_error(exc: parser.ParseError, offset: int = 0) -> SyntaxError_:
    """PostgreSQL's own message; the position is 1-based, as in an ErrorResponse."""
    message = str(exc.args[0]) if exc.args else "syntax error"
    index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
    return SyntaxError_(message, position=None if index is None else index + offset + 1)


_MAIN, _PUBLIC = "'main'", "'public'"


@dataclass(eq=False)
class Template:
    """A statement shape, analyzed and translated once, printed once per placement."""

    analysis: Analysis
    node: ast.Node  # the translated statement
    params: int  # the highest $n the client wrote; markers of lifted literals follow
    error: HatiError | None = None  # the guard's verdict, re-raised on every use
    pre: tuple[str, ...] = ()  # statements DuckDB runs first (SERIAL's sequences)
    steps: tuple[object, ...] = ()  # run in the statement's place (see pg/emulate.py)
    catalog_query: bool = False  # reads pg_catalog / information_schema
    # printed in the statement's place, its nodes inside (translate/returning.py)
    printed_as: ast.Node | None = None
    _printed: dict[Hashable, tuple[tuple[str, ...], tuple[int, ...]]] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def printed(
        self, key: Hashable, substitute: render.Substitute | None
    ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        got = self._printed.get(key)
        if got is None:
            text = render.render(self.printed_as or self.node, substitute)
            got = lex.split_markers(text, self.params)
            with self._lock:
                if len(self._printed) > 64:  # placements are few; never grow unbounded
                    self._printed.clear()
                self._printed[key] = got
        return got


@dataclass(frozen=True, eq=False)
class Compiled:
    """One client statement, ready to print for DuckDB."""

    text: str  # as the client wrote it (for the audit)
    template: Template
    literals: tuple[str, ...] = ()

    @property
    def analysis(self) -> Analysis:
        return self.template.analysis

    @property
    def node(self) -> ast.Node:
        return self.template.node

    @property
    def params(self) -> int:
        return self.template.params

    @property
    def spliced(self) -> tuple[str, ...]:
        """The lifted literals to splice back. In a catalog query the schema name
        ``'main'`` is ``'public'``: clients written against DuckDB (the HatiData SDK)
        filter ``table_schema = 'main'``, and the catalog names main's schema ``public``
        as PostgreSQL does; no schema of either name exists beside it."""
        if not self.template.catalog_query or _MAIN not in self.literals:
            return self.literals
        return tuple(_PUBLIC if lit == _MAIN else lit for lit in self.literals)

    def sql(self, key: Hashable = None, substitute: render.Substitute | None = None) -> str:
        """DuckDB's text for this statement; ``substitute`` places relations (the
        router's), ``key`` names that placement so its printing is reused."""
        parts, slots = self.template.printed(key, substitute)
        return lex.splice(parts, slots, self.spliced)

    def sql_once(self, substitute: render.Substitute) -> str:
        """DuckDB's text printed for this execution alone (a substitute that depends on
        the session, such as the value a set_config() call set), never cached."""
        text = render.render(self.template.printed_as or self.template.node, substitute)
        parts, slots = lex.split_markers(text, self.template.params)
        return lex.splice(parts, slots, self.spliced)

    def value(self, node: ast.Node | None, params: list[Any]) -> Any:
        """The value of a constant, a client parameter or a lifted literal in the tree
        (the arguments of hati's own functions); raises ValueError for anything else."""
        if isinstance(node, ast.TypeCast):
            return self.value(node.arg, params)
        if isinstance(node, ast.A_Const):
            if node.isnull:
                return None
            v = node.val
            return getattr(v, "sval", None) or getattr(v, "ival", None) or _float(v)
        if isinstance(node, ast.ParamRef):
            n = node.number
            if n <= self.params:
                if n > len(params):
                    raise ValueError(f"there is no parameter ${n}")
                return params[n - 1]
            return _literal_value(self.literals[n - self.params - 1])
        negated = isinstance(node, ast.A_Expr) and node.lexpr is None and node.rexpr is not None
        if negated and node.name and node.name[-1].sval == "-":
            return -self.value(node.rexpr, params)
        raise ValueError("not a constant")


def _float(v: Any) -> Any:
    if isinstance(v, ast.Float):
        return float(v.fval)
    if isinstance(v, ast.Integer):
        return v.ival
    if isinstance(v, ast.Boolean):
        return v.boolval
    if isinstance(v, ast.String):
        return v.sval
    return None


def _literal_value(sql: str) -> Any:
    if sql.startswith("'"):
        return sql[1:-1].replace("''", "'")
    if _NUMBER.fullmatch(sql):
        return int(sql) if sql.lstrip("+-").isdigit() else float(sql)
    raise ValueError(sql)


class FrontEnd:
    """Split, parse, check and translate client SQL; thread-safe, one per server."""

    def __init__(
        self,
        policy: guard.Policy,
        *,
        max_statement_bytes: int = MAX_STATEMENT_BYTES,
        cache_entries: int = CACHE_ENTRIES,
        prepare: Callable[[Analysis], None] | None = None,
    ) -> None:
        self.policy = policy
        self.max_statement_bytes = max_statement_bytes
        self.cache_entries = cache_entries
        self._cache: OrderedDict[str, Template] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self.partitions = partitions.Tree()  # the partition trees statements are rewritten by

    def set_partitions(self, tree: partitions.Tree) -> None:
        """The partition trees changed (partition DDL ran): shapes compiled before go."""
        with self._lock:
            if tree == self.partitions:
                return
            self.partitions = tree
            self._cache.clear()

    # ------------------------------------------------------------------ split
    def split(self, sql: str) -> list[str]:
        """The statements of a Query message, as PostgreSQL's parser cuts them."""
        self._check_size(sql)
        try:
            slices = parser.split(sql, with_parser=True, only_slices=True)
        except parser.ParseError as exc:
            respelled = lex.duckdb_lists(sql)
            if respelled is None:
                raise syntax_error(exc) from None
            try:
                slices = parser.split(respelled, with_parser=True, only_slices=True)
            except parser.ParseError:
                raise syntax_error(exc) from None
            sql = respelled
        return [sql[s] for s in slices]

    def _check_size(self, sql: str) -> None:
        if len(sql) > self.max_statement_bytes:
            raise ProgramLimitExceeded(
                f"statement text of {len(sql):,} characters exceeds the limit of "
                f"{self.max_statement_bytes:,}",
                hint="Load bulk data with COPY ... FROM STDIN, or send smaller statements; "
                "the limit is max_statement_bytes in hati.toml.",
            )

    # ------------------------------------------------------------------ compile
    def compile(self, text: str) -> Compiled:
        """One statement (a piece of :meth:`split`'s output) -> Compiled."""
        self._check_size(text)
        cacheable = len(text) <= CACHED_TEXT_CHARS
        shape = lex.shape(text) if cacheable else None
        if shape is not None:
            template = self._lookup(shape.key)
            if template is None:
                try:
                    template = self._build(shape.sql, shape.params, kinds=shape.kinds)
                except (NeedsLiteral, SyntaxError_):
                    template = None  # the shape cannot stand for the text: compile it whole
                if template is not None:
                    self._store(shape.key, template)
            if template is not None:
                return self._ready(Compiled(text, template, shape.literals))
        template = self._lookup(text) if cacheable else None
        if template is None:
            template = self._build(text, _params(text), final=True)
            if cacheable:
                self._store(text, template)
        return self._ready(Compiled(text, template))

    @staticmethod
    def _ready(c: Compiled) -> Compiled:
        err = c.template.error
        if err is not None:
            raise err.copy()
        return c

    def _build(
        self, sql: str, params: int, final: bool = False, kinds: tuple[str, ...] = ()
    ) -> Template:
        try:
            stmts = parser.parse_sql(sql)
        except parser.ParseError as exc:
            raise syntax_error(exc) from None
        if len(stmts) != 1:
            # split() already cut the text; more than one here means a shape that joined
            # statements, which compile() answers by compiling the text whole.
            raise SyntaxError_("expected exactly one statement")
        stmt = stmts[0].stmt
        stmt = expand.expand(stmt, params) if expand.mentions(sql) else stmt
        stmt, replaced = partition_rewrite.rewrite(stmt, self.partitions)
        a = analyze(stmt)
        try:
            guard.check(a, self.policy)
        except HatiError as exc:
            return Template(a, stmt, params, error=exc)
        if replaced is not None:
            return Template(a, stmt, params, steps=replaced)
        ctx = Translation(database=self.policy.database, params=params, literal_kinds=kinds)
        try:
            node = translate(stmt, ctx)
        except NeedsLiteral:
            if final:
                raise AssertionError("a statement with its literals in place needs none") from None
            raise
        except HatiError as exc:
            return Template(a, stmt, params, error=exc)
        if node is not stmt:
            a.node = node
        if ctx.reads_settings:  # the session then hands DuckDB its settings first
            a.functions.append(("current_setting",))
        a.row_locks = ctx.row_locks
        _prepare(node, ctx)
        return Template(
            a,
            node,
            params,
            pre=tuple(ctx.pre),
            steps=tuple(ctx.steps),
            catalog_query=catalog.reads_catalog(a.tables),
            printed_as=ctx.printed_as,
        )

    def _lookup(self, key: str) -> Template | None:
        with self._lock:
            t = self._cache.get(key)
            if t is not None:
                self._cache.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return t

    def _store(self, key: str, template: Template) -> None:
        with self._lock:
            self._cache[key] = template
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)


def _prepare(node: ast.Node, ctx: Translation) -> None:
    """Ready every tree the statement prints for rendering."""
    render.prepare(node)
    if ctx.printed_as is not None:
        render.prepare(ctx.printed_as)
    for step in ctx.steps:
        if isinstance(step, ast.Node) and step is not node:
            render.prepare(step)


_PARAM = re.compile(r"(?<![\w$])\$(\d+)")


def _params(text: str) -> int:
    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return max((int(m) for m in _PARAM.findall(text)), default=0)
    return max((int(text[t.start + 1 : t.end + 1]) for t in tokens if t.name == "PARAM"), default=0)
