"""Triggers in branches, over the wire: an agent's writes in its branch fire the
table's triggers (an updated_at column, an audit table, a validation that RAISEs), the
triggers' own writes land in the same branch, main and the other branch do not see
them, and a merge brings the branch's rows and audit rows to main together."""

from __future__ import annotations

from contextlib import closing

import psycopg2
import pytest

pytestmark = pytest.mark.server

SCHEMA = [
    "CREATE TABLE task (id serial PRIMARY KEY, title text NOT NULL, state text DEFAULT 'open',"
    " version int DEFAULT 0)",
    "CREATE TABLE task_audit (task_id int, op text, old_state text, new_state text)",
    "CREATE FUNCTION task_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.title = '' THEN RAISE EXCEPTION 'title must not be empty' USING ERRCODE = '23514';"
    " END IF; IF TG_OP = 'UPDATE' THEN NEW.version := OLD.version + 1; END IF; RETURN NEW; END $$",
    "CREATE FUNCTION task_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO task_audit VALUES (coalesce(NEW.id, OLD.id), TG_OP, OLD.state, NEW.state);"
    " RETURN NULL; END $$",
    "CREATE TRIGGER task_touch BEFORE INSERT OR UPDATE ON task FOR EACH ROW"
    " EXECUTE FUNCTION task_touch()",
    "CREATE TRIGGER task_log AFTER INSERT OR UPDATE OR DELETE ON task FOR EACH ROW"
    " EXECUTE FUNCTION task_log()",
    "INSERT INTO task (title) VALUES ('write docs'), ('fix bug')",
]


def _rows(cur: psycopg2.extensions.cursor, sql: str) -> list[tuple]:
    cur.execute(sql)
    return cur.fetchall()


def test_a_branchs_writes_fire_triggers_that_write_the_branch(hati_server) -> None:
    with closing(hati_server.connect()) as main:
        cur = main.cursor()
        for sql in SCHEMA:
            cur.execute(sql)
        cur.execute("SELECT branch_create('agent-a')")
        cur.execute("SELECT branch_create('agent-b')")
    with (
        closing(hati_server.connect("a", hatidata_branch="agent-a")) as a,
        closing(hati_server.connect("b", hatidata_branch="agent-b")) as b,
    ):
        ca, cb = a.cursor(), b.cursor()
        ca.execute("UPDATE task SET state = 'done' WHERE title = 'fix bug' RETURNING version")
        assert ca.fetchall() == [(1,)]
        ca.execute("INSERT INTO task (title) VALUES ('ship it')")
        with pytest.raises(psycopg2.errors.CheckViolation, match="must not be empty"):
            ca.execute("UPDATE task SET title = '' WHERE id = 1")
        cb.execute("DELETE FROM task WHERE title = 'write docs'")
        audit_a = "SELECT task_id, op, old_state, new_state FROM task_audit ORDER BY 1, 2"
        assert _rows(ca, audit_a) == [
            (1, "INSERT", None, "open"),
            (2, "INSERT", None, "open"),
            (2, "UPDATE", "open", "done"),
            (3, "INSERT", None, "open"),
        ]
        assert _rows(cb, audit_a) == [
            (1, "DELETE", "open", None),
            (1, "INSERT", None, "open"),
            (2, "INSERT", None, "open"),
        ]
        assert _rows(ca, "SELECT id, title, version FROM task ORDER BY id") == [
            (1, "write docs", 0),
            (2, "fix bug", 1),
            (3, "ship it", 0),
        ]
    with closing(hati_server.connect()) as main:
        cur = main.cursor()
        assert _rows(cur, "SELECT count(*) FROM task_audit") == [(2,)]
        assert _rows(cur, "SELECT state FROM task ORDER BY id") == [("open",), ("open",)]
        cur.execute("SELECT * FROM branch_merge('agent-a')")
        assert cur.fetchall()[0][-1] == "merged"
        assert _rows(cur, "SELECT count(*) FROM task_audit") == [(4,)]
        assert _rows(cur, "SELECT title, state, version FROM task ORDER BY id") == [
            ("write docs", "open", 0),
            ("fix bug", "done", 1),
            ("ship it", "open", 0),
        ]
