"""COPY ... FROM STDIN / TO STDOUT: the statement's options, and its data in PostgreSQL's
text, csv and binary formats.

:func:`spec` reads a CopyStmt's options as PostgreSQL does (and refuses what it would);
:func:`decode` parses what a client sent into an Arrow table of the target columns (csv
and text with pyarrow's CSV reader, PostgreSQL's backslash escapes undone afterwards;
binary by its field lengths), so DuckDB inserts it from memory, never from a file;
:class:`Encoder` turns result batches into the CopyData messages PostgreSQL sends (one
per row; the binary header rides on the first message, as PostgreSQL's does).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pglast import ast
from pglast.stream import RawStream

from hati.errors import (
    BadCopyFileFormat,
    DuplicateColumn,
    FeatureNotSupported,
    InvalidParameter,
    SyntaxError_,
    UndefinedColumn,
)
from hati.wire import binary_out, cells, text_out
from hati.wire import types as pgtypes

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_FORMATS = ("text", "csv", "binary")


@dataclass
class CopySpec:
    """What one COPY statement asks for."""

    is_from: bool
    relation: ast.RangeVar | None  # COPY t ...; None for COPY (query) TO
    columns: list[str] | None  # the column list, if given
    query: str | None = None  # COPY (query) TO STDOUT: the query's text
    format: str = "text"
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'
    force_quote: list[str] | bool = field(default_factory=list)  # True: every column
    force_not_null: list[str] = field(default_factory=list)

    @property
    def binary(self) -> bool:
        return self.format == "binary"


def _text_option(d: ast.DefElem) -> str:
    if isinstance(d.arg, ast.String):
        return d.arg.sval or ""
    raise SyntaxError_(f"{d.defname} requires a string value")


def _bool_option(d: ast.DefElem) -> bool:
    arg = d.arg
    if arg is None:
        return True
    if isinstance(arg, ast.Boolean):
        return bool(arg.boolval)
    if isinstance(arg, ast.Integer) and arg.ival in (0, 1):
        return bool(arg.ival)
    value = (arg.sval or "").lower() if isinstance(arg, ast.String) else ""
    if value in ("true", "on", "1", "t", "yes"):
        return True
    if value in ("false", "off", "0", "f", "no"):
        return False
    if value == "match":
        raise FeatureNotSupported("COPY HEADER MATCH is not supported", hint="Use HEADER true.")
    raise SyntaxError_(f"{d.defname} requires a Boolean value")


def _names(d: ast.DefElem) -> list[str] | bool:
    if isinstance(d.arg, ast.A_Star):
        return True
    return [str(getattr(n, "sval", n)) for n in d.arg or ()]


def spec(node: ast.CopyStmt) -> CopySpec:
    """The COPY statement's options, checked as PostgreSQL checks them."""
    if node.filename is not None or node.is_program:
        raise FeatureNotSupported(
            "COPY to or from a server file is not supported",
            hint="Use COPY ... FROM STDIN / TO STDOUT (psql \\copy).",
        )
    s = CopySpec(
        is_from=bool(node.is_from),
        relation=node.relation,
        columns=[c.sval for c in node.attlist] if node.attlist else None,
        query=RawStream()(node.query) if node.query is not None else None,
    )
    seen: set[str] = set()
    given: dict[str, str] = {}
    for d in node.options or ():
        name = d.defname
        if name in seen:
            raise SyntaxError_("conflicting or redundant options")
        seen.add(name)
        if name == "format":
            s.format = _text_option(d).lower()
            if s.format not in _FORMATS:
                raise InvalidParameter(f'COPY format "{s.format}" not recognized')
        elif name in ("delimiter", "null", "quote", "escape"):
            given[name] = _text_option(d)
        elif name == "header":
            s.header = _bool_option(d)
        elif name == "force_quote":
            s.force_quote = _names(d)
        elif name == "force_not_null":
            names = _names(d)
            s.force_not_null = [] if names is True else list(names or [])
        elif name in ("freeze", "encoding"):
            if name == "encoding" and _text_option(d).upper().replace("-", "") != "UTF8":
                raise FeatureNotSupported("COPY ENCODING other than UTF8 is not supported")
        else:
            raise SyntaxError_(f'option "{name}" not recognized')
    _apply(s, given)
    return s


