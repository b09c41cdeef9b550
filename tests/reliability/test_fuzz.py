"""Hostile input: a seeded protocol fuzzer, message-size and connection limits.

The fuzzer opens raw sockets to a real ``hati serve`` process and sends malformed,
truncated, oversized and out-of-order messages. For every connection the server must
answer with well-framed backend messages (ErrorResponses carry a SQLSTATE) or close
the connection; it must never crash, its memory must stay bounded, and a bystander
connection opened before the storm must keep working throughout.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from pathlib import Path

import psycopg
import psycopg2
import pytest
from reliability_support import ProcServer, long_or_short, report

from conftest import RunningServer, start_server

MESSAGES = long_or_short(50_000, 10_500)
PER_CONN = 25
PARALLEL = 16
MAX_MESSAGE = 256 * 1024


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _startup(params: dict[str, str] | None = None, version: int = 196608) -> bytes:
    params = params if params is not None else {"user": "fuzz", "database": "hati"}
    body = struct.pack("!i", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def _cstr(s: str) -> bytes:
    return s.encode() + b"\0"


VALID = [
    _msg(b"Q", _cstr("SELECT 1")),
    _msg(b"Q", _cstr("SELECT * FROM fuzz_target")),
    _msg(b"Q", _cstr("SELECT branch_create('fz'); SELECT branch_discard('fz')")),
    _msg(b"P", _cstr("s1") + _cstr("SELECT $1::int + 1") + struct.pack("!hi", 1, 23)),
    _msg(
        b"B", _cstr("") + _cstr("s1") + struct.pack("!hhi", 1, 0, 1) + b"7" + struct.pack("!h", 0)
    ),
    _msg(b"B", _cstr("p") + _cstr("") + struct.pack("!hh", 0, 0) + struct.pack("!h", 0)),
    _msg(b"D", b"S" + _cstr("s1")),
    _msg(b"D", b"P" + _cstr("")),
    _msg(b"E", _cstr("") + struct.pack("!i", 0)),
    _msg(b"E", _cstr("p") + struct.pack("!i", 1)),
    _msg(b"C", b"S" + _cstr("s1")),
    _msg(b"S", b""),
    _msg(b"H", b""),
    _msg(b"d", b"stray copy data"),
    _msg(b"c", b""),
    _msg(b"f", _cstr("oops")),
    _msg(b"p", b"not now"),
    _msg(b"F", b"\0\0\0\1"),
]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op == 1 and len(b) > 1:
            del b[rng.randrange(1, len(b)) :]  # truncate
        elif op == 2:
            b[rng.randrange(len(b) + 1) : 0] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and len(b) >= 5:
            b[1:5] = struct.pack("!i", rng.choice([-1, 0, 3, 4, 5, 2**31 - 1, len(b) + 100]))
        else:
            b += b"\0" * rng.randint(1, 8)
    return bytes(b)


def _fuzz_message(rng: random.Random) -> bytes:
    kind = rng.randrange(10)
    if kind <= 3:
        return _mutate(rng, rng.choice(VALID))
    if kind == 4:  # random type byte, random body
        return _msg(bytes([rng.randrange(256)]), rng.randbytes(rng.randint(0, 64)))
    if kind == 5:  # pure garbage
        return rng.randbytes(rng.randint(1, 48))
    if kind == 6:  # oversized: declared length beyond the limit
        return bytes([rng.choice(b"QPBdp")]) + struct.pack(
            "!i", MAX_MESSAGE + rng.randint(1, 10**6)
        )
    if kind == 7:  # a startup packet after startup, or a cancel request
        return _startup()
    if kind == 8:  # invalid UTF-8 / odd SQL
        return _msg(
            b"Q", rng.choice([b"\xff\xfe\0", b"SELECT '\xc3\0", b"\0", b";;;\0", b"SELECT 1; \0"])
        )
    return rng.choice(VALID)  # valid but possibly out of order


def _startup_phase(rng: random.Random) -> bytes:
    """What a connection opens with: usually a good startup, sometimes a broken one."""
    r = rng.randrange(10)
    if r <= 5:
        return _startup()
    if r == 6:
        return _mutate(rng, _startup())
    if r == 7:
        return struct.pack("!ii", 8, 80877103) + _startup()  # SSLRequest then startup
    if r == 8:
        return _startup(version=rng.choice([0, 131072, 262144, 80877102]))
    return struct.pack("!i", rng.choice([0, 3, 7, 10_001, 2**31 - 1])) + rng.randbytes(8)


def _check_framing(data: bytes, complete: bool = True) -> int:
    """Backend messages must be well framed; ErrorResponses must carry a SQLSTATE.

    After a connection reset the tail may be cut (the kernel drops unread data), so
    then only whole messages are checked.
    """
    pos, errors = 0, 0
    if data[:1] == b"N":  # SSLRequest answer
        pos = 1
    while pos < len(data):
        if not complete and (
            len(data) - pos < 5 or struct.unpack_from("!i", data, pos + 1)[0] > len(data) - pos - 1
        ):
            break
        assert len(data) - pos >= 5, f"truncated backend message at {pos}: {data[pos:]!r}"
        kind = data[pos : pos + 1]
        (length,) = struct.unpack_from("!i", data, pos + 1)
        assert 4 <= length <= len(data) - pos - 1, f"bad backend length {length} for {kind!r}"
        body = data[pos + 5 : pos + 1 + length]
        if kind == b"E":
            errors += 1
            assert b"C" in body and b"\0" in body, body
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            assert len(fields.get(b"C", b"")) == 5, fields
        pos += 1 + length
    return errors


async def _one_connection(port: int, rng: random.Random) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 1
    chunks = [_startup_phase(rng)]
    for _ in range(PER_CONN - 1):
        chunks.append(_fuzz_message(rng))
        sent += 1
    payload = b"".join(chunks)
    received = bytearray()
    reset = False

    async def read_all() -> None:
        nonlocal reset
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionResetError:
                reset = True  # closed while our unread bytes were pending: allowed
                return
            if not data:
                return
            received.extend(data)

    reading = asyncio.create_task(read_all())
    try:
        # Send in random pieces so messages arrive split at odd boundaries.
        pos = 0
        while pos < len(payload):
            step = rng.randint(1, 4096)
            writer.write(payload[pos : pos + step])
            pos += step
            await writer.drain()
        writer.write_eof()
    except (ConnectionError, OSError):
        pass  # the server may close a connection it gave up on: that is allowed
    # The server must answer and close the connection once we stop sending.
    await asyncio.wait_for(reading, timeout=30)
    writer.close()
    return sent, _check_framing(bytes(received), complete=not reset)


async def _storm(port: int, seed: int) -> tuple[int, int, int]:
    rng = random.Random(seed)
    sent = errors = conns = 0
    sem = asyncio.Semaphore(PARALLEL)

    async def one(r: random.Random) -> None:
        nonlocal sent, errors, conns
        async with sem:
            s, e = await _one_connection(port, r)
            sent += s
            errors += e
            conns += 1

    n_conns = MESSAGES // PER_CONN + 1
    await asyncio.gather(*(one(random.Random(rng.random())) for _ in range(n_conns)))
    return sent, errors, conns


def test_protocol_fuzz_never_crashes_the_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "hati.toml").write_text(f"[server]\nmax_message_bytes = {MAX_MESSAGE}\n")
    with ProcServer(data) as server:
        server.query("CREATE TABLE fuzz_target AS SELECT * FROM range(10) t(i)")
        bystander = server.connect(agent="bystander")
        with bystander.cursor() as cur:
            cur.execute("SELECT count(*) FROM fuzz_target")
            assert cur.fetchone() == (10,)
        asyncio.run(_storm(server.port, seed=1))  # warm-up round, memory baseline after it
        rss_before = server.rss_kb()
        total_sent, total_errors, total_conns = 0, 0, 0
        rounds = long_or_short(4, 1)
        for r in range(rounds):
            sent, errors, conns = asyncio.run(_storm(server.port, seed=100 + r))
            total_sent += sent
            total_errors += errors
            total_conns += conns
            assert server.alive(), server.log_tail()
            with bystander.cursor() as cur:  # the old connection still works
                cur.execute("SELECT count(*) FROM fuzz_target")
                assert cur.fetchone() == (10,)
            assert server.query("SELECT 42") == [(42,)]  # and new ones too
        growth_mb = (server.rss_kb() - rss_before) / 1024
        bystander.close()
        assert server.query("SELECT count(*) FROM fuzz_target") == [(10,)]
        assert "Traceback" not in server.log_tail(10_000), server.log_tail(60)
    assert total_sent >= MESSAGES * rounds
    assert total_errors > total_conns // 2, "most fuzzed connections should get an error back"
    assert growth_mb < 200, f"server memory grew by {growth_mb:.0f} MB during the fuzz"
    report(
        f"fuzz: {total_sent} messages on {total_conns} connections (+ warm-up), "
        f"{total_errors} ErrorResponses, server alive, RSS +{growth_mb:.0f} MB"
    )


def _raw_startup(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(_startup())
    data = b""
    while not data.endswith(_msg(b"Z", b"I")):
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    return s


def _read_until_closed(s: socket.socket) -> bytes:
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_message_size_limit_is_enforced(tmp_path: Path) -> None:
    server: RunningServer = start_server(tmp_path / "data", max_message_bytes=4096)
    try:
        dsn = f"host=127.0.0.1 port={server.port} user=limits dbname=hati"
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert len(conn.execute("SELECT %s", ["x" * 3000]).fetchone()[0]) == 3000
            with pytest.raises(psycopg.OperationalError) as info:
                conn.execute("SELECT %s", ["x" * 5000])
        assert info.value.sqlstate == "08P01"
        assert "exceeds the limit of 4096" in str(info.value)
        # psycopg2 (libpq blocking mode) only reports that the server closed the connection.
        conn2 = server.connect()
        with pytest.raises(psycopg2.OperationalError), conn2.cursor() as cur:
            cur.execute("SELECT %s", ("x" * 5000,))
        # Only the header is needed for the refusal: the body is never buffered.
        s = _raw_startup(server.port)
        s.sendall(b"Q" + struct.pack("!i", 100 * 1024 * 1024))
        reply = _read_until_closed(s)
        s.close()
        assert reply[:1] == b"E" and b"08P01" in reply and b"exceeds the limit" in reply
        assert server.query("SELECT 1") == [(1,)]
    finally:
        server.thread.stop()


def test_connection_limit_is_enforced(tmp_path: Path) -> None:
    server: RunningServer = start_server(tmp_path / "data", max_connections=3)
    try:
        conns = [server.connect() for _ in range(3)]
        with pytest.raises(psycopg2.OperationalError) as info:
            server.connect()
        assert "too many clients" in str(info.value)
        for c in conns:
            with c.cursor() as cur:
                cur.execute("SELECT 1")
        conns.pop().close()
        # The slot frees once the server has seen the close: poll with a deadline.
        import time

        deadline = time.monotonic() + 10
        while True:
            try:
                conns.append(server.connect())
                break
            except psycopg2.OperationalError:
                assert time.monotonic() < deadline, "slot never freed"
                time.sleep(0.02)
        for c in conns:
            c.close()
    finally:
        server.thread.stop()


def test_idle_connections_are_dropped_after_the_startup_timeout(tmp_path: Path) -> None:
    """Sockets that never finish startup cannot hold connection slots for ever."""
    server: RunningServer = start_server(
        tmp_path / "data", max_connections=2, startup_timeout_seconds=0.5
    )
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(2)]
        half = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        half.sendall(_startup()[:7])  # a startup packet cut short
        for s in [*idle, half]:
            reply = _read_until_closed(s)  # the server closes them (socket timeout: 10 s)
            assert reply == b"" or b"did not finish within 0.5 s" in reply, reply
            s.close()
        assert server.query("SELECT 1") == [(1,)]
    finally:
        server.thread.stop()


def test_authentication_exchange_fuzz(tmp_path: Path) -> None:
    """Garbage in the SASL exchange is refused cleanly; real clients still log in."""
    server: RunningServer = start_server(tmp_path / "data", password="fuzz-pw")
    rng = random.Random(99)
    good_first = b"SCRAM-SHA-256\0" + struct.pack("!i", 32) + b"n,,n=,r=abcdefghijklmnopqrstuvwx"
    refused = 0
    try:
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.sendall(_startup())
            head = s.recv(9)
            assert head[:1] == b"R" and struct.unpack("!i", head[5:9])[0] == 10
            choice = rng.randrange(4)
            if choice == 0:
                body = rng.randbytes(rng.randint(0, 80))
            elif choice == 1:
                body = _mutate(rng, good_first)
            elif choice == 2:
                body = good_first  # then a garbage final message
            else:
                body = b"SCRAM-SHA-256\0" + struct.pack("!i", -1)
            msgs = _msg(b"p", body)
            if choice == 2:
                msgs += _msg(
                    b"p", rng.choice([b"c=biws,r=x,p=AAAA", b"", b"p=", rng.randbytes(40)])
                )
            try:
                s.sendall(msgs)
                s.shutdown(socket.SHUT_WR)
                reply = _read_until_closed(s)
            except ConnectionResetError:
                reply = b""
            s.close()
            assert b"Z\0\0\0\5" not in reply, "garbage must never log in"
            assert b"R\0\0\0\x08\0\0\0\0" not in reply, "garbage must never get AuthenticationOk"
            refused += 1
        with (
            psycopg2.connect(
                host="127.0.0.1", port=server.port, user="ok", dbname="hati", password="fuzz-pw"
            ) as conn,
            conn.cursor() as cur,
        ):
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        server.thread.stop()
    report(f"auth fuzz: {refused} malformed SASL exchanges refused, real login still works")


def test_pathological_statements_get_errors_not_crashes(hati_server: RunningServer) -> None:
    conn = hati_server.connect()
    with conn.cursor() as cur:  # nesting PostgreSQL's grammar takes, hati takes (PostgreSQL 15)
        cur.execute("SELECT " + "(" * 3000 + "1" + ")" * 3000)
        assert cur.fetchall() == [(1,)]
    cases = {  # and past its parser's stack: 42601 "memory exhausted", as PostgreSQL says
        "SELECT " + "(" * 100_000 + "1" + ")" * 100_000: ("42601",),
        "SELECT 1 + " + "(1 + " * 5000 + "1" + ")" * 5000: ("42601",),
        "SET hatidata_branch = '" + "a" * 100_000 + "'": ("22023",),
        "SELECT * FROM branch_query('nope', '" + "x" * 100_000 + "')": ("42704",),
    }
    with conn.cursor() as cur:
        for sql, states in cases.items():
            with pytest.raises(psycopg2.Error) as info:
                cur.execute(sql)
            assert info.value.pgcode in states, (sql[:40], info.value.pgcode, str(info.value)[:200])
        cur.execute("SELECT 1;" * 1000)
        assert cur.fetchall() == [(1,)]
    conn.close()
