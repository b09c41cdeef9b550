"""Branch names and merge strategies: what a client may pass."""

from __future__ import annotations

import re

from hati.errors import InvalidParameter

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
MAIN = "main"
STRATEGIES = ("branch_wins", "main_wins", "manual", "abort")


def validate_name(name: object) -> str:
    """A branch name, or InvalidParameter (22023) saying what is allowed."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidParameter(
            f"invalid branch name {name!r}",
            hint="Branch names are 1-63 characters: letters, digits, '_', '.', '-', "
            "starting with a letter or digit.",
        )
    if name.lower() == MAIN:
        raise InvalidParameter("'main' is reserved for the shared state")
    if name.lower() == "default":  # SET hatidata_branch = DEFAULT means main: no look-alike
        raise InvalidParameter(
            "'default' is reserved and names no branch",
            hint="Use RESET hatidata_branch (or 'main') for main, or choose another name.",
        )
    return name


def validate_strategy(strategy: object) -> str:
    if strategy not in STRATEGIES:
        raise InvalidParameter(
            f"invalid merge strategy {strategy!r}",
            hint="Use one of: " + ", ".join(STRATEGIES) + ".",
        )
    return str(strategy)