def _apply(s: CopySpec, given: dict[str, str]) -> None:  # noqa: C901 - PostgreSQL's checks
    csv = s.format == "csv"
    if s.binary and given.keys() & {"delimiter", "null"}:
        raise SyntaxError_("cannot specify DELIMITER in BINARY mode")
    if csv:
        s.delimiter, s.null = ",", ""
    s.delimiter = given.get("delimiter", s.delimiter)
    s.null = given.get("null", s.null)
    if not csv and given.keys() & {"quote", "escape"}:
        raise FeatureNotSupported("COPY quote available only in CSV mode")
    if not csv and (s.force_quote or s.force_not_null):
        raise FeatureNotSupported("COPY force quote available only in CSV mode")
    if s.header and s.binary:
        raise FeatureNotSupported("cannot specify HEADER in BINARY mode")
    if s.force_quote and s.is_from:
        raise FeatureNotSupported("COPY force quote only available using COPY TO")
    if s.force_not_null and not s.is_from:
        raise FeatureNotSupported("COPY force not null only available using COPY FROM")
    s.quote = given.get("quote", '"')
    s.escape = given.get("escape", s.quote)
    if len(s.delimiter) != 1:
        raise FeatureNotSupported("COPY delimiter must be a single one-byte character")
    if csv and (len(s.quote) != 1 or len(s.escape) != 1):
        raise FeatureNotSupported("COPY quote must be a single one-byte character")
    if s.delimiter in "\r\n" or (
        not csv and s.delimiter in "\\.abcdefghijklmnopqrstuvwxyz0123456789"
    ):
        raise FeatureNotSupported(f'COPY delimiter cannot be "{s.delimiter}"')
    if "\r" in s.null or "\n" in s.null:
        raise FeatureNotSupported("COPY null representation cannot use newline or carriage return")
    if csv and s.delimiter == s.quote:
        raise InvalidParameter("COPY delimiter and quote must be different")
    if s.delimiter in s.null and not s.binary:
        raise FeatureNotSupported("COPY delimiter must not appear in the NULL specification")


