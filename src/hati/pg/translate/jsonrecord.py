"""The fields of json_populate_record(set) / json_to_record(set) (``pg/jsonpopulate.py``
converts each by its type's *spec*; here each field becomes
``(json_transform(hati_json_populate(doc, key, spec, base), structure)).v``, cast to the
field's type where DuckDB's structure is not already it: a composite, a domain (whose
cast checks its constraints), json)."""

from __future__ import annotations

import copy
import json
from typing import Any

from pglast import ast
from pglast.enums import CoercionForm, SubLinkType

from hati.errors import FeatureNotSupported, InvalidTextRepresentation
from hati.pg import composites, domains
from hati.pg.translate.jsonnodes import as_text, call, name, text

# PostgreSQL's scalar type -> (spec kind, DuckDB's type in the structure)
_SCALARS = {
    "int2": ("int2", "SMALLINT"),
    "smallint": ("int2", "SMALLINT"),
    "int4": ("int4", "INTEGER"),
    "int": ("int4", "INTEGER"),
    "integer": ("int4", "INTEGER"),
    "int8": ("int8", "BIGINT"),
    "bigint": ("int8", "BIGINT"),
    "bool": ("bool", "BOOLEAN"),
    "boolean": ("bool", "BOOLEAN"),
    "text": ("text", "VARCHAR"),
    "varchar": ("varchar", "VARCHAR"),
    "bpchar": ("bpchar", "VARCHAR"),
    "float4": ("float4", "FLOAT"),
    "real": ("float4", "FLOAT"),
    "float8": ("float8", "DOUBLE"),
    "numeric": ("numeric", "DECIMAL(38,10)"),
    "decimal": ("numeric", "DECIMAL(38,10)"),
    "timestamp": ("timestamp", "TIMESTAMP"),
    "timestamptz": ("timestamptz", "TIMESTAMPTZ"),
    "date": ("date", "DATE"),
    "json": ("json", "VARCHAR"),
    "jsonb": ("jsonb", "VARCHAR"),
}
_ARRAY_NAMES = {f"_{k}": k for k in ("int2", "int4", "int8", "text", "varchar", "bpchar",
                                     "bool", "float4", "float8", "numeric", "timestamp",
                                     "timestamptz", "date", "json", "jsonb")}  # fmt: skip


def _length(tn: ast.TypeName) -> int | None:
    mods = tn.typmods or ()
    if mods and isinstance(mods[0], ast.A_Const) and isinstance(mods[0].val, ast.Integer):
        return int(mods[0].val.ival)
    return None


def spec_of(tn: ast.TypeName, nested: bool = False) -> tuple[list[Any], Any]:
    """(spec, DuckDB structure) of a field's declared type."""
    last = str(tn.names[-1].sval)
    bounds = len(tn.arrayBounds or ())
    if last in _ARRAY_NAMES and not bounds:
        last, bounds = _ARRAY_NAMES[last], 1
    if bounds:
        element = ast.TypeName(names=(name(last),), typmods=tn.typmods)
        spec, structure = spec_of(element, nested=True)
        for _ in range(bounds):
            structure = [structure]
        return ["a", bounds, spec], structure
    domain = domains.DOMAINS.get(last)
    if domain is not None:
        if nested and domain.constrained:
            raise FeatureNotSupported(
                f'a field of domain "{last}" inside an array or a nested record is not '
                "supported here",
                hint="Populate the nested value with a separate call.",
            )
        return spec_of(domain.base, nested)
    fields = composites.FIELDS.get(last)
    if fields is not None:
        specs = [(f.colname or "", spec_of(f.typeName, True)) for f in fields if f.typeName]
        return ["r", [[n, s[0]] for n, s in specs]], {n: s[1] for n, s in specs}
    if last not in _SCALARS:
        raise FeatureNotSupported(
            f'json_populate_record into a field of type "{last}" is not supported'
        )
    kind, duck = _SCALARS[last]
    return ["s", kind, _length(tn)], duck


def _needs_cast(tn: ast.TypeName) -> bool:
    """Whether the structure's value needs a cast to the declared type."""
    last = str(tn.names[-1].sval)
    last = _ARRAY_NAMES.get(last, last)
    return last in domains.DOMAINS or last in composites.FIELDS or last in ("json", "jsonb")


def field_value(row: ast.Node, col: ast.ColumnDef, base: ast.Node | None) -> ast.Node:
    """The value of one field from the JSON object ``row`` (``base``: the given record,
    whose nested records fill a nested object's missing keys)."""
    if col.typeName is None:
        raise InvalidTextRepresentation("a column definition list needs names and types")
    spec, structure = spec_of(col.typeName)
    key = col.colname or ""
    given: ast.Node = ast.A_Const(isnull=True)
    if base is not None and spec[0] == "r":
        field = ast.A_Indirection(arg=copy.deepcopy(base), indirection=(name(key),))
        given = as_text(call("to_json", False, field))
    converted = call(
        "hati_json_populate", False, as_text(row), text(key), text(json.dumps(spec)), given
    )
    shaped = call("json_transform_strict", False, converted, text(json.dumps({"v": structure})))
    value: ast.Node = ast.A_Indirection(arg=shaped, indirection=(name("v"),))
    if _needs_cast(col.typeName):
        value = ast.TypeCast(arg=value, typeName=copy.deepcopy(col.typeName))
    return value


def composite_fields(type_name: str) -> tuple[ast.ColumnDef, ...] | None:
    """The fields of a composite type, or of the composite a domain is over."""
    fields = composites.FIELDS.get(type_name)
    domain = domains.DOMAINS.get(type_name)
    if fields is None and domain is not None and not domain.base.arrayBounds:
        fields = composites.FIELDS.get(str(domain.base.names[-1].sval))
    return fields


def as_value(select: ast.SelectStmt, type_name: ast.TypeName, one: bool) -> ast.Node:
    """json_populate_record(r::t, j) in a select list: ``ROW(...)::t`` of the fields;
    json_populate_recordset: ``unnest`` of the list of those rows (its set)."""
    values = tuple(t.val for t in select.targetList or () if isinstance(t, ast.ResTarget))
    row: ast.Node = ast.TypeCast(
        arg=ast.RowExpr(args=values, row_format=CoercionForm.COERCE_EXPLICIT_CALL),
        typeName=copy.deepcopy(type_name),
    )
    if one:
        return row
    select.targetList = (ast.ResTarget(val=call("list", False, row)),)
    return call(
        "unnest", False, ast.SubLink(subLinkType=SubLinkType.EXPR_SUBLINK, subselect=select)
    )
