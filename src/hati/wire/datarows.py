"""DataRow messages for a whole chunk of result rows at once.

Rows from DuckDB arrive as Arrow record batches: :class:`RowEncoder` turns a batch into
the bytes of its DataRow messages column by column (each column to its cells in text or
binary format, then one row-wise concatenation; see :mod:`hati.wire.cells`). Rows computed
in Python (lists of tuples) keep the per-value encoders of :mod:`hati.wire.types`.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa

from hati.wire import binary_out, cells, codec, text_out
from hati.wire import types as pgtypes

Rows: TypeAlias = list[tuple[Any, ...]] | pa.Table | pa.RecordBatch


def column_formats(formats: Sequence[int], n: int) -> list[int]:
    """Bind's result format codes for n columns: none (all text), one for all, or one each."""
    if len(formats) > 1:
        return list(formats)
    return [formats[0] if formats else 0] * n


class RowEncoder:
    """Encodes Arrow batches of one result as DataRow messages.

    ``oids`` are the types the RowDescription announced, ``formats`` Bind's result format
    codes, ``zone`` the session's TimeZone for timestamptz text (None: UTC),
    ``float_digits`` its extra_float_digits, ``escape`` whether its bytea_output is escape.
    """

    def __init__(
        self,
        schema: pa.Schema,
        oids: Sequence[int],
        formats: Sequence[int] = (),
        zone: str | None = None,
        float_digits: int = 1,
        escape: bool = False,
    ) -> None:
        self.encoders: list[Any] = []
        self.binary: list[bool] = []
        for field, oid, fmt in zip(schema, oids, column_formats(formats, len(oids)), strict=True):
            if fmt == 1:
                self.encoders.append(binary_out.column(field.type, oid))
            else:
                self.encoders.append(text_out.column(field.type, zone, float_digits, escape))
            self.binary.append(fmt == 1)
        self._count = struct.pack("!h", len(self.encoders))

    def encode(self, batch: pa.RecordBatch | pa.Table) -> bytes:
        if isinstance(batch, pa.Table):
            batches = batch.to_batches()
            if len(batches) > 1:
                batches = batch.combine_chunks().to_batches()
            return b"".join(self.encode(b) for b in batches)
        n = batch.num_rows
        if n == 0:
            return b""
        pieces: list[Any] = []
        size = np.full(n, 4 + 2, np.int64)  # the length field and the column count
        for col, enc, binary in zip(batch.columns, self.encoders, self.binary, strict=True):
            c = enc(col)
            if not binary:
                c = cells.as_binary(c)
            more, took = binary_out.prefixed(c)
            pieces += more
            size += took
        head = np.empty((n, 7), np.uint8)
        head[:, 0] = ord("D")
        head[:, 1:5] = cells.big_endian(size, ">i4")
        head[:, 5:7] = np.frombuffer(self._count, np.uint8)
        return cells.joined_bytes(cells.concat([head, *pieces], n))


def encode_rows(
    columns: Sequence[tuple[str, int]],
    formats: Sequence[int],
    rows: Rows,
    zone: str | None = None,
    float_digits: int = 1,
    escape: bool = False,
) -> bytes:
    """DataRow messages for a chunk of rows: Arrow (from DuckDB) or Python tuples."""
    if isinstance(rows, (pa.Table, pa.RecordBatch)):
        oids = [oid for _, oid in columns]
        return RowEncoder(rows.schema, oids, formats, zone, float_digits, escape).encode(rows)
    encoders = [
        pgtypes.column_encoder(oid, fmt)
        for (_, oid), fmt in zip(columns, column_formats(formats, len(columns)), strict=True)
    ]
    return b"".join(
        codec.encode_data_row(
            [None if v is None else enc(v) for enc, v in zip(encoders, row, strict=False)]
        )
        for row in rows
    )
