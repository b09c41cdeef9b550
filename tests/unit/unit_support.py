"""Helpers for driving a Session directly (see conftest.py for the fixtures)."""

from __future__ import annotations

from typing import Any

from hati.session import Session


def run(session: Session, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """The rows of the last statement of ``sql`` (every statement's result is read)."""
    out: list[tuple[Any, ...]] = []
    for res in session.run(sql, params):
        out = res.tuples() if res.columns is not None else []
    return out


def tags(session: Session, sql: str) -> list[str]:
    """The command tag of each statement of ``sql``, as the client would see it."""
    return [r.final_tag(len(r.buffer().rows)) for r in session.run(sql)]
