"""The PyPI hatidata-agent SDK against hati."""

from __future__ import annotations

import pytest

hatidata_agent = pytest.importorskip("hatidata_agent")


def test_execute_and_query(hati_server):
    agent = hatidata_agent.HatiDataAgent(
        host=hati_server.host, port=hati_server.port, agent_id="sdk-agent"
    )
    agent.execute("CREATE TABLE sdk (x INTEGER, y VARCHAR)")
    agent.execute("INSERT INTO sdk VALUES (1, 'a'), (2, 'b')")
    assert agent.query("SELECT * FROM sdk ORDER BY x") == [
        {"x": 1, "y": "a"},
        {"x": 2, "y": "b"},
    ]
    assert agent.query("SELECT y FROM sdk WHERE x = %s", (2,)) == [{"y": "b"}]
    assert agent.query("SELECT count(*) AS n FROM sdk WHERE y = %s", ("it's",)) == [{"n": 0}]
    # The agent id reaches the audit trail.
    rows = hati_server.query(
        "SELECT count(*) FROM hati_audit WHERE agent_id = 'sdk-agent' AND sql LIKE '%sdk%'"
    )
    assert rows[0][0] >= 4


def test_error_surfaces(hati_server):
    agent = hatidata_agent.HatiDataAgent(
        host=hati_server.host, port=hati_server.port, agent_id="sdk-agent"
    )
    with pytest.raises(Exception) as exc:
        agent.query("SELEC 1")
    assert "syntax" in str(exc.value).lower()
    assert agent.query("SELECT 1 AS one") == [{"one": 1}]
