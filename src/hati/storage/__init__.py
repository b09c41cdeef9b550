"""Storage: the DuckDB file that holds main, branches, snapshots and metadata."""

from hati.storage.duckdb_backend import Database, qident, qname

__all__ = ["Database", "qident", "qname"]
