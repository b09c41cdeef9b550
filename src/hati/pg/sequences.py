"""CREATE / ALTER SEQUENCE with PostgreSQL's options, defaults and errors.

DuckDB's sequences take INCREMENT, MINVALUE, MAXVALUE, START and CYCLE, and nothing can
change one once made. PostgreSQL's sequence.c ``init_params`` decides each option's
value from the others (``AS smallint`` bounds the defaults, a descending sequence starts
at its MAXVALUE) and refuses what contradicts (22023); :func:`resolve` does the same, so
CREATE SEQUENCE prints DuckDB every option explicitly (``AS``, ``CACHE``, ``OWNED BY``
and ``UNLOGGED`` have nothing to say to DuckDB: a sequence is bigint there, and numbers
one at a time).

ALTER SEQUENCE (:class:`AlterSequence`) reads the sequence's options and position from
DuckDB when it runs, resolves the new ones, and makes the sequence again with them at the
same position (or where RESTART puts it); an ALTER that only moves the position is a
``setval``. DuckDB keeps no sequence's type: a sequence of smallint or integer has the
type's name as its DuckDB comment (:class:`Typed`; hati answers COMMENT ON SEQUENCE
itself), the catalog views read it there (``catalog_sequences.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import duckdb
from pglast import ast, parser
from pglast.enums import DefElemAction

from hati.errors import (
    DuplicateTable,
    FeatureNotSupported,
    InvalidParameter,
    ObjectNotInPrerequisiteState,
    SyntaxError_,
    UndefinedColumn,
    UndefinedObject,
    UndefinedTable,
    WrongObjectType,
)
from hati.pg import lex, render
from hati.pg.emulate import NEXTVAL, Emulated, Printer

# PostgreSQL's integer types: name -> (printed name, lowest, highest)
TYPES = {
    "int2": ("smallint", -(2**15), 2**15 - 1),
    "int4": ("integer", -(2**31), 2**31 - 1),
    "int8": ("bigint", -(2**63), 2**63 - 1),
}
# types that exist but cannot number a sequence (any other unknown name is 42704)
_OTHER_TYPES = frozenset({"text", "varchar", "bpchar", "json", "jsonb", "uuid", "bytea", "date"})


@dataclass(frozen=True)
class Sequence:
    """A sequence's options and where it stands (``last`` / ``called`` as setval's)."""

    type: str = "int8"
    increment: int = 1
    minvalue: int = 1
    maxvalue: int = 2**63 - 1
    start: int = 1
    cycle: bool = False
    last: int = 1
    called: bool = False


def _integer(arg: Any) -> int:
    value = getattr(arg, "ival", None) if isinstance(arg, ast.Integer) else None
    if value is None and isinstance(arg, ast.Float | ast.String):
        value = getattr(arg, "fval", None) or getattr(arg, "sval", None)
    if value is None:
        raise SyntaxError_("an integer value is required")
    return int(value)


def _type(arg: Any) -> str:
    names = [n.sval for n in arg.names or ()] if isinstance(arg, ast.TypeName) else []
    name = names[-1] if names else ""
    if name in TYPES:
        return name
    if name in _OTHER_TYPES or (len(names) == 2 and names[0] == "pg_catalog"):
        raise InvalidParameter("sequence type must be smallint, integer, or bigint")
    raise UndefinedObject(f'type "{name}" does not exist')


def resolve(options: tuple[ast.Node, ...], old: Sequence | None) -> tuple[Sequence, bool]:  # noqa: C901 - init_params' cases
    """The sequence the options make (``old`` None: CREATE SEQUENCE), and whether they
    set its position (RESTART). Raises PostgreSQL's errors for contradicting options."""
    opts: dict[str, Any] = {str(o.defname): o for o in options if isinstance(o, ast.DefElem)}
    init = old is None
    seq = old or Sequence()
    reset_max = reset_min = False
    if "as" in opts:
        new_type = _type(opts["as"].arg)
        if not init:
            _, low, high = TYPES[seq.type]
            reset_max, reset_min = seq.maxvalue == high, seq.minvalue == low
        seq = replace(seq, type=new_type)
    if "increment" in opts:
        seq = replace(seq, increment=_integer(opts["increment"].arg))
        if seq.increment == 0:
            raise InvalidParameter("INCREMENT must not be zero")
    if "cycle" in opts:
        arg = opts["cycle"].arg
        seq = replace(seq, cycle=bool(arg.boolval) if isinstance(arg, ast.Boolean) else True)
    type_name, low, high = TYPES[seq.type]
    opt = opts.get("maxvalue")
    if opt is not None and opt.arg is not None:
        seq = replace(seq, maxvalue=_integer(opt.arg))
    elif init or opt is not None or reset_max:
        seq = replace(seq, maxvalue=high if seq.increment > 0 or reset_max else -1)
    if not low <= seq.maxvalue <= high:
        raise InvalidParameter(
            f"MAXVALUE ({seq.maxvalue}) is out of range for sequence data type {type_name}"
        )
    opt = opts.get("minvalue")
    if opt is not None and opt.arg is not None:
        seq = replace(seq, minvalue=_integer(opt.arg))
    elif init or opt is not None or reset_min:
        seq = replace(seq, minvalue=low if seq.increment < 0 or reset_min else 1)
    if not low <= seq.minvalue <= high:
        raise InvalidParameter(
            f"MINVALUE ({seq.minvalue}) is out of range for sequence data type {type_name}"
        )
    if seq.minvalue >= seq.maxvalue:
        raise InvalidParameter(
            f"MINVALUE ({seq.minvalue}) must be less than MAXVALUE ({seq.maxvalue})"
        )
    if "start" in opts:
        seq = replace(seq, start=_integer(opts["start"].arg))
    elif init:
        seq = replace(seq, start=seq.minvalue if seq.increment > 0 else seq.maxvalue)
    if seq.start < seq.minvalue:
        raise InvalidParameter(
            f"START value ({seq.start}) cannot be less than MINVALUE ({seq.minvalue})"
        )
    if seq.start > seq.maxvalue:
        raise InvalidParameter(
            f"START value ({seq.start}) cannot be greater than MAXVALUE ({seq.maxvalue})"
        )
    restart = opts.get("restart")
    if restart is not None:
        value = _integer(restart.arg) if restart.arg is not None else seq.start
        seq = replace(seq, last=value, called=False)
    elif init:
        seq = replace(seq, last=seq.start, called=False)
    if seq.last < seq.minvalue:
        raise InvalidParameter(
            f"RESTART value ({seq.last}) cannot be less than MINVALUE ({seq.minvalue})"
        )
    if seq.last > seq.maxvalue:
        raise InvalidParameter(
            f"RESTART value ({seq.last}) cannot be greater than MAXVALUE ({seq.maxvalue})"
        )
    cache = opts.get("cache")
    if cache is not None and _integer(cache.arg) <= 0:
        raise InvalidParameter(f"CACHE ({_integer(cache.arg)}) must be greater than zero")
    owned = opts.get("owned_by")
    if owned is not None:
        owner: Any = owned.arg or ()
        names = [n.sval for n in owner]
        if len(names) == 1 and names[0] != "none":
            raise SyntaxError_(
                "invalid OWNED BY option", hint="Specify OWNED BY table.column or OWNED BY NONE."
            )
    return seq, restart is not None


