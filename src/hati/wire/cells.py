"""Row-wise byte concatenation over Arrow arrays: the building block of DataRow encoding.

A column of n values becomes n byte strings ("cells"); a DataRow is its header followed by
each column's length and cell. :func:`concat` joins such pieces row by row for all rows of
a batch at once: the pieces go into one Arrow array, one ``take`` with interleaved indices
lays them out row after row, and the result's data buffer is the concatenation.

A piece is one of:

- ``bytes``: the same constant in every row;
- a numpy ``uint8`` matrix of shape (n, w): w bytes per row;
- an Arrow binary-like array of n values, where a null is an empty string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Piece: TypeAlias = bytes | np.ndarray | pa.Array

_LARGE = (1 << 31) - 1  # past this many bytes the int32 offsets of pa.binary overflow
HEX = np.frombuffer(b"".join(b"%02x" % i for i in range(256)), np.uint8).reshape(256, 2)
_EMPTY = pa.array([b""], pa.binary())
_EMPTY_LARGE = pa.array([b""], pa.large_binary())


def as_binary(arr: pa.Array) -> pa.Array:
    """The same bytes as a binary (or large_binary) array; strings are reinterpreted."""
    t = arr.type
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return arr
    if pa.types.is_string(t):
        return arr.view(pa.binary())
    if pa.types.is_large_string(t):
        return arr.view(pa.large_binary())
    return pc.cast(arr, pa.binary())  # string_view, binary_view, fixed_size_binary


def offsets(arr: pa.Array) -> np.ndarray:
    """The n + 1 offsets of a binary-like array into its data buffer, as int64."""
    wide = pa.types.is_large_binary(arr.type) or pa.types.is_large_string(arr.type)
    buf = arr.buffers()[1]
    if buf is None:  # an empty array may have no buffers
        return np.zeros(len(arr) + 1, np.int64)
    raw = np.frombuffer(buf, np.int64 if wide else np.int32)
    return raw[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)


def data(arr: pa.Array) -> np.ndarray:
    buf = arr.buffers()[2]
    return np.frombuffer(buf, np.uint8) if buf is not None else np.zeros(0, np.uint8)


def storage(arr: pa.Array) -> pa.Array:
    """The storage array of an extension array (DuckDB's opaque types, uuid, json)."""
    return arr.storage if isinstance(arr, pa.ExtensionArray) else arr


def fixed_data(arr: pa.Array, width: int) -> np.ndarray:
    """The (n, width) bytes of a fixed-width array (fixed_size_binary, decimal128, extensions)."""
    arr = storage(arr)
    n = len(arr)
    raw = np.frombuffer(arr.buffers()[1], np.uint8)
    return raw[arr.offset * width : (arr.offset + n) * width].reshape(n, width)


def int128(arr: pa.Array, signed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """16-byte little-endian integers (decimal128, HUGEINT, UHUGEINT): the raw (n, 16)
    bytes, the low 64 bits as int64, and a mask of the values that fit in those bits."""
    raw = fixed_data(arr, 16)
    words = raw.view("<u8")
    lo, hi = words[:, 0].view(np.int64), words[:, 1]
    small = (hi.view(np.int64) == (lo >> 63)) if signed else ((hi == 0) & (lo >= 0))
    return raw, lo, small


def values(arr: pa.Array, fill: object = 0) -> np.ndarray:
    """A primitive array's values as numpy, nulls replaced by ``fill``."""
    if arr.null_count:
        arr = pc.fill_null(arr, pa.scalar(fill, arr.type))
    return arr.to_numpy(zero_copy_only=False)


def is_list(typ: pa.DataType) -> bool:
    return pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ)


def list_offsets(arr: pa.Array) -> np.ndarray:
    """The n + 1 offsets of a (fixed-size) list array into its values, as int64."""
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        return (np.arange(len(arr) + 1, dtype=np.int64) + arr.offset) * size
    return np.asarray(arr.offsets).astype(np.int64)


def valid(arr: pa.Array) -> np.ndarray | None:
    """A bool mask of the non-null values, or None when there is no null."""
    if arr.null_count == 0:
        return None
    return np.asarray(arr.is_valid())


def lengths(arr: pa.Array) -> np.ndarray:
    """Byte lengths of the values of a binary-like array; 0 for nulls."""
    out = np.diff(offsets(arr))
    mask = valid(arr)
    if mask is not None:
        out[~mask] = 0
    return out


def from_buffers(
    raw: np.ndarray | bytes, offs: np.ndarray, mask: np.ndarray | None = None
) -> pa.Array:
    """A binary array over ``raw`` with the given n + 1 offsets and validity."""
    n = len(offs) - 1
    large = int(offs[-1]) > _LARGE
    typ = pa.large_binary() if large else pa.binary()
    off_buf = pa.py_buffer(np.ascontiguousarray(offs, np.int64 if large else np.int32))
    validity = None
    null_count = 0
    if mask is not None and not mask.all():
        validity = pa.py_buffer(np.packbits(mask, bitorder="little"))
        null_count = int(n - np.count_nonzero(mask))
    return pa.Array.from_buffers(
        typ, n, [validity, off_buf, pa.py_buffer(raw)], null_count=null_count
    )


def fixed_array(matrix: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A binary array whose value i is row i of an (n, w) byte matrix (null where ~mask)."""
    n, w = matrix.shape
    if mask is not None and not mask.all():
        keep = np.repeat(mask, w).reshape(n, w)
        raw = matrix[keep]
        offs = np.zeros(n + 1, np.int64)
        np.cumsum(np.where(mask, w, 0), out=offs[1:])
        return from_buffers(raw, offs, mask)
    return from_buffers(np.ascontiguousarray(matrix).reshape(-1), np.arange(n + 1) * w)


def ragged(matrix: np.ndarray, widths: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """A binary array whose value i is the first widths[i] bytes of matrix row i."""
    n, w = matrix.shape
    keep = np.arange(w)[None, :] < widths[:, None]
    offs = np.zeros(n + 1, np.int64)
    np.cumsum(widths, out=offs[1:])
    return from_buffers(matrix[keep], offs, mask)


def big_endian(values: np.ndarray, dtype: str) -> np.ndarray:
    """An (n, w) byte matrix of ``values`` in big-endian ``dtype`` (such as ``>i4``)."""
    v = np.ascontiguousarray(values, dtype)
    return v.view(np.uint8).reshape(len(v), v.dtype.itemsize)


def with_validity(arr: pa.Array, mask: np.ndarray | None) -> pa.Array:
    """``arr`` (no nulls) with nulls where ``mask`` is False."""
    if mask is None or mask.all():
        return arr
    return from_buffers(data(arr), offsets(arr), mask)


def hex_bytes(arr: pa.Array) -> pa.Array:
    """Each value's bytes as lowercase hex (no prefix), nulls kept."""
    arr = as_binary(arr)
    offs = offsets(arr)
    raw = data(arr)[offs[0] : offs[-1]]
    return from_buffers(HEX[raw].reshape(-1), (offs - offs[0]) * 2, valid(arr))


def _matrix(piece: bytes | np.ndarray, n: int) -> np.ndarray:
    if isinstance(piece, bytes):
        return np.broadcast_to(np.frombuffer(piece, np.uint8), (n, len(piece)))
    return piece


def concat(pieces: Sequence[Piece], n: int) -> pa.Array:
    """Row i of the result is the concatenation of row i of every piece (no nulls)."""
    groups: list[list[np.ndarray] | pa.Array] = []
    for p in pieces:
        if isinstance(p, (bytes, np.ndarray)):
            if isinstance(p, bytes) and not p:
                continue
            mat = _matrix(p, n)
            if groups and isinstance(groups[-1], list):
                groups[-1].append(mat)
            else:
                groups.append([mat])
        else:
            groups.append(as_binary(p))
    arrays: list[pa.Array] = []
    masks: list[np.ndarray | None] = []
    total = 0
    for g in groups:
        if isinstance(g, list):
            mat = np.hstack(g) if len(g) > 1 else g[0]
            total += mat.shape[0] * mat.shape[1]
            arrays.append(fixed_array(mat))
            masks.append(None)
        else:
            mask = valid(g)
            offs = offsets(g)
            total += int(offs[-1] - offs[0])
            arrays.append(g)
            masks.append(mask)
    if not arrays:
        return from_buffers(b"", np.zeros(n + 1, np.int64))
    if len(arrays) == 1 and masks[0] is None:
        return arrays[0]
    large = total > _LARGE
    typ = pa.large_binary() if large else pa.binary()
    arrays = [a if a.type == typ else a.cast(typ) for a in arrays]
    arrays.append(_EMPTY_LARGE if large else _EMPTY)
    m = len(arrays) - 1
    empty = sum(len(a) for a in arrays[:-1])
    idx = np.empty((n, m), np.int64)
    rows = np.arange(n, dtype=np.int64)
    base = 0
    for j, (a, mask) in enumerate(zip(arrays, masks, strict=False)):
        col = rows + base
        if mask is not None:
            col[~mask] = empty
        idx[:, j] = col
        base += len(a)
    out = pa.concat_arrays(arrays).take(pa.array(idx.reshape(-1)))
    return from_buffers(data(out), offsets(out)[::m])


def joined_bytes(arr: pa.Array) -> bytes:
    """All values of a binary array back to back."""
    offs = offsets(arr)
    if len(offs) < 2:
        return b""
    return data(arr)[offs[0] : offs[-1]].tobytes()


def escape_bytes(arr: pa.Array) -> pa.Array:
    """bytea_output ``escape``: printable ASCII as itself, a backslash doubled, every other
    byte as ``\\ooo`` (octal), nulls kept."""
    out: list[str | None] = []
    for b in as_binary(arr).to_pylist():
        if b is None:
            out.append(None)
            continue
        out.append(
            "".join(
                "\\\\" if c == 0x5C else chr(c) if 0x20 <= c < 0x7F else f"\\{c:03o}" for c in b
            )
        )
    return pa.array(out, pa.string())
