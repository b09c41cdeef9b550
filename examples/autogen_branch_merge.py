"""AutoGen group chat that explores two deployment plans in parallel branches and merges the best.

The tutorial's deployment-config problem, played by agents instead of a script:

* ``planner`` writes the baseline ``deploy_config`` table on main;
* ``explorer_horizontal`` and ``explorer_vertical`` run AT THE SAME TIME (a GraphFlow
  fan-out), each in its own branch: more replicas + a cache layer, versus bigger
  ml-inference pods + an eu-west-1 copy;
* ``scoreboard`` (no model, plain code) snapshots main and every branch;
* ``judge`` reads the branch diffs and totals, merges the winner with ``branch_wins``
  and discards the rest.

Every agent has its own hati connection tagged with its name, so the server's audit
table (``SELECT * FROM hati_audit``) shows who ran what, in which branch, and when.

Runs offline by default: each agent's "model" is AutoGen's ReplayChatCompletionClient
playing scripted tool calls, so no API key is needed. With ``OPENAI_API_KEY`` set (and
optionally ``OPENAI_BASE_URL``, ``--model``) real models make the decisions.

    hati init
    python examples/autogen_branch_merge.py --host 127.0.0.1 --port 5439
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from autogen_agentchat.agents import AssistantAgent, BaseChatAgent
from autogen_agentchat.base import Response, TaskResult
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.messages import (
    BaseAgentEvent,
    BaseChatMessage,
    TextMessage,
    ThoughtEvent,
    ToolCallExecutionEvent,
    ToolCallRequestEvent,
    ToolCallSummaryMessage,
)
from autogen_agentchat.teams import DiGraphBuilder, GraphFlow
from autogen_core import EVENT_LOGGER_NAME, CancellationToken, FunctionCall
from autogen_core.models import ChatCompletionClient, CreateResult, ModelInfo, RequestUsage
from autogen_ext.models.replay import ReplayChatCompletionClient
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hati.integrations.autogen import HatiBranchTools

DEFAULT_MODEL = "gpt-4o-mini"
HORIZONTAL = "horizontal-scale"
VERTICAL = "vertical-scale"
EXPLORERS = {"explorer_horizontal": HORIZONTAL, "explorer_vertical": VERTICAL}
SNAPSHOT_SQL = (
    "SELECT service, replicas, cpu_limit, memory_limit, region FROM deploy_config "
    "ORDER BY service, region"
)
TOTALS_SQL = (
    "SELECT COUNT(*) AS services, SUM(replicas) AS total_replicas, "
    "SUM(replicas * CAST(REPLACE(cpu_limit, 'm', '') AS INTEGER)) AS total_cpu_millicores "
    "FROM deploy_config"
)
TASK = (
    "Our deployment config (table deploy_config: service, replicas, cpu_limit, memory_limit, "
    "region) must absorb 3x peak traffic on ml-inference. Planner: write the baseline on main. "
    "Explorers: try your strategy in your own branch only. Judge: compare the branches, merge "
    "the most efficient plan (fewest total replicas and CPU) with branch_wins, discard the rest."
)

# --------------------------------------------------------------------------------------
# Agents' instructions (used verbatim by a real model; the offline script follows them).

PLANNER_PROMPT = """You are the planner. Write the baseline deployment config on MAIN with run_sql:
CREATE TABLE deploy_config (service VARCHAR, replicas INTEGER, cpu_limit VARCHAR,
memory_limit VARCHAR, region VARCHAR) (drop it first if it exists) holding
('api-gateway', 3, '500m', '512Mi', 'us-east-1'), ('ml-inference', 2, '2000m', '4Gi', 'us-east-1'),
('data-pipeline', 1, '1000m', '2Gi', 'us-east-1'). Read it back, then hand over to the explorers
in one short message. Never create branches yourself."""

EXPLORER_PROMPT = """You are {name}. Explore ONE strategy in your own branch '{branch}' and never
touch main or other branches. Steps: create_branch('{branch}'); apply the strategy with
query_branch('{branch}', ...) one statement at a time; read the totals with
query_branch('{branch}', "{totals}"). Strategy: {strategy}
Finish with a two-line summary of what you changed and the totals. Do not merge."""

STRATEGIES = {
    HORIZONTAL: "horizontal scaling: triple every service's replicas and add a "
    "('cache-layer', 6, '250m', '256Mi', 'us-east-1') service.",
    VERTICAL: "vertical scaling: give ml-inference cpu_limit '4000m' and memory_limit '8Gi', "
    "then add a copy of it in eu-west-1 ('ml-inference', 2, '4000m', '8Gi', 'eu-west-1').",
}

JUDGE_PROMPT = """You are the judge. The explorers worked in branches {branches}.
1. diff_branch each branch. 2. compare_branches with "{totals}".
3. Pick the plan that adds ml-inference capacity with the fewest total replicas and CPU;
merge it with merge_branch(name, 'branch_wins') and discard_branch every other branch.
4. list_branches to confirm none is left. End with your decision and the word TERMINATE."""


# --------------------------------------------------------------------------------------
# Offline "models": one scripted ReplayChatCompletionClient per agent.

_call_ids = itertools.count(1)


def _turn(thought: str, *calls: tuple[str, dict[str, Any]]) -> CreateResult:
    """One model response asking for tool calls (several calls run concurrently)."""
    return CreateResult(
        finish_reason="function_calls",
        content=[
            FunctionCall(id=f"call_{next(_call_ids)}", name=name, arguments=json.dumps(args))
            for name, args in calls
        ],
        usage=RequestUsage(prompt_tokens=0, completion_tokens=0),
        cached=False,
        thought=thought,
    )


def scripted_responses() -> dict[str, list[str | CreateResult]]:
    """What each agent's replay model says, turn by turn: the tutorial's decisions."""
    h, v = HORIZONTAL, VERTICAL
    return {
        "planner": [
            _turn(
                "Start from a clean baseline table on main.",
                (
                    "run_sql",
                    {
                        "sql": (
                            "DROP TABLE IF EXISTS deploy_config; "
                            "CREATE TABLE deploy_config (service VARCHAR, replicas INTEGER, "
                            "cpu_limit VARCHAR, memory_limit VARCHAR, region VARCHAR)"
                        )
                    },
                ),
            ),
            _turn(
                "Insert the three current services.",
                (
                    "run_sql",
                    {
                        "sql": (
                            "INSERT INTO deploy_config VALUES "
                            "('api-gateway', 3, '500m', '512Mi', 'us-east-1'), "
                            "('ml-inference', 2, '2000m', '4Gi', 'us-east-1'), "
                            "('data-pipeline', 1, '1000m', '2Gi', 'us-east-1')"
                        )
                    },
                ),
            ),
            _turn("Read the baseline back.", ("run_sql", {"sql": SNAPSHOT_SQL})),
            "Baseline is on main: 3 services, 6 replicas, all in us-east-1. "
            f"explorer_horizontal: try '{h}'. explorer_vertical: try '{v}'.",
        ],
        "explorer_horizontal": [
            _turn(f"My own branch first: '{h}'.", ("create_branch", {"name": h})),
            _turn(
                "Triple the replicas everywhere.",
                (
                    "query_branch",
                    {"branch": h, "sql": "UPDATE deploy_config SET replicas = replicas * 3"},
                ),
            ),
            _turn(
                "Add a cache layer in front.",
                (
                    "query_branch",
                    {
                        "branch": h,
                        "sql": (
                            "INSERT INTO deploy_config VALUES "
                            "('cache-layer', 6, '250m', '256Mi', 'us-east-1')"
                        ),
                    },
                ),
            ),
            _turn(
                "Measure the cost of the plan.", ("query_branch", {"branch": h, "sql": TOTALS_SQL})
            ),
            f"Horizontal plan in '{h}': replicas x3 on every service plus a 6-replica "
            "cache-layer. Totals: 4 services, 24 replicas, 21000m CPU.",
        ],
        "explorer_vertical": [
            _turn(f"My own branch first: '{v}'.", ("create_branch", {"name": v})),
            _turn(
                "Give ml-inference bigger pods.",
                (
                    "query_branch",
                    {
                        "branch": v,
                        "sql": (
                            "UPDATE deploy_config SET cpu_limit = '4000m', memory_limit = '8Gi' "
                            "WHERE service = 'ml-inference'"
                        ),
                    },
                ),
            ),
            _turn(
                "Add a second region for ml-inference.",
                (
                    "query_branch",
                    {
                        "branch": v,
                        "sql": (
                            "INSERT INTO deploy_config VALUES "
                            "('ml-inference', 2, '4000m', '8Gi', 'eu-west-1')"
                        ),
                    },
                ),
            ),
            _turn(
                "Measure the cost of the plan.", ("query_branch", {"branch": v, "sql": TOTALS_SQL})
            ),
            f"Vertical plan in '{v}': ml-inference at 4000m/8Gi, plus a copy in eu-west-1. "
            "Totals: 4 rows, 8 replicas, 18500m CPU.",
        ],
        "judge": [
            _turn(
                "What did each explorer change?",
                ("diff_branch", {"branch": h}),
                ("diff_branch", {"branch": v}),
            ),
            _turn(
                "Compare the totals side by side.",
                ("compare_branches", {"branches": [h, v], "sql": TOTALS_SQL}),
            ),
            _turn(
                f"'{v}' adds ml-inference capacity in two regions with 8 replicas instead of 24. "
                "Merge it, drop the other.",
                ("merge_branch", {"branch": v, "strategy": "branch_wins"}),
                ("discard_branch", {"branch": h}),
            ),
            _turn("Check that nothing is left behind.", ("list_branches", {})),
            f"Decision: merged '{v}' (8 replicas, 18500m CPU, ml-inference in two regions) "
            f"with branch_wins; discarded '{h}' (24 replicas, 21000m CPU). TERMINATE",
        ],
    }


_REPLAY_INFO = ModelInfo(
    vision=False,
    function_calling=True,
    json_output=False,
    family="unknown",
    structured_output=False,
)


def offline_clients() -> dict[str, ChatCompletionClient]:
    """A fresh replay client per agent, so each agent plays its own script."""
    return {
        name: ReplayChatCompletionClient(script, model_info=_REPLAY_INFO)
        for name, script in scripted_responses().items()
    }


def openai_clients(
    model: str, api_key: str, base_url: str | None
) -> dict[str, ChatCompletionClient]:
    """One real OpenAI-compatible client shared by every agent."""
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    kwargs: dict[str, Any] = {"model": model, "api_key": api_key}
    if base_url:
        kwargs["base_url"] = base_url
        kwargs["model_info"] = ModelInfo(
            vision=False,
            function_calling=True,
            json_output=False,
            family="unknown",
            structured_output=False,
        )
    client = OpenAIChatCompletionClient(**kwargs)
    return dict.fromkeys(["planner", *EXPLORERS, "judge"], client)


# --------------------------------------------------------------------------------------
# The scoreboard: a model-free agent that snapshots main and every branch.


class Scoreboard(BaseChatAgent):
    """Snapshots main and each explorer branch once the explorers are done.

    Plain code, no model: it gives the judge (and the printed comparison table) the same
    numbers whatever the model decided, and it must run before the judge merges,
    because a merged or discarded branch is gone.
    """

    def __init__(self, tools: HatiBranchTools, explorers: Sequence[str]) -> None:
        super().__init__("scoreboard", description="Snapshots main and every branch.")
        self._tools = tools
        self._explorers = set(explorers)
        self.snapshots: dict[str, list[dict[str, Any]]] = {}

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def _branches(self) -> list[str]:
        listed = (await self._tools.fetch("SELECT * FROM branch_list()")).dicts()
        mine = [b for b in listed if b.get("created_by") in self._explorers]
        return sorted(str(b["name"]) for b in (mine or listed))

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        self.snapshots = {"main": (await self._tools.fetch(SNAPSHOT_SQL)).dicts()}
        for branch in await self._branches():
            result = await self._tools.fetch("SELECT branch_query(%s, %s)", [branch, SNAPSHOT_SQL])
            self.snapshots[branch] = result.dicts()
        lines = ["Scoreboard (rows / replicas / CPU millicores):"]
        for name, rows in self.snapshots.items():
            replicas, cpu = totals(rows)
            lines.append(f"  {name}: {len(rows)} / {replicas} / {cpu}m")
        return Response(chat_message=TextMessage(content="\n".join(lines), source=self.name))

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        self.snapshots = {}


def totals(rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Total replicas and CPU millicores of a deploy_config snapshot."""
    replicas = sum(int(r["replicas"]) for r in rows)
    cpu = sum(int(r["replicas"]) * int(str(r["cpu_limit"]).rstrip("m")) for r in rows)
    return replicas, cpu


