"""Finding 9: the small ones."""

from __future__ import annotations

import pytest
from security_support import assert_intact, baseline, cur, refused, seed, server  # noqa: F401  (pytest fixtures)

from conftest import RunningServer

pytestmark = pytest.mark.server


def test_f9_ttl_huge_or_nan(server: RunningServer, cur) -> None:
    before = baseline(server)
    for ttl in ("1e308", "'NaN'", "'Infinity'", "-1", "'-Infinity'"):
        refused(cur, f"SELECT branch_create('t1', NULL, {ttl})", "22023")
    assert_intact(server, before)


def test_f9_branch_resolve_changing_key(server: RunningServer, cur) -> None:
    before = baseline(server)
    refused(
        cur,
        """SELECT * FROM branch_resolve('b', 'ledger', '1', '{"id": 2, "amt": 5}')""",
        "22023",
    )
    assert_intact(server, before)


def test_f9_table_named_cfg_hide(server: RunningServer, cur) -> None:
    """``cfg$hide`` is the name of cfg's hidden-key table in a branch's delta: a client
    table may not take it (42939), so the branch's write to cfg survives the merge."""
    cur.execute("CREATE TABLE cfg (id INT PRIMARY KEY, v TEXT)")
    cur.execute("INSERT INTO cfg VALUES (1, 'a')")
    refused(cur, 'CREATE TABLE "cfg$hide" (id INT PRIMARY KEY, v TEXT)', "42939")
    refused(cur, 'CREATE TABLE "s1$rows" (id INT)', "42939")
    refused(cur, 'ALTER TABLE cfg RENAME TO "cfg$hide"', "42939")
    cur.execute("SELECT branch_create('h')")
    refused(cur, """SELECT * FROM branch_query('h', 'CREATE TABLE "cfg$hide" (id INT)')""", "42939")
    cur.execute("""SELECT * FROM branch_query('h', 'UPDATE cfg SET v = ''branch'' WHERE id = 1')""")
    cur.execute("SELECT * FROM branch_merge('h')")
    assert cur.fetchone()[-1] == "merged"
    cur.execute("SELECT v FROM cfg")
    assert cur.fetchall() == [("branch",)]


def test_f9_branch_query_begin(server: RunningServer, cur) -> None:
    before = baseline(server)
    for sql in ("BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION"):
        err = refused(cur, f"SELECT * FROM branch_query('b', '{sql}')", "0A000")
        assert "retry" not in (err.diag.message_hint or "").lower()
    assert_intact(server, before)
