"""The tools ``hati mcp`` offers: each one's name, title, JSON schema and description.

This module only declares them; what each tool does is in :mod:`.handlers`, and
:mod:`.server` joins the two. A description is written for the language model that
will call the tool: what it is for, what it returns, and examples of its arguments.
Every tool also takes an optional ``agent_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

DEFAULT_MAX_ROWS = 100

# -- argument schemas shared by several tools -------------------------------------------

_AGENT_ID = {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "description": "Optional: the agent this call acts for, recorded in hati_audit. "
    "Leave it out to use the MCP server's agent id.",
}
_MAX_ROWS = {
    "type": "integer",
    "minimum": 0,
    "maximum": 10000,
    "default": DEFAULT_MAX_ROWS,
    "description": f"Return at most this many rows (default {DEFAULT_MAX_ROWS}); "
    "'truncated' says whether there were more.",
}
_BRANCH = {
    "type": "string",
    "minLength": 1,
    "description": "Name of an existing branch (see branch_list).",
}
_PARAMS = {
    "type": "array",
    "items": {"type": ["string", "number", "integer", "boolean", "null"]},
    "description": "Values for the placeholders $1, $2, ... in sql, in order.",
}
_SQL = {"type": "string", "minLength": 1}
# branch_diff and branch_conflicts: a branch in, rows out, nothing changed.
_READ_BRANCH: dict[str, Any] = {
    "properties": {"branch": _BRANCH, "max_rows": _MAX_ROWS},
    "required": ("branch",),
    "read_only": True,
    "idempotent": True,
}


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the MCP client sees it (``tools/list``), without what it does."""

    name: str
    title: str
    description: str
    properties: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    read_only: bool = field(default=False, kw_only=True)
    destructive: bool = field(default=False, kw_only=True)
    idempotent: bool = field(default=False, kw_only=True)

    @property
    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {**self.properties, "agent_id": _AGENT_ID},
            "required": list(self.required),
            "additionalProperties": False,
        }

    def as_mcp(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                open_world_hint=False,
            ),
        )


# -- the tools, in the order tools/list gives them ------------------------------------------