# --------------------------------------------------------------------------------------
# The team.


@dataclass
class DemoResult:
    """What happened, for callers (``hati demo --agents``, tests) that check the outcome."""

    messages: list[BaseAgentEvent | BaseChatMessage] = field(default_factory=list)
    stop_reason: str | None = None
    snapshots: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    final_main: list[dict[str, Any]] = field(default_factory=list)
    branches_left: int = -1
    explorer_spans: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    merged: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    offline: bool = True
    _pending: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def explorers_overlapped(self) -> bool:
        """True when the explorers' branch statements overlapped in time (per hati_audit)."""
        spans = list(self.explorer_spans.values())
        if len(spans) < 2:
            return False
        return max(s for s, _ in spans) < min(e for _, e in spans)


def build_team(
    host: str, port: int, clients: dict[str, ChatCompletionClient]
) -> tuple[GraphFlow, dict[str, HatiBranchTools], Scoreboard]:
    """Planner → two explorers in parallel → scoreboard → judge, one connection per agent."""
    conns = {
        name: HatiBranchTools(host, port, agent_id=name)
        for name in ["planner", *EXPLORERS, "scoreboard", "judge"]
    }
    planner = AssistantAgent(
        "planner",
        clients["planner"],
        system_message=PLANNER_PROMPT,
        tools=conns["planner"].tools(["run_sql"]),
        max_tool_iterations=8,
        description="Writes the baseline on main.",
    )
    explorers = [
        AssistantAgent(
            name,
            clients[name],
            system_message=EXPLORER_PROMPT.format(
                name=name, branch=branch, totals=TOTALS_SQL, strategy=STRATEGIES[branch]
            ),
            tools=conns[name].tools(["create_branch", "query_branch", "diff_branch"]),
            max_tool_iterations=8,
            description=f"Explores {branch} in its own branch.",
        )
        for name, branch in EXPLORERS.items()
    ]
    scoreboard = Scoreboard(conns["scoreboard"], list(EXPLORERS))
    judge = AssistantAgent(
        "judge",
        clients["judge"],
        system_message=JUDGE_PROMPT.format(branches=list(EXPLORERS.values()), totals=TOTALS_SQL),
        tools=conns["judge"].tools(
            [
                "diff_branch",
                "compare_branches",
                "query_branch",
                "merge_branch",
                "discard_branch",
                "list_branches",
                "show_conflicts",
            ]
        ),
        max_tool_iterations=8,
        description="Compares branches and merges the best.",
    )
    builder = DiGraphBuilder()
    for agent in [planner, *explorers, scoreboard, judge]:
        builder.add_node(agent)
    for explorer in explorers:
        builder.add_edge(planner, explorer)  # fan-out: both explorers start together
        builder.add_edge(explorer, scoreboard)  # fan-in: scoreboard waits for both
    builder.add_edge(scoreboard, judge)
    team = GraphFlow(
        builder.get_participants(),
        graph=builder.build(),
        termination_condition=TextMentionTermination("TERMINATE", sources=["judge"])
        | MaxMessageTermination(60),
    )
    return team, conns, scoreboard


