"""Network server: listener, one thread per connection, authentication."""

from hati.server.listener import Server, ServerThread

__all__ = ["Server", "ServerThread"]
