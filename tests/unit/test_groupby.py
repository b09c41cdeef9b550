"""GROUP BY a primary key reads the table's other columns (pg/groupby.py), on a session;
the answers PostgreSQL gives are in tests/differential/corpus/group_by_key.sql."""

from __future__ import annotations

import pytest
from unit_support import run

from hati.errors import GroupingError
from hati.session import Session


def test_grouping_by_the_key_groups_the_rest_in_a_branch_too(session: Session) -> None:
    run(session, "CREATE TABLE c (id int PRIMARY KEY, name text); CREATE TABLE o (cid int)")
    run(session, "INSERT INTO c VALUES (1, 'ann'), (2, 'bob'); INSERT INTO o VALUES (1), (1)")
    sql = "SELECT c.name, count(o.cid) FROM c LEFT JOIN o ON o.cid = c.id GROUP BY c.id ORDER BY 1"
    assert run(session, sql) == [("ann", 2), ("bob", 0)]
    run(session, "SELECT branch_create('b'); SET hatidata_branch = 'b'")
    run(session, "UPDATE c SET name = 'cat' WHERE id = 2")
    assert run(session, sql) == [("ann", 2), ("cat", 0)]


def test_without_a_key_the_column_must_be_grouped(session: Session) -> None:
    run(session, "CREATE TABLE n (id int, name text); INSERT INTO n VALUES (1, 'a')")
    with pytest.raises(GroupingError, match='column "name" must appear in the GROUP BY'):
        run(session, "SELECT id, name FROM n GROUP BY id")
