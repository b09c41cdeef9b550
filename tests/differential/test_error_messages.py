"""Errors in PostgreSQL's words: the same statements to hati and to a real PostgreSQL,
compared exactly — SQLSTATE, message, and the fields clients read (psycopg's ``diag``:
schema, table, column and constraint names).

Agents read error messages to correct themselves, and applications branch on the
SQLSTATE and on ``diag.constraint_name``; a class-level match (what the everyday corpus
compares) is not enough for them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg2
import pytest

from difftest.corpus import read_script
from difftest.hatiserver import HatiServer
from difftest.pgserver import pg_unavailable
from difftest.runner import start_pg

WHY_NOT = pg_unavailable()
SCRIPT = Path(__file__).parent / "messages" / "errors.sql"


def _outcome(cur: psycopg2.extensions.cursor, sql: str) -> tuple[str | None, ...]:
    try:
        cur.execute(sql)
    except psycopg2.Error as exc:
        d = exc.diag
        detail = d.message_detail
        if detail and detail.startswith("Failing row contains"):
            detail = None  # not sent by hati: DuckDB's constraint errors do not carry the row
        return (exc.pgcode, d.message_primary, detail, d.schema_name, d.table_name,
                d.column_name, d.constraint_name)  # fmt: skip
    return ("ok",)


@pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
def test_errors_read_as_postgresql_writes_them() -> None:
    statements = [s.sql for s in read_script(SCRIPT.read_text(), "errors", "messages").statements]
    assert len(statements) > 40
    with tempfile.TemporaryDirectory(prefix="difftest-") as tmp:
        pg = start_pg(Path(tmp))
        hati = HatiServer(Path(tmp) / "hati").start()
        try:
            pg_conn = psycopg2.connect(pg.dsn("postgres"))
            hati_conn = psycopg2.connect(hati.dsn())
            pg_conn.autocommit = hati_conn.autocommit = True
            with pg_conn.cursor() as p, hati_conn.cursor() as h:
                pairs = [(sql, _outcome(p, sql), _outcome(h, sql)) for sql in statements]
            pg_conn.close()
            hati_conn.close()
        finally:
            hati.stop()
            pg.stop()
    failures = [s for s, pg_out, _ in pairs if pg_out[0] != "ok"]
    assert len(failures) > 30  # the file is about errors
    differ = [f"{sql}\n  PostgreSQL: {p}\n  hati:       {h}" for sql, p, h in pairs if p != h]
    assert not differ, f"{len(differ)} statements answer differently:\n" + "\n".join(differ)
