"""The wire codec: frontend decoding and backend encoding, no sockets."""

from __future__ import annotations

import struct

import pytest

from hati.errors import ProtocolViolation, SqlError
from hati.wire import codec
from hati.wire import messages as m


def frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def startup(params: dict[str, str]) -> bytes:
    body = struct.pack("!i", codec.PROTOCOL_V3)
    body += b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
    return struct.pack("!i", len(body) + 4) + body


def decoded(data: bytes, after_startup: bool = True) -> list:
    d = codec.FrontendDecoder()
    d.in_startup = not after_startup
    d.feed(data)
    return list(d.messages())


def test_startup_then_query_split_across_feeds():
    data = startup({"user": "u", "database": "hati", "options": "-c a=b"}) + frame(
        b"Q", b"SELECT 1\0"
    )
    d = codec.FrontendDecoder()
    out = []
    for i in range(len(data)):  # one byte at a time
        d.feed(data[i : i + 1])
        out.extend(d.messages())
    assert out == [
        m.StartupMessage(codec.PROTOCOL_V3, {"user": "u", "database": "hati", "options": "-c a=b"}),
        m.Query("SELECT 1"),
    ]
    assert d.in_startup is False


@pytest.mark.parametrize(
    ("code", "cls"), [(codec.SSL_CODE, m.SSLRequest), (codec.GSSENC_CODE, m.GSSENCRequest)]
)
def test_ssl_and_gssenc_requests(code, cls):
    d = codec.FrontendDecoder()
    d.feed(struct.pack("!ii", 8, code))
    assert list(d.messages()) == [cls()]
    assert d.in_startup  # the real startup packet follows


def test_cancel_request():
    d = codec.FrontendDecoder()
    d.feed(struct.pack("!iiii", 16, codec.CANCEL_CODE, 7, 99))
    assert list(d.messages()) == [m.CancelRequest(7, 99)]


def test_unsupported_protocol_version():
    d = codec.FrontendDecoder()
    d.feed(struct.pack("!ii", 8, 2 << 16))
    with pytest.raises(ProtocolViolation):
        list(d.messages())


def test_extended_protocol_messages():
    parse = frame(b"P", b"s1\0SELECT $1\0" + struct.pack("!hI", 1, 23))
    bind = frame(
        b"B",
        b"p1\0s1\0"
        + struct.pack("!hh", 1, 1)
        + struct.pack("!h", 2)
        + struct.pack("!i", 4)
        + struct.pack("!i", 42)
        + struct.pack("!i", -1)
        + struct.pack("!hh", 1, 1),
    )
    msgs = decoded(
        parse
        + bind
        + frame(b"D", b"Ss1\0")
        + frame(b"E", b"p1\0" + struct.pack("!i", 10))
        + frame(b"C", b"Pp1\0")
        + frame(b"S", b"")
        + frame(b"H", b"")
        + frame(b"X", b"")
    )
    assert msgs == [
        m.Parse("s1", "SELECT $1", (23,)),
        m.Bind("p1", "s1", (1,), (struct.pack("!i", 42), None), (1,)),
        m.Describe("S", "s1"),
        m.Execute("p1", 10),
        m.Close("P", "p1"),
        m.Sync(),
        m.Flush(),
        m.Terminate(),
    ]


@pytest.mark.parametrize(
    "data",
    [
        frame(b"Q", b"no terminator"),
        frame(b"D", b"Xname\0"),
        frame(b"B", b"p\0s\0" + struct.pack("!h", -1)),
        frame(b"B", b"p\0s\0" + struct.pack("!hh", 0, 1) + struct.pack("!i", 100) + b"ab"),
        frame(b"?", b""),
        b"Q" + struct.pack("!i", 2),
        frame(b"Q", b"\xff\xfe\0"),
    ],
)
def test_malformed_messages_raise_protocol_violation(data):
    with pytest.raises(ProtocolViolation):
        decoded(data)


def test_message_size_limit():
    d = codec.FrontendDecoder(max_message_bytes=100)
    d.in_startup = False
    d.feed(b"Q" + struct.pack("!i", 1000))
    with pytest.raises(ProtocolViolation):
        list(d.messages())


def test_incomplete_message_waits_for_more():
    data = frame(b"Q", b"SELECT 1\0")
    d = codec.FrontendDecoder()
    d.in_startup = False
    d.feed(data[:-1])
    assert list(d.messages()) == []
    d.feed(data[-1:])
    assert list(d.messages()) == [m.Query("SELECT 1")]


def test_encode_ready_and_command_complete():
    assert codec.encode_ready("I") == b"Z\x00\x00\x00\x05I"
    assert codec.encode_command_complete("SELECT 1") == b"C" + struct.pack("!i", 13) + b"SELECT 1\0"


def test_encode_row_description_and_data_row():
    rd = codec.encode_row_description([("a", 23, 4, 0), ("b", 25, -1, 1)])
    assert rd[:1] == b"T"
    assert struct.unpack_from("!i", rd, 1)[0] == len(rd) - 1
    assert struct.unpack_from("!h", rd, 5)[0] == 2
    assert rd[7:9] == b"a\0"
    assert struct.unpack_from("!IhIhih", rd, 9) == (0, 0, 23, 4, -1, 0)
    dr = codec.encode_data_row([b"1", None, b""])
    assert dr == (
        b"D"
        + struct.pack("!ih", 4 + 2 + 4 + 1 + 4 + 4, 3)
        + struct.pack("!i", 1)
        + b"1"
        + struct.pack("!i", -1)
        + struct.pack("!i", 0)
    )


def test_encode_error_fields():
    out = codec.encode_error(SqlError("42601", "syntax error", hint="fix it"))
    assert out[:1] == b"E"
    fields = dict((f[:1].decode(), f[1:].decode()) for f in out[5:].split(b"\0") if f)
    assert fields == {"S": "ERROR", "V": "ERROR", "C": "42601", "M": "syntax error", "H": "fix it"}


def test_parameter_description():
    out = codec.encode_parameter_description([23, 25])
    assert out == b"t" + struct.pack("!ihII", 4 + 2 + 8, 2, 23, 25)
