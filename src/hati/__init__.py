"""hati: a PostgreSQL-wire SQL server over DuckDB that gives AI agents branchable state.

Public API: :class:`Config`, :class:`ServerThread` (a real server in a background
thread), and the error tree in :mod:`hati.errors`.
"""

from hati.config import Config
from hati.errors import HatiError
from hati.server import Server, ServerThread

__version__ = "0.1.0"
__all__ = ["Config", "HatiError", "Server", "ServerThread", "__version__"]
