"""Partitioned tables (pg/partitions.py) in branches: one root table, so row deltas and
merges treat the tree like any table; partitions read and write the branch's rows."""

from __future__ import annotations

import pytest
from unit_support import run

from hati.errors import FeatureNotSupported, as_hati_error
from hati.session import Session


def fails(session: Session, sql: str) -> str:
    """The SQLSTATE the client is sent for ``sql``."""
    with pytest.raises(Exception) as info:
        run(session, sql)
    return as_hati_error(info.value).sqlstate


@pytest.fixture
def parted(session: Session) -> Session:
    run(
        session,
        "CREATE TABLE m (id int PRIMARY KEY, region text, n int) PARTITION BY LIST (region)",
    )
    run(session, "CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu')")
    run(session, "CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us')")
    run(session, "INSERT INTO m VALUES (1, 'eu', 1), (2, 'us', 2)")
    return session


def test_branch_writes_partitions_and_merges(parted: Session) -> None:
    s = parted
    run(s, "SELECT branch_create('b')")
    run(s, "SET hatidata_branch = 'b'")
    run(s, "INSERT INTO m_us VALUES (3, 'us', 3)")
    run(s, "UPDATE m SET region = 'us' WHERE id = 1")  # moves to m_us
    assert fails(s, "INSERT INTO m_eu VALUES (4, 'us', 4)") == "23514"
    assert run(s, "SELECT id FROM m_us ORDER BY id") == [(1,), (2,), (3,)]
    assert run(s, "SELECT id FROM m_eu") == []
    with pytest.raises(FeatureNotSupported):
        run(s, "CREATE TABLE m_asia PARTITION OF m FOR VALUES IN ('asia')")
    run(s, "RESET hatidata_branch")
    assert run(s, "SELECT id FROM m_us ORDER BY id") == [(2,)]  # main is untouched
    assert run(s, "SELECT id FROM m_eu") == [(1,)]
    run(s, "UPDATE m_eu SET n = 10")  # main changes another column meanwhile
    merged = [r[-1:] for r in run(s, "SELECT * FROM branch_merge('b')")]
    assert merged == [("merged",)]
    assert run(s, "SELECT id, region, n FROM m ORDER BY id") == [
        (1, "us", 10),
        (2, "us", 2),
        (3, "us", 3),
    ]
    assert run(s, "SELECT id FROM m_eu") == []


def test_partition_ddl_rolls_back(parted: Session) -> None:
    s = parted
    run(s, "BEGIN")
    run(s, "CREATE TABLE m_asia PARTITION OF m FOR VALUES IN ('asia')")
    run(s, "INSERT INTO m VALUES (5, 'asia', 5)")
    assert run(s, "SELECT id FROM m_asia") == [(5,)]
    run(s, "ROLLBACK")
    assert fails(s, "INSERT INTO m VALUES (5, 'asia', 5)") == "23514"
    run(s, "DROP TABLE m_eu")
    assert run(s, "SELECT id FROM m ORDER BY id") == [(2,)]


def test_inheritance_reads_children_in_a_branch(session: Session) -> None:
    s = session
    run(s, "CREATE TABLE p (name text, n int)")
    run(s, "CREATE TABLE c (extra int) INHERITS (p)")
    run(s, "INSERT INTO p VALUES ('main-p', 1)")
    run(s, "SELECT branch_create('b')")
    run(s, "SET hatidata_branch = 'b'")
    run(s, "INSERT INTO c VALUES ('branch-c', 2, 9)")
    assert run(s, "SELECT name FROM p ORDER BY name") == [("branch-c",), ("main-p",)]
    assert run(s, "SELECT name FROM ONLY p") == [("main-p",)]
    assert fails(s, "DELETE FROM p") == "0A000"
    run(s, "RESET hatidata_branch")
    assert run(s, "SELECT name FROM p") == [("main-p",)]
