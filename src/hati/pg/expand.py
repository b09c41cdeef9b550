"""Functions that stand for whole queries, spelled out before the statement is analyzed.

The HatiData SDK retrieves an agent's context with two table functions:

- ``hatidata_context(table, search_query, top_k)``: the table's rows that mention the
  query's words, best match first (the score is how often the words occur in the row's
  text, all columns joined), at most ``top_k``;
- ``hatidata_rag_context(table, embedding_col, vector, top_k)``: the table's rows by
  cosine similarity of ``embedding_col`` to ``vector``, most similar first, at most
  ``top_k``.

Each call becomes a subquery over the named table, so the guard checks that table like
any other, and in a branch the router places it as the branch sees it. The table and
column names must be constants (they name what the statement reads).
"""

from __future__ import annotations

from pglast import ast
from pglast.enums import A_Expr_Kind, LimitOption, SortByDir, SortByNulls

from hati.errors import FeatureNotSupported, InvalidParameter
from hati.pg.catalog import HIDDEN as SCHEMA
from hati.pg.translate import NeedsLiteral, replace_child, walk

FUNCTIONS = ("hatidata_context", "hatidata_rag_context")

# score = occurrences of the query's words in the row's text (all columns, lower case).
SETUP_SQL = f"""
CREATE OR REPLACE MACRO {SCHEMA}.hati_row_text(r) AS
    lower(array_to_string(json_extract_string(to_json(r), '$.*'), ' '));
CREATE OR REPLACE MACRO {SCHEMA}.hati_text_score(r, q) AS
    coalesce(list_sum(list_transform(
        list_filter(string_split_regex(lower(q), '\\s+'), lambda w: length(w) > 0),
        lambda w: (length({SCHEMA}.hati_row_text(r))
                   - length(replace({SCHEMA}.hati_row_text(r), w, ''))) // length(w))), 0);
"""


def _name(node: ast.Node | None, what: str, params: int) -> tuple[str, ...]:
    """A constant naming a table or column (``t``, ``s.t``, ``"Mixed"."t"``)."""
    if isinstance(node, ast.ParamRef) and (node.number or 0) > params:
        raise NeedsLiteral
    if not (isinstance(node, ast.A_Const) and isinstance(node.val, ast.String)):
        raise FeatureNotSupported(
            f"the {what} of hatidata_context/hatidata_rag_context must be a constant",
            hint="Write the name as a string literal, e.g. 'docs'.",
        )
    text = node.val.sval or ""
    parts, cur, quoted, i = [], "", False, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            if quoted and text[i + 1 : i + 2] == '"':
                cur, i = cur + '"', i + 1
            else:
                quoted = not quoted
        elif c == "." and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += c if quoted else c.lower()
        i += 1
    parts.append(cur)
    if quoted or not 1 <= len(parts) <= 2 or not all(parts):
        raise InvalidParameter(f'invalid {what} name "{text}"')
    return tuple(parts)


def _func(name: str, *args: ast.Node, schema: str | None = SCHEMA) -> ast.FuncCall:
    names = (ast.String(sval=schema), ast.String(sval=name)) if schema else (ast.String(sval=name),)
    return ast.FuncCall(funcname=names, args=args)


def _query(call: ast.FuncCall, params: int) -> ast.SelectStmt:
    fn = call.funcname[-1].sval
    args = call.args or ()
    want = 3 if fn == "hatidata_context" else 4
    if len(args) != want:
        raise InvalidParameter(f"{fn} takes {want} arguments, got {len(args)}")
    table = _name(args[0], "table", params)
    rv = ast.RangeVar(
        schemaname=table[0] if len(table) == 2 else None,
        relname=table[-1],
        inh=True,
        relpersistence="p",
        alias=ast.Alias(aliasname="x"),
    )
    row = ast.ColumnRef(fields=(ast.String(sval="x"),))
    if fn == "hatidata_context":
        # Unqualified here (the guard checks what the client named); the translation
        # rules point it at hati's macro (translate/functions.py, EMULATED_FUNCTIONS).
        score: ast.Node = _func("hati_text_score", row, args[1], schema=None)
        where: ast.Node | None = ast.A_Expr(
            kind=A_Expr_Kind.AEXPR_OP,
            name=(ast.String(sval=">"),),
            lexpr=score,
            rexpr=ast.A_Const(val=ast.Integer(ival=0)),
        )
        order = SortByDir.SORTBY_DESC
        limit = args[2]
    else:
        col = _name(args[1], "column", params)
        vector = ast.TypeCast(
            arg=args[2],
            typeName=ast.TypeName(
                names=(ast.String(sval="pg_catalog"), ast.String(sval="float8")),
                arrayBounds=(ast.Integer(ival=-1),),
            ),
        )
        column = ast.ColumnRef(fields=(ast.String(sval="x"), ast.String(sval=col[-1])))
        score = _func("list_cosine_similarity", column, vector, schema=None)
        where, order, limit = None, SortByDir.SORTBY_DESC, args[3]
    return ast.SelectStmt(
        targetList=(ast.ResTarget(val=ast.ColumnRef(fields=(ast.String(sval="x"), ast.A_Star()))),),
        fromClause=(rv,),
        whereClause=where,
        sortClause=(
            ast.SortBy(node=score, sortby_dir=order, sortby_nulls=SortByNulls.SORTBY_NULLS_LAST),
        ),
        limitCount=limit,
        limitOption=LimitOption.LIMIT_OPTION_COUNT,
    )


def expand(stmt: ast.Node, params: int) -> ast.Node:
    """Replace every ``FROM hatidata_context(...)`` / ``hatidata_rag_context(...)`` by
    its subquery (``params``: the client's own parameters; above them, lifted literals)."""
    for node in walk(stmt):
        for attr, child in _range_functions(node):
            call = child.functions[0][0]
            alias = child.alias.aliasname if child.alias else call.funcname[-1].sval
            sub = ast.RangeSubselect(
                subquery=_query(call, params), alias=ast.Alias(aliasname=alias)
            )
            replace_child(node, attr, child, sub)
    return stmt


def _range_functions(node: ast.Node) -> list[tuple[str, ast.RangeFunction]]:
    from hati.pg.analyze import children

    out = []
    for attr, child in children(node):
        if isinstance(child, ast.RangeFunction) and len(child.functions or ()) == 1:
            call = child.functions[0][0]
            if isinstance(call, ast.FuncCall) and call.funcname[-1].sval in FUNCTIONS:
                out.append((attr, child))
    return out


def mentions(sql: str) -> bool:
    low = sql.lower()
    return any(f in low for f in FUNCTIONS)