def duck_options(seq: Sequence) -> tuple[ast.DefElem, ...]:
    """The options DuckDB reads, every one explicit."""

    def number(name: str, value: int) -> ast.DefElem:
        arg = ast.Integer(ival=value) if -(2**31) <= value < 2**31 else ast.Float(fval=str(value))
        return ast.DefElem(defname=name, arg=arg, defaction=DefElemAction.DEFELEM_UNSPEC)

    return (
        number("increment", seq.increment),
        number("minvalue", seq.minvalue),
        number("maxvalue", seq.maxvalue),
        number("start", seq.start),
        ast.DefElem(
            defname="cycle",
            arg=ast.Boolean(boolval=seq.cycle),
            defaction=DefElemAction.DEFELEM_UNSPEC,
        ),
    )


def serial_sql(name: str, type_name: str) -> list[str]:
    """The DuckDB statements that make a serial or identity column's sequence."""
    if type_name == "int8":
        return [f"CREATE SEQUENCE IF NOT EXISTS {name}"]
    return [
        f"CREATE SEQUENCE IF NOT EXISTS {name} MAXVALUE {TYPES[type_name][2]}",
        f"COMMENT ON SEQUENCE {name} IS '{type_name}'",
    ]


def create(stmt: ast.CreateSeqStmt) -> list[object]:
    """CREATE SEQUENCE as DuckDB reads it (in place), PostgreSQL's errors raised; the
    steps to run in its place (none: the statement alone)."""
    options = tuple(stmt.options or ())
    seq, _ = resolve(options, None)
    owners: list[Any] = [
        o.arg for o in options if isinstance(o, ast.DefElem) and o.defname == "owned_by"
    ]
    owner = [n.sval for n in owners[0] or ()] if owners else []
    stmt.options = duck_options(seq)
    if stmt.sequence is not None and stmt.sequence.relpersistence == "u":
        stmt.sequence.relpersistence = "p"  # UNLOGGED: DuckDB's file is the log
    before = [OwnedBy(stmt.sequence, tuple(owner))] if len(owner) > 1 else []
    after = (
        [Typed(stmt.sequence, seq.type)] if seq.type != "int8" and not stmt.if_not_exists else []
    )
    return [*before, stmt, *after] if before or after else []