def _bag(rows: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in rows)


def _note_outcomes(result: DemoResult, msg: BaseAgentEvent | BaseChatMessage) -> None:
    """Remember which merge/discard tool calls succeeded (from the judge's events)."""
    if isinstance(msg, ToolCallRequestEvent):
        for call in msg.content:
            result._pending[call.id] = (call.name, json.loads(call.arguments or "{}"))
    elif isinstance(msg, ToolCallExecutionEvent):
        for res in msg.content:
            name, args = result._pending.pop(res.call_id, ("", {}))
            if name == "merge_branch" and res.content.startswith("Merged"):
                result.merged.append(args["branch"])
            elif name == "discard_branch" and res.content.startswith("Discarded"):
                result.discarded.append(args["branch"])


async def _discard_leftovers(tools: HatiBranchTools) -> None:
    """Drop the demo's branches left by an interrupted earlier run, so names are free."""
    listed = (await tools.fetch("SELECT * FROM branch_list()")).dicts()
    for row in listed:
        if row.get("name") in EXPLORERS.values():
            await tools.fetch("SELECT branch_discard(%s)", [row["name"]])


async def _explorer_spans(tools: HatiBranchTools) -> dict[str, tuple[datetime, datetime]]:
    """First start and last finish of each explorer's statements, from the server's audit."""
    result = await tools.fetch(
        "SELECT agent_id, MIN(started_at) AS first_start, MAX(finished_at) AS last_finish "
        "FROM hati_audit WHERE agent_id IN (%s, %s) GROUP BY agent_id",
        list(EXPLORERS),
    )
    return {str(r["agent_id"]): (r["first_start"], r["last_finish"]) for r in result.dicts()}


