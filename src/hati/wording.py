"""DuckDB's error messages in PostgreSQL's words.

A client (or an agent reading its errors to correct itself) should see what PostgreSQL
would say: ``relation "x" does not exist``, not ``Table with name x does not exist!``;
``duplicate key value violates unique constraint "t_pkey"`` with ``Key (id)=(1) already
exists.``, the constraint, table and column in the error's fields, and no advice about
DuckDB settings or DuckDB's own SQL. :func:`reword` is used by ``errors.from_duckdb``
only; each rule is proved against PostgreSQL in ``tests/differential/test_error_messages.py``.

DuckDB's ``LINE n: ...`` excerpt is dropped everywhere: it quotes the statement as hati
translated it, not as the client wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pglast import ast, parser, visitors

OPERATOR_HINT = (
    "No operator matches the given name and argument types. "
    "You might need to add explicit type casts."
)
FUNCTION_HINT = (
    "No function matches the given name and argument types. "
    "You might need to add explicit type casts."
)
# DuckDB's type names in its messages -> PostgreSQL's.
_TYPES = {
    "INT16": "smallint", "SMALLINT": "smallint", "INT32": "integer", "INTEGER": "integer",
    "INT64": "bigint", "BIGINT": "bigint", "DOUBLE": "double precision", "FLOAT": "real",
    "BOOL": "boolean", "BOOLEAN": "boolean", "VARCHAR": "text", "STRING_LITERAL": "unknown",
    "INTEGER_LITERAL": "integer", "DATE": "date", "TIME": "time without time zone",
    "TIMESTAMP": "timestamp without time zone", "TIMESTAMP WITH TIME ZONE":
    "timestamp with time zone", "INTERVAL": "interval", "BLOB": "bytea", "UUID": "uuid",
    "JSON": "json", "HUGEINT": "numeric",
}  # fmt: skip


@dataclass(frozen=True)
class Worded:
    """What the client is told instead (``sqlstate`` None: the rule table's code)."""

    message: str
    sqlstate: str | None = None
    detail: str | None = None
    hint: str | None = None
    table: str | None = None
    column: str | None = None
    constraint: str | None = None


def pg_type(name: str) -> str:
    """PostgreSQL's name for a type as DuckDB's messages spell it."""
    name = name.strip()
    if name.startswith("DECIMAL"):
        return "numeric"
    if name.endswith("[]"):
        return pg_type(name[:-2]) + "[]"
    return _TYPES.get(name.upper(), name.lower())


def strip_excerpt(rest: str) -> str:
    """DuckDB's detail lines without its ``LINE n:`` excerpt of the translated statement."""
    return re.sub(r"(?s)\n*LINE \d+:.*", "", rest).strip()


def _first_candidate(rest: str) -> str | None:
    m = re.search(r'(?:Candidate bindings|Did you mean):?\s*(?::\s*)?"([^"]+)"', rest)
    return m.group(1) if m else None


def _column_hint(rest: str) -> str | None:
    name = _first_candidate(rest)
    return f'Perhaps you meant to reference the column "{name}".' if name else None


def _key(text: str) -> tuple[list[str], list[str]]:
    """``"a: 1, b: x"`` as (["a", "b"], ["1", "x"])."""
    cols: list[str] = []
    vals: list[str] = []
    for part in text.split(", "):
        col, sep, val = part.partition(": ")
        if not sep and cols:  # a ", " inside a value
            vals[-1] += ", " + part
            continue
        cols.append(col)
        vals.append(val)
    return cols, vals


def _duplicate(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    cols, vals = _key(m.group("key"))
    name = None
    if relation:
        primary = m.group("kind") == "primary key"
        name = f"{relation}_pkey" if primary else "_".join([relation, *cols, "key"])
    return Worded(
        f'duplicate key value violates unique constraint "{name}"'
        if name
        else "duplicate key value violates unique constraint",
        detail=f"Key ({', '.join(cols)})=({', '.join(vals)}) already exists.",
        table=relation,
        constraint=name,
    )


def _not_null(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    table, column = relation or m.group("table"), m.group("column")
    return Worded(
        f'null value in column "{column}" of relation "{table}" violates not-null constraint',
        table=table,
        column=column,
    )


def _check(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    table = relation or m.group("table")
    columns = _columns_of(m.group("expr"))
    name = "_".join([table, *columns[:1], "check"]) if len(columns) == 1 else f"{table}_check"
    return Worded(
        f'new row for relation "{table}" violates check constraint "{name}"',
        table=table,
        constraint=name,
    )


class _Columns(visitors.Visitor):
    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_ColumnRef(self, ancestors: object, node: ast.ColumnRef) -> None:
        last = node.fields[-1] if node.fields else None
        if isinstance(last, ast.String):
            self.names.add(str(last.sval))


def _columns_of(expr: str) -> list[str]:
    """The columns an expression (as DuckDB prints it) reads."""
    try:
        tree = parser.parse_sql(f"SELECT {expr}")
    except parser.ParseError:
        return []
    found = _Columns()
    found(tree)
    return sorted(found.names)


def _function(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    args = ", ".join(pg_type(a) for a in m.group("args").split(", ") if a)
    return Worded(f"function {m.group('name')}({args}) does not exist", "42883", hint=FUNCTION_HINT)


def _operator(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    args = [pg_type(a) for a in m.group("args").split(", ")]
    op = m.group("name")
    shown = f"{args[0]} {op} {args[1]}" if len(args) == 2 else f"{op} {args[0]}"
    return Worded(f"operator does not exist: {shown}", "42883", hint=OPERATOR_HINT)


def _not_unique(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    args = [pg_type(a) for a in m.group("args").split(", ")]
    name = m.group("name")
    if re.fullmatch(r"[-+*/%<>=!~^&|#@]+", name) and len(args) == 2:
        return Worded(f"operator is not unique: {args[0]} {name} {args[1]}", "42725",
                      hint="Could not choose a best candidate operator. You might need to add "
                      "explicit type casts.")  # fmt: skip
    return Worded(f"function {name}({', '.join(args)}) is not unique", "42725",
                  hint="Could not choose a best candidate function. You might need to add "
                  "explicit type casts.")  # fmt: skip


def _insert_arity(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    more = int(m.group("values")) > int(m.group("columns"))
    return Worded(
        "INSERT has more expressions than target columns"
        if more
        else "INSERT has more target columns than expressions",
        "42601",
    )


def _int_range(m: re.Match[str], rest: str, relation: str | None) -> Worded:
    return Worded(f"{pg_type(m.group('type'))} out of range", "22003")


def _fixed(
    message: str, sqlstate: str | None = None, hint: Callable[[str], str | None] | None = None
) -> Callable[[re.Match[str], str, str | None], Worded]:
    def word(m: re.Match[str], rest: str, relation: str | None) -> Worded:
        groups = {k: (v or "") for k, v in m.groupdict().items()}
        groups["relation"] = relation or ""
        if "type" in groups:
            groups["type"] = pg_type(groups["type"])
        return Worded(message.format(**groups), sqlstate, hint=hint(rest) if hint else None)

    return word


_Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str, str | None], Worded]]
_RULES: list[_Rule] = [
    (re.compile(p), f)
    for p, f in [
        (r"^Division by zero in expression", _fixed("division by zero")),
        (r'^(?:Table|View) with name "?(?P<name>[^"!]+?)"? does not exist!',
         _fixed('relation "{name}" does not exist')),
        (r"^(?:Scalar|Table|Aggregate) Function with name (?P<name>\S+) does not exist!",
         _fixed("function {name} does not exist", "42883", lambda _rest: FUNCTION_HINT)),
        (r"^No function matches the given name and argument types '(?P<name>[\w.]+)\((?P<args>.*)\)'",
         _function),
        (r"^No function matches the given name and argument types '(?P<name>[^\w\s(]+)\((?P<args>.*)\)'",
         _operator),
        (r'^Could not choose a best candidate function for the function call "(?P<name>[^(]+)\((?P<args>.*)\)"',
         _not_unique),
        (r"^Macro (?P<name>\w+)\(\) does not support the supplied arguments",
         _fixed("function does not exist for these argument types", "42883",
                lambda _rest: FUNCTION_HINT)),
        (r'^Cannot compare values of type (?P<left>[\w ]+?) and type (?P<right>[\w ]+?) - ',
         lambda m, rest, relation: Worded(
             f"operator does not exist: {pg_type(m['left'])} compared with {pg_type(m['right'])}",
             "42883", hint=OPERATOR_HINT)),
        (r'^table "(?P<table>[^"]+)" has (?P<columns>\d+) columns but (?P<values>\d+) values were supplied',
         _insert_arity),
        (r'^Column name/value mismatch for insert on "[^"]+": expected (?P<columns>\d+) columns but (?P<values>\d+) values',
         _insert_arity),
        (r"^(?:Type|Sequence) with name (?P<name>\S+) does not exist!",
         lambda m, rest, relation: Worded(
             f'type "{m["name"]}" does not exist' if m.group(0).startswith("Type")
             else f'relation "{m["name"]}" does not exist',
             None if m.group(0).startswith("Type") else "42P01")),
        (r"^The specified columns as conflict target are not referenced by a UNIQUE/PRIMARY KEY",
         _fixed("there is no unique or exclusion constraint matching the ON CONFLICT "
                "specification", "42P10")),
        (r"^DO UPDATE SET clause cannot contain a subquery",
         _fixed("a subquery in ON CONFLICT DO UPDATE SET is not supported", "0A000",
                lambda _rest: "Compute the value in the INSERT's own query, and set the "
                "column to excluded.column.")),
        (r"^LIMIT/OFFSET cannot be negative", _fixed("LIMIT must not be negative", "2201W")),
        (r"^ORDER term out of range", _fixed("ORDER BY position is not in select list", "42P10")),
        (r'^Ambiguous reference to column name "(?P<column>[^"]+)"',
         _fixed('column reference "{column}" is ambiguous', "42702")),
        (r"^UNNEST\(\) can only be applied to lists",
         _fixed("op ANY/ALL (array) requires array on right side", "42809")),
        (r"Cannot cast STRUCTs of different size",
         _fixed("unequal number of entries in row expressions", "42601")),
        (r'^table "(?P<table>[^"]+)" has \d+ columns available but \d+ columns specified',
         lambda m, rest, relation: Worded(m.group(0), "42P10")),
        (r"^Subquery returns \d+ columns - expected 1",
         _fixed("subquery must return only one column", "42601")),
        (r'^Referenced column "(?P<column>[^"]+)" not found in FROM clause!',
         _fixed('column "{column}" does not exist', hint=_column_hint)),
        (r'^Column "(?P<column>[^"]+)" referenced that exists in the SELECT clause',
         _fixed('column "{column}" does not exist')),
        (r'^Referenced table "(?P<table>[^"]+)" not found!',
         _fixed('missing FROM-clause entry for table "{table}"', "42P01")),
        (r'^Table "(?P<table>[^"]+)" does not have a column named "(?P<column>[^"]+)"',
         _fixed("column {table}.{column} does not exist", hint=_column_hint)),
        (r'^Table "(?P<table>[^"]+)" does not have a column with name "(?P<column>[^"]+)"',
         _fixed('column "{column}" of relation "{table}" does not exist')),
        (r"^Referenced update column (?P<column>\S+) not found in table!",
         _fixed('column "{column}" of relation "{relation}" does not exist')),
        (r'^column "(?P<column>[^"]+)" must appear in the GROUP BY clause',
         _fixed('column "{column}" must appear in the GROUP BY clause or be used in an '
                "aggregate function", "42803")),
        (r"^(?P<clause>WHERE|JOIN|GROUP BY) clause cannot contain aggregates!",
         _fixed("aggregate functions are not allowed in {clause}", "42803")),
        (r'^Table with name "(?P<name>[^"]+)" already exists!',
         _fixed('relation "{name}" already exists')),
        (r'^Type with name "(?P<name>[^"]+)" already exists!', _fixed('type "{name}" already exists')),
        (r'^Column with name "(?P<column>[^"]+)" already exists!',
         _fixed('column "{column}" of relation "{relation}" already exists', "42701")),
        (r"^Overflow in \w+ of (?P<type>INT\d+)", _int_range),
        (r"^Type \w+ with value \S+ can't be cast because the value is out of range for the "
         r"destination type (?P<type>INT\d+)", _int_range),
        (r"^(?:Failed to cast value: )?Could not convert string '(?P<value>.*)' to "
         r"(?P<type>INT\d+|DOUBLE|FLOAT|BOOL)\b",
         _fixed('invalid input syntax for type {type}: "{value}"', "22P02")),
        (r"^More than one row returned by a subquery used as an expression",
         _fixed("more than one row returned by a subquery used as an expression", "21000")),
        (r'^Duplicate key "(?P<key>.*)" violates (?P<kind>primary key|unique) constraint',
         _duplicate),
        (r'^PRIMARY KEY or UNIQUE constraint violation: duplicate key "(?P<value>.*)"$',
         lambda m, rest, relation: Worded(
             "duplicate key value violates unique constraint", table=relation,
             detail=f"Key ?=({m.group('value')}) already exists.")),
        (r"^NOT NULL constraint failed: (?:\w+\.)*(?P<table>\w+)\.(?P<column>\w+)$", _not_null),
        (r'^CHECK constraint failed on table "?(?P<table>[^" ]+)"? with expression '
         r"CHECK\((?P<expr>.*)\)$", _check),
    ]
]  # fmt: skip


def reword(first: str, rest: str, relation: str | None = None) -> Worded | None:
    """PostgreSQL's wording of DuckDB's message (first line, the lines after), if known.

    ``relation``: the table the statement writes, for messages DuckDB gives without it."""
    for pattern, word in _RULES:
        m = pattern.search(first)
        if m is not None:
            worded = word(m, rest, relation)
            if 'relation ""' in worded.message:  # the relation was not known
                worded = Worded(
                    re.sub(r' of relation ""', "", worded.message), worded.sqlstate, worded.detail,
                    worded.hint, worded.table, worded.column, worded.constraint,
                )  # fmt: skip
            return worded
    return None
