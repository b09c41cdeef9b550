"""DO blocks against a real PostgreSQL: the notices a block raises reach the client
(psycopg's ``connection.notices``) as PostgreSQL sends them, in simple and extended
protocol, and an error ends the block with nothing committed."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import psycopg2
import pytest

pytestmark = pytest.mark.server

BLOCK = (
    "DO $$ DECLARE n int := 2; BEGIN RAISE NOTICE 'n is %', n; RAISE WARNING 'careful %%'; "
    "RAISE INFO 'info'; RAISE LOG 'not for the client'; RAISE DEBUG 'nor this'; END $$"
)


def _notices(conn: Any) -> list[str]:
    conn.autocommit = True
    del conn.notices[:]
    with conn.cursor() as cur:
        cur.execute(BLOCK)
        cur.execute("CREATE TABLE IF NOT EXISTS dn (id int PRIMARY KEY)")
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute("DO $$ BEGIN INSERT INTO dn VALUES (1); INSERT INTO dn VALUES (1); END $$")
        cur.execute("SELECT count(*) FROM dn")
        assert cur.fetchall() == [(0,)]
    return list(conn.notices)


def test_do_block_notices_match_postgresql(pg, hati_server) -> None:
    with closing(psycopg2.connect(pg.dsn("postgres"))) as pc:
        expected = _notices(pc)
    with closing(hati_server.connect()) as hc:
        got = _notices(hc)
    assert got == expected
    assert [n.split(":")[0] for n in expected] == ["NOTICE", "WARNING", "INFO"]
