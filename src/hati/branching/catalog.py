"""The registry of live branches and main-side snapshots, mirrored from ``_hati``.

Epochs order forks against writes. ``branch_create`` takes the next epoch as its
fork point. Before a namespace (main or a branch with children) writes table T, if a
live child forked after T's last write, T's current content is copied once into a
snapshot tagged with the current epoch; every child forked in (previous tag, tag]
reads that snapshot as its base (and merges against it). Tables a child never sees
change need nothing at all, which is why forking copies no data.
"""

from __future__ import annotations

import datetime as dt
import threading
from bisect import bisect_left
from dataclasses import dataclass, field

from hati.branching import layout

MAIN_ID = 0


def utcnow() -> dt.datetime:
    """Now in UTC without a zone, as branch times are kept."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class Branch:
    id: int
    name: str
    parent_id: int
    fork_epoch: int
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    # Lower-cased names of every table this branch has written, created, dropped or
    # altered (a superset: never shrinks, even when a statement rolls back). A read
    # that mentions none of them, nor a table the parent changed, can run unexamined.
    touched: set[str] = field(default_factory=set)
    # False while the branch exists only in the journal (see journal.py), and again
    # when the transaction of its first write rolls back.
    persisted: bool = True
    # True from the fork until a statement first prepares the branch schema: until then
    # the schema is known to be empty and a write need not list it.
    pristine: bool = False
    # False while the branch is known to have no recorded merge resolutions (forked by
    # this process, none recorded since): retiring it need not delete any.
    resolved: bool = True
    # False while the branch is known to have no rows in the delta-columns table (forked
    # by this process, no column marked since): its merge and retirement read and
    # delete none.
    marks: bool = True

    @property
    def schema(self) -> str:
        return layout.branch_schema(self.id)


@dataclass
class Snapshot:
    tag: int
    table: str | None  # None: the table did not exist at that point
    # Catalog.snap_seq when it was registered (after its transaction committed): a
    # transaction that began at a higher or equal sequence number can see it.
    seq: int = 0


@dataclass
class Catalog:
    """In-memory state; every mutation is also written to ``_hati`` by the engine."""

    epoch: int = 0
    branches: dict[int, Branch] = field(default_factory=dict)
    by_name: dict[str, int] = field(default_factory=dict)
    # (owner_id, table) -> snapshots sorted by tag
    snapshots: dict[tuple[int, str], list[Snapshot]] = field(default_factory=dict)
    # (owner_id, table) -> epoch of the last write we saw (lost on restart: safe, see module doc)
    last_write: dict[tuple[int, str], int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    snap_seq: int = 0  # counts add_snapshot calls (see Snapshot.seq)

    def get(self, name: str) -> Branch | None:
        bid = self.by_name.get(name)
        return self.branches.get(bid) if bid is not None else None

    def add(self, b: Branch) -> None:
        self.branches[b.id] = b
        self.by_name[b.name] = b.id

    def remove(self, bid: int) -> None:
        b = self.branches.pop(bid, None)
        if b is not None and self.by_name.get(b.name) == bid:
            del self.by_name[b.name]

    def children(self, owner_id: int) -> list[Branch]:
        # list(): one C call, so a fork or merge in another thread meanwhile is harmless
        return [b for b in list(self.branches.values()) if b.parent_id == owner_id]

    def descendants(self, owner_id: int) -> list[Branch]:
        """Every live branch forked from ``owner``, from its children down."""
        out: list[Branch] = []
        todo = self.children(owner_id)
        while todo:
            b = todo.pop()
            out.append(b)
            todo += self.children(b.id)
        return out

    def max_child_fork(self, owner_id: int, but: Branch | None = None) -> int:
        return max((b.fork_epoch for b in self.children(owner_id) if b is not but), default=-1)

    def needs_snapshot(self, owner_id: int, table: str, but: Branch | None = None) -> bool:
        """True when a live child (other than ``but``) still reads this table's current
        content as its base."""
        last = self.last_write.get((owner_id, table), -1)
        snaps = self.snapshots.get((owner_id, table))
        if snaps:
            last = max(last, snaps[-1].tag)
        return self.max_child_fork(owner_id, but) > last

    def special_names(self, branch: Branch) -> set[str]:
        """Names whose resolution in ``branch`` differs from plain fall-through to main."""
        names: set[str] = set()
        b: Branch | None = branch
        while b is not None:
            names |= b.touched
            names |= {t.lower() for (owner, t) in list(self.snapshots) if owner == b.parent_id}
            b = self.branches.get(b.parent_id)
        return names

    def base_snapshot(self, branch: Branch, table: str) -> Snapshot | None:
        """The parent's snapshot this branch must read for ``table``, if the parent wrote it."""
        snaps = self.snapshots.get((branch.parent_id, table))
        if not snaps:
            return None
        i = bisect_left([s.tag for s in snaps], branch.fork_epoch)
        return snaps[i] if i < len(snaps) else None

    def add_snapshot(self, owner_id: int, table: str, snap: Snapshot) -> None:
        self.snap_seq += 1
        snap.seq = self.snap_seq
        # A new list: readers without the lock see the old one or this one, whole.
        old = self.snapshots.get((owner_id, table), [])
        self.snapshots[(owner_id, table)] = sorted([*old, snap], key=lambda s: s.tag)

    def unused_snapshots(self) -> list[tuple[int, str, Snapshot]]:
        """Snapshots no live branch reads any more (garbage)."""
        out = []
        for (owner, table), snaps in self.snapshots.items():
            forks = [b.fork_epoch for b in self.children(owner)]
            prev = -1
            for s in snaps:
                if not any(prev < f <= s.tag for f in forks):
                    out.append((owner, table, s))
                prev = s.tag
        return out

    def drop_snapshot(self, owner: int, table: str, snap: Snapshot) -> None:
        lst = [s for s in self.snapshots.get((owner, table), []) if s.tag != snap.tag]
        if lst:
            self.snapshots[(owner, table)] = lst
        else:
            self.snapshots.pop((owner, table), None)
