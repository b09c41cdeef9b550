"""examples/autogen_branch_merge.py end to end: offline group chat against a real server.

Asserts on the database, not on the transcript: the winner's changes are in main, the
loser's are not, no branch is left, and the two explorers' writes ran at the same time
in their own branches (from the server's audit table).
"""

from __future__ import annotations

import asyncio
import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest

pytest.importorskip("autogen_agentchat")

from rich.console import Console

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "autogen_branch_merge.py"
EXPLORERS = {"explorer_horizontal": "horizontal-scale", "explorer_vertical": "vertical-scale"}


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("autogen_branch_merge", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def _run(server: Any) -> tuple[Any, str]:
    example = _load_example()
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False, color_system=None)
    result = asyncio.run(example.main(server.host, server.port, offline=True, console=console))
    return result, out.getvalue()


def _query(server: Any, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(
        host=server.host,
        port=server.port,
        user="agent",
        dbname="hatidata",
        autocommit=True,
        options="-c hatidata_agent_id=test-observer",
    ) as conn:
        return conn.execute(sql).fetchall()


def test_offline_group_chat_merges_the_winner(hati_server: Any) -> None:
    result, printed = _run(hati_server)

    rows = _query(
        hati_server,
        "SELECT service, replicas, cpu_limit, memory_limit, region FROM deploy_config "
        "ORDER BY service, region",
    )
    # The vertical plan (winner) is in main, as in the tutorial's final state.
    assert rows == [
        ("api-gateway", 3, "500m", "512Mi", "us-east-1"),
        ("data-pipeline", 1, "1000m", "2Gi", "us-east-1"),
        ("ml-inference", 2, "4000m", "8Gi", "eu-west-1"),
        ("ml-inference", 2, "4000m", "8Gi", "us-east-1"),
    ]
    # Nothing of the horizontal plan (loser) leaked: no cache layer, no tripled replicas.
    assert all(service != "cache-layer" for service, *_ in rows)
    assert sum(r[1] for r in rows) == 8
    # Merged and discarded: zero live branches.
    assert _query(hati_server, "SELECT * FROM branch_list()") == []

    assert result.merged == ["vertical-scale"] and result.discarded == ["horizontal-scale"]
    assert set(result.snapshots) == {"main", "horizontal-scale", "vertical-scale"}
    assert "deploy_config: main vs. branches" in printed
    assert "Active branches: 0" in printed
    assert "ERROR" not in printed


def test_explorers_wrote_concurrently_in_their_own_branches(hati_server: Any) -> None:
    # The server may be shared with other tests: only look at statements of this run.
    (before,) = _query(hati_server, "SELECT coalesce(max(seq), 0) FROM hati_audit")[0]
    _run(hati_server)
    audit = _query(
        hati_server,
        "SELECT agent_id, branch, sql, started_at, finished_at, outcome FROM hati_audit "
        f"WHERE seq > {int(before)} "
        "AND agent_id IN ('explorer_horizontal', 'explorer_vertical') ORDER BY started_at",
    )
    spans: dict[str, tuple[Any, Any]] = {}
    for agent, branch_name in EXPLORERS.items():
        mine = [r for r in audit if r[0] == agent]
        writes = [r for r in mine if any(w in r[2].upper() for w in ("UPDATE", "INSERT"))]
        assert len(writes) >= 2, (agent, mine)
        # Each explorer only ever touched its own branch, never main or the other branch.
        assert {r[1] for r in mine} == {branch_name}, (agent, {r[1] for r in mine})
        assert all(str(r[5]).lower() in ("ok", "success") for r in mine), mine
        spans[agent] = (min(r[3] for r in writes), max(r[4] for r in writes))

    (h_start, h_end), (v_start, v_end) = spans["explorer_horizontal"], spans["explorer_vertical"]
    # Overlapping intervals: each explorer started writing before the other had finished.
    assert max(h_start, v_start) < min(h_end, v_end), spans


def test_example_can_run_again_on_the_same_server(hati_server: Any) -> None:
    """A second run starts from a fresh baseline and ends in the same state."""
    _run(hati_server)
    result, _ = _run(hati_server)
    assert result.branches_left == 0
    assert result.merged == ["vertical-scale"]
    assert _query(hati_server, "SELECT SUM(replicas) FROM deploy_config") == [(8,)]