async def main(
    host: str = "127.0.0.1",
    port: int = 5439,
    *,
    model: str | None = None,
    offline: bool | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    console: Console | None = None,
    clients: dict[str, ChatCompletionClient] | None = None,
) -> DemoResult:
    """Run the group chat against a hati server, print it, and return what happened.

    Offline (scripted replay models) unless an OpenAI key is given or found in
    ``OPENAI_API_KEY`` and ``offline`` is not True. ``clients`` overrides the models
    per agent name (planner, explorer_horizontal, explorer_vertical, judge).
    """
    console = console or Console()
    api_key = api_key or os.environ.get("OPENAI_API_KEY")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL")
    model = model or DEFAULT_MODEL
    use_offline = offline if offline is not None else not api_key
    if clients is not None:
        mode = "caller-supplied models"
    elif use_offline or not api_key:
        clients, mode = offline_clients(), "offline: scripted replay models"
    else:
        clients, mode = openai_clients(model, api_key, base_url), f"model {model}"
    if any(isinstance(c, ReplayChatCompletionClient) for c in clients.values()):
        # The replay client logs a warning for every tool message it "tokenizes": noise here.
        logging.getLogger(EVENT_LOGGER_NAME).setLevel(logging.ERROR)
    result = DemoResult(offline=mode.startswith("offline"))

    team, conns, scoreboard = build_team(host, port, clients)
    try:
        await _discard_leftovers(conns["judge"])
        console.rule(f"[bold]AutoGen group chat on hati {host}:{port} ({mode})")
        async for item in team.run_stream(task=TASK):
            if isinstance(item, TaskResult):
                result.stop_reason = item.stop_reason
                continue
            result.messages.append(item)
            print_message(console, item)
            _note_outcomes(result, item)
        result.snapshots = dict(scoreboard.snapshots)
        result.final_main = (await conns["judge"].fetch(SNAPSHOT_SQL)).dicts()
        result.branches_left = len((await conns["judge"].fetch("SELECT * FROM branch_list()")).rows)
        result.explorer_spans = await _explorer_spans(conns["judge"])
    finally:
        for tools in conns.values():
            await tools.close()
        for client in {id(c): c for c in clients.values()}.values():
            await client.close()

    console.print(comparison_table(result))
    same = (
        _bag(result.final_main) == _bag(result.snapshots.get(result.merged[0], []))
        if result.merged
        else False
    )
    console.print(
        f"Merged: {', '.join(result.merged) or 'none'}; discarded: {', '.join(result.discarded) or 'none'}; "
        f"main now equals the merged branch: {'yes' if same else 'no'}"
    )
    for name, (start, end) in sorted(result.explorer_spans.items()):
        console.print(f"{name}: statements {_clock(start)} → {_clock(end)}")
    console.print(
        f"Explorers ran concurrently: {'yes' if result.explorers_overlapped else 'no'}. "
        f"Active branches: {result.branches_left}"
    )
    return result


