"""A sample of the vendored sqllogictest files on hati and on a real PostgreSQL
(difftest/slt.py; the whole run: ``python -m difftest.slt``)."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pytest

from difftest import slt
from difftest.pgserver import pg_unavailable
from difftest.runner import Runner, start_pg

pytestmark = pytest.mark.server
WHY_NOT = pg_unavailable()


def test_the_parser_keeps_postgresql_records_only() -> None:
    text = (
        "statement ok\nCREATE TABLE t1(a INTEGER)\n\n"
        "onlyif mysql\nquery I nosort\nSELECT 1\n----\n1\n\n"
        "skipif postgresql\nquery I nosort\nSELECT 2\n----\n2\n\n"
        "query IT rowsort\nSELECT a, 'x' FROM t1\n----\n\n"
        "skipif mysql\nquery R valuesort\nSELECT 1.5\n----\n1.500\n\nhalt\n\nquery I\nSELECT 3\n"
    )
    records = slt.parse(text)
    assert [(r.kind, r.sql, r.types, r.sort) for r in records] == [
        ("statement", "CREATE TABLE t1(a INTEGER)", "", "nosort"),
        ("query", "SELECT a, 'x' FROM t1", "IT", "rowsort"),
        ("query", "SELECT 1.5", "R", "valuesort"),
    ]


@pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
def test_a_sample_of_sqllogictest_agrees_value_for_value() -> None:
    with tempfile.TemporaryDirectory(prefix="difftest-") as tmp:
        Path(tmp).chmod(0o777)
        pg = start_pg(Path(tmp))
        runner = Runner(pg, Path(tmp), timeout_s=10)
        try:
            tallies = []
            for name in ("select1", "random_aggregates"):
                raw = (slt.FILES / f"{name}.test.gz").read_bytes()
                records = slt.parse(gzip.decompress(raw).decode())[:150]
                tallies.append(slt.run_file(runner, name, records))
        finally:
            runner.close()
            pg.stop()
    values = sum(t.values for t in tallies)
    assert sum(t.queries for t in tallies) > 100
    assert sum(t.values_agree for t in tallies) >= 0.99 * values, [t.examples for t in tallies]
