"""PostgreSQL's binary ``COPY`` format, written from Arrow columns in one buffer.

A million staged rows sent as CSV cost the server most of a second to parse (a time with its zone
and a float per row, as text); in the binary format it copies bytes. psycopg's ``write_row`` would
build that format one value at a time in Python; here each value becomes its field's bytes with a
NumPy operation over the whole column, and Arrow joins the fields of every row end to end.

Pure: no database. The format: a header, then per row a 16-bit field count and per field a 32-bit
length (-1 for NULL) and the value's bytes, all big-endian; then a trailer of -1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # the signature, no flags, no header extension
TRAILER = b"\xff\xff"
# PostgreSQL counts time from 2000-01-01 UTC, Arrow from 1970.
_PG_EPOCH = (datetime(2000, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
_NULL = b"\xff\xff\xff\xff"  # the length of a NULL


@dataclass(frozen=True)
class Field:
    """One column to write and the PostgreSQL type it is sent as: ``int4``, ``int8``, ``float8``,
    ``timestamptz`` (Arrow timestamps in microseconds) or ``text`` (Arrow strings)."""

    values: pa.Array | pa.ChunkedArray
    kind: str


_BIG_ENDIAN = {"int4": ">i4", "int8": ">i8", "float8": ">f8", "timestamptz": ">i8"}


def encode(fields: Sequence[Field]) -> pa.Buffer:
    """The rows of ``fields`` (all of one length) in the binary COPY format, header and trailer included."""
    body = rows_of(fields)
    out = np.empty(len(HEADER) + body.size + len(TRAILER), dtype=np.uint8)
    out[:len(HEADER)] = np.frombuffer(HEADER, dtype=np.uint8)
    out[len(HEADER):len(out) - len(TRAILER)] = np.frombuffer(body, dtype=np.uint8)
    out[len(out) - len(TRAILER):] = np.frombuffer(TRAILER, dtype=np.uint8)
    return pa.py_buffer(out)


def rows_of(fields: Sequence[Field]) -> pa.Buffer:
    """The rows of ``fields`` alone, without header or trailer: a part of a COPY sent in several."""
    rows = len(fields[0].values) if fields else 0
    if not rows:
        return pa.py_buffer(b"")
    count = _fixed_bytes(np.full(rows, len(fields), dtype=">i2"))
    pieces = [count]
    for field in fields:
        pieces += _field_bytes(field)
    joined = pc.binary_join_element_wise(*pieces, b"")
    _validity, offsets, data = joined.buffers()
    start, end = np.frombuffer(offsets, dtype=np.int32)[[joined.offset, joined.offset + rows]]
    return data.slice(int(start), int(end - start)) if data is not None else pa.py_buffer(b"")


def _field_bytes(field: Field) -> list[pa.Array]:
    """A column's fields as binary arrays to join: each value's length word, then its bytes."""
    values = field.values.combine_chunks() if isinstance(field.values, pa.ChunkedArray) else field.values
    valid = None if values.null_count == 0 else pc.is_valid(values)
    if field.kind == "text":
        text = values.fill_null("") if valid is not None else values
        lengths = np.asarray(pc.binary_length(text).to_numpy(zero_copy_only=False), dtype=">i4")
        if valid is not None:
            lengths = np.where(np.asarray(valid.to_numpy(zero_copy_only=False)), lengths, -1).astype(">i4")
        return [_fixed_bytes(lengths), text.cast(pa.binary())]
    if field.kind == "timestamptz":
        micros = values.cast(pa.timestamp("us", tz=values.type.tz)).cast(pa.int64())
        numbers = np.asarray(micros.fill_null(0).to_numpy(zero_copy_only=False)) - _PG_EPOCH
    else:
        numbers = np.asarray(values.fill_null(0).to_numpy(zero_copy_only=False))
    big = numbers.astype(_BIG_ENDIAN[field.kind])
    record = np.empty(len(big), dtype=[("length", ">i4"), ("value", big.dtype)])
    record["length"] = big.dtype.itemsize
    record["value"] = big
    with_length = _fixed_bytes(record)
    if valid is None:
        return [with_length]
    return [pc.if_else(valid, with_length, pa.scalar(_NULL, pa.binary()))]


def _fixed_bytes(values: np.ndarray) -> pa.Array:
    """Each element of a NumPy array as a binary value of its bytes."""
    width = values.dtype.itemsize
    raw = np.ascontiguousarray(values)
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(raw), [None, pa.py_buffer(raw)])
    return fixed.cast(pa.binary())
