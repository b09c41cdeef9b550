"""An append-only log of branch creations and retirements, so a fork commits nothing.

A DuckDB commit costs milliseconds (it writes and syncs the WAL); ``branch_create``
must cost well under one. So a fork appends one line here (a plain ``write``: the
line is in the OS page cache when ``branch_create`` returns, which survives a crash
of the server process) and touches DuckDB not at all. The engine folds the log into
``_hati.branches`` when the server starts and whenever the log grows long, then
empties it; a branch's first write also records its row in that write's own
transaction, so data a branch committed is never orphaned even if the machine loses
power before the log reaches the disk.

Reading rule: a row in ``_hati.branches`` wins. A ``drop`` line only cancels a
``create`` line, because a merge or discard appends ``drop`` before its DuckDB
transaction commits (if that transaction is lost, the row keeps the branch alive).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path
from typing import Any

from hati.branching.catalog import Branch

FOLD_AFTER_LINES = 1 << 16  # ~10 MB; folded at start-up and then rarely


class BranchJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.lines = self._count()

    def _count(self) -> int:
        with open(self.path, "rb") as f:
            return sum(1 for _ in f)

    def _append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self._lock:
            os.write(self._fd, data)
            self.lines += 1

    def created(self, b: Branch) -> None:
        self._append(
            {
                "op": "create",
                "id": b.id,
                "name": b.name,
                "parent": b.parent_id,
                "epoch": b.fork_epoch,
                "by": b.created_by,
                "at": b.created_at.isoformat(),
                "expires": b.expires_at.isoformat() if b.expires_at else None,
            }
        )

    def dropped(self, bid: int) -> None:
        self._append({"op": "drop", "id": bid})

    def pending(self) -> tuple[list[Branch], int]:
        """Branches created by the log and not dropped by it (torn last line ignored),
        and the highest fork epoch it mentions (epochs must never be handed out twice)."""
        live: dict[int, Branch] = {}
        top = 0
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash: its call never returned
                if r.get("op") == "create":
                    top = max(top, r["epoch"])
                    live[r["id"]] = Branch(
                        r["id"],
                        r["name"],
                        r["parent"],
                        r["epoch"],
                        r["by"],
                        dt.datetime.fromisoformat(r["at"]),
                        dt.datetime.fromisoformat(r["expires"]) if r["expires"] else None,
                    )
                elif r.get("op") == "drop":
                    live.pop(r["id"], None)
        return list(live.values()), top

    def truncate(self) -> None:
        """Empty the log; call only after every pending branch is in ``_hati.branches``."""
        with self._lock:
            os.ftruncate(self._fd, 0)
            self.lines = 0

    def close(self) -> None:
        os.close(self._fd)