# --------------------------------------------------------------------------------------
# Printing.

_STYLE = {
    "planner": "cyan",
    "explorer_horizontal": "magenta",
    "explorer_vertical": "green",
    "scoreboard": "yellow",
    "judge": "bold blue",
    "user": "white",
}


def _clip(text: str, lines: int = 14) -> str:
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return "\n".join([*parts[:lines], f"… ({len(parts) - lines} more lines)"])


def print_message(console: Console, msg: BaseAgentEvent | BaseChatMessage) -> None:
    """A chat message or tool event, prefixed and coloured by agent (explorers interleave)."""
    who = Text(f"[{msg.source}] ", style=_STYLE.get(msg.source, "white"))
    if isinstance(msg, ThoughtEvent):
        console.print(who + Text(msg.content, style="italic"))
    elif isinstance(msg, ToolCallRequestEvent):
        for call in msg.content:
            args = ", ".join(f"{k}={v!r}" for k, v in json.loads(call.arguments or "{}").items())
            console.print(who + Text(f"→ {call.name}({args})", style="dim"))
    elif isinstance(msg, ToolCallExecutionEvent):
        for res in msg.content:
            body = _clip(res.content)
            style = "red" if body.startswith("ERROR") else "dim"
            console.print(
                who + Text("← ", style=style) + Text(body.replace("\n", "\n    "), style=style)
            )
    elif isinstance(msg, ToolCallSummaryMessage):
        pass  # the execution event above already showed the results
    elif isinstance(msg, BaseChatMessage):
        console.print(who + Text(msg.to_text(), style="bold"))


