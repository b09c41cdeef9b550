"""Identical data for every system: t(id BIGINT PRIMARY KEY, v BIGINT, s VARCHAR).

A table whose name starts with ``nk_`` has the same columns and no primary key (the
shape of a table made by ``CREATE TABLE … AS`` or declared without a key)."""

from __future__ import annotations

COLUMNS = "id BIGINT PRIMARY KEY, v BIGINT, s VARCHAR"
COLUMNS_NO_KEY = "id BIGINT, v BIGINT, s VARCHAR"
NO_KEY_PREFIX = "nk_"

# Rows inserted per statement when loading (keeps single statements bounded).
CHUNK = 5_000_000


def has_key(table: str) -> bool:
    """False for the key-less tables (``nk_…``, schema-qualified or not)."""
    return not table.rsplit(".", 1)[-1].startswith(NO_KEY_PREFIX)


def create_table(table: str) -> str:
    return f"CREATE TABLE {table} ({COLUMNS if has_key(table) else COLUMNS_NO_KEY})"


def insert_range(table: str, start: int, count: int) -> list[str]:
    """INSERTs of rows start..start+count-1; v = id % 1000, s = 'row-<id>'."""
    out = []
    pos = start
    end = start + count
    while pos < end:
        n = min(CHUNK, end - pos)
        out.append(
            f"INSERT INTO {table} SELECT g, g % 1000, 'row-' || g "
            f"FROM generate_series({pos}, {pos + n - 1}) AS gs(g)"
        )
        pos += n
    return out


def expected_sum_v(n: int) -> int:
    """sum(v) of a freshly loaded table of n rows (ids 0..n-1)."""
    full, rest = divmod(n, 1000)
    return full * (999 * 1000 // 2) + rest * (rest - 1) // 2