def target_columns(s: CopySpec, available: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The columns the data holds: the column list's, or all of the table's."""
    by_name = {name: oid for name, oid in available}
    out: list[tuple[str, int]] = []
    for name in s.columns if s.columns is not None else by_name:
        if name not in by_name:
            raise UndefinedColumn(f'column "{name}" does not exist')
        if any(n == name for n, _ in out):
            raise DuplicateColumn(f'column "{name}" specified more than once')
        out.append((name, by_name[name]))
    for option, group in (("FORCE_QUOTE", s.force_quote), ("FORCE_NOT_NULL", s.force_not_null)):
        for name in group if isinstance(group, list) else ():
            if name not in by_name:
                raise UndefinedColumn(f'column "{name}" does not exist')
            if name not in (n for n, _ in out):
                raise FeatureNotSupported(f'{option} column "{name}" not referenced by COPY')
    return out


# ---------------------------------------------------------------- decoding (FROM STDIN)
def decode(s: CopySpec, data: bytes, columns: Sequence[tuple[str, int]]) -> pa.Table:
    """The rows a client sent, as an Arrow table with one column per target column
    (``c0``, ``c1``, ...): strings for text and csv (DuckDB casts them as it inserts),
    values for binary. A malformed row raises 22P04 and nothing is returned."""
    names = [f"c{i}" for i in range(len(columns))]
    if s.binary:
        return _decode_binary(data, columns, names)
    data = _strip_end_marker(data)
    if not data:
        return pa.table({n: pa.array([], pa.string()) for n in names})
    if s.format == "text" and _escaped_specials(data, s.delimiter):
        table = _text_fallback(s, data, names, columns)
    else:
        table = _read_csv(s, data, names, columns)
        if s.format == "text":
            table = pa.table([_unescape(col) for col in table.columns], names=names)
    for name, _ in columns:
        if name in s.force_not_null:
            i = [n for n, _ in columns].index(name)
            table = table.set_column(i, names[i], pc.fill_null(table.column(i), ""))
    return _typed(table, columns)


def _strip_end_marker(data: bytes) -> bytes:
    """Everything before a line holding only ``\\.`` (the old end-of-data marker)."""
    if data.startswith(b"\\.\n") or data.startswith(b"\\.\r") or data == b"\\.":
        return b""
    at = data.find(b"\n\\.")
    while at >= 0:
        rest = data[at + 3 : at + 4]
        if rest in (b"", b"\n", b"\r"):
            return data[: at + 1]
        at = data.find(b"\n\\.", at + 1)
    return data


def _read_csv(
    s: CopySpec, data: bytes, names: list[str], columns: Sequence[tuple[str, int]]
) -> pa.Table:
    import pyarrow.csv as pacsv

    csv = s.format == "csv"
    parse = pacsv.ParseOptions(
        delimiter=s.delimiter,
        quote_char=s.quote if csv else False,
        double_quote=csv and s.escape == s.quote,
        escape_char=s.escape if csv and s.escape != s.quote else False,
        newlines_in_values=csv,
        ignore_empty_lines=False,
    )
    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if s.header else 0, use_threads=False)
    convert = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        null_values=[s.null],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    try:
        return pacsv.read_csv(
            pa.BufferReader(data), read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        if csv and data.count(s.quote.encode()) % 2:
            raise BadCopyFileFormat("unterminated CSV quoted field") from None
        raise _bad_row(str(exc), columns) from None


def _escaped_specials(data: bytes, delimiter: str) -> bool:
    """Whether a backslash in ``data`` escapes what a plain split would misread: the
    delimiter or a line end."""
    return any(b"\\" + special in data for special in (delimiter.encode(), b"\n", b"\r"))


def _bad_row(message: str, columns: Sequence[tuple[str, int]]) -> BadCopyFileFormat:
    m = re.search(r"Expected (\d+) columns, got (\d+)", message)
    if m:
        want, got = int(m.group(1)), int(m.group(2))
        if got < want:
            return BadCopyFileFormat(f'missing data for column "{columns[got][0]}"')
        return BadCopyFileFormat("extra data after last expected column")
    if "quote" in message.lower():
        return BadCopyFileFormat("unterminated CSV quoted field")
    return BadCopyFileFormat(f"invalid COPY data: {message.splitlines()[0]}")


_LINE = re.compile(r"(?:[^\\\n]|\\.)*", re.S)  # up to a line end no backslash escapes
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.S)
_LETTERS = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape_one(m: re.Match[str]) -> str:
    octal, hexa, other = m.groups()
    if octal is not None:
        return chr(int(octal, 8) & 0xFF)
    if hexa is not None:
        return chr(int(hexa, 16))
    return _LETTERS.get(other, other)


def unescape(text: str) -> str:
    """One text-format field with PostgreSQL's backslash escapes undone."""
    return _ESCAPE.sub(_unescape_one, text)


def _unescape(col: pa.ChunkedArray) -> pa.Array:
    col = col.combine_chunks()
    if not pc.any(pc.match_substring(col, "\\")).as_py():
        return col
    return pa.array(
        [unescape(v) if v is not None and "\\" in v else v for v in col.to_pylist()], pa.string()
    )


def _text_fallback(
    s: CopySpec, data: bytes, names: list[str], columns: Sequence[tuple[str, int]]
) -> pa.Table:
    """Text format whose fields escape the delimiter or a line end: split by hand."""
    text = data.decode()
    lines, pos = [], 0
    while pos < len(text):
        m = _LINE.match(text, pos)
        assert m is not None
        line = m.group()
        lines.append(line[:-1] if line.endswith("\r") and not line.endswith("\\\r") else line)
        pos = m.end() + 1
    if s.header and lines:
        lines.pop(0)
    field_re = re.compile(r"((?:[^\\" + re.escape(s.delimiter) + r"]|\\.)*)", re.S)
    out: list[list[str | None]] = [[] for _ in names]
    for line in lines:
        fields = []
        pos = 0
        while True:
            m = field_re.match(line, pos)
            assert m is not None
            fields.append(m.group(1))
            pos = m.end()
            if pos >= len(line):
                break
            pos += 1  # the delimiter
            if pos == len(line):
                fields.append("")
                break
        if len(fields) != len(names):
            raise _bad_row(f"Expected {len(names)} columns, got {len(fields)}", columns)
        for i, f in enumerate(fields):
            out[i].append(None if f == s.null else unescape(f))
    return pa.table({n: pa.array(v, pa.string()) for n, v in zip(names, out, strict=True)})


# DuckDB reads these types' text differently from PostgreSQL: parse them here.
def _typed(table: pa.Table, columns: Sequence[tuple[str, int]]) -> pa.Table:
    for i, (_, oid) in enumerate(columns):
        if oid == pgtypes.BYTEA or oid in pgtypes.ELEMENT_OF:
            values = [
                None if v is None else pgtypes.decode_param(v.encode(), oid, 0)
                for v in table.column(i).to_pylist()
            ]
            table = table.set_column(i, table.schema.names[i], pa.array(values))
    return table


def _decode_binary(data: bytes, columns: Sequence[tuple[str, int]], names: list[str]) -> pa.Table:
    if not data.startswith(SIGNATURE) or len(data) < 19:
        raise BadCopyFileFormat("COPY file signature not recognized")
    (ext,) = struct.unpack_from("!i", data, 15)
    pos = 19 + ext
    n = len(columns)
    values: list[list[Any]] = [[] for _ in columns]
    oids = [oid for _, oid in columns]
    try:
        while True:
            (count,) = struct.unpack_from("!h", data, pos)
            pos += 2
            if count == -1:
                break
            if count != n:
                raise BadCopyFileFormat(f"row field count is {count}, expected {n}")
            for i in range(n):
                (size,) = struct.unpack_from("!i", data, pos)
                pos += 4
                if size < 0:
                    values[i].append(None)
                    continue
                raw = data[pos : pos + size]
                if len(raw) != size:
                    raise BadCopyFileFormat("unexpected EOF in COPY data")
                pos += size
                values[i].append(pgtypes.decode_param(raw, oids[i], 1))
    except struct.error:
        raise BadCopyFileFormat("unexpected EOF in COPY data") from None
    arrays = []
    for i, vals in enumerate(values):
        try:
            arrays.append(pa.array(vals))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in vals], pa.string()))
        del i
    return pa.table(arrays, names=names)


