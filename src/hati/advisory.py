"""Advisory locks (``pg_advisory_lock(key)`` and its family) and ``LOCK TABLE``.

Advisory locks are locks on numbers that applications (and migration tools) take to
keep each other out: a session-level lock is held until it is unlocked as often as it
was taken, or the session ends; a transaction-level one (``_xact_``) until the
transaction ends. hati answers the calls itself, before DuckDB runs the statement: a
call's arguments must be constants or parameters, and its answer (void, or whether the
lock was got or released) takes its place in the query. Waits, deadlock detection,
``lock_timeout`` and cancel requests are those of hati's table locks (hati.pg.locks).
Shared variants are taken exclusively: a second shared holder waits where
PostgreSQL's would not, but no holder is ever let in beside an exclusive one.

``LOCK TABLE`` in a mode that conflicts with writers (SHARE UPDATE EXCLUSIVE and
stronger) takes the tables' write locks to the end of the transaction; ROW EXCLUSIVE,
a writer's own mode, waits for their holders and keeps nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from pglast import ast

from hati.errors import FeatureNotSupported, NoActiveSqlTransaction
from hati.pg import locks as pglocks
from hati.pg.analyze import DEFAULT_SCHEMAS, RowLocks
from hati.pg.render import quote_name
from hati.pg.settings import Settings
from hati.pg.translate import walk
from hati.results import Result, command

if TYPE_CHECKING:
    from hati.auth import Roles
    from hati.branching.engine import BranchEngine


class _State(Protocol):
    roles: Roles
    locks: pglocks.TableLocks


_LOCKS = {
    "pg_advisory_lock": (False, "wait"),
    "pg_advisory_lock_shared": (False, "wait"),
    "pg_try_advisory_lock": (False, "try"),
    "pg_try_advisory_lock_shared": (False, "try"),
    "pg_advisory_xact_lock": (True, "wait"),
    "pg_advisory_xact_lock_shared": (True, "wait"),
    "pg_try_advisory_xact_lock": (True, "try"),
    "pg_try_advisory_xact_lock_shared": (True, "try"),
}
_UNLOCKS = frozenset({"pg_advisory_unlock", "pg_advisory_unlock_shared"})
FUNCTIONS = frozenset({*_LOCKS, *_UNLOCKS, "pg_advisory_unlock_all"})
_ROW_EXCLUSIVE = 3  # the mode PostgreSQL's writers take


class AdvisoryLocks:
    """The server's advisory locks: who holds which key, and how many times."""

    def __init__(self) -> None:
        self.locks = pglocks.TableLocks()
        self._mutex = threading.Lock()
        self._session: dict[int, Counter[str]] = {}
        self._xact: dict[int, Counter[str]] = {}

    def take(self, session: int, key: str, xact: bool, wait: bool, timeout_s: float) -> bool:
        if wait:
            self.locks.acquire(session, [key], timeout_s)
        elif not self.locks.try_acquire(session, [key]):
            return False
        with self._mutex:
            (self._xact if xact else self._session).setdefault(session, Counter())[key] += 1
        return True

    def unlock(self, session: int, key: str) -> bool:
        with self._mutex:
            held = self._session.get(session, Counter())
            if held[key] <= 0:
                return False
            held[key] -= 1
            if held[key] == 0 and self._xact.get(session, Counter())[key] == 0:
                del held[key]
                self.locks.release(session, key)
            return True

    def end_transaction(self, session: int) -> None:
        with self._mutex:
            for key in self._xact.pop(session, Counter()):
                if self._session.get(session, Counter())[key] == 0:
                    self.locks.release(session, key)

    def release_all(self, session: int, xact_too: bool = True) -> None:
        """pg_advisory_unlock_all() (session locks), or the session's end (all)."""
        with self._mutex:
            self._session.pop(session, None)
            keep = set() if xact_too else set(self._xact.get(session, ()))
            if xact_too:
                self._xact.pop(session, None)
            for key in self.locks.holds(session) - keep:
                self.locks.release(session, key)


