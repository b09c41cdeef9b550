"""Branch tools for AutoGen agents, backed by one hati connection per agent.

Each :class:`HatiBranchTools` owns a single async psycopg 3 connection opened with
``-c hatidata_agent_id=<agent> -c hatidata_framework=autogen`` so the server can
attribute every statement (and branch it creates) to the agent that ran it. The tool
methods are plain ``async`` functions with typed arguments; :meth:`HatiBranchTools.tools`
wraps them as AutoGen ``FunctionTool`` objects for ``AssistantAgent(tools=...)``.

Tools never raise into the chat: SQL errors, unknown branches and lost connections
come back as ``ERROR <SQLSTATE>: ...`` text, so the model can read the problem and try
again. Programs that want exceptions and raw rows use :meth:`HatiBranchTools.fetch`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import psycopg
from autogen_core.tools import FunctionTool

from ._format import format_diff, format_error, format_status, format_table

MergeStrategy = Literal["branch_wins", "main_wins", "manual", "abort"]
"""How ``merge_branch`` resolves rows changed both in main and in the branch."""

TOOL_NAMES: tuple[str, ...] = (
    "run_sql",
    "create_branch",
    "query_branch",
    "diff_branch",
    "compare_branches",
    "merge_branch",
    "discard_branch",
    "list_branches",
    "show_conflicts",
    "resolve_conflict",
)
"""Every tool :meth:`HatiBranchTools.tools` can hand out, in a stable order."""


@dataclass(frozen=True)
class QueryResult:
    """Rows and command tag of one statement, as plain Python values."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    status: str | None = None
    rowcount: int = -1
    returns_rows: bool = field(default=True)

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as ``{column: value}`` dicts (the shape most callers want)."""
        return [dict(zip(self.columns, row, strict=False)) for row in self.rows]

    @property
    def is_status(self) -> bool:
        """True for ``branch_query`` of a non-row statement (one status/rows_affected row)."""
        return self.columns == ["status", "rows_affected"] and len(self.rows) == 1


def _escape_option(value: str) -> str:
    """Escape a value for the libpq ``options`` string (space separates arguments)."""
    return value.replace("\\", "\\\\").replace(" ", "\\ ")


class HatiBranchTools:
    """Async SQL and branch tools for one AutoGen agent.

    One instance per agent: it lazily opens one autocommit connection tagged with
    ``agent_id`` and serialises its own statements on it, so concurrent tool calls from
    one model response are safe, while different agents (different instances) really
    run in parallel on the server. Use ``async with`` or :meth:`close` to release it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5439,
        agent_id: str = "autogen-agent",
        *,
        framework: str = "autogen",
        user: str = "agent",
        dbname: str = "hatidata",
        password: str | None = None,
        max_rows: int = 50,
        max_cell: int = 80,
        connect_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.agent_id = agent_id
        self.framework = framework
        self.user = user
        self.dbname = dbname
        self.password = password
        self.max_rows = max_rows
        self.max_cell = max_cell
        self.connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()

    # -- connection -------------------------------------------------------------

    @property
    def options(self) -> str:
        """The startup ``options`` that tag this connection's statements with the agent."""
        return (
            f"-c hatidata_agent_id={_escape_option(self.agent_id)} "
            f"-c hatidata_framework={_escape_option(self.framework)}"
        )

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """Open the agent's connection now (otherwise the first tool call opens it)."""
        async with self._lock:
            return await self._ensure_conn()

    async def _ensure_conn(self) -> psycopg.AsyncConnection[Any]:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._conn = None
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
            "options": self.options,
            "application_name": f"hati-autogen:{self.agent_id}"[:63],
            "autocommit": True,
            "connect_timeout": max(1, int(self.connect_timeout)),
        }
        if self.password is not None:
            kwargs["password"] = self.password
        self._conn = await psycopg.AsyncConnection.connect(**kwargs)
        return self._conn

    async def close(self) -> None:
        """Close the agent's connection; a later tool call reopens it."""
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.closed:
                await conn.close()

    async def __aenter__(self) -> HatiBranchTools:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- raw access for programs --------------------------------------------------

    async def fetch(self, sql: str, params: Sequence[Any] | None = None) -> QueryResult:
        """Run one statement and return its rows; raises ``psycopg.Error`` on failure.

        For code around the agents (reports, tests). With ``params`` the SQL uses
        ``%s`` placeholders and is sent with the extended protocol.
        """
        results = await self._execute(sql, params, all_results=False)
        return results[-1]

    async def _execute(
        self, sql: str, params: Sequence[Any] | None, *, all_results: bool
    ) -> list[QueryResult]:
        async with self._lock:
            conn = await self._ensure_conn()
            try:
                async with conn.cursor() as cur:
                    await cur.execute(sql, params)
                    results: list[QueryResult] = []
                    while True:
                        results.append(await self._collect(cur))
                        if not all_results or not cur.nextset():
                            break
                    return results
            except psycopg.OperationalError:
                # A dropped connection: forget it so the next call reconnects.
                if conn.broken or conn.closed:
                    self._conn = None
                raise

    @staticmethod
    async def _collect(cur: psycopg.AsyncCursor[Any]) -> QueryResult:
        if cur.description is None:
            return QueryResult(
                columns=[],
                rows=[],
                status=cur.statusmessage,
                rowcount=cur.rowcount,
                returns_rows=False,
            )
        columns = [d.name for d in cur.description]
        rows = [tuple(r) for r in await cur.fetchall()]
        return QueryResult(
            columns=columns, rows=rows, status=cur.statusmessage, rowcount=cur.rowcount
        )

    def _render(self, result: QueryResult) -> str:
        if not result.returns_rows:
            return format_status(result.status, result.rowcount)
        if result.is_status:
            status, affected = result.rows[0]
            return format_status(status, int(affected) if affected is not None else None)
        return format_table(
            result.columns, result.rows, max_rows=self.max_rows, max_cell=self.max_cell
        )

    async def _branch_call(self, sql: str, *params: Any) -> QueryResult:
        results = await self._execute(sql, params, all_results=False)
        return results[-1]

    # -- tools (the docstrings are what the model reads) ---------------------------

    async def run_sql(
        self,
        sql: Annotated[
            str, "One or more SQL statements (DuckDB/PostgreSQL dialect) to run on main."
        ],
    ) -> str:
        """Run SQL directly on the shared MAIN state (not in a branch) and return the result.

        Use it to create tables, write the agreed baseline, or read the current state
        of main. Changes are committed immediately and are visible to every agent, so
        do experiments in a branch instead (create_branch + query_branch). Several
        statements separated by ';' are allowed; execution stops at the first error. Returns a text table (truncated to the
        first rows) or 'OK: <command tag>', or 'ERROR <SQLSTATE>: ...' on failure.
        """
        try:
            results = await self._execute(sql, None, all_results=True)
        except Exception as exc:  # noqa: BLE001 - the model must see the error, not a crashed chat
            return format_error(exc)
        return "\n".join(self._render(r) for r in results)

    async def create_branch(
        self,
        name: Annotated[str, "New branch name: letters, digits, '_', '.', '-' (max 63 chars)."],
        parent: Annotated[str | None, "Branch to fork from; omit (null) to fork from main."] = None,
    ) -> str:
        """Create an isolated branch: a snapshot of main (or of `parent`) you can change freely.

        Creating a branch copies no data and is instant. Writes in the branch are
        invisible to main and to other branches until merge_branch. Fails with 42710 if
        the name is taken and 22023 if the name is invalid.
        """
        try:
            if parent:
                await self._branch_call("SELECT branch_create(%s, %s)", name, parent)
            else:
                await self._branch_call("SELECT branch_create(%s)", name)
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        return (
            f"Created branch '{name}' from {parent or 'main'}. Read or write it with "
            f"query_branch('{name}', sql); main is unchanged until merge_branch('{name}')."
        )

    async def query_branch(
        self,
        branch: Annotated[str, "Name of an existing branch."],
        sql: Annotated[
            str, "One SQL statement; unqualified table names resolve inside the branch."
        ],
    ) -> str:
        """Run one SQL statement INSIDE a branch (SELECT, INSERT, UPDATE, DELETE, CREATE TABLE...).

        The branch sees main as it was when the branch was created plus its own writes;
        nothing here touches main or other branches. A SELECT returns its rows as a
        text table; other statements return 'OK: <command tag> (n rows affected)'.
        Unknown branch gives ERROR 42704; SQL errors keep their own SQLSTATE.
        """
        try:
            result = await self._branch_call("SELECT branch_query(%s, %s)", branch, sql)
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        return self._render(result)

    async def diff_branch(
        self,
        branch: Annotated[str, "Name of an existing branch."],
    ) -> str:
        """Show what a branch changed compared with main at the moment it was forked.

        One line per changed row: table, change (insert/delete/update) and the row as
        JSON; updates show 'column: old → new'. Tables without a primary key show an
        UPDATE as a delete plus an insert. Use it to judge a branch before merging.
        """
        try:
            result = await self._branch_call("SELECT * FROM branch_diff(%s)", branch)
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        if not result.rows:
            return f"Branch '{branch}' has no changes compared with main."
        if result.columns[:5] != ["table_name", "change", "key", "old_values", "new_values"]:
            return f"Changes in branch '{branch}':\n" + self._render(result)
        return f"Changes in branch '{branch}':\n" + format_diff(result.rows, max_rows=self.max_rows)

    async def compare_branches(
        self,
        branches: Annotated[list[str], "Branch names to compare, e.g. ['plan-a', 'plan-b']."],
        sql: Annotated[str, "A read-only query (e.g. totals) to run in main and in each branch."],
        include_main: Annotated[bool, "Also run the query on main, as the baseline."] = True,
    ) -> str:
        """Run the same read-only query in main and in several branches, one section each.

        The quickest way to compare competing plans side by side, for example
        'SELECT SUM(replicas) AS total_replicas FROM deploy_config'.
        """
        sections: list[str] = []
        targets = [(True, "main")] if include_main else []
        targets += [(False, b) for b in branches]
        for on_main, target in targets:
            try:
                if on_main:
                    result = (await self._execute(sql, None, all_results=False))[-1]
                else:
                    result = await self._branch_call("SELECT branch_query(%s, %s)", target, sql)
                body = self._render(result)
            except Exception as exc:  # noqa: BLE001 - reported to the model as text
                body = format_error(exc)
            sections.append(f"== {target} ==\n{body}")
        return "\n".join(sections)

    async def merge_branch(
        self,
        branch: Annotated[str, "Name of the branch to merge into main."],
        strategy: Annotated[
            MergeStrategy,
            "Conflict policy: branch_wins (branch version wins), main_wins (keep main), "
            "manual (only with recorded resolutions), abort (fail on any conflict).",
        ] = "branch_wins",
    ) -> str:
        """Merge a branch's changes into main (three-way merge) and retire the branch.

        Rows changed only in the branch are applied to main. Rows changed in both are
        conflicts, settled by `strategy`. Returns counts of inserted, updated and
        deleted rows. With status 'conflicts' nothing was applied: inspect them with
        show_conflicts, then merge again with another strategy or resolve_conflict.
        """
        try:
            result = await self._branch_call("SELECT branch_merge(%s, %s)", branch, strategy)
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        rows = result.dicts()
        if len(rows) != 1 or "status" not in rows[0]:
            return self._render(result)
        r = rows[0]
        counts = (
            f"{r.get('inserted', 0)} inserted, {r.get('updated', 0)} updated, "
            f"{r.get('deleted', 0)} deleted, {r.get('conflicts', 0)} conflicts"
        )
        if r["status"] == "merged":
            return f"Merged branch '{branch}' into main with {strategy}: {counts}. The branch is retired."
        return (
            f"Merge of '{branch}' NOT applied (status {r['status']}): {counts}. "
            f"Use show_conflicts('{branch}') and resolve_conflict(...), or merge with "
            "branch_wins / main_wins."
        )

    async def discard_branch(
        self,
        branch: Annotated[str, "Name of the branch to throw away."],
    ) -> str:
        """Discard a branch and all of its changes; main is untouched. Frees its storage."""
        try:
            await self._branch_call("SELECT branch_discard(%s)", branch)
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        return f"Discarded branch '{branch}'."

    async def list_branches(self) -> str:
        """List live branches (name, parent, creator agent, rows changed, expiry)."""
        try:
            result = await self._branch_call("SELECT * FROM branch_list()")
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        if not result.rows:
            return "No live branches."
        return self._render(result)

    async def show_conflicts(
        self,
        branch: Annotated[str, "Name of an existing branch."],
    ) -> str:
        """Show rows changed both in main and in the branch since the fork (merge conflicts)."""
        try:
            result = await self._branch_call("SELECT * FROM branch_conflicts(%s)", branch)
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        if not result.rows:
            return f"Branch '{branch}' has no conflicts with main."
        return self._render(result)

    async def resolve_conflict(
        self,
        branch: Annotated[str, "Name of the branch being merged."],
        table: Annotated[str, "Table of the conflicting row, as shown by show_conflicts."],
        key: Annotated[str, "Key of the conflicting row, exactly as shown by show_conflicts."],
        resolution: Annotated[
            str, "'main', 'branch', or a JSON object with the column values to keep."
        ],
    ) -> str:
        """Record how to settle one conflicting row; used by the next merge_branch(..., 'manual')."""
        if resolution not in ("main", "branch"):
            try:
                json.loads(resolution)
            except ValueError:
                return "ERROR 22023: resolution must be 'main', 'branch' or a JSON object"
        try:
            await self._branch_call(
                "SELECT branch_resolve(%s, %s, %s, %s)", branch, table, key, resolution
            )
        except Exception as exc:  # noqa: BLE001 - reported to the model as text
            return format_error(exc)
        return f"Recorded resolution '{resolution}' for {table} key {key} in branch '{branch}'."

    # -- AutoGen glue -------------------------------------------------------------

    def callables(self, include: Iterable[str] | None = None) -> list[Any]:
        """The tool methods as plain async callables (AutoGen wraps them itself)."""
        names = list(include) if include is not None else list(TOOL_NAMES)
        unknown = [n for n in names if n not in TOOL_NAMES]
        if unknown:
            raise ValueError(
                f"unknown hati tool(s): {', '.join(unknown)}; choose from {TOOL_NAMES}"
            )
        return [getattr(self, n) for n in names]

    def tools(self, include: Iterable[str] | None = None) -> list[FunctionTool]:
        """The tools as AutoGen ``FunctionTool`` objects, ready for ``AssistantAgent(tools=...)``.

        ``include`` limits what an agent may do, e.g. explorers get only
        ``["create_branch", "query_branch", "diff_branch"]`` so they cannot touch main.
        """
        out: list[FunctionTool] = []
        for fn in self.callables(include):
            doc = " ".join((fn.__doc__ or fn.__name__).split())
            out.append(FunctionTool(fn, description=doc, name=fn.__name__))
        return out

    def __repr__(self) -> str:
        return f"HatiBranchTools(host={self.host!r}, port={self.port}, agent_id={self.agent_id!r})"