@dataclass
class OwnedBy(Emulated):
    """OWNED BY table.column checked as PostgreSQL checks it (the sequence is not dropped
    with the table: DuckDB keeps no such link)."""

    sequence: Any
    owner: tuple[str, ...]

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        *rel, column = self.owner
        table = rel[-1]
        schema = rel[0] if len(rel) > 1 else None
        seq_schema = self.sequence.schemaname if self.sequence.schemaname else "public"
        rows = cur.execute(
            "SELECT CASE schema_name WHEN 'main' THEN 'public' ELSE schema_name END, "
            "list(column_name) FROM duckdb_columns() WHERE table_name = $1 GROUP BY 1",
            [table],
        ).fetchall()
        found = {str(r[0]): list(r[1]) for r in rows}
        if schema is not None:
            found = {k: v for k, v in found.items() if k == schema}
        if not found:
            raise UndefinedTable(f'relation "{".".join(rel)}" does not exist')
        if seq_schema not in found:
            raise ObjectNotInPrerequisiteState(
                "sequence must be in same schema as table it is linked to"
            )
        if column not in found[seq_schema]:
            raise UndefinedColumn(f'column "{column}" of relation "{table}" does not exist')


@dataclass
class Typed(Emulated):
    """A sequence's type, which DuckDB does not keep, kept as its comment (hati answers
    COMMENT ON SEQUENCE itself, so no client's comment takes its place)."""

    sequence: Any
    type: str

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        found = read(cur, self.sequence)
        if found is not None:
            cur.execute(f"COMMENT ON SEQUENCE {found.name} IS '{self.type}'")


@dataclass(frozen=True)
class Found:
    seq: Sequence
    temporary: bool
    name: str  # DuckDB's text for the sequence


def read(cur: duckdb.DuckDBPyConnection, rv: Any) -> Found | None:
    """The sequence ``rv`` names, as DuckDB has it now (None: there is none)."""
    schema = rv.schemaname if rv.schemaname not in (None, "public") else "main"
    row = cur.execute(
        "SELECT start_value, min_value, max_value, increment_by, cycle, last_value, "
        "temporary, comment, sql FROM duckdb_sequences() WHERE sequence_name = $1 "
        "AND (schema_name = $2 OR temporary) ORDER BY temporary DESC LIMIT 1",
        [rv.relname, schema],
    ).fetchone()
    if row is None:
        return None
    start, low, high, inc, cycle, last, temporary, comment, sql = row
    at, called = _position(last, str(sql), int(inc), int(low), int(high), int(start))
    seq = Sequence(
        type=comment if comment in TYPES else "int8",
        increment=int(inc),
        minvalue=int(low),
        maxvalue=int(high),
        start=int(start),
        cycle=bool(cycle),
        last=at,
        called=called,
    )
    name = render.quote_name(rv.relname)
    if rv.schemaname and rv.schemaname not in ("public", "main") and not temporary:
        name = render.quote_name(rv.schemaname) + "." + name
    return Found(seq, bool(temporary), name)


def _position(
    last: int | None, sql: str, inc: int, low: int, high: int, start: int
) -> tuple[int, bool]:
    """(last_value, is_called) as setval() takes them, from DuckDB's last value returned
    and its counter (the next value, the START of the sequence's ``sql``)."""
    try:
        made: Any = parser.parse_sql(sql)[0].stmt
        found = [o.arg for o in made.options or () if o.defname == "start"]
        counter = _integer(found[0]) if found else start
    except (parser.ParseError, SyntaxError_, IndexError, AttributeError):
        return (start, False) if last is None else (int(last), True)
    if last is not None and (int(last) + inc == counter or not low <= counter <= high):
        return int(last), True
    return counter, False


def _missing(cur: duckdb.DuckDBPyConnection, rv: Any) -> Exception:
    kind = cur.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = $1", [rv.relname]
    ).fetchone()
    if kind and kind[0]:
        return WrongObjectType(f'"{rv.relname}" is not a sequence')
    return UndefinedTable(f'relation "{rv.relname}" does not exist')


def _on_main(branch: bool) -> None:
    if branch:
        raise FeatureNotSupported(
            "ALTER SEQUENCE is not supported in a branch",
            detail="Sequences are main's: a branch draws its ids from them.",
            hint="Run ALTER SEQUENCE on main.",
        )


def _make(cur: duckdb.DuckDBPyConnection, name: str, seq: Sequence, temp: bool) -> None:
    """A new sequence ``name`` with ``seq``'s options, where ``seq`` stands."""
    options = " ".join(_option_text(o) for o in duck_options(seq))
    cur.execute(f"CREATE {'TEMPORARY ' if temp else ''}SEQUENCE {name} {options}")
    cur.execute("SELECT setval($1, $2, $3)", [name, seq.last, seq.called]).fetchall()
    if seq.type != "int8":
        cur.execute(f"COMMENT ON SEQUENCE {name} IS '{seq.type}'")


