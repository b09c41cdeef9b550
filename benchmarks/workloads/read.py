"""A read of a table the branch never wrote, in the branch vs the same read on main."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.core import perf, summarize
from benchmarks.systems.base import Session
from benchmarks.workloads.base import Ctx, big_main, fork, short_error

KEY = "read_untouched"
TITLE = "Read of an untouched table: branch vs main"

QUERIES: dict[str, Callable[[Session, int], str]] = {
    "scan": lambda s, _i: f"SELECT sum(v), count(*) FROM {s.table('t')}",
    "point": lambda s, i: f"SELECT v, s FROM {s.table('t')} WHERE id = {i}",
}


def run(ctx: Ctx) -> None:
    sys = ctx.sys
    p = ctx.profile
    rows = big_main(ctx, p.read_rows)
    b = fork(ctx)
    sessions: dict[str, Session] = {"main": sys.session(None), "branch": sys.session(b)}
    fn_session = getattr(sys, "function_session", None)
    if fn_session is not None:
        sessions["branch_query()"] = fn_session(b)
    try:
        for qi, (qname, make) in enumerate(QUERIES.items()):
            ctx.tick(f"read {qname}")
            samples: dict[str, list[float]] = {k: [] for k in sessions}
            answers: dict[str, object] = {}
            errors: dict[str, str] = {}
            # two warm-up rounds, then at least three timed ones
            for i in ctx.repeat(p.read_reps + 2, 1 / (len(QUERIES) - qi), at_least=5):
                key_id = (i * 7919) % rows
                for where, sess in sessions.items():
                    if where in errors:
                        continue
                    sql = make(sess, key_id)
                    try:
                        t0 = perf()
                        got = sess.query(sql)
                        dt = perf() - t0
                    except Exception as exc:  # noqa: BLE001
                        errors[where] = short_error(exc)
                        continue
                    if i >= 2:  # two warm-up rounds
                        samples[where].append(dt)
                    answers.setdefault(f"{where}:{i}", got)
            main_stats = summarize(samples["main"])
            for where in sessions:
                if where == "main":
                    continue
                st = summarize(samples[where])
                same = (
                    all(
                        got == answers.get("main:" + k.split(":")[1])
                        for k, got in answers.items()
                        if k.startswith(where + ":")
                    )
                    if where not in errors
                    else False
                )
                ratio = st["p50_ms"] / main_stats["p50_ms"] if st.get("n") else None
                ctx.add(
                    f"{qname}" + ("" if where == "branch" else f" via {where}"),
                    x=rows,
                    stats=st,
                    values={"main": main_stats, "ratio": ratio, "rows": rows},
                    correct=same,
                    status="ok" if where not in errors else "failed",
                    note=errors.get(where, "" if same else "branch read differs from main"),
                )
    finally:
        for s in sessions.values():
            s.close()
        sys.branch_discard(b)
