"""Where hati keeps its things in the DuckDB file: the only module that spells their names.

| name | holds |
|---|---|
| ``main`` | main's tables |
| ``_hb_<id>`` | a branch's full copies and views (``<id>`` never reused) |
| ``_hbd_<id>`` | its row deltas: ``<t>`` and ``"<t>$hide"`` |
| ``_hati_snap`` | snapshots ``s<n>``; undo snapshots add ``"s<n>$rows"`` and ``"s<n>$rows$hide"`` |
| ``_hati`` | metadata tables (written by ``store.py`` only) and the audit trail |
| ``_hati_pg`` | the filtered pg_catalog views of ``pg/catalog.py`` |

See docs/storage.md for what each holds and why. Everyone else asks this module.
"""

from __future__ import annotations

import re

MAIN = "main"
META = "_hati"
SNAP = "_hati_snap"
PG = "_hati_pg"
_BRANCH = "_hb_"
_DELTA = "_hbd_"
HIDE_SUFFIX = "$hide"
ROWS_SUFFIX = "$rows"
_FULL_SUFFIX = "$full"

# The metadata tables (see store.py for their columns).
IDS = f"{META}.ids"  # a sequence: branch ids and snapshot numbers, never reused
STATE = f"{META}.state"
BRANCHES = f"{META}.branches"
SNAPSHOTS = f"{META}.snapshots"
DROPPED = f"{META}.dropped"
RESOLUTIONS = f"{META}.resolutions"
DELTA_COLUMNS = f"{META}.delta_columns"
AUDIT = f"{META}.audit"

# DuckDB regular expressions over schema names: a branch's schema or its delta schema,
# and a branch's schema alone; group 1 is the branch id.
OWNED_SCHEMA_RE = f"^{_BRANCH[:-1]}d?_([0-9]+)$"
BRANCH_SCHEMA_RE = f"^{_BRANCH}([0-9]+)$"
_OWNED = re.compile(OWNED_SCHEMA_RE)


def branch_schema(branch_id: int) -> str:
    """The schema of a branch's full copies and views."""
    return f"{_BRANCH}{branch_id}"


def delta_schema(branch_id: int) -> str:
    """The schema of a branch's row deltas."""
    return f"{_DELTA}{branch_id}"


def owner_id(schema: str) -> int | None:
    """The branch id a ``_hb_<id>`` or ``_hbd_<id>`` schema belongs to; None for others."""
    m = _OWNED.fullmatch(schema)
    return int(m.group(1)) if m else None


def branch_of_schema(schema: str) -> int | None:
    """The branch id of a ``_hb_<id>`` schema (not a delta schema); None for others."""
    return owner_id(schema) if schema.startswith(_BRANCH) else None


def hide_table(table: str) -> str:
    """The table of keys a delta (or an undo snapshot) took over from its base."""
    return table + HIDE_SUFFIX


def is_hide_table(table: str) -> bool:
    return table.endswith(HIDE_SUFFIX)


def is_reserved_table_name(name: str) -> bool:
    """A relation name shaped like hati's delta and snapshot bookkeeping (``t$hide``,
    ``s1$rows``, ``s1$full``): no client table may take one, so none collides."""
    return name.lower().endswith((HIDE_SUFFIX, ROWS_SUFFIX, _FULL_SUFFIX))


def snapshot_table(n: int) -> str:
    return f"s{n}"


def rows_table(snap: str) -> str:
    """An undo snapshot's kept rows."""
    return snap + ROWS_SUFFIX


def full_copy_table(snap: str) -> str:
    """Where an undo snapshot is materialized before it takes the snapshot's name."""
    return snap + _FULL_SUFFIX


def snapshot_of(name: str) -> str:
    """The snapshot a ``_hati_snap`` object belongs to (the view, or its tables)."""
    return name.split("$", 1)[0]


_RESERVED = re.compile(r"^_hati(?:_|$)|^_hbd?_[0-9]*$")


def is_internal_schema(name: str) -> bool:
    """A schema name hati keeps for itself (its own, a branch's, a delta's; and any
    name shaped like them, so no client can make a look-alike)."""
    return _RESERVED.match(name.lower()) is not None


def internal_schema_sql(col: str) -> str:
    """A SQL condition: ``col`` names a schema hati made for itself."""
    own = ", ".join(f"'{s}'" for s in (META, SNAP, PG))
    like = " OR ".join(
        f"{col} LIKE '{prefix.replace('_', chr(92) + '_')}%' ESCAPE '{chr(92)}'"
        for prefix in (_BRANCH, _DELTA)
    )
    return f"({col} IN ({own}) OR {like})"
