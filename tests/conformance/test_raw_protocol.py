"""Bad input at the protocol level, with a raw socket: skip-to-Sync, malformed SQL."""

from __future__ import annotations

import socket
import struct

import pytest


def frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


class Raw:
    def __init__(self, server) -> None:
        self.sock = socket.create_connection((server.host, server.port), timeout=10)
        body = struct.pack("!i", 196608) + b"user\0u\0database\0hati\0\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.until_ready()

    def recv_exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            assert chunk, "server closed the connection"
            buf += chunk
        return buf

    def message(self) -> tuple[bytes, bytes]:
        kind, length = struct.unpack("!ci", self.recv_exact(5))
        return kind, self.recv_exact(length - 4)

    def until_ready(self) -> list[tuple[bytes, bytes]]:
        out = []
        while True:
            kind, body = self.message()
            out.append((kind, body))
            if kind == b"Z":
                return out

    def close(self) -> None:
        self.sock.sendall(frame(b"X", b""))
        self.sock.close()


@pytest.fixture
def raw(hati_server):
    r = Raw(hati_server)
    yield r
    r.close()


def sqlstate(body: bytes) -> str:
    fields = {f[:1]: f[1:] for f in body.split(b"\0") if f}
    return fields[b"C"].decode()


def test_extended_error_skips_to_sync(raw):
    raw.sock.sendall(
        frame(b"P", b"\0SELEC 1\0\0\0")
        + frame(b"B", b"\0\0\0\0\0\0\0\0")
        + frame(b"E", b"\0\0\0\0\0")
        + frame(b"P", b"\0SELECT 2\0\0\0")  # ignored: still skipping to Sync
        + frame(b"S", b"")
    )
    msgs = raw.until_ready()
    kinds = [k for k, _ in msgs]
    # PostgreSQL fails at Parse; hati parses lazily and fails at Execute. Either way
    # exactly one error, and the Parse after it is skipped (no second ParseComplete).
    assert kinds in ([b"E", b"Z"], [b"1", b"2", b"E", b"Z"])
    assert sqlstate(msgs[-2][1]) == "42601"
    assert msgs[-1][1] == b"I"
    # After Sync the connection works again.
    raw.sock.sendall(
        frame(b"P", b"\0SELECT 2\0\0\0")
        + frame(b"B", b"\0\0\0\0\0\0\0\0")
        + frame(b"E", b"\0\0\0\0\0")
        + frame(b"S", b"")
    )
    kinds = [k for k, _ in raw.until_ready()]
    assert kinds == [b"1", b"2", b"D", b"C", b"Z"]


def test_simple_query_error_then_recovery(raw):
    raw.sock.sendall(frame(b"Q", b"SELECT FROM WHERE\0"))
    msgs = raw.until_ready()
    assert [k for k, _ in msgs] == [b"E", b"Z"]
    assert sqlstate(msgs[0][1]) == "42601"
    raw.sock.sendall(frame(b"Q", b"BEGIN; SELECT * FROM nope\0"))
    msgs = raw.until_ready()
    assert [k for k, _ in msgs] == [b"C", b"E", b"Z"]
    assert sqlstate(msgs[1][1]) == "42P01"
    assert msgs[-1][1] == b"E"
    raw.sock.sendall(frame(b"Q", b"ROLLBACK\0"))
    msgs = raw.until_ready()
    assert msgs[-1][1] == b"I"


def test_empty_query(raw):
    raw.sock.sendall(frame(b"Q", b"  \0"))
    assert [k for k, _ in raw.until_ready()] == [b"I", b"Z"]


def test_describe_reports_inferred_parameter_types(raw, hati_server):
    hati_server.query("CREATE TABLE rp (i INTEGER, d DATE, s VARCHAR)")
    raw.sock.sendall(
        frame(b"P", b"st\0SELECT s FROM rp WHERE i = $1 AND d > $2 AND s = $3::VARCHAR\0\0\0")
        + frame(b"D", b"Sst\0")
        + frame(b"S", b"")
    )
    msgs = raw.until_ready()
    kinds = [k for k, _ in msgs]
    assert kinds == [b"1", b"t", b"T", b"Z"]
    body = msgs[1][1]
    n = struct.unpack_from("!h", body)[0]
    assert struct.unpack_from(f"!{n}I", body, 2) == (23, 1082, 1043)  # as PostgreSQL: varchar
