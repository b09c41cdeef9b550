"""The everyday corpus on hati and on a real PostgreSQL, checked against the baseline.

Fails when a statement that agreed now disagrees, and also when a known disagreement
changes (or is fixed), so that ``baseline.tsv`` always says exactly where hati stands.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from difftest import baseline
from difftest.cli import BASELINE, corpus_scripts
from difftest.pgserver import pg_unavailable
from difftest.runner import Runner, run_files, start_pg

WHY_NOT = pg_unavailable()


@pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
def test_everyday_corpus_matches_the_baseline() -> None:
    scripts = corpus_scripts(())
    assert len(scripts) >= 15
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    with tempfile.TemporaryDirectory(prefix="difftest-") as tmp:
        pg = start_pg(Path(tmp))
        runner = Runner(pg, Path(tmp), timeout_s=10)
        try:
            results = run_files(runner, scripts, report=lambda _line: None)
        finally:
            runner.close()
            pg.stop()
    sent = sum(1 for fr in results for r in fr.results if r.verdict is not None)
    assert sent >= 500
    diffs = baseline.differences(baseline.read(BASELINE), results)
    assert not diffs, (
        f"{len(diffs)} statements differ from {BASELINE.name}:\n"
        + "\n".join(diffs)
        + f"\nIf the change is intended, regenerate it: {baseline.REGENERATE}"
    )
