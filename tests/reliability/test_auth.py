"""Authentication and per-agent permissions.

Trust on loopback by default; with a password or per-agent keys SCRAM-SHA-256 is
required (cleartext only when allow_cleartext); a non-loopback listen address without
authentication is refused; only merge_agents may merge into main.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
import psycopg2
import pytest
from reliability_support import report

from conftest import RunningServer, start_server
from hati.config import Config
from hati.server.listener import Server, UnsafeListen

CASES: list[str] = []


def _pg2(server: RunningServer, user: str, password: str | None, agent: str | None = None) -> Any:
    kw: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "user": user, "dbname": "hati"}
    if password is not None:
        kw["password"] = password
    if agent:
        kw["options"] = f"-c hatidata_agent_id={agent}"
    conn = psycopg2.connect(**kw)
    conn.autocommit = True
    return conn


def _pg3(server: RunningServer, user: str, password: str | None) -> Any:
    return psycopg.connect(
        host="127.0.0.1",
        port=server.port,
        user=user,
        dbname="hati",
        password=password or "",
        autocommit=True,
    )


def _apg(server: RunningServer, user: str, password: str | None) -> Any:
    async def go() -> Any:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=server.port,
            user=user,
            database="hati",
            password=password,
            ssl=False,
        )
        try:
            return await conn.fetchval("SELECT 40 + 2")
        finally:
            await conn.close()

    return asyncio.run(go())


def _expect(ok: bool, label: str, fn: Any) -> None:
    """Run one connection attempt; a refusal must be an authentication failure."""
    CASES.append(label)
    if ok:
        result = fn()
        if hasattr(result, "close"):
            result.close()
        return
    with pytest.raises(Exception) as info:
        fn()
    text = str(info.value).lower()
    state = getattr(info.value, "pgcode", None) or getattr(info.value, "sqlstate", None)
    # "no password supplied": the client itself gave up because the server demanded one.
    demanded = "no password supplied" in text or "password is required" in text
    assert state == "28P01" or "password authentication failed" in text or demanded, (
        label,
        repr(info.value),
    )


def _auth_request(port: int, user: str) -> int:
    """The authentication code the server asks a raw client for (0 ok, 3 cleartext, 10 SASL)."""
    body = struct.pack("!i", 196608) + b"user\0" + user.encode() + b"\0database\0hati\0\0"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        head = s.recv(9)
        assert head[:1] == b"R", head
        code = struct.unpack("!i", head[5:9])[0]
        if code == 10:
            rest = s.recv(4096)
            assert b"SCRAM-SHA-256" in rest
        return code


def _answer_sasl_with_cleartext(port: int, password: str) -> bytes:
    """An old client that only knows cleartext, talking to a SCRAM-only server."""
    body = struct.pack("!i", 196608) + b"user\0old\0database\0hati\0\0"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        s.recv(4096)
        pw = password.encode() + b"\0"
        s.sendall(b"p" + struct.pack("!i", len(pw) + 4) + pw)
        out = b""
        while chunk := s.recv(4096):
            out += chunk
        return out


def test_trust_on_loopback_by_default(hati_server: RunningServer) -> None:
    assert _auth_request(hati_server.port, "anyone") == 0
    _expect(True, "trust psycopg2", lambda: _pg2(hati_server, "anyone", None))
    _expect(True, "trust psycopg3", lambda: _pg3(hati_server, "anyone", None))
    _expect(True, "trust asyncpg", lambda: _apg(hati_server, "anyone", None))


def test_password_requires_scram(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", password="s3cret-pw")
    try:
        assert _auth_request(server.port, "agent") == 10  # SASL, SCRAM-SHA-256 offered
        CASES.append("scram offered")
        for driver, fn in (("psycopg2", _pg2), ("psycopg3", _pg3), ("asyncpg", _apg)):
            _expect(True, f"{driver} right", lambda fn=fn: fn(server, "agent", "s3cret-pw"))
            _expect(False, f"{driver} wrong", lambda fn=fn: fn(server, "agent", "wrong"))
            _expect(False, f"{driver} empty", lambda fn=fn: fn(server, "agent", ""))
            _expect(False, f"{driver} case", lambda fn=fn: fn(server, "agent", "S3CRET-PW"))
        # Cleartext is not accepted unless enabled: answering SASL with a password fails.
        reply = _answer_sasl_with_cleartext(server.port, "s3cret-pw")
        CASES.append("cleartext refused")
        assert b"28P01" in reply and b"Z\0\0\0\5" not in reply
        with _pg2(server, "agent", "s3cret-pw") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        server.thread.stop()


def test_cleartext_only_when_enabled(tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", password="plain-pw", allow_cleartext=True)
    try:
        assert _auth_request(server.port, "old") == 3
        CASES.append("cleartext offered")
        _expect(True, "cleartext psycopg2 right", lambda: _pg2(server, "old", "plain-pw"))
        _expect(False, "cleartext psycopg2 wrong", lambda: _pg2(server, "old", "nope"))
        _expect(True, "cleartext asyncpg right", lambda: _apg(server, "old", "plain-pw"))
        _expect(False, "cleartext asyncpg wrong", lambda: _apg(server, "old", "plain-pwx"))
    finally:
        server.thread.stop()


def test_per_agent_keys(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data", agent_keys={"alice": "key-a", "bob": "key-b"}, merge_agents=["alice"]
    )
    try:
        _expect(True, "alice own key psycopg2", lambda: _pg2(server, "alice", "key-a"))
        _expect(True, "alice own key psycopg3", lambda: _pg3(server, "alice", "key-a"))
        _expect(True, "bob own key asyncpg", lambda: _apg(server, "bob", "key-b"))
        _expect(False, "alice with bob's key", lambda: _pg2(server, "alice", "key-b"))
        _expect(False, "bob with alice's key", lambda: _pg3(server, "bob", "key-a"))
        _expect(False, "unknown agent", lambda: _apg(server, "carol", "key-a"))
        _expect(False, "no password", lambda: _pg2(server, "alice", ""))

        alice = _pg2(server, "alice", "key-a")
        # bob claims to be alice through the SDK option: the authenticated name wins.
        bob = _pg2(server, "bob", "key-b", agent="alice")
        with alice.cursor() as a, bob.cursor() as b:
            a.execute("CREATE TABLE ledger (id INT PRIMARY KEY, v INT)")
            a.execute("INSERT INTO ledger VALUES (1, 1)")
            b.execute("SELECT branch_create('bob-work')")
            b.execute("SELECT * FROM branch_query('bob-work', 'UPDATE ledger SET v = 99')")
            b.execute("SET hatidata_agent_id = 'alice'")
            b.execute("SHOW hatidata_agent_id")
            assert b.fetchone() == ("bob",), "the authenticated agent id cannot be changed"
            with pytest.raises(psycopg2.Error) as info:
                b.execute("SELECT * FROM branch_merge('bob-work')")
            assert info.value.pgcode == "42501"
            CASES.append("bob impersonating alice cannot merge")
            a.execute("SELECT v FROM ledger")
            assert a.fetchone() == (1,), "a refused merge changed nothing"
            a.execute("SELECT * FROM branch_list()")
            assert [r[2] for r in a.fetchall()] == ["bob"]
            a.execute("SELECT * FROM branch_merge('bob-work')")
            assert a.fetchone()[-1] == "merged"
            CASES.append("alice may merge")
            a.execute("SELECT v FROM ledger")
            assert a.fetchone() == (99,)
            a.execute("SELECT DISTINCT agent_id FROM hati_audit WHERE sql LIKE '%bob-work%'")
            assert {r[0] for r in a.fetchall()} == {"alice", "bob"}
        alice.close()
        bob.close()
    finally:
        server.thread.stop()


def test_merge_agents_permission_without_auth(tmp_path: Path) -> None:
    server = start_server(tmp_path / "perm", merge_agents=["judge"])
    try:
        worker = server.connect(agent="worker")
        judge = server.connect(agent="judge")
        with worker.cursor() as w, judge.cursor() as j:
            j.execute("CREATE TABLE plan (id INT PRIMARY KEY, v INT)")  # main: the judge's
            j.execute("INSERT INTO plan VALUES (1, 1)")
            with pytest.raises(psycopg2.Error) as info:
                w.execute("UPDATE plan SET v = 5")  # outside merge_agents: no direct write
            assert info.value.pgcode == "42501"
            w.execute("SELECT branch_create('w1')")
            w.execute("SELECT * FROM branch_query('w1', 'UPDATE plan SET v = 2')")
            with pytest.raises(psycopg2.Error) as info:
                w.execute("SELECT * FROM branch_merge('w1')")
            assert info.value.pgcode == "42501"
            assert "merge_agents" in (info.value.diag.message_hint or "")
            CASES.append("worker merge refused")
            # A branch of a branch may be merged into its parent branch by anyone.
            w.execute("SELECT branch_create('w1-sub', 'w1')")
            w.execute("SELECT * FROM branch_query('w1-sub', 'UPDATE plan SET v = 3')")
            w.execute("SELECT * FROM branch_merge('w1-sub')")
            assert w.fetchone()[-1] == "merged"
            CASES.append("worker merge into parent branch allowed")
            w.execute("SELECT v FROM plan")
            assert w.fetchone() == (1,)
            j.execute("SELECT * FROM branch_merge('w1')")
            assert j.fetchone()[-1] == "merged"
            CASES.append("judge merge allowed")
            j.execute("SELECT v FROM plan")
            assert j.fetchone() == (3,)
        worker.close()
        judge.close()
    finally:
        server.thread.stop()


def test_non_loopback_without_auth_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafeListen) as info:
        Server(Config.load(tmp_path / "a", host="0.0.0.0", port=0))
    assert "without authentication" in info.value.message and "password" in (info.value.hint or "")
    CASES.append("0.0.0.0 without auth refused (API)")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hati",
            "serve",
            "--dir",
            str(tmp_path / "b"),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "refusing to listen on 0.0.0.0 without authentication" in proc.stderr, proc.stderr
    assert "hati init --password" in proc.stderr
    CASES.append("0.0.0.0 without auth refused (CLI)")
    init = subprocess.run(
        [
            sys.executable,
            "-m",
            "hati",
            "init",
            "--dir",
            str(tmp_path / "i"),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode != 0 and "without authentication" in init.stderr, init.stderr
    CASES.append("hati init on 0.0.0.0 without auth refused")
    # With a password the same address is accepted, and clients must authenticate.
    server = start_server(tmp_path / "c", host="0.0.0.0", password="pw-wide")
    try:
        _expect(True, "0.0.0.0 with password right", lambda: _pg2(server, "x", "pw-wide"))
        _expect(False, "0.0.0.0 with password wrong", lambda: _pg2(server, "x", "pw-narrow"))
    finally:
        server.thread.stop()


def test_hati_init_password_end_to_end(tmp_path: Path) -> None:
    """`hati init --password` starts a background server that requires it; status/stop work."""
    data = tmp_path / "d"
    hati = [sys.executable, "-m", "hati"]
    out = subprocess.run(
        [*hati, "init", "--dir", str(data), "--port", "0", "--password", "init-pw"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert out.returncode == 0, out.stderr
        port = int(out.stdout.strip().splitlines()[-1].rsplit(":", 1)[1])
        toml = (data / "hati.toml").read_text()
        assert "init-pw" not in toml and "SCRAM-SHA-256$4096:" in toml, "only a verifier is kept"
        assert (data / "hati.toml").stat().st_mode & 0o077 == 0, "the config holds a secret"
        server = RunningServer.__new__(RunningServer)
        server.port = port
        _expect(True, "init --password right", lambda: _pg2(server, "agent", "init-pw"))
        _expect(False, "init --password wrong", lambda: _pg2(server, "agent", "other"))
        st = subprocess.run(
            [*hati, "status", "--dir", str(data)], capture_output=True, text=True, timeout=60
        )
        assert st.returncode == 0 and "is running" in st.stdout, st.stdout + st.stderr
        assert "set HATI_PASSWORD" in st.stdout
        env = {**os.environ, "HATI_PASSWORD": "init-pw"}
        cmd = [*hati, "branches", "--dir", str(data)]
        ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert ok.returncode == 0 and ok.stdout.splitlines()[0].startswith("name"), ok.stderr
        env["HATI_PASSWORD"] = "wrong"
        bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert bad.returncode == 2 and "HATI_PASSWORD" in bad.stderr, bad.stderr
        st = subprocess.run(
            [*hati, "status", "--dir", str(data)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HATI_PASSWORD": "init-pw"},
        )
        assert "0 live branch(es)" in st.stdout, st.stdout
    finally:
        subprocess.run([*hati, "stop", "--dir", str(data)], capture_output=True, timeout=60)


@pytest.fixture(scope="module", autouse=True)
def _report_cases() -> Any:
    yield
    report(
        f"auth: {len(CASES)} cases tried (trust, SCRAM with psycopg2/psycopg 3/asyncpg, "
        "cleartext on/off, per-agent keys, impersonation, merge permission, non-loopback refusal, "
        "hati init --password)"
    )
