"""CHECKPOINT over the wire: works outside a transaction, clear errors (never 40001) otherwise."""

from __future__ import annotations

import psycopg2
import pytest


def test_checkpoint_after_writes(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE ck (i INTEGER)")
        cur.execute("INSERT INTO ck SELECT range FROM range(1000)")
        cur.execute("CHECKPOINT")
        assert cur.statusmessage == "CHECKPOINT" and cur.description is None
        cur.execute("SELECT count(*) FROM ck")
        assert cur.fetchone() == (1000,)
    finally:
        c.close()


def test_checkpoint_in_a_branch_session_and_read_only_transaction(hati_server):
    c = hati_server.connect()
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE ckb (i INTEGER)")
        cur.execute("SELECT branch_create('ckb')")
        cur.execute("SET hatidata_branch = 'ckb'")
        cur.execute("INSERT INTO ckb VALUES (1)")
        cur.execute("CHECKPOINT")
        assert cur.statusmessage == "CHECKPOINT"
        cur.execute("BEGIN")
        cur.execute("SELECT count(*) FROM ckb")
        assert cur.fetchone() == (1,)
        cur.execute("CHECKPOINT")  # PostgreSQL allows it in a transaction block
        assert cur.statusmessage == "CHECKPOINT"
        cur.execute("COMMIT")
    finally:
        c.close()


def test_checkpoint_while_another_session_writes_in_a_transaction(hati_server):
    writer = hati_server.connect(autocommit=False)
    other = hati_server.connect()
    try:
        w = writer.cursor()
        w.execute("CREATE TABLE ckw (i INTEGER)")
        w.execute("INSERT INTO ckw VALUES (1)")  # still uncommitted: a write transaction
        cur = other.cursor()
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("CHECKPOINT")
        assert exc.value.pgcode == "55006"
        assert exc.value.diag.message_hint == "Retry once they COMMIT or ROLLBACK."
        assert "retry the transaction" not in str(exc.value)
        writer.commit()
        cur.execute("CHECKPOINT")
        assert cur.statusmessage == "CHECKPOINT"
        cur.execute("SELECT count(*) FROM ckw")
        assert cur.fetchone() == (1,)
    finally:
        writer.close()
        other.close()


def test_checkpoint_in_own_write_transaction_has_a_correct_hint(hati_server):
    c = hati_server.connect(autocommit=False)
    try:
        cur = c.cursor()
        cur.execute("CREATE TABLE cko (i INTEGER)")
        c.commit()
        cur.execute("INSERT INTO cko VALUES (1)")
        with pytest.raises(psycopg2.Error) as exc:
            cur.execute("CHECKPOINT")
        assert exc.value.pgcode == "25001"
        assert exc.value.diag.message_hint == (
            "COMMIT or ROLLBACK this transaction, then run CHECKPOINT."
        )
        c.rollback()
        cur.execute("CHECKPOINT")
        c.commit()
    finally:
        c.close()
