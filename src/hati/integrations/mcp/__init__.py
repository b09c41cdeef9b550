"""``hati mcp``: hati as a Model Context Protocol server.

Tools (``query``, ``execute``, ``list_tables``, ``describe_table`` and the ``branch_*``
family) and table-schema resources (``hati://tables``, ``hati://tables/{name}``) for any
MCP client, over stdio or streamable HTTP. The server talks to a hati server over the
PostgreSQL wire like any other client; see docs/mcp.md.

Needs the ``hati[mcp]`` extra (the ``mcp`` SDK, psycopg 3, pglast).
"""

from .connection import HatiError, Link, Result, Target
from .server import HatiMCP
from .tools import TOOLS

__all__ = ["TOOLS", "HatiError", "HatiMCP", "Link", "Result", "Target"]
