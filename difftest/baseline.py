"""The committed baseline: one line per statement of the everyday corpus, with its class.

A run is checked against it both ways: a statement that agreed must still agree, and a
known disagreement must still be exactly that disagreement, so the file stays exact and
every change in hati's compatibility shows up as a change of this file.
"""

from __future__ import annotations

from pathlib import Path

from difftest.runner import FileResult

REGENERATE = "python -m difftest run --write-baseline"


def lines_of(files: list[FileResult]) -> list[str]:
    out = []
    for fr in files:
        for r in fr.results:
            sql = " ".join(r.stmt.sql.split())
            out.append(f"{r.stmt.id}\t{r.cls}\t{sql[:80]}")
    return out


def write(path: Path, files: list[FileResult]) -> None:
    header = f"# statement id\tclass\tstatement (regenerate: {REGENERATE})"
    path.write_text("\n".join([header, *lines_of(files)]) + "\n")


def read(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            sid, cls = line.split("\t")[:2]
            out[sid] = cls
    return out


def differences(baseline: dict[str, str], files: list[FileResult]) -> list[str]:
    """Every way the run differs from the baseline, one line each (empty: exact)."""
    now = {r.stmt.id: (r.cls, r) for fr in files for r in fr.results}
    out = []
    for sid, (cls, r) in now.items():
        was = baseline.get(sid)
        if was == cls:
            continue
        where = f"{r.stmt.file}:{r.stmt.line} {' '.join(r.stmt.sql.split())[:100]}"
        if was is None:
            out.append(f"new statement {sid} ({cls}): {where}")
        elif was == "agree":
            pg = r.pg.summary() if r.pg else "-"
            hati = r.hati.summary() if r.hati else "-"
            out.append(
                f"REGRESSION {sid}: agreed, now {cls}: {where}\n    PostgreSQL: {pg}\n    hati: {hati}"
            )
        elif cls == "agree":
            out.append(f"now agrees (was {was}), update the baseline: {sid}: {where}")
        else:
            out.append(f"changed {sid}: {was} -> {cls}: {where}")
    out += [f"statement gone from the corpus: {sid}" for sid in baseline if sid not in now]
    return out
