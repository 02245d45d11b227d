"""PostgreSQL's binary COPY format written from Arrow columns."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pyarrow as pa

from fangkong.testing.binary_copy import HEADER, TRAILER, Field, encode


def field(value: bytes | None) -> bytes:
    """One field as the format has it: its length (-1 for NULL), then its bytes."""
    return struct.pack(">i", -1) if value is None else struct.pack(">i", len(value)) + value


def test_rows_are_written_field_by_field_with_nulls_and_text_of_any_length() -> None:
    moment = datetime(2021, 1, 20, 6, 30, tzinfo=UTC)
    encoded = encode([
        Field(pa.array([2, 3, 4], pa.int32()), "int4"),
        Field(pa.array(["T0001", "", "阳性 tube"]), "text"),
        Field(pa.array([None, "x", None], pa.string()), "text"),
        Field(pa.array([moment, None, moment], pa.timestamp("us", tz="UTC")), "timestamptz"),
        Field(pa.array([28.5, None, 0.0]), "float8"),
        Field(pa.array([7, 7, None], pa.int64()), "int8"),
    ])
    # 2021-01-20 06:30 UTC in microseconds since 2000-01-01.
    micros = struct.pack(">q", int((moment - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds()) * 1_000_000)
    rows = [
        [struct.pack(">i", 2), b"T0001", None, micros, struct.pack(">d", 28.5), struct.pack(">q", 7)],
        [struct.pack(">i", 3), b"", b"x", None, None, struct.pack(">q", 7)],
        [struct.pack(">i", 4), "阳性 tube".encode(), None, micros, struct.pack(">d", 0.0), None],
    ]
    expected = HEADER + b"".join(struct.pack(">h", 6) + b"".join(field(v) for v in row) for row in rows) + TRAILER
    assert bytes(encoded) == expected


def test_a_slice_of_a_column_is_written_from_its_own_first_value() -> None:
    codes = pa.array(["A", "BB", "CCC", "DDDD"]).slice(1, 2)
    encoded = encode([Field(codes, "text")])
    one = struct.pack(">h", 1)
    assert bytes(encoded) == HEADER + one + field(b"BB") + one + field(b"CCC") + TRAILER


def test_times_in_any_unit_are_sent_in_microseconds_and_no_rows_is_header_and_trailer() -> None:
    moment = datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC)
    encoded = encode([Field(pa.array([moment], pa.timestamp("s", tz="UTC")), "timestamptz")])
    assert bytes(encoded) == HEADER + struct.pack(">h", 1) + field(struct.pack(">q", 1_000_000)) + TRAILER
    assert bytes(encode([Field(pa.array([], pa.int32()), "int4")])) == HEADER + TRAILER
