"""The quick benchmark runs every system end to end and produces numbers.

It checks that each system ran (or, for PostgreSQL only, was skipped with a reason
because its binaries are missing) and that every workload left a record with
numbers. It never checks a timing: ratios are reported, not asserted.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from benchmarks.systems import ALL_SYSTEMS  # noqa: E402
from benchmarks.workloads import ALL_WORKLOADS  # noqa: E402

MAY_SKIP = {"pg_template", "pg_schema"}  # only when the server binaries are absent


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "run", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "quick.json").read_text()), out


def _numbers(rec: dict) -> bool:
    vals = [v for k, v in rec["stats"].items() if k != "n"]
    return rec["stats"].get("n", 0) > 0 and all(
        isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in vals
    )


@pytest.mark.timeout(900)
def test_every_system_ran_or_was_skipped_for_a_reason(quick_run: tuple[dict, Path]) -> None:
    data, _ = quick_run
    systems = data["meta"]["systems"]
    for cls in ALL_SYSTEMS:
        meta = systems[cls.key]
        assert "failed" not in meta, (cls.key, meta.get("failed"))
        if "skipped" in meta:
            assert cls.key in MAY_SKIP, (cls.key, meta["skipped"])
            assert "PostgreSQL" in meta["skipped"] or "postgres" in meta["skipped"]


@pytest.mark.timeout(900)
def test_every_workload_produced_numbers(quick_run: tuple[dict, Path]) -> None:
    data, _ = quick_run
    records = data["records"]
    ran = [k for k, m in data["meta"]["systems"].items() if "skipped" not in m]
    failed = [
        (r["system"], r["workload"], r["note"])
        for r in records
        if r["status"] in ("failed", "timeout")
    ]
    assert not failed, failed
    for key in ran:
        for w in ALL_WORKLOADS:
            recs = [r for r in records if r["system"] == key and r["workload"] == w.KEY]
            assert recs, f"{key} has no {w.KEY} record"
            if w.KEY == "correctness":
                assert any(r["correct"] is not None for r in recs), (key, recs)
                continue
            if all(r["status"] == "unsupported" for r in recs):
                assert all(r["note"] for r in recs)  # says why
                continue
            if all(
                r["status"] == "skipped"
                and ("not run by --quick" in r["note"] or "not run for this system" in r["note"])
                for r in recs
            ):
                continue  # the profile or the workload leaves this system out
            ok = [r for r in recs if r["status"] == "ok"]
            assert ok, (key, w.KEY, recs)
            if w.KEY == "disk":
                assert all(r["values"]["with_branch"]["file_bytes"] > 0 for r in ok)
            elif w.KEY == "disk_online":  # bytes, not timings
                assert all(r["values"]["with_branch_bytes"] > 0 for r in ok), (key, ok)
            else:
                assert any(_numbers(r) for r in ok), (key, w.KEY, ok)


@pytest.mark.timeout(900)
def test_hati_branching_is_correct_and_compared(quick_run: tuple[dict, Path]) -> None:
    data, _ = quick_run
    records = data["records"]
    checks = [
        r for r in records if r["system"] == "hati_psycopg2" and r["workload"] == "correctness"
    ]
    assert checks and all(r["correct"] for r in checks), [
        (r["param"], r["note"]) for r in checks if not r["correct"]
    ]
    # Ratios side by side: hati and at least one baseline measured in the same run.
    for wl in ("create_vs_rows", "merge", "roundtrip"):
        systems = {r["system"] for r in records if r["workload"] == wl and r["status"] == "ok"}
        assert "hati_psycopg2" in systems and len(systems) > 1, (wl, systems)
    assert data["meta"]["targets"], "SPEC targets were not evaluated"


@pytest.mark.timeout(900)
def test_report_files(quick_run: tuple[dict, Path]) -> None:
    data, out = quick_run
    md = (out / "RESULTS.md").read_text()
    for key, meta in data["meta"]["systems"].items():
        assert meta["label"] in md, key
    assert "SPEC §5 targets" in md
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    want = {"roundtrip.png", "create_vs_rows.png", "merge.png", "depth.png", "fetch.png"}
    assert want <= set(pngs), pngs