def relation_name(text: str) -> tuple[str, str]:
    """(schema or '', name) of a relation's text (``main."t_id_seq"``)."""
    try:
        select: Any = parser.parse_sql(f"SELECT 1 FROM {text}")[0].stmt
    except parser.ParseError:
        return "", text
    rv = select.fromClause[0]
    return rv.schemaname or "", rv.relname


def _replace(cur: duckdb.DuckDBPyConnection, old: str, new: str, seq: Sequence, temp: bool) -> None:
    """Sequence ``new`` (made with ``seq``) in place of ``old``: the column defaults that
    draw from ``old`` draw from ``new``, then ``old`` goes (DuckDB drops no sequence a
    default uses)."""
    _make(cur, new, seq, temp)
    old_schema, old_name = relation_name(old)
    rows = cur.execute(
        "SELECT database_name, schema_name, table_name, column_name, column_default "
        "FROM duckdb_columns() WHERE database_name IN (current_database(), 'temp') "
        "AND column_default LIKE 'nextval(%'"
    ).fetchall()
    for database, schema, table, column, default in rows:
        m = NEXTVAL.search(str(default))
        if m is None:
            continue
        used_schema, used = relation_name(m.group(1).replace("''", "'"))
        if used != old_name or (old_schema and used_schema and used_schema != old_schema):
            continue
        where = render.quote_name(table)
        if database != "temp":
            where = render.quote_name(schema) + "." + where
        cur.execute(
            f"ALTER TABLE {where} ALTER COLUMN {render.quote_name(column)} "
            f"SET DEFAULT nextval({lex.quote_string(new)})"
        )
    cur.execute(f"DROP SEQUENCE {old}")


@dataclass
class AlterSequence(Emulated):
    """ALTER SEQUENCE: the sequence made again with its new options (see module doc)."""

    sequence: Any
    options: tuple[Any, ...]
    missing_ok: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        _on_main(branch)
        found = read(cur, self.sequence)
        if found is None:
            if self.missing_ok:
                return
            raise _missing(cur, self.sequence)
        old = found.seq
        new, moved = resolve(tuple(self.options), old)
        if replace(new, last=old.last, called=old.called) != old:
            schema, _ = relation_name(found.name)
            aside = render.quote_name(f"{self.sequence.relname}_hati_altered")
            aside = f"{render.quote_name(schema)}.{aside}" if schema else aside
            _replace(cur, found.name, aside, new, found.temporary)
            _replace(cur, aside, found.name, new, found.temporary)
        elif moved:
            cur.execute("SELECT setval($1, $2, $3)", [found.name, new.last, new.called]).fetchall()


@dataclass
class RenameSequence(Emulated):
    """ALTER SEQUENCE / TABLE s RENAME TO t of a sequence: made again under the new name,
    where it stood (``otherwise``: the step for a relation that is no sequence)."""

    stmt: Any  # the RenameStmt
    otherwise: Emulated | None = None

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        rv = self.stmt.relation
        found = read(cur, rv)
        if found is None:
            if self.otherwise is not None:
                self.otherwise.run(cur, printed, branch)
                return
            if self.stmt.missing_ok:
                return
            raise _missing(cur, rv)
        _on_main(branch)
        new = ast.RangeVar(relname=self.stmt.newname, schemaname=rv.schemaname, inh=True)
        if read(cur, new) is not None:
            raise DuplicateTable(f'relation "{self.stmt.newname}" already exists')
        name = render.quote_name(self.stmt.newname)
        if rv.schemaname and rv.schemaname not in ("public", "main") and not found.temporary:
            name = render.quote_name(rv.schemaname) + "." + name
        _replace(cur, found.name, name, found.seq, found.temporary)


@dataclass
class Unchanged(Emulated):
    """ALTER SEQUENCE s SET LOGGED / UNLOGGED: DuckDB's file logs every sequence."""

    sequence: Any
    missing_ok: bool

    def run(self, cur: duckdb.DuckDBPyConnection, printed: Printer, branch: bool) -> None:
        if read(cur, self.sequence) is None and not self.missing_ok:
            raise _missing(cur, self.sequence)


def _option_text(o: Any) -> str:
    arg: Any = o.arg
    if o.defname == "cycle":
        return "CYCLE" if isinstance(arg, ast.Boolean) and arg.boolval else "NO CYCLE"
    value = arg.ival if isinstance(arg, ast.Integer) else arg.fval
    name = str(o.defname)
    word = {"increment": "INCREMENT BY", "start": "START WITH"}.get(name, name.upper())
    return f"{word} {value}"