def _key(args: list[object], name: str) -> str:
    if len(args) == 1 and isinstance(args[0], int):
        return f"advisory:{args[0]}"
    if len(args) == 2 and all(isinstance(a, int) for a in args):
        return f"advisory:{args[0]}:{args[1]}"
    raise FeatureNotSupported(
        f"{name} takes a bigint key or two integer keys, as constants or parameters",
        hint=f"Write SELECT {name}(42) or SELECT {name}(1, 2).",
    )


def answer(
    registry: AdvisoryLocks,
    session: int,
    node: ast.Node,
    value: Callable[[ast.Node], Any],
    in_block: bool,
    timeout_s: float,
) -> dict[int, str]:
    """Run the advisory lock calls of a statement; what each answers, by the call's id."""
    answers: dict[int, str] = {}
    calls = [
        (n.location or 0, id(n), n, str(n.funcname[-1].sval))
        for n in walk(node)
        if isinstance(n, ast.FuncCall) and n.funcname and n.funcname[-1].sval in FUNCTIONS
    ]
    for _at, _id, call, name in sorted(calls, key=lambda c: c[:2]):  # left to right
        try:
            args = [value(a) for a in call.args or ()]
        except ValueError:
            raise FeatureNotSupported(
                f"{name} takes constants or parameters",
                hint=f"Call it on its own: SELECT {name}(42).",
            ) from None
        args = [int(a) if isinstance(a, str) and a.lstrip("-").isdigit() else a for a in args]
        if name == "pg_advisory_unlock_all":
            registry.release_all(session, xact_too=False)
            answers[id(call)] = "''"
        elif name in _UNLOCKS:
            answers[id(call)] = str(registry.unlock(session, _key(args, name))).lower()
        else:
            xact, how = _LOCKS[name]
            got = registry.take(session, _key(args, name), xact, how == "wait", timeout_s)
            if xact and not in_block:  # the statement is the transaction
                registry.end_transaction(session)
            answers[id(call)] = "''" if how == "wait" else str(got).lower()
    return answers


class Locking(Protocol):
    """What LOCK TABLE needs of its session (hati.session.Session)."""

    txn: str
    branch: str | None
    state: _State
    settings: Settings

    @property
    def agent_id(self) -> str | None: ...
    @property
    def engine(self) -> BranchEngine: ...
    def run_internal(self, sql: str, params: list[Any] | None = None) -> Result: ...


def lock_table(s: Locking, node: ast.LockStmt) -> Result:
    """LOCK TABLE: the tables' write locks, for the modes that conflict with writers."""
    if s.txn == "I":
        raise NoActiveSqlTransaction(
            "LOCK TABLE can only be used in transaction blocks", hint="Send BEGIN first."
        )
    rels = [rv for rv in node.relations or () if isinstance(rv, ast.RangeVar)]
    for rv in rels:  # each must exist where the session is (42P01)
        qualified = ".".join(quote_name(p) for p in (rv.schemaname, rv.relname) if p)
        s.run_internal(f"SELECT 1 FROM {qualified} LIMIT 0")
    mode = node.mode or 8
    if mode < _ROW_EXCLUSIVE:
        return command("LOCK TABLE")  # ACCESS SHARE, ROW SHARE: only readers' modes
    s.state.roles.authorize_write(s.agent_id, s.branch is None)
    schema = s.engine.branch(s.branch).schema if s.branch else "main"
    names = sorted(
        f"{(rv.schemaname if rv.schemaname not in DEFAULT_SCHEMAS else None) or schema}."
        f"{rv.relname}".lower()
        for rv in rels
    )
    rl = RowLocks("LOCK TABLE", "nowait" if node.nowait else "wait")
    timeout = s.settings.timeout_ms("lock_timeout") / 1e3
    held = s.state.locks.holds(id(s))
    pglocks.lock_rows(s.state.locks, id(s), rl, names, timeout, True)
    if mode == _ROW_EXCLUSIVE:  # a writer's mode: wait for the holders, keep nothing
        for name in set(names) - held:
            s.state.locks.release(id(s), name)
    return command("LOCK TABLE")
