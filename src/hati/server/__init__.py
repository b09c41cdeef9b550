"""Network server: asyncio listener, connection state machine, authentication."""

from hati.server.listener import Server, ServerThread

__all__ = ["Server", "ServerThread"]