def _cell(row: dict[str, Any]) -> str:
    return f"{row['replicas']}× {row['cpu_limit']}/{row['memory_limit']}"


def comparison_table(result: DemoResult) -> Table:
    """Side by side: main before the merge and each branch as its explorer left it."""
    columns = dict(result.snapshots)
    views: list[tuple[str, list[dict[str, Any]]]] = [("main", columns.pop("main", []))]
    views += sorted(columns.items())
    keyed: list[dict[tuple[str, str, int], dict[str, Any]]] = []
    keys: dict[tuple[str, str, int], None] = {}
    for _, rows in views:
        seen: dict[tuple[str, str], int] = {}
        mapping = {}
        for row in rows:  # the table has no key and may repeat (service, region)
            base = (str(row["service"]), str(row["region"]))
            n = seen.get(base, 0)
            seen[base] = n + 1
            mapping[(*base, n)] = row
            keys.setdefault((*base, n), None)
        keyed.append(mapping)
    table = Table(title="deploy_config: main vs. branches", show_edge=False)
    table.add_column("service")
    table.add_column("region")
    for name, _ in views:
        table.add_column(name, justify="right")
    for key in sorted(keys):
        table.add_row(key[0], key[1], *[_cell(m[key]) if key in m else "—" for m in keyed])
    table.add_section()
    table.add_row(
        Text("total replicas", style="bold"), "", *[str(totals(rows)[0]) for _, rows in views]
    )
    table.add_row(
        Text("total CPU", style="bold"), "", *[f"{totals(rows)[1]}m" for _, rows in views]
    )
    verdicts = [
        "baseline"
        if i == 0
        else "✓ merged"
        if name in result.merged
        else "✗ discarded"
        if name in result.discarded
        else "kept"
        for i, (name, _) in enumerate(views)
    ]
    table.add_row(Text("judge", style="bold"), "", *verdicts)
    return table


def _clock(value: Any) -> str:
    return value.strftime("%H:%M:%S.%f")[:-3] if isinstance(value, datetime) else str(value)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HATI_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HATI_PORT", "5439")))
    parser.add_argument(
        "--model",
        default=os.environ.get("OPENAI_MODEL", DEFAULT_MODEL),
        help="model for the real (non-offline) run",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="use the scripted replay models even if OPENAI_API_KEY is set",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse_args(sys.argv[1:])
    asyncio.run(main(args.host, args.port, model=args.model, offline=args.offline or None))
