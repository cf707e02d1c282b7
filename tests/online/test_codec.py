"""Unit tests of the row codec and of the Redis key layout."""

from __future__ import annotations

import struct
from datetime import UTC, date, datetime
from urllib.parse import unquote

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from featurestore.errors import InputError
from featurestore.online import ViewSpec, codec, keys
from featurestore.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, Timestamp

VIEW = ViewSpec("v", ("id",), (Int64,), ("a", "b", "c"), (Int64, Timestamp, Array(Float64)), None)


def encode1(view: ViewSpec, event: int, created: int, values: tuple[object, ...]) -> bytes:
    return codec.row_encoder(view)([0], [event], [created], [values])[0]


def test_header_has_the_fixed_layout_the_lua_script_reads() -> None:
    blob = encode1(VIEW, -5, 2**63 - 1, (1, None, [0.5]))
    assert blob[0] == 0xDD and struct.unpack(">I", blob[1:5]) == (6,)
    assert blob[codec.EVENT_OFFSET - 1] == 0xD3 and blob[codec.EVENT_OFFSET + 8] == 0xD3
    assert struct.unpack(">q", blob[codec.EVENT_OFFSET:codec.EVENT_OFFSET + 8]) == (-5,)
    assert codec.decode_times(blob) == (-5, 2**63 - 1)
    assert msgpack.unpackb(blob) == [-5, 2**63 - 1, codec.fingerprint(VIEW), 1, None, [0.5]]
    assert codec.row_decoder(VIEW)(blob) == (-5, (1, None, [0.5]))


def test_many_features_use_longer_msgpack_array_headers() -> None:
    for n in (15, 16, 70000):
        view = ViewSpec("w", ("id",), (Int64,), tuple(f"f{i}" for i in range(n)), (Int32,) * n, None)
        row = tuple(range(n))
        assert codec.row_decoder(view)(encode1(view, 1, 2, row)) == (1, row)


def test_values_converted_on_write() -> None:
    np = pytest.importorskip("numpy")
    view = ViewSpec("w", ("id",), (Int64,), ("t", "d", "i", "f", "arr"),
                    (Timestamp, Timestamp, Int64, Float32, Array(Int32)), None)
    row = (datetime(2024, 1, 2, 3, 4, 5, 6), date(2024, 1, 2), np.int64(7), np.float32(0.5), np.array([1, 2]))
    got = codec.row_decoder(view)(encode1(view, 1, 1, row))
    assert got == (1, (datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC), 7, 0.5,
                       [1, 2]))
    assert type(got[1][2]) is int and type(got[1][3]) is float


def test_bad_values_raise_input_error() -> None:
    with pytest.raises(InputError, match="3 features"):
        encode1(VIEW, 1, 1, (1, None))
    with pytest.raises(InputError):
        encode1(VIEW, 1, 1, (2**64, None, None))
    with pytest.raises(InputError):
        encode1(VIEW, 1, 1, (object(), None, None))
    with pytest.raises(InputError):
        encode1(VIEW, 2**63, 1, (1, None, None))


def test_other_schema_decodes_as_missing() -> None:
    other = ViewSpec("v", ("id",), (Int64,), ("a", "b", "c"), (Int64, Timestamp, Array(Float32)), None)
    assert codec.fingerprint(other) != codec.fingerprint(VIEW)
    assert codec.row_decoder(other)(encode1(VIEW, 1, 1, (1, None, None))) is None


def test_latest_rows() -> None:
    assert codec.latest_rows([(1,), (2,)], [5, 5], [5, 5]) == range(2)
    assert list(codec.latest_rows([(1,), (2,), (1,), (1,)], [5, 1, 7, 7], [0, 0, 3, 3])) == [1, 3]
    assert list(codec.latest_rows([(1,), (1,)], [5, 4], [0, 9])) == [0]
    with pytest.raises(InputError):
        codec.latest_rows([([1],)], [1], [1])


# ---- keys ----------------------------------------------------------------------------------------------


def test_escape_string() -> None:
    assert keys.escape_string("plain_Zürich ✓") == "plain_Zürich ✓"
    assert keys.escape_string("a,b=c%d") == "a%2Cb%3Dc%25d"
    assert keys.escape_string("\n\x7f") == "%0A%7F"
    assert keys.escape_string("") == ""


@given(st.text())
def test_escape_string_is_reversible_and_separator_free(text: str) -> None:
    escaped = keys.escape_string(text)
    assert "," not in escaped and "=" not in escaped
    assert unquote(escaped) == text


def test_key_builder_canonical_forms() -> None:
    view = ViewSpec("v", ("s", "i", "b", "x", "f", "t"), (String, Int32, Bool, Bytes, Float64, Timestamp),
                    (), (), None)
    build = keys.key_builder(keys.view_prefix("p", "v"), view)
    key = ("a=b", -3, False, b"\x00\xff", -0.0, datetime(1970, 1, 1, 0, 0, 1))
    assert build(key) == "fs:p:v:s=a%3Db,i=-3,b=false,x=0x00ff,f=0.0,t=1000000"
    epoch = datetime(1970, 1, 1)
    for bad in [("a", 1.5, False, b"", 0.0, epoch), ("a", 1, 1, b"", 0.0, epoch),
                (1, 1, True, b"", 0.0, epoch), ("a", 1, True, "x", 0.0, epoch), ("a", 1, True, b"", 0.0, 5),
                ("a",), ("a", None, True, b"", 0.0, epoch)]:
        with pytest.raises((TypeError, ValueError)):
            build(bad)


def test_prefixes_and_patterns() -> None:
    assert keys.project_prefix("a") == "fs:a:"
    assert keys.view_prefix("a", "x") == "fs:a:x:"
    assert keys.scan_pattern("fs:a:x:") == "fs:a:x:*"
    assert keys.scan_pattern("fs:[a]*?\\:") == "fs:\\[a\\]\\*\\?\\\\:*"
    for bad in ("a:b", "a*", "", "a b", "a-b"):
        with pytest.raises(InputError):
            keys.project_prefix(bad)
    with pytest.raises(InputError):
        keys.key_builder("", ViewSpec("v", ("id",), (Array(Int64),), (), (), None))
