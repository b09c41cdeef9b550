"""Decoding what the server writes, for tests: DataRow messages and binary COPY data."""

from __future__ import annotations

import struct


def decode_rows(data: bytes) -> list[list[bytes | None]]:
    """DataRow messages back to their cells."""
    rows, pos = [], 0
    while pos < len(data):
        assert data[pos : pos + 1] == b"D"
        (size,) = struct.unpack_from("!i", data, pos + 1)
        (ncols,) = struct.unpack_from("!h", data, pos + 5)
        p, row = pos + 7, []
        for _ in range(ncols):
            (n,) = struct.unpack_from("!i", data, p)
            p += 4
            row.append(None if n < 0 else data[p : p + n])
            p += max(n, 0)
        assert p == pos + 1 + size, "DataRow length field disagrees with its content"
        rows.append(row)
        pos = p
    return rows


def decode_copy_binary(data: bytes) -> list[list[bytes | None]]:
    assert data[:11] == b"PGCOPY\n\xff\r\n\x00"
    (ext,) = struct.unpack_from("!i", data, 15)
    pos, rows = 19 + ext, []
    while True:
        (ncols,) = struct.unpack_from("!h", data, pos)
        pos += 2
        if ncols == -1:
            return rows
        row = []
        for _ in range(ncols):
            (n,) = struct.unpack_from("!i", data, pos)
            pos += 4
            row.append(None if n < 0 else data[pos : pos + n])
            pos += max(n, 0)
        rows.append(row)
