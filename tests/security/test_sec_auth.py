"""Finding 6: authorization and SCRAM.

Roles per agent are enforced on every statement; unknown user names are challenged like
real agents (their own stable salt, the same message flow); a client-final-message whose
channel binding does not repeat the gs2 header is a protocol violation (08P01).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import socket
import struct
from pathlib import Path

import psycopg2
import pytest
from security_support import assert_intact, baseline, refused, seed

from conftest import RunningServer, start_server

pytestmark = pytest.mark.server


class RawScram:
    """A SCRAM-SHA-256 client on a raw socket, to send what drivers never would."""

    def __init__(self, server: RunningServer, user: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        params = b"user\x00" + user.encode() + b"\x00database\x00hati\x00\x00"
        body = struct.pack("!I", 196608) + params
        self.sock.sendall(struct.pack("!I", len(body) + 4) + body)
        self.nonce = base64.b64encode(os.urandom(18)).decode()

    def recv(self) -> tuple[bytes, bytes]:
        head = self._exact(5)
        return head[:1], self._exact(struct.unpack("!I", head[1:])[0] - 4)

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def send_p(self, body: bytes) -> None:
        self.sock.sendall(b"p" + struct.pack("!I", len(body) + 4) + body)

    def server_first(self) -> dict[str, str]:
        kind, body = self.recv()
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 10  # AuthenticationSASL
        first = f"n,,n=,r={self.nonce}".encode()
        self.send_p(b"SCRAM-SHA-256\x00" + struct.pack("!i", len(first)) + first)
        kind, body = self.recv()
        assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 11  # SASLContinue
        self.first_bare = f"n=,r={self.nonce}"
        self.server_first_msg = body[4:].decode()
        return dict(a.split("=", 1) for a in self.server_first_msg.split(","))

    def final(self, password: str, cbind: str = "biws") -> tuple[bytes, bytes]:
        attrs = dict(a.split("=", 1) for a in self.server_first_msg.split(","))
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
        )
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c={cbind},r={attrs['r']}"
        auth = f"{self.first_bare},{self.server_first_msg},{without_proof}".encode()
        sig = hmac.new(stored, auth, hashlib.sha256).digest()
        proof = base64.b64encode(
            bytes(a ^ b for a, b in zip(client_key, sig, strict=True))
        ).decode()
        self.send_p(f"{without_proof},p={proof}".encode())
        return self.recv()

    def close(self) -> None:
        self.sock.close()


def _sqlstate(body: bytes) -> str:
    fields = dict((f[:1], f[1:]) for f in body.split(b"\x00") if f)
    return fields[b"C"].decode()


@pytest.fixture
def keyed(tmp_path: Path):
    s = start_server(
        tmp_path / "data",
        agent_keys={"alice": "key-a", "bob": "key-b", "viewer": "key-v"},
        merge_agents=["alice"],
        read_only_agents=["viewer"],
    )
    try:
        yield s
    finally:
        s.thread.stop()


def _as(server: RunningServer, user: str, key: str, **opts: str):
    conn = psycopg2.connect(
        host="127.0.0.1",
        port=server.port,
        user=user,
        password=key,
        dbname="hati",
        options=" ".join(f"-c {k}={v}" for k, v in opts.items()),
    )
    conn.autocommit = True
    return conn


def test_f6_unknown_user_constant_scram(keyed: RunningServer) -> None:
    salts: dict[str, list[str]] = {}
    for user in ("alice", "bob", "nobody", "nobody", "carol"):
        c = RawScram(keyed, user)
        attrs = c.server_first()
        assert set(attrs) == {"r", "s", "i"} and attrs["i"] == "4096"
        salts.setdefault(user, []).append(attrs["s"])
        kind, body = c.final("wrong")
        assert kind == b"E" and _sqlstate(body) == "28P01", (user, body)
        c.close()
    assert salts["nobody"][0] == salts["nobody"][1], "an unknown name's salt is stable"
    distinct = {salts[u][0] for u in ("alice", "bob", "nobody", "carol")}
    assert len(distinct) == 4, "every name, known or not, has its own salt"


def test_f6_scram_garbage_channel_binding(keyed: RunningServer) -> None:
    for cbind in ("Z2FyYmFnZQ==", "eSws", "cD10bHMtc2VydmVyLWVuZC1wb2ludCws", ""):
        c = RawScram(keyed, "alice")
        c.server_first()
        kind, body = c.final("key-a", cbind=cbind)
        assert kind == b"E" and _sqlstate(body) == "08P01", (cbind, body)
        c.close()
    c = RawScram(keyed, "alice")
    c.server_first()
    kind, body = c.final("key-a")  # the right binding ("n,," is "biws") still works
    assert kind == b"R" and struct.unpack("!I", body[:4])[0] == 12
    c.close()


def test_f6_agent_outside_merge_agents_cannot_write_main(keyed: RunningServer) -> None:
    alice = _as(keyed, "alice", "key-a")
    admin = lambda: _as(keyed, "alice", "key-a")  # noqa: E731
    seed(alice.cursor())
    before = baseline(keyed, admin)
    bob = _as(keyed, "bob", "key-b")
    cur = bob.cursor()
    refused(cur, "UPDATE ledger SET amt = 0", "42501")
    refused(cur, "INSERT INTO ledger VALUES (3, 3)", "42501")
    refused(cur, "DELETE FROM ledger", "42501")
    refused(cur, "TRUNCATE ledger", "42501")
    refused(cur, "DROP TABLE ledger", "42501")
    refused(cur, "CREATE TABLE mine (a int)", "42501")
    refused(cur, "ALTER TABLE ledger ADD COLUMN x int", "42501")
    refused(cur, "SELECT * FROM branch_merge('b')", "42501")
    cur.execute("SELECT sum(amt) FROM ledger")  # reading main is fine
    assert cur.fetchone() == (300,)
    assert_intact(keyed, before, admin)
    cur.execute("SELECT branch_create('bob-work')")  # and working in a branch
    cur.execute("SELECT * FROM branch_query('bob-work', 'UPDATE ledger SET amt = 1')")
    before = baseline(keyed, admin)
    inbranch = _as(keyed, "bob", "key-b", hatidata_branch="bob-work")
    with inbranch.cursor() as c2:
        c2.execute("UPDATE ledger SET amt = 2 WHERE id = 2")
        c2.execute("SELECT sum(amt) FROM ledger")
        assert c2.fetchone() == (3,)
    inbranch.close()
    assert_intact(keyed, before, admin)
    bob.close()
    alice.cursor().execute("SELECT * FROM branch_merge('bob-work')")
    assert _sum(admin) == [(3,)]
    alice.close()


def test_f6_read_only_agent(keyed: RunningServer) -> None:
    alice = _as(keyed, "alice", "key-a")
    admin = lambda: _as(keyed, "alice", "key-a")  # noqa: E731
    seed(alice.cursor())
    alice.close()
    before = baseline(keyed, admin)
    viewer = _as(keyed, "viewer", "key-v")
    cur = viewer.cursor()
    cur.execute("SELECT sum(amt) FROM ledger")
    assert cur.fetchone() == (300,)
    cur.execute("SELECT * FROM branch_query('b', 'SELECT amt FROM ledger WHERE id = 1')")
    assert cur.fetchone() == (150,)
    refused(cur, "UPDATE ledger SET amt = 0", "42501")
    refused(cur, "SELECT branch_create('v')", "42501")
    refused(cur, "SELECT * FROM branch_query('b', 'UPDATE ledger SET amt = 0')", "42501")
    refused(cur, "SELECT * FROM branch_merge('b')", "42501")
    refused(cur, "SELECT branch_discard('b')", "42501")
    with pytest.raises(psycopg2.Error) as info:
        cur.copy_expert("COPY ledger FROM STDIN", io.StringIO("7\t7\n"))
    assert info.value.pgcode == "42501"
    viewer.close()
    inbranch = _as(keyed, "viewer", "key-v", hatidata_branch="b")
    refused(inbranch.cursor(), "UPDATE ledger SET amt = 0", "42501")
    inbranch.close()
    assert_intact(keyed, before, admin)


def _sum(connect) -> list[tuple]:
    conn = connect()
    with conn.cursor() as cur:
        cur.execute("SELECT sum(amt) FROM ledger")
        got = cur.fetchall()
    conn.close()
    return got


def test_f6_roles_default_everyone_may_everything(hati_server: RunningServer) -> None:
    """Without roles in hati.toml, any agent writes main and merges (as before)."""
    conn = hati_server.connect(agent="anyone")
    cur = conn.cursor()
    seed(cur)
    cur.execute("UPDATE ledger SET amt = amt + 1")
    cur.execute("SELECT * FROM branch_merge('b')")
    assert cur.fetchone()[-1] == "merged"
    conn.close()
