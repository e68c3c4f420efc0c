"""What get() returns, put() takes back: for every column type pylance writes,
the rows a LanceBackend reads (or pylance's to_pylist()) are put back one by
one, flushed, and pylance reads the appended rows equal to the originals. A
value a column cannot hold exactly is refused, naming the column."""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError
from persisting.queue import LanceBackend, PersistingBackend

T = [time(0, 0), time(23, 59, 59), time(12, 30, 15)]
D = [timedelta(0), timedelta(days=-3, seconds=7), timedelta(days=400, seconds=86399)]
# name -> (type, three values; each column gets a None too)
COLUMNS = {
    "int8": (pa.int8(), [-128, 0, 127]), "uint64": (pa.uint64(), [0, 1, 2**64 - 1]),
    "int16": (pa.int16(), [-1, 2, 3]), "uint32": (pa.uint32(), [0, 7, 2**32 - 1]),
    "f16": (pa.float16(), [0.5, -2.0, 1024.0]), "f32": (pa.float32(), [0.25, -1.5, 3.0]),
    "f64": (pa.float64(), [0.1, -1e300, 5.0]), "bool": (pa.bool_(), [True, False, True]),
    "str": (pa.string(), ["a", "", "é"]), "lstr": (pa.large_string(), ["x", "yy", ""]),
    "bin": (pa.binary(), [b"", b"\x00", b"ab"]), "lbin": (pa.large_binary(), [b"q", b"", b"\xff"]),
    "fbin": (pa.binary(3), [b"abc", b"\x00\x00\x00", b"xyz"]),
    "dec": (pa.decimal128(9, 3), [Decimal("1.250"), Decimal("-0.001"), Decimal("123456.789")]),
    "dec256": (pa.decimal256(50, 2), [Decimal("1E+40"), Decimal("0.01"), Decimal("-5.00")]),
    "d32": (pa.date32(), [date(1970, 1, 1), date(1, 1, 1), date(9999, 12, 31)]),
    "d64": (pa.date64(), [date(2000, 2, 29), date(1969, 12, 31), date(2024, 1, 1)]),
    "ts_s": (pa.timestamp("s"), [datetime(2024, 1, 1, 12), datetime(1960, 5, 5), datetime(2038, 1, 20)]),
    "ts_ms": (pa.timestamp("ms"), [datetime(2024, 1, 1, 0, 0, 0, 123000)] * 3),
    "ts_us": (pa.timestamp("us"), [datetime(2024, 1, 1, 0, 0, 0, 123456), datetime(1, 1, 1), datetime(9999, 1, 1)]),
    "ts_ns": (pa.timestamp("ns"), [datetime(2024, 1, 1, 0, 0, 0, 1), datetime(1970, 1, 1), datetime(2200, 1, 1)]),
    "ts_tz": (pa.timestamp("us", tz="UTC"), [datetime(2024, 1, 1, tzinfo=timezone.utc)] * 3),
    "ts_paris": (pa.timestamp("ms", tz="Europe/Paris"), [datetime(2024, 7, 1, 10, tzinfo=timezone.utc)] * 3),
    "t32_s": (pa.time32("s"), T), "t32_ms": (pa.time32("ms"), T + [time(1, 2, 3, 4000)]),
    "t64_us": (pa.time64("us"), T + [time(23, 59, 59, 999999)]), "t64_ns": (pa.time64("ns"), T + [time(0, 0, 0, 1)]),
    "dur_s": (pa.duration("s"), D), "dur_ms": (pa.duration("ms"), D + [timedelta(milliseconds=-1)]),
    "dur_us": (pa.duration("us"), D + [timedelta(microseconds=1)]), "dur_ns": (pa.duration("ns"), D),
    "struct": (pa.struct([("a", pa.int32()), ("t", pa.time64("us"))]), [{"a": 1, "t": time(1)}, {"a": None, "t": None}]),
    "list": (pa.list_(pa.duration("ms")), [[timedelta(seconds=1)], [], [None, timedelta(0)]]),
    "llist": (pa.large_list(pa.string()), [["a", None], [], ["b"]]),
    "fslist": (pa.list_(pa.float32(), 2), [[1.0, 2.0], [None, 0.5]]),
    "map": (pa.map_(pa.string(), pa.int64()), [[("a", 1), ("b", None)], [], [("a", 2), ("a", 3)]]),
    "map_nested": (pa.map_(pa.int32(), pa.list_(pa.time32("s"))), [[(1, [time(1)])], [(2, [])]]),
    "dict_str": (pa.dictionary(pa.int8(), pa.string()), ["red", "green", "red"]),
    "dict_lstr": (pa.dictionary(pa.int32(), pa.large_string()), ["red", "", "red"]),
    "dict_lbin": (pa.dictionary(pa.int16(), pa.large_binary()), [b"x", b"y", b"x"]),
    "dict_int": (pa.dictionary(pa.int32(), pa.int64()), [5, 6, 5]),
    "null": (pa.null(), [None, None]),
}


