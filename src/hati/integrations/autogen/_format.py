"""Turn query results and errors into short text a language model can read.

Tool results go straight into a model's context window, so they are kept small: a
plain aligned table, long cells cut, at most ``max_rows`` rows plus a note saying how
many were left out. Errors carry their SQLSTATE so a model (or a human reading the
transcript) can tell "unknown branch" (42704) from "bad SQL" (42601) at a glance.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg

NULL_TEXT = "NULL"


def format_cell(value: Any, max_cell: int = 80) -> str:
    """Render one value as short single-line text (JSON for dicts and lists)."""
    if value is None:
        text = NULL_TEXT
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list | tuple):
        text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    elif isinstance(value, bytes | bytearray | memoryview):
        text = "\\x" + bytes(value).hex()
    elif isinstance(value, _dt.datetime | _dt.date | _dt.time):
        text = value.isoformat()
    elif isinstance(value, float | int | decimal.Decimal | uuid.UUID):
        text = str(value)
    else:
        text = str(value)
    text = text.replace("\r", " ").replace("\n", " ")
    if max_cell > 0 and len(text) > max_cell:
        text = text[: max(1, max_cell - 1)] + "…"
    return text


def format_table(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_rows: int = 50,
    max_cell: int = 80,
) -> str:
    """Format rows as an aligned text table with a row count footer.

    Truncates after ``max_rows`` rows and says so, so the model knows it did not see
    everything and can narrow its query instead of guessing.
    """
    total = len(rows)
    shown = rows[:max_rows] if max_rows >= 0 else rows
    header = [format_cell(c, max_cell) for c in columns]
    body = [[format_cell(v, max_cell) for v in row] for row in shown]
    widths = [len(h) for h in header]
    for row in body:
        for i, cell in enumerate(row):
            if i < len(widths):
                widths[i] = max(widths[i], len(cell))
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    for row in body:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
    if total > len(shown):
        lines.append(
            f"({total} rows, showing the first {len(shown)}; narrow the query to see the rest)"
        )
    else:
        lines.append(f"({total} row{'' if total == 1 else 's'})")
    return "\n".join(lines)


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _compact(value: Any, limit: int) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_diff(rows: Sequence[Sequence[Any]], *, max_rows: int = 50, max_cell: int = 300) -> str:
    """Format ``branch_diff`` rows as one line per change, updates as ``col: old → new``.

    Tables without a primary key are keyed by the whole row, so the key column would
    repeat the values: it is shown only when it adds something (a real key).
    """
    lines: list[str] = []
    for table, change, key, old, new in (tuple(r)[:5] for r in rows[:max_rows]):
        old_v, new_v, key_v = _as_json(old), _as_json(new), _as_json(key)
        show_key = key_v is not None and key_v != old_v and key_v != new_v
        head = f"{table} {change}" + (f" key={_compact(key_v, 80)}" if show_key else "")
        if change == "update" and isinstance(old_v, dict) and isinstance(new_v, dict):
            cols = [c for c in new_v if old_v.get(c) != new_v.get(c)]
            body = (
                ", ".join(
                    f"{c}: {_compact(old_v.get(c), 60)} → {_compact(new_v.get(c), 60)}"
                    for c in cols
                )
                or "(no column changed)"
            )
        elif change == "delete":
            body = _compact(old_v, max_cell)
        else:
            body = _compact(new_v, max_cell)
        lines.append(f"{head}: {body}")
    total = len(rows)
    if total > len(lines):
        lines.append(f"({total} changes, showing the first {len(lines)})")
    else:
        lines.append(f"({total} change{'' if total == 1 else 's'})")
    return "\n".join(lines)


def format_status(status: str | None, rows_affected: int | None = None) -> str:
    """Format the outcome of a statement that returns no rows (``OK: UPDATE 3``)."""
    text = f"OK: {status or 'done'}"
    if rows_affected is not None and rows_affected >= 0:
        text += f" ({rows_affected} row{'' if rows_affected == 1 else 's'} affected)"
    return text


def format_error(exc: BaseException) -> str:
    """Format an exception as ``ERROR <SQLSTATE>: message`` plus detail and hint lines.

    This text is what the model sees instead of a crashed chat, so it says what went
    wrong and, where the server gave one, what to try next.
    """
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        sqlstate = exc.sqlstate or diag.sqlstate
        message = diag.message_primary or str(exc).strip() or type(exc).__name__
        head = f"ERROR {sqlstate}: {message}" if sqlstate else f"ERROR (connection): {message}"
        lines = [head]
        if diag.message_detail:
            lines.append(f"DETAIL: {diag.message_detail}")
        if diag.message_hint:
            lines.append(f"HINT: {diag.message_hint}")
        return "\n".join(lines)
    message = str(exc).strip() or type(exc).__name__
    return f"ERROR: {message}"
