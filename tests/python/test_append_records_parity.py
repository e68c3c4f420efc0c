"""persisting_append_records (the one-call put path) never takes a record that
LanceBackend.put would refuse or store differently.

For every column type and a spread of values, a record the raw C call accepts
must also be accepted by ``put`` into a bucket of the same schema, keep that
schema, and read back as the same value. (The C call refusing what ``put``
takes is fine: the caller then appends through the Arrow path.)
"""

from __future__ import annotations

import ctypes
import marshal
import math

import pyarrow as pa
import pytest

from persisting import _native
from persisting.queue import LanceBackend

TYPES = {
    "int8": pa.int8(), "int32": pa.int32(), "int64": pa.int64(), "uint8": pa.uint8(), "uint64": pa.uint64(),
    "float32": pa.float32(), "float64": pa.float64(), "bool": pa.bool_(), "string": pa.string(),
    "large_string": pa.large_string(), "binary": pa.binary(), "large_binary": pa.large_binary(),
    "list_int64": pa.list_(pa.int64()), "list_float64": pa.list_(pa.float64()),
    "large_list_string": pa.large_list(pa.string()),
    "struct": pa.struct([("x", pa.int64()), ("tags", pa.list_(pa.string()))]),
    "list_struct": pa.list_(pa.struct([("k", pa.string())])),
    "timestamp": pa.timestamp("us"), "date32": pa.date32(), "fixed_size_list": pa.list_(pa.int64(), 2),
}

VALUES = [
    None, True, False, 0, 1, -1, 127, 128, 255, 256, 2**24, 2**24 + 1, 2**31, 2**53, 2**53 + 1,
    -(2**53) - 1, 2**62, 2**63 - 1, -(2**63), 1.5, -0.0, math.inf, 1e300, "", "abc", "é", "\ud800",
    b"", b"x", bytearray(b"x"), [], [1], [1, 2.5], [1, "a"], [None, 1], (1, 2), ["a", None], [2**24 + 1],
    {}, {"x": 1}, {"x": None}, {"y": 1}, {"x": 1, "tags": ["a"]}, {"x": True}, {"x": 1.0},
    [{"k": "v"}], [{"k": 1}], [{}], [None],
]


def append_records(handle: int, data: bytes) -> int:
    fn = _native.lib().persisting_append_records
    fn.argtypes = [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
    fn.restype = ctypes.c_int
    return fn(handle, data, len(data), None)


@pytest.mark.parametrize("name", sorted(TYPES))
async def test_records_the_c_call_takes_put_takes_unchanged(name, tmp_path):
    schema = pa.schema([pa.field("f", TYPES[name]), pa.field("n", pa.int64())])
    first = pa.RecordBatch.from_pylist([{"f": None, "n": 0}], schema=schema)
    handle = _native.open_bucket(str(tmp_path / "c"), {"flush_threshold": 100000})
    try:
        _native.append(handle, first)
        taken = 0
        for i, value in enumerate(VALUES):
            record = {"f": value, "n": 1}
            if append_records(handle, marshal.dumps(record, 4)) != _native.OK:
                continue
            taken += 1
            backend = LanceBackend(0, str(tmp_path / f"py{i}"))
            try:
                await backend.put_arrow(first)
                await backend.put(record)  # raises if put refuses what the C call took
                await backend.flush()
                stored = (await backend.get_arrow()).to_pylist()[1]["f"]
                assert (await backend.get_arrow()).schema.field("f").type == TYPES[name]
            finally:
                backend.close()
            total = _native.count(handle)[0]
            ours = _native.read(handle, total - 1, 1).read_all().to_pylist()[0]["f"]
            same = ours == stored or (isinstance(ours, float) and math.isnan(ours) and math.isnan(stored))
            assert same, f"{value!r}: put stored {stored!r}, the C call {ours!r}"
        assert taken > 0 or name in {"timestamp", "date32", "fixed_size_list"}, "the C call took no value at all"
    finally:
        _native.close_bucket(handle)


def test_marshal_turns_buffers_into_bytes(tmp_path):
    """Why a Python caller must check binary fields itself: marshal writes any
    buffer as bytes, so the C call takes a memoryview that put refuses."""
    schema = pa.schema([pa.field("f", pa.binary())])
    handle = _native.open_bucket(str(tmp_path / "c"), None)
    try:
        _native.append(handle, pa.RecordBatch.from_pylist([{"f": None}], schema=schema))
        assert append_records(handle, marshal.dumps({"f": memoryview(b"m")}, 4)) == _native.OK
    finally:
        _native.close_bucket(handle)
