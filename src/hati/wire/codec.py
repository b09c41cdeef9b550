"""Bytes <-> messages for the PostgreSQL v3 protocol. No sockets, no DuckDB.

``FrontendDecoder`` is fed raw bytes and yields complete frontend messages; it knows
whether the startup phase is over (startup packets have no type byte). The
``encode_*`` functions build backend messages as ``bytes``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence

from hati.errors import ProtocolViolation, SqlError
from hati.wire import messages as m

PROTOCOL_V3 = 196608
SSL_CODE = 80877103
GSSENC_CODE = 80877104
CANCEL_CODE = 80877102

_I32 = struct.Struct("!i")
_I16 = struct.Struct("!h")
_HDR = struct.Struct("!ci")


class FrontendDecoder:
    """Incremental decoder. Call :meth:`feed` with bytes, iterate :meth:`messages`."""

    def __init__(self, max_message_bytes: int = 64 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self.in_startup = True
        self.max_message_bytes = max_message_bytes

    def feed(self, data: bytes) -> None:
        self._buf += data

    def messages(self) -> Iterator[m.FrontendMessage]:
        while True:
            msg = self._next()
            if msg is None:
                return
            yield msg

    def _next(self) -> m.FrontendMessage | None:
        buf = self._buf
        if self.in_startup:
            if len(buf) < 4:
                return None
            (length,) = _I32.unpack_from(buf, 0)
            if length < 8 or length > 10_000:
                raise ProtocolViolation(f"invalid startup packet length {length}")
            if len(buf) < length:
                return None
            body = bytes(buf[4:length])
            del buf[:length]
            return self._decode_startup(body)
        if len(buf) < 5:
            return None
        kind, length = _HDR.unpack_from(buf, 0)
        if length < 4:
            raise ProtocolViolation(f"invalid message length {length}")
        if length > self.max_message_bytes:
            raise ProtocolViolation(
                f"message of {length} bytes exceeds the limit of {self.max_message_bytes}",
                hint="Raise max_message_bytes in hati.toml or send smaller statements.",
            )
        if len(buf) < length + 1:
            return None
        body = bytes(buf[5 : length + 1])
        del buf[: length + 1]
        return decode_message(kind, body)

    def _decode_startup(self, body: bytes) -> m.FrontendMessage:
        (code,) = _I32.unpack_from(body, 0)
        if code == SSL_CODE:
            return m.SSLRequest()
        if code == GSSENC_CODE:
            return m.GSSENCRequest()
        if code == CANCEL_CODE:
            if len(body) != 12:
                raise ProtocolViolation("invalid cancel request")
            pid, key = struct.unpack_from("!ii", body, 4)
            return m.CancelRequest(pid, key)
        if code >> 16 != 3:
            raise ProtocolViolation(
                f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}",
                hint="hati speaks protocol 3.0.",
            )
        parts = body[4:].split(b"\x00")
        params: dict[str, str] = {}
        it = iter(parts)
        for key in it:
            if not key:
                break
            value = next(it, b"")
            params[_text(key)] = _text(value)
        self.in_startup = False
        return m.StartupMessage(code, params)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolViolation("invalid UTF-8 in message") from exc


class _Reader:
    """Cursor over one message body; every read checks bounds."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def cstr(self) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolViolation("unterminated string in message")
        s = _text(self.data[self.pos : end])
        self.pos = end + 1
        return s

    def int16(self) -> int:
        if self.pos + 2 > len(self.data):
            raise ProtocolViolation("message too short")
        (v,) = _I16.unpack_from(self.data, self.pos)
        self.pos += 2
        return v

    def int32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise ProtocolViolation("message too short")
        (v,) = _I32.unpack_from(self.data, self.pos)
        self.pos += 4
        return v

    def count(self) -> int:
        n = self.int16()
        if n < 0:
            raise ProtocolViolation("negative count in message")
        return n

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolViolation("message too short")
        v = self.data[self.pos : self.pos + n]
        self.pos += n
        return v

    def rest(self) -> bytes:
        v = self.data[self.pos :]
        self.pos = len(self.data)
        return v


def decode_message(kind: bytes, body: bytes) -> m.FrontendMessage:  # noqa: C901 - one branch per message type
    """Decode one typed frontend message body."""
    r = _Reader(body)
    if kind == b"Q":
        return m.Query(r.cstr())
    if kind == b"P":
        name, sql = r.cstr(), r.cstr()
        oids = tuple(r.int32() & 0xFFFFFFFF for _ in range(r.count()))
        return m.Parse(name, sql, oids)
    if kind == b"B":
        portal, stmt = r.cstr(), r.cstr()
        fmts = tuple(r.int16() for _ in range(r.count()))
        params: list[bytes | None] = []
        for _ in range(r.count()):
            n = r.int32()
            params.append(None if n == -1 else r.take(n))
        rfmts = tuple(r.int16() for _ in range(r.count()))
        return m.Bind(portal, stmt, fmts, tuple(params), rfmts)
    if kind == b"D":
        k = r.take(1).decode("latin-1")
        if k not in "SP":
            raise ProtocolViolation(f"invalid Describe kind {k!r}")
        return m.Describe(k, r.cstr())
    if kind == b"E":
        return m.Execute(r.cstr(), r.int32())
    if kind == b"C":
        k = r.take(1).decode("latin-1")
        if k not in "SP":
            raise ProtocolViolation(f"invalid Close kind {k!r}")
        return m.Close(k, r.cstr())
    if kind == b"S":
        return m.Sync()
    if kind == b"H":
        return m.Flush()
    if kind == b"X":
        return m.Terminate()
    if kind == b"p":
        return m.PasswordMessage(r.rest())
    if kind == b"d":
        return m.CopyData(r.rest())
    if kind == b"c":
        return m.CopyDone()
    if kind == b"f":
        return m.CopyFail(r.cstr())
    if kind == b"F":
        return m.FunctionCall()
    raise ProtocolViolation(f"unknown message type {kind!r}")


