"""Does branching behave: snapshot isolation, writes, three-way merge, constraints kept.

Main holds t with 1000 rows. After the fork main sets v=-1 on id 1; the branch sets
v=-2 on id 2, inserts id 1000000 and deletes id 3. After the merge main must show both
sides' changes and still reject a duplicate primary key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.systems.base import Session, Unsupported
from benchmarks.workloads.base import Ctx, mark_dirty, short_error

KEY = "correctness"
TITLE = "Correctness of branching"
CHECKS = [
    "branch_create",
    "snapshot_isolation",
    "branch_write",
    "branch_sees_own_write",
    "main_unaffected",
    "merge_three_way",
    "primary_key_kept",
    "discard",
]


def _val(s: Session, id_: int) -> Any:
    rows = s.query(f"SELECT v FROM {s.table('t')} WHERE id = {id_}")
    return rows[0][0] if rows else None


def run(ctx: Ctx) -> None:  # noqa: C901 - one check after another, in order
    sys = ctx.sys
    sys.ensure_main({"t": 1000})
    mark_dirty(sys, "t")
    out: dict[str, tuple[bool | None, str]] = {}

    def check(name: str, fn: Callable[[], tuple[bool | None, str]]) -> bool | None:
        ctx.tick(name)
        try:
            out[name] = fn()
        except Unsupported as exc:
            out[name] = (None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a failure is the finding
            out[name] = (False, short_error(exc))
        return out[name][0]

    b = ctx.name()
    sys.before_create()  # PostgreSQL: no open connection may use the template
    if not check("branch_create", lambda: (sys.branch_create(b), (True, ""))[1]):
        _emit(ctx, out)
        return
    main = sys.main()
    main.execute("UPDATE t SET v = -1 WHERE id = 1")
    br = sys.session(b)
    check(
        "snapshot_isolation",
        lambda: (
            _val(br, 1) == 1,
            f"branch saw v={_val(br, 1)} for a row main changed after the fork",
        ),
    )
    workaround = ""

    def write() -> tuple[bool | None, str]:
        nonlocal workaround
        t = br.table("t")
        stmts = [
            f"UPDATE {t} SET v = -2 WHERE id = 2",
            f"INSERT INTO {t} VALUES (1000000, 7, 'new')",
            f"DELETE FROM {t} WHERE id = 3",
        ]
        try:
            for s in stmts:
                br.execute(s)
            return True, ""
        except Exception as exc:  # noqa: BLE001
            err = short_error(exc)
            try:
                sys.materialize_workaround(br, "t")
            except Unsupported:
                return False, err
            for s in stmts:
                br.execute(s)
            workaround = " (then wrote after a manual copy)"
            return False, err + workaround

    check("branch_write", write)
    check("branch_sees_own_write", lambda: (_val(br, 2) == -2, f"branch read v={_val(br, 2)}"))

    def main_unaffected() -> tuple[bool, str]:
        v2 = _val(main, 2)
        n = main.query("SELECT count(*) FROM t")[0][0]
        return v2 == 2 and n == 1000, f"main v(id=2)={v2}, count={n}"

    check("main_unaffected", main_unaffected)

    def merge() -> tuple[bool, str]:
        sys.branch_merge(b)
        got = {i: _val(main, i) for i in (1, 2, 3, 1000000)}
        n = main.query("SELECT count(*) FROM t")[0][0]
        want = {1: -1, 2: -2, 3: None, 1000000: 7}
        ok = got == want and n == 1000
        return ok, "" if ok else f"after merge main has {got}, count={n}; expected {want}, 1000"

    br.close()
    merged = check("merge_three_way", merge)

    def pk() -> tuple[bool, str]:
        try:
            main.execute("INSERT INTO t VALUES (5, 0, 'dup')")
        except Exception:  # noqa: BLE001 - the expected outcome
            return True, ""
        return False, "duplicate id accepted after the merge: the PRIMARY KEY was lost"

    if merged is not None:
        check("primary_key_kept", pk)
    else:
        out["primary_key_kept"] = (None, "no merge")

    def discard() -> tuple[bool, str]:
        b2 = ctx.name()
        sys.before_create()
        sys.branch_create(b2)
        sys.branch_discard(b2)
        return True, ""

    check("discard", discard)
    _emit(ctx, out)


def _emit(ctx: Ctx, out: dict[str, tuple[bool | None, str]]) -> None:
    for name in CHECKS:
        ok, note = out.get(name, (None, "not reached"))
        status = "unsupported" if ok is None else "ok"
        ctx.add(name, correct=ok, note=note if not ok else "", status=status)