# ---------------------------------------------------------------- encoding (TO STDOUT)
def _frame(payload: pa.Array | None, pieces: list[Any], n: int) -> bytes:
    """CopyData messages, one per row: 'd', the length, then the row's pieces."""
    size = np.full(n, 4, np.int64)
    for p in pieces:
        if isinstance(p, bytes):
            size += len(p)
        elif isinstance(p, np.ndarray):
            size += p.shape[1]
        else:
            size += cells.lengths(cells.as_binary(p))
    head = np.empty((n, 5), np.uint8)
    head[:, 0] = ord("d")
    head[:, 1:5] = cells.big_endian(size, ">i4")
    del payload
    return cells.joined_bytes(cells.concat([head, *pieces], n))


def copy_data(payload: bytes) -> bytes:
    return b"d" + struct.pack("!i", len(payload) + 4) + payload


_TEXT_ESCAPES = [("\\", "\\\\"), ("\b", "\\b"), ("\f", "\\f"), ("\n", "\\n"), ("\r", "\\r")]
_TEXT_ESCAPES += [("\t", "\\t"), ("\v", "\\v")]


class Encoder:
    """CopyData messages for the rows of one COPY ... TO STDOUT."""

    def __init__(self, s: CopySpec, columns: Sequence[tuple[str, int]], zone: str | None) -> None:
        self.s = s
        self.columns = list(columns)
        self.zone = zone
        self._encoders: list[Any] | None = None
        self._pending = SIGNATURE + b"\x00\x00\x00\x00\x00\x00\x00\x00" if s.binary else b""
        self._forced = [
            s.force_quote is True or (isinstance(s.force_quote, list) and name in s.force_quote)
            for name, _ in self.columns
        ]

    def head(self) -> bytes:
        """The header line's message (HEADER), or nothing."""
        if not self.s.header:
            return b""
        names = pa.array([name for name, _ in self.columns], pa.string())
        parts = [
            self._field(names.slice(i, 1), False).to_pylist()[0] for i in range(len(self.columns))
        ]
        return copy_data(self.s.delimiter.encode().join(parts) + b"\n")

    def rows(self, table: pa.Table) -> bytes:
        if table.num_rows == 0:
            return b""
        batch = table.combine_chunks()
        if self._encoders is None:
            self._encoders = [
                binary_out.column(f.type, oid)
                if self.s.binary
                else text_out.column(f.type, self.zone)
                for f, (_, oid) in zip(batch.schema, self.columns, strict=True)
            ]
        n = batch.num_rows
        if self.s.binary:
            pieces: list[Any] = [struct.pack("!h", len(self.columns))]
            for col, enc in zip(batch.columns, self._encoders, strict=True):
                more, _ = binary_out.prefixed(enc(col.combine_chunks()))
                pieces += more
            if self._pending:
                first = _frame_one(self._pending, pieces, n)
                self._pending = b""
                return first
            return _frame(None, pieces, n)
        pieces = []
        delim = self.s.delimiter.encode()
        for i, (col, enc) in enumerate(zip(batch.columns, self._encoders, strict=True)):
            if i:
                pieces.append(delim)
            pieces.append(self._field(cells.as_binary(enc(col.combine_chunks())), self._forced[i]))
        pieces.append(b"\n")
        return _frame(None, pieces, n)

    def tail(self) -> bytes:
        """The binary trailer (with the header, if no row carried it)."""
        if not self.s.binary:
            return b""
        out = copy_data(self._pending + b"\xff\xff")
        self._pending = b""
        return out

    def _field(self, arr: pa.Array, forced: bool) -> pa.Array:
        """Cells as the format writes them, NULL as the null string."""
        arr = arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr
        if self.s.format == "csv":
            arr = self._csv(arr, forced)
        else:
            for raw, escaped in _TEXT_ESCAPES:
                arr = pc.replace_substring(arr, raw, escaped)
            if self.s.delimiter not in "\t\b\f\n\r\v":
                arr = pc.replace_substring(arr, self.s.delimiter, "\\" + self.s.delimiter)
        return cells.as_binary(pc.fill_null(arr, self.s.null))

    def _csv(self, arr: pa.Array, forced: bool) -> pa.Array:
        s = self.s
        specials = "[" + re.escape(s.delimiter + s.quote + "\r\n") + "]"
        need = pc.match_substring_regex(arr, specials)
        need = pc.or_(need, pc.equal(arr, s.null))
        if len(self.columns) == 1:
            need = pc.or_(need, pc.equal(arr, "\\."))
        if forced:
            need = pc.is_valid(arr)
        quoted = arr
        if s.escape != s.quote:
            quoted = pc.replace_substring(quoted, s.escape, s.escape + s.escape)
        quoted = pc.replace_substring(quoted, s.quote, s.escape + s.quote)
        quoted = pc.binary_join_element_wise(s.quote, quoted, s.quote, "")
        return pc.if_else(pc.fill_null(need, False), quoted, arr)


def _frame_one(prefix: bytes, pieces: list[Any], n: int) -> bytes:
    """Like _frame, with ``prefix`` (the binary header) inside the first row's message."""
    first = [p if isinstance(p, bytes) else p[:1] for p in pieces]
    rest = [p if isinstance(p, bytes) else p[1:] for p in pieces]
    one = cells.joined_bytes(cells.concat(first, 1))
    out = copy_data(prefix + one)
    if n > 1:
        out += _frame(None, rest, n - 1)
    return out