# ---------------------------------------------------------------- backend messages


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + _I32.pack(len(body) + 4) + body


def _cstr(s: str) -> bytes:
    return s.encode("utf-8").replace(b"\x00", b"") + b"\x00"


def encode_auth_ok() -> bytes:
    return _msg(b"R", _I32.pack(0))


def encode_auth_cleartext() -> bytes:
    return _msg(b"R", _I32.pack(3))


def encode_auth_sasl(mechanisms: Sequence[str]) -> bytes:
    return _msg(b"R", _I32.pack(10) + b"".join(_cstr(x) for x in mechanisms) + b"\x00")


def encode_auth_sasl_continue(data: bytes) -> bytes:
    return _msg(b"R", _I32.pack(11) + data)


def encode_auth_sasl_final(data: bytes) -> bytes:
    return _msg(b"R", _I32.pack(12) + data)


def encode_parameter_status(name: str, value: str) -> bytes:
    return _msg(b"S", _cstr(name) + _cstr(value))


def encode_backend_key(pid: int, key: int) -> bytes:
    return _msg(b"K", struct.pack("!ii", pid, key))


def encode_ready(status: str) -> bytes:
    return _msg(b"Z", status.encode("ascii"))


def encode_command_complete(tag: str) -> bytes:
    return _msg(b"C", _cstr(tag))


def encode_empty_query() -> bytes:
    return b"I\x00\x00\x00\x04"


def encode_parse_complete() -> bytes:
    return b"1\x00\x00\x00\x04"


def encode_bind_complete() -> bytes:
    return b"2\x00\x00\x00\x04"


def encode_close_complete() -> bytes:
    return b"3\x00\x00\x00\x04"


def encode_no_data() -> bytes:
    return b"n\x00\x00\x00\x04"


def encode_portal_suspended() -> bytes:
    return b"s\x00\x00\x00\x04"


def _copy_response(kind: bytes, fmt: int, ncols: int) -> bytes:
    return _msg(kind, struct.pack("!bh", fmt, ncols) + struct.pack(f"!{ncols}h", *[fmt] * ncols))


def encode_copy_in_response(fmt: int, ncols: int) -> bytes:
    return _copy_response(b"G", fmt, ncols)


def encode_copy_out_response(fmt: int, ncols: int) -> bytes:
    return _copy_response(b"H", fmt, ncols)


def encode_copy_done() -> bytes:
    return b"c\x00\x00\x00\x04"


def encode_parameter_description(oids: Sequence[int]) -> bytes:
    return _msg(b"t", _I16.pack(len(oids)) + b"".join(struct.pack("!I", o) for o in oids))


def encode_row_description(fields: Sequence[tuple[str, int, int, int]]) -> bytes:
    """fields: (name, type_oid, type_size, format)."""
    parts = [_I16.pack(len(fields))]
    for name, oid, size, fmt in fields:
        parts.append(_cstr(name) + struct.pack("!IhIhih", 0, 0, oid, size, -1, fmt))
    return _msg(b"T", b"".join(parts))


def encode_data_row(values: Sequence[bytes | None]) -> bytes:
    parts = [_I16.pack(len(values))]
    for v in values:
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(_I32.pack(len(v)))
            parts.append(v)
    return _msg(b"D", b"".join(parts))


def encode_data_rows(rows: Iterable[Sequence[bytes | None]]) -> bytes:
    return b"".join(encode_data_row(r) for r in rows)


def _fields_body(fields: Iterable[tuple[str, str | None]]) -> bytes:
    out = bytearray()
    for code, value in fields:
        if value is not None:
            out += code.encode("ascii") + _cstr(value)
    out += b"\x00"
    return bytes(out)


def encode_error(err: SqlError) -> bytes:
    return _msg(
        b"E",
        _fields_body(
            [
                ("S", err.severity),
                ("V", err.severity),
                ("C", err.sqlstate),
                ("M", err.message),
                ("D", err.detail),
                ("H", err.hint),
                ("P", None if err.position is None else str(err.position)),
                ("s", "public" if err.table else None),
                ("t", err.table),
                ("c", err.column),
                ("n", err.constraint),
            ]
        ),
    )


def encode_notice(message: str, sqlstate: str = "00000", severity: str = "NOTICE") -> bytes:
    return _msg(
        b"N",
        _fields_body([("S", severity), ("V", severity), ("C", sqlstate), ("M", message)]),
    )
