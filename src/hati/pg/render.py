"""Print a parse tree as SQL that DuckDB reads the way PostgreSQL read the original.

pglast's printer writes PostgreSQL SQL; DuckDB's parser descends from PostgreSQL's, so
that text is nearly always right for DuckDB too. Three things differ, and this printer
handles them:

- identifiers that are keywords to DuckDB but not to PostgreSQL (``at``, ``map``,
  ``struct``, ``qualify``, ...) are double-quoted;
- relations are printed where the router placed them (main, a branch's table or view, a
  snapshot), keeping the name the statement used as the alias so column references still
  resolve;
- a few functions and constructs are printed in DuckDB's spelling (see ``translate``).

Comments are never printed: the text DuckDB runs holds exactly what was analyzed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pglast import ast
from pglast.keywords import RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS
from pglast.stream import RawStream, is_simple_name
from pglast.visitors import populate_ancestors

# DuckDB's reserved, column-name and type/function-name keywords (duckdb_keywords(),
# DuckDB 2.0): an identifier spelled like one of them must be quoted for DuckDB.
DUCKDB_KEYWORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "anti",
        "any",
        "array",
        "as",
        "asc",
        "asof",
        "asymmetric",
        "at",
        "authorization",
        "between",
        "bigint",
        "binary",
        "bit",
        "boolean",
        "both",
        "by",
        "case",
        "cast",
        "char",
        "character",
        "check",
        "coalesce",
        "collate",
        "collation",
        "column",
        "columns",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "dec",
        "decimal",
        "default",
        "deferrable",
        "desc",
        "describe",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "exists",
        "extract",
        "false",
        "fetch",
        "float",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "generated",
        "glob",
        "group",
        "grouping",
        "grouping_id",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "inout",
        "int",
        "integer",
        "intersect",
        "interval",
        "into",
        "is",
        "isnull",
        "join",
        "lambda",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "map",
        "national",
        "natural",
        "nchar",
        "none",
        "not",
        "notnull",
        "null",
        "nullif",
        "numeric",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "out",
        "outer",
        "overlaps",
        "overlay",
        "pivot",
        "pivot_longer",
        "pivot_wider",
        "placing",
        "position",
        "positional",
        "precision",
        "primary",
        "qualify",
        "real",
        "references",
        "returning",
        "right",
        "row",
        "select",
        "semi",
        "setof",
        "show",
        "similar",
        "smallint",
        "some",
        "struct",
        "substring",
        "summarize",
        "symmetric",
        "table",
        "tablesample",
        "then",
        "time",
        "timestamp",
        "to",
        "trailing",
        "treat",
        "trim",
        "true",
        "try_cast",
        "tuple",
        "union",
        "unique",
        "unpack",
        "unpivot",
        "using",
        "values",
        "varchar",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
        "xmlattributes",
        "xmlconcat",
        "xmlelement",
        "xmlexists",
        "xmlforest",
        "xmlnamespaces",
        "xmlparse",
        "xmlpi",
        "xmlroot",
        "xmlserialize",
        "xmltable",
    ]
)
_QUOTE = DUCKDB_KEYWORDS | RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS


def quote_name(name: str) -> str:
    """An identifier as DuckDB must read it to mean ``name`` exactly."""
    if is_simple_name(name) and name not in _QUOTE:
        return name
    return '"' + name.replace('"', '""') + '"'


class StarExcluding(ast.ColumnRef):
    """``* EXCLUDE (a, b)``: DuckDB's star without some columns (no PostgreSQL spelling)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(fields=(ast.A_Star(),))
        self.excluded = tuple(names)


# node -> the text to print instead of it (a relation placed by the router), or None.
Substitute = Callable[[ast.Node], str | None]


class DuckStream(RawStream):
    """pglast's RawStream with DuckDB quoting and relation substitution."""

    def __init__(self, substitute: Substitute | None = None) -> None:
        super().__init__(remove_pg_catalog_from_functions=True)
        self.substitute = substitute

    def _print_scalar(self, value: Any, is_name: bool, is_symbol: bool) -> None:
        if is_name and not is_symbol and isinstance(value, str):
            self.write(quote_name(value))
        else:
            super()._print_scalar(value, is_name, is_symbol)  # type: ignore[misc]

    def print_node(self, node: Any, is_name: bool = False, is_symbol: bool = False) -> None:
        if isinstance(node, StarExcluding):
            self.write("* EXCLUDE (" + ", ".join(map(quote_name, node.excluded)) + ")")
            return
        if self.substitute is not None and isinstance(node, ast.Node):
            text = self.substitute(node)
            if text is not None:
                self.write(text)
                self.separator()
                return
        super().print_node(node, is_name=is_name, is_symbol=is_symbol)


def relation(rv: ast.RangeVar, schema: str | None) -> str:
    """A relation as ``[ONLY] [schema.]name [AS alias [(columns)]]``, in ``schema``."""
    text = "" if rv.inh else "ONLY "
    if schema:
        text += quote_name(schema) + "."
    text += quote_name(rv.relname or "")
    if rv.alias is not None:
        text += " AS " + quote_name(rv.alias.aliasname or "")
        if rv.alias.colnames:
            text += " (" + ", ".join(quote_name(c.sval) for c in rv.alias.colnames) + ")"
    return text


def prepare(node: ast.Node) -> None:
    """Once per tree, before any :func:`render` (it links each node to its parents)."""
    populate_ancestors(node)


def render(node: ast.Node, substitute: Substitute | None = None) -> str:
    """The SQL text of ``node`` (whose tree went through :func:`prepare`)."""
    out = DuckStream(substitute)
    out.print_node(node)
    return out.getvalue()