_SPECS = (
    ToolSpec(
        "query",
        "Read main (SQL SELECT)",
        """Run one read-only SQL statement on main, the shared state, and return its rows.

Use it to look at data: SELECT (with WITH, JOIN, GROUP BY ...), VALUES, TABLE, SHOW
or EXPLAIN. It never changes anything: a statement that would write (INSERT, UPDATE,
CREATE ..., SELECT INTO, nextval, branch_create ...) is refused with SQLSTATE 25006.
To change main use execute; to try a change safely use branch_create + branch_query.
PostgreSQL syntax; $1, $2 ... placeholders take their values from params.

Returns {"columns": [...], "types": [...], "rows": [[...], ...], "row_count": n,
"truncated": false, "request_id": "..."}: rows are arrays in column order, at most
max_rows of them; truncated is true when there were more (narrow the query).

Examples:
  {"sql": "SELECT service, replicas FROM deploy_config ORDER BY service"}
  {"sql": "SELECT * FROM deploy_config WHERE region = $1", "params": ["us-east-1"]}
  {"sql": "SELECT agent_id, sql, outcome FROM hati_audit ORDER BY seq DESC LIMIT 5"}""",
        {
            "sql": {**_SQL, "description": "One read-only SQL statement."},
            "params": _PARAMS,
            "max_rows": _MAX_ROWS,
        },
        ("sql",),
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "execute",
        "Change main (SQL DDL/DML)",
        """Run SQL that changes main directly: CREATE TABLE, INSERT, UPDATE, DELETE, ALTER,
DROP ... Changes are committed at once and every agent sees them.

Prefer trying risky changes in a branch (branch_create + branch_query, then
branch_diff and branch_merge). Several statements separated by ';' run as one unit:
if one fails, none of them is kept (params then not allowed: one statement only).
Each call commits on its own; a BEGIN without COMMIT in the same call is rolled back.

Returns {"results": [...], "request_id": "..."}: one entry per statement, either
{"status": "INSERT 0 3", "rows_affected": 3} or, for statements that return rows
(RETURNING, SELECT), {"columns", "types", "rows", "row_count", "truncated"}.

Examples:
  {"sql": "CREATE TABLE deploy_config (service VARCHAR, replicas INTEGER, region VARCHAR)"}
  {"sql": "INSERT INTO deploy_config VALUES ($1, $2, $3)", "params": ["api", 3, "us-east-1"]}
  {"sql": "UPDATE deploy_config SET replicas = 2 WHERE service = 'api'; DELETE FROM deploy_config WHERE replicas = 0"}""",
        {
            "sql": {
                **_SQL,
                "description": "SQL to run on main: one statement, or several separated by ';'.",
            },
            "params": _PARAMS,
            "max_rows": _MAX_ROWS,
        },
        ("sql",),
        destructive=True,
    ),
    ToolSpec(
        "list_tables",
        "List main's tables",
        """List the tables and views of main, with how many columns each has.

Use it first to see what data exists, then describe_table for a table's columns.
hati_audit (a view) is the audit trail: one row per statement any agent ran.
A branch sees main's tables as they were when it was created, plus the tables it
created itself (branch_diff lists those as change "create_table").

Returns {"tables": [{"name": "deploy_config", "type": "table", "columns": 5}, ...]}.""",
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "describe_table",
        "Describe a table's columns",
        """Show a table's columns: name, type, whether it may be NULL, its default, and
whether it is part of the primary key (merges match rows by the primary key; a table
without one is merged by whole-row value).

With branch, describe the table as that branch sees it (names and types only), e.g.
a table the branch created or altered.

Returns {"table": "deploy_config", "columns": [{"name": "service", "type": "VARCHAR",
"nullable": true, "default": null, "primary_key": false}, ...], "primary_key": []}.

Examples: {"table": "deploy_config"}   {"table": "deploy_config", "branch": "plan-a"}""",
        {
            "table": {
                "type": "string",
                "minLength": 1,
                "description": "Table name (case-sensitive).",
            },
            "branch": {**_BRANCH, "description": "Optional: describe it as this branch sees it."},
        },
        ("table",),
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "branch_create",
        "Create a branch",
        """Create a branch: an isolated snapshot of main (or of another branch) that you can
change freely. Instant whatever the data size; nothing is copied until you write.

Writes in the branch (branch_query) are invisible to main and to other branches
until branch_merge. Names: letters, digits, '_', '.', '-' (at most 63), unique among
live branches (a taken name fails with 42710, a bad one with 22023). ttl_seconds
makes the branch expire (be discarded) after that many seconds.

Returns {"branch": "plan-a", "parent": "main"}.

Examples: {"name": "plan-a"}   {"name": "plan-a-v2", "parent": "plan-a"}
          {"name": "scratch", "ttl_seconds": 3600}""",
        {
            "name": {"type": "string", "minLength": 1, "description": "New branch name."},
            "parent": {**_BRANCH, "description": "Optional: branch to fork from (default main)."},
            "ttl_seconds": {
                "type": "integer",
                "minimum": 1,
                "description": "Optional: discard the branch after this many seconds.",
            },
        },
        ("name",),
    ),
    ToolSpec(
        "branch_query",
        "Run SQL in a branch",
        """Run one SQL statement inside a branch: SELECT, INSERT, UPDATE, DELETE, CREATE
TABLE, ALTER, DROP ... Table names resolve inside the branch. Main and other branches
are never touched, so this is the safe place to try changes.

The branch sees main as it was when the branch was created, plus its own writes.
An unknown branch fails with 42704; SQL errors keep their own SQLSTATE.

Returns, for a SELECT, {"columns", "types", "rows", "row_count", "truncated"}; for
other statements {"status": "UPDATE 3", "rows_affected": 3}.

Examples:
  {"branch": "plan-a", "sql": "UPDATE deploy_config SET replicas = replicas * 3"}
  {"branch": "plan-a", "sql": "SELECT service, replicas FROM deploy_config ORDER BY service"}""",
        {
            "branch": _BRANCH,
            "sql": {**_SQL, "description": "One SQL statement to run in the branch."},
            "max_rows": _MAX_ROWS,
        },
        ("branch", "sql"),
    ),
    ToolSpec(
        "branch_diff",
        "What a branch changed",
        """List what a branch changed compared with main as it was at the fork: one entry
per changed row, with the table, the change (insert, delete, update, or create_table /
drop_table / alter_table for schema changes), the row's key and its old and new values.

Use it to judge a branch before branch_merge. Tables without a primary key show an
UPDATE as a delete plus an insert (key is the whole row).

Returns {"branch": "plan-a", "changes": [{"table": "deploy_config", "change":
"update", "key": {...}, "old_values": {...}, "new_values": {...}}, ...], "count": n,
"truncated": false}.

Example: {"branch": "plan-a"}""",
        **_READ_BRANCH,
    ),
    ToolSpec(
        "branch_conflicts",
        "Rows changed in both main and a branch",
        """List merge conflicts with the row's base (at fork), main and branch versions, the
kind and the conflicting columns: a cell changed differently on both sides
("update/update"), a row one side deleted and the other updated ("update/delete":
main updated, "delete/update": main deleted), one key inserted on both sides with
different values ("insert/insert"), a merged row that would break a constraint
("unique", "foreign_key", "not_null", "check"), or a table dropped on one side and
changed on the other ("schema"). Different columns of one row changed on both sides
are not a conflict: they merge cell by cell.

Empty means branch_merge will apply cleanly. Otherwise choose a strategy for
branch_merge (branch_wins, main_wins, abort) or settle each row with branch_resolve
and merge with strategy "manual".

Returns {"branch": "plan-a", "conflicts": [{"table": "deploy_config", "key": {...},
"base_values": {...}, "main_values": {...}, "branch_values": {...}, "kind": "update/update",
"columns": ["replicas"]}], "count": n,
"truncated": false}.

Example: {"branch": "plan-a"}""",
        **_READ_BRANCH,
    ),
    ToolSpec(
        "branch_resolve",
        "Settle one merge conflict",
        """Record how one conflicting row is to be merged, for a later branch_merge with
strategy "manual": keep main's version ("main"; for a constraint conflict: leave the
branch's change of that row out), take the branch's ("branch"), or set column values
over the merged row (an object).

Only rows branch_conflicts lists can be resolved (others fail with 22023); copy
table and key from its output. The merge applies only once every conflict has a
resolution.

Returns {"branch", "table", "key", "resolution"}.

Examples:
  {"branch": "plan-a", "table": "deploy_config", "key": {"service": "api"}, "resolution": "branch"}
  {"branch": "plan-a", "table": "t", "key": {"id": 1}, "resolution": {"id": 1, "v": "merged"}}""",
        {
            "branch": _BRANCH,
            "table": {"type": "string", "minLength": 1, "description": "Table of the row."},
            "key": {
                "type": ["object", "string"],
                "description": "The row's key, as branch_conflicts shows it.",
            },
            "resolution": {
                "anyOf": [{"type": "string", "enum": ["main", "branch"]}, {"type": "object"}],
                "description": '"main", "branch", or an object of column values.',
            },
        },
        ("branch", "table", "key", "resolution"),
        idempotent=True,
    ),
    ToolSpec(
        "branch_merge",
        "Merge a branch into main",
        """Merge a branch's changes into its parent (main) with a three-way merge, and retire
the branch.

Changes made only in the branch are applied, cell by cell (main's changes to other
columns of the same row stay). Cells changed differently on both sides, and merged
rows that would break a constraint, are conflicts, settled by strategy:
"branch_wins" (default: the branch's version), "main_wins" (keep main's), "abort"
(fail with 40001 and change nothing if there is any conflict), "manual" (use the choices recorded with branch_resolve; if any
conflict has none, nothing is applied and status is "conflicts").

Returns {"branch", "strategy", "inserted", "updated", "deleted", "conflicts",
"status": "merged" | "conflicts"}.

Examples: {"branch": "plan-a"}   {"branch": "plan-a", "strategy": "abort"}""",
        {
            "branch": _BRANCH,
            "strategy": {
                "type": "string",
                "enum": ["branch_wins", "main_wins", "manual", "abort"],
                "default": "branch_wins",
                "description": "How to settle rows changed on both sides.",
            },
        },
        ("branch",),
        destructive=True,
    ),
    ToolSpec(
        "branch_discard",
        "Throw a branch away",
        """Discard a branch and everything written in it; main is untouched and its storage
is given back. A branch that has live child branches must have them merged or
discarded first (2BP01).

Returns {"discarded": "plan-b"}.

Example: {"branch": "plan-b"}""",
        {"branch": _BRANCH},
        ("branch",),
        destructive=True,
    ),
    ToolSpec(
        "branch_list",
        "List live branches",
        """List the live branches: name, parent, the agent that created it, when, how many
tables it has materialized, how many rows it changed, and when it expires.

Returns {"branches": [{"name": "plan-a", "parent": "main", "created_by": "planner",
"created_at": "...", "tables_materialized": 1, "rows_changed": 3, "expires_at": null}]}
(an empty list when there are none).""",
        read_only=True,
        idempotent=True,
    ),
)
TOOLS: dict[str, ToolSpec] = {spec.name: spec for spec in _SPECS}
