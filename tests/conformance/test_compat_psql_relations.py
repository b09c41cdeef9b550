"""psql relation lists: hati_audit is a view (\\dv, not \\dt), and \\dt+ works."""

from __future__ import annotations

import shutil

import pytest

from conftest import psql

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")


@pytest.fixture
def server(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE rel_t (id INTEGER PRIMARY KEY, v VARCHAR)")
        cur.execute("CREATE VIEW rel_v AS SELECT id FROM rel_t")
        cur.execute("SELECT count(*) FROM hati_audit")  # the audit view exists and is read
        cur.execute("SELECT branch_create('relb')")
        cur.execute("SELECT branch_query('relb', 'INSERT INTO rel_t VALUES (1, ''x'')')")
    finally:
        c.close()
    return hati_server


@pytest.mark.parametrize("branch", [None, "relb"])
def test_dt_lists_tables_not_views(server, branch):
    for cmd in (r"\dt", r"\dt *.*", r"\dt public.*"):
        assert psql(server, cmd, branch).splitlines() == ["public|rel_t|table|hati"], cmd
    assert psql(server, r"\dv", branch).splitlines() == [
        "public|hati_audit|view|hati",
        "public|rel_v|view|hati",
    ]


def test_d_hati_audit_is_a_view(server):
    out = psql(server, r"\d hati_audit", tuples_only=False)
    assert out.splitlines()[0].strip() == 'View "public.hati_audit"'


def test_dt_plus_and_dv_plus(server):
    rows = [line.split("|") for line in psql(server, r"\dt+").splitlines()]
    assert [r[:4] for r in rows] == [["public", "rel_t", "table", "hati"]]
    rows = [line.split("|") for line in psql(server, r"\dv+").splitlines()]
    assert [r[:3] for r in rows] == [["public", "hati_audit", "view"], ["public", "rel_v", "view"]]
