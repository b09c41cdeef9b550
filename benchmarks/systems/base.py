"""The interface every benchmarked system implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import datagen
from benchmarks.drivers import Row


class Unsupported(Exception):
    """The system has no way to do this operation (reported, not a failure)."""


class Session(ABC):
    """A connection that sees either main or one branch."""

    @abstractmethod
    def query(self, sql: str) -> list[Row]:
        """Run a row-returning statement. ``{t}``-style names are already qualified."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement that writes."""

    def table(self, name: str) -> str:
        """How this session names table ``name`` (branch copies live in other schemas)."""
        return name

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class Agent(ABC):
    """One agent with its own connection, for the concurrency workload."""

    @abstractmethod
    def cycle(self, branch: str, table: str, row: tuple[int, int, str]) -> int:
        """Create ``branch``, insert ``row`` into ``table`` there, merge it.

        Returns the number of retries needed (serialization conflicts)."""

    def close(self) -> None:  # noqa: B027
        pass


class System(ABC):
    """A database that can (perhaps) branch. Subclasses set the class attributes."""

    key: str = ""
    label: str = ""
    family: str = ""  # hati | duckdb | postgres | hatidata-agent
    has_branches: bool = True
    supports_merge: bool = True
    cheap_create: bool = True  # creates should be O(1) (more repetitions)
    max_live_branches: int | None = None
    merge_keeps_table: bool = True  # False: merge rebuilds tables (constraints lost)
    merge_scans_main: bool = False  # merge cost is a full scan of main, not the diff
    merge_note: str = ""
    description: str = ""
    nested_branches: bool = False  # branch_fork(): a branch forked from a branch
    one_connection: bool = False  # sessions share one connection: no concurrent clients

    def __init__(self) -> None:
        self.tables: dict[str, int] = {}  # main tables and their row counts
        self.branches: set[str] = set()
        self.workdir: Path | None = None

    # -- lifecycle -------------------------------------------------------
    @classmethod
    def unavailable(cls) -> str | None:
        """A reason why this system cannot run here, or None."""
        return None

    @abstractmethod
    def start(self, workdir: Path) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    def info(self) -> dict[str, Any]:
        """Versions and settings worth recording."""
        return {}

    def roundtrip_clients(self) -> dict[str, Callable[[], object]]:
        """Named ways to run ``SELECT 1`` (driver variants)."""
        m = self.main()
        return {"": lambda: m.query("SELECT 1")}

    # -- main ------------------------------------------------------------
    @abstractmethod
    def main(self) -> Session:
        """The (cached) session on main."""

    def load_table(self, name: str, rows: int) -> None:
        m = self.main()
        m.execute(datagen.create_table(name))
        self.tables[name] = 0
        self.grow_table(name, rows)

    def grow_table(self, name: str, rows: int) -> None:
        """Append the generated rows a clean table lacks (ids go on where it stops)."""
        m = self.main()
        have = self.tables[name]
        for stmt in datagen.insert_range(name, have, rows - have):
            m.execute(stmt)
        self.tables[name] = rows

    def drop_table(self, name: str) -> None:
        self.main().execute(f"DROP TABLE IF EXISTS {name}")
        self.tables.pop(name, None)

    def reset(self) -> None:
        """Discard every branch and drop every table: main is empty."""
        for b in sorted(self.branches):
            self.branch_discard(b)
        for t in list(self.tables):
            self.drop_table(t)
        self.after_reset()

    def after_reset(self) -> None:  # noqa: B027 - optional hook
        pass

    def reconnect(self) -> None:  # noqa: B027 - optional hook
        """Drop cached connections (after an error left them unusable)."""

    def interrupt(self) -> None:
        """Cancel whatever runs now (called from the watchdog thread)."""
        from benchmarks.drivers import cancel_all

        cancel_all()

    def abort(self) -> None:  # noqa: B027 - optional hook
        """Stop the system hard when a cancel did not get through (watchdog thread)."""

    def ensure_main(self, tables: dict[str, int]) -> None:
        """Make main hold exactly these tables with these row counts.

        A clean table smaller than wanted is grown (so a 10 M-row table is generated
        once, on top of the 1 M one); a dirty or larger one is dropped and reloaded."""
        for b in sorted(self.branches):
            self.branch_discard(b)
        if self.tables == tables:
            return
        for t in list(self.tables):
            have, want = self.tables[t], tables.get(t)
            if want is None or have < 0 or have > want:
                self.drop_table(t)
        for t, n in tables.items():
            if t not in self.tables:
                self.load_table(t, n)
            elif self.tables[t] < n:
                self.grow_table(t, n)

    # -- branches ----------------------------------------------------------
    def before_create(self) -> None:  # noqa: B027 - untimed preparation hook
        pass

    @abstractmethod
    def branch_create(self, name: str) -> None: ...

    def branch_fork(self, name: str, parent: str) -> None:
        """Create branch ``name`` from branch ``parent`` (where ``nested_branches``)."""
        raise Unsupported("no branches of branches")

    @abstractmethod
    def branch_discard(self, name: str) -> None: ...

    @abstractmethod
    def branch_merge(self, name: str) -> dict[str, Any]:
        """Merge the branch into main and retire it."""

    @abstractmethod
    def session(self, branch: str | None) -> Session:
        """A new session on main (None) or in a branch; the caller closes it."""

    def materialize_workaround(self, session: Session, table: str) -> None:
        """Make ``table`` writable in a branch by hand, where the system cannot."""
        raise Unsupported("no workaround")

    def wire(self, branch: str | None = None) -> dict[str, str] | None:
        """libpq connection parameters (host, port, user, dbname and, for a branch,
        what selects it) for tools that speak the PostgreSQL protocol themselves
        (pgbench, asyncpg); None where the system has no server."""
        return None

    # -- disk --------------------------------------------------------------
    def checkpoint(self) -> None:  # noqa: B027
        pass

    @abstractmethod
    def disk(self) -> dict[str, int]:
        """{'file_bytes': size on disk, 'used_bytes': bytes the engine says it uses}."""

    # -- concurrency -------------------------------------------------------
    def agent(self) -> Agent:
        raise Unsupported("no concurrent branching")
