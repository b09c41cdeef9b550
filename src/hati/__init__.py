"""hati: a PostgreSQL-wire SQL server over DuckDB that gives AI agents branchable state.

Public API: :class:`Config`, :class:`ServerThread` (a real server in a background
thread), :class:`App` (everything but the sockets, e.g. for tests), and the error tree
in :mod:`hati.errors`. The names load on first use, so ``import hati.errors`` does not
start loading the server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hati.app import App
    from hati.config import Config
    from hati.errors import HatiError
    from hati.server import Server, ServerThread

__version__ = "0.1.0"
__all__ = ["App", "Config", "HatiError", "Server", "ServerThread", "__version__"]
_HOMES = {
    "App": "hati.app",
    "Config": "hati.config",
    "HatiError": "hati.errors",
    "Server": "hati.server",
    "ServerThread": "hati.server",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'hati' has no attribute {name!r}")