def _table(name: str) -> pa.Table:
    typ, values = COLUMNS[name]
    values = values + [None]
    return pa.table({"id": pa.array(range(len(values)), pa.int64()), name: pa.array(values, typ)})


# pylance writes maps from data storage version 2.2 on
CASES = [(n, v) for n in COLUMNS for v in ("2.1", "2.2") if v == "2.2" or not n.startswith("map")]


@pytest.mark.parametrize("backend", [LanceBackend, PersistingBackend])
@pytest.mark.parametrize("name,version", CASES)
async def test_rows_read_are_put_back_exactly(bucket_path, name, version, backend):
    table = _table(name)
    uri = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table, uri, data_storage_version=version)
    b = backend(0, bucket_path)
    try:
        rows = await b.get()
        assert rows == table.to_pylist()
        for row in rows:
            await b.put(row)
        await b.put_batch(lance.dataset(uri).to_table().to_pylist())
        assert await b.get(offset=len(rows)) == rows * 2  # the rows not flushed yet read back the same
        await b.flush()
    finally:
        b.close()
    back = lance.dataset(uri).to_table()
    assert back.schema == table.schema
    n = table.num_rows
    assert back.num_rows == 3 * n
    assert back.slice(n, n).to_pylist() == table.to_pylist()
    assert back.slice(2 * n, n).to_pylist() == table.to_pylist()
    if not pa.types.is_dictionary(table.schema.field(name).type):  # dictionaries may hold other values
        assert back.slice(n, n).equals(table) and back.slice(2 * n, n).equals(table)


# (column, a value of the column's Python kind it cannot hold, what the error says)
REFUSED = [
    ("t32_s", time(1, 2, 3, 500), "time32[s] would lose precision"),
    ("t32_ms", time(0, 0, 0, 1), "time32[ms] would lose precision"),
    ("dur_s", timedelta(milliseconds=1), "duration[s] would lose precision"),
    ("dur_ns", timedelta(days=200000), "duration[ns] would lose precision or overflow"),
    ("t64_us", timedelta(seconds=1), "expected time64[us], found timedelta"),
    ("dur_us", time(1), "expected duration[us], found time 01:00:00"),
    ("t64_ns", time(1, tzinfo=timezone.utc), "cannot store a value of type time"),
    ("map", [("a", 1, 2)], "a dict, or a list of (key, value) pairs"),
    ("map", [("a", "x")], "field 'map{}': expected int64, found str 'x'"),
    ("map", [(None, 1)], "a map key must not be None"),
]


@pytest.mark.parametrize("name,value,message", REFUSED, ids=[f"{n}-{v!r}" for n, v, _ in REFUSED])
async def test_values_that_lose_precision_are_refused(bucket_path, name, value, message):
    table = _table(name)
    uri = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table, uri, data_storage_version="2.2")
    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(Exception) as e:
            await b.put_batch([{"id": -1}, {"id": -2, name: value}])
        assert f"field '{name}" in str(e.value) and message in str(e.value), e.value
        assert b.total_count() == table.num_rows
    finally:
        b.close()


async def test_a_new_bucket_infers_time64_and_duration_like_pyarrow(bucket_path):
    rows = [{"t": time(1, 2, 3, 4), "d": timedelta(days=-1, microseconds=3)}, {"t": None, "d": timedelta(0)}]
    b = PersistingBackend(0, bucket_path, data_storage_version="2.2")
    try:
        await b.put_batch(rows)
        await b.flush()
        assert await b.get() == rows
        with pytest.raises(SchemaError):  # a list of pairs is no map here: the column is time64[us]
            await b.put({"t": [("a", 1)]})
    finally:
        b.close()
    assert lance.dataset(os.path.join(bucket_path, "data.lance")).to_table().equals(pa.Table.from_pylist(rows))
