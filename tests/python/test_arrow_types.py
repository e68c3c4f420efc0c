"""fixed_size_binary, decimal128/256 and null columns: pylance writes them at
each data storage version, a LanceBackend reads them exactly, appends
(``put_arrow`` and dict ``put``), flushes, and pylance reads everything back
exactly. A value that does not fit its column is refused and nothing of its
call is stored."""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

import lance
import pyarrow as pa
import pytest

from helpers import explain, run_python
from persisting import SchemaError, UnsupportedError
from persisting.queue import LanceBackend, PersistingBackend

VERSIONS = ["2.0", "2.1", "2.2"]
ROWS = 3000  # two fragments of 1500 rows


def _some(f):
    return [None if i % 7 == 3 else f(i) for i in range(ROWS)]


# name -> (column pylance writes, a value a dict record puts into it)
COLUMNS = {
    "uuid": (pa.array(_some(lambda i: i.to_bytes(16, "little")), pa.binary(16)), b"0123456789abcdef"),
    "tag": (pa.array(_some(lambda i: (i % 50).to_bytes(4, "big")), pa.binary(4)), b"\x00\x01\x02\x03"),
    "price": (pa.array(_some(lambda i: Decimal(i) / 100), pa.decimal128(10, 2)), Decimal("-12.5")),
    "big": (pa.array(_some(lambda i: Decimal(i * 10**30) / 1000), pa.decimal256(40, 3)), Decimal("1E+36")),
    "nothing": (pa.nulls(ROWS), None),
}


def _table(name: str) -> pa.Table:
    return pa.table({"id": pa.array(range(ROWS), pa.int64()), name: COLUMNS[name][0]})


def _pylance_writes(path: str, table: pa.Table, version: str) -> str:
    uri = os.path.join(path, "data.lance")
    half = table.num_rows // 2
    lance.write_dataset(table.slice(0, half), uri, data_storage_version=version)
    lance.write_dataset(table.slice(half), uri, mode="append", data_storage_version=version)
    return uri


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", list(COLUMNS))
async def test_read_and_append_like_pylance(bucket_path, version, name):
    table = _table(name)
    uri = _pylance_writes(bucket_path, table, version)
    assert len(lance.dataset(uri).get_fragments()) == 2
    b = LanceBackend(0, bucket_path)
    try:
        got = await b.get_arrow()
        assert got.schema == table.schema and got.equals(lance.dataset(uri).to_table())
        assert await b.get(5, 1497) == table.slice(1497, 5).to_pylist()
        await b.put_arrow(table.slice(10, 20))
        value = COLUMNS[name][1]
        await b.put({"id": -1, name: value})
        await b.put({"id": -2})
        await b.flush()
    finally:
        b.close()
    back = lance.dataset(uri).to_table()
    expected = pa.concat_tables([table, table.slice(10, 20),
                                 pa.Table.from_pylist([{"id": -1, name: value}, {"id": -2}], schema=table.schema)])
    assert back.schema == table.schema
    assert back.equals(expected)


@pytest.mark.parametrize("version", VERSIONS)
async def test_fresh_bucket_put_arrow(bucket_path, version):
    """put_arrow into a new bucket (PersistingBackend: it takes the data
    storage version) writes the types as pylance would (a null
    column only inside a struct or list: a top-level one is an untyped field,
    docs/schema-rules.md)."""
    cols = {k: v[0] for k, v in COLUMNS.items() if k != "nothing"}
    cols["l_tag"] = pa.array(_some(lambda i: [(i % 9).to_bytes(4, "big")] * (i % 3)), pa.list_(pa.binary(4)))
    if version != "2.0":  # structs need 2.1
        cols["st"] = pa.array([{"d": Decimal(i), "n": None} for i in range(ROWS)],
                              pa.struct([("d", pa.decimal256(40, 0)), ("n", pa.null())]))
    table = pa.table(cols)
    b = PersistingBackend(0, bucket_path, data_storage_version=version)
    try:
        await b.put_arrow(table)
        await b.flush()
        assert (await b.get_arrow()).equals(table)
    finally:
        b.close()
    ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
    assert ds.data_storage_version == version and ds.to_table().equals(table)


BAD = [
    ("uuid", b"short", "the column takes bytes of length 16, this is of length 5"),
    ("tag", "abcd", "expected fixed_size_binary[4], found str 'abcd'"),
    ("price", Decimal("1.005"), "it has 3 digits after the point, the column's scale is 2: it would lose digits"),
    ("price", Decimal("123456789"), "more than the column's precision of 10 digits"),
    ("big", Decimal("1E+40"), "more than the column's precision of 40 digits"),
    ("big", 7, "expected decimal256(40, 3), found int 7"),
    ("tag", uuid.UUID(int=1), "expected fixed_size_binary[4], found UUID UUID('00000000-0000-0000-0000-0000000... "
                              "(the column takes bytes of length 4, a UUID is 16 bytes)"),
]


@pytest.mark.parametrize("backend", [LanceBackend, PersistingBackend])
@pytest.mark.parametrize("name,value,message", BAD, ids=[f"{n}-{v!r}" for n, v, _ in BAD])
async def test_bad_values_are_refused_and_nothing_stored(bucket_path, backend, name, value, message):
    table = _table(name)
    uri = _pylance_writes(bucket_path, table, "2.1")
    b = backend(0, bucket_path)
    try:
        with pytest.raises(SchemaError) as e:
            await b.put_batch([{"id": -1, name: COLUMNS[name][1]}, {"id": -2, name: value}])
        assert f"field '{name}'" in str(e.value) and message in str(e.value), e.value
        assert b.total_count() == ROWS
        await b.flush()
    finally:
        b.close()
    assert lance.dataset(uri).to_table().equals(table)


@pytest.mark.parametrize("backend", [LanceBackend, PersistingBackend])
async def test_null_column_takes_its_first_value(bucket_path, backend):
    """A stored null column stays null through flushes of None, and is typed
    by its first value (the rule of untyped fields)."""
    uri = _pylance_writes(bucket_path, _table("nothing"), "2.2")
    b = backend(0, bucket_path)
    try:
        await b.put({"id": -1, "nothing": None})
        await b.flush()
        assert lance.dataset(uri).schema.field("nothing").type == pa.null()
        await b.put({"id": -2, "nothing": "now a string"})
        await b.flush()
    finally:
        b.close()
    back = lance.dataset(uri).to_table()
    assert back.schema.field("nothing").type == pa.string()
    assert back.column("nothing").to_pylist() == [None] * (ROWS + 1) + ["now a string"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_compaction_rewrites_them_exactly(bucket_path, version):
    """Compaction merges pylance's small fragments of these columns (and,
    vectors of them) into one that pylance reads exactly."""
    cols = {k: v[0].slice(0, 200) for k, v in COLUMNS.items()}
    items = pa.array([i.to_bytes(4, "little") for i in range(400)], pa.binary(4))
    cols["vec"] = pa.FixedSizeListArray.from_arrays(items, 2)
    table = pa.table(cols)
    uri = os.path.join(bucket_path, "data.lance")
    for k in range(0, 200, 40):
        lance.write_dataset(table.slice(k, 40), uri, mode="append" if k else "create", data_storage_version=version)
    b = LanceBackend(0, bucket_path)
    try:
        assert (await b.compact())["fragments"] == 1
    finally:
        b.close()
    ds = lance.dataset(uri)
    assert len(ds.get_fragments()) == 1 and ds.to_table().equals(table)


@pytest.mark.parametrize("version", VERSIONS)
async def test_long_runs_of_one_value_read_exactly(bucket_path, version):
    """pylance compresses a string of one repeated character far past 1024:1 (zstd);
    such a page is read, not refused as an implausible length."""
    table = pa.table({"s": ["x" * (5 << 20), "y" * (3 << 20), None], "i": [1, 2, 3]})
    uri = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(table, uri, data_storage_version=version)
    b = LanceBackend(0, bucket_path)
    try:
        assert (await b.get_arrow()).equals(lance.dataset(uri).to_table())
        assert (await b.get(1, 1))[0]["s"] == "y" * (3 << 20)
    finally:
        b.close()


EMPTY_BUFFERS = """
import asyncio, sys, lance, pyarrow as pa
from persisting.queue import LanceBackend
uri, bucket = sys.argv[1], sys.argv[2]
table = lance.dataset(uri).to_table()
# arrow-rs exports an empty buffer as an aligned dangling pointer, not NULL
assert 0 < table.column("c0").chunks[0].buffers()[2].address < 4096
async def main():
    b = LanceBackend(0, bucket)
    try:
        for _ in range(3):
            await b.put_arrow(table)
        await b.flush()
        got = await b.get_arrow()
        assert got.equals(pa.concat_tables([table] * 3)), "rows differ"
    finally:
        b.close()
asyncio.run(main())
print("appended")
"""


def test_put_arrow_of_pylance_tables_with_empty_buffers(tmp_path):
    """pylance's to_table() of all-null string columns hands over values
    buffers at address 0x80 (empty, dangling): put_arrow appends them, where
    the Go runtime once aborted the whole process ("invalid pointer found on
    stack"). In a child process, so that such an abort fails this test only."""
    uri = str(tmp_path / "src.lance")
    lance.write_dataset(pa.table({f"c{i}": pa.nulls(3000, pa.string()) for i in range(20)}), uri)
    proc = run_python(EMPTY_BUFFERS, uri, str(tmp_path / "bucket"))
    assert proc.returncode == 0 and "appended" in proc.stdout, explain(proc)


def _stamps(unit: str, tz: str | None) -> pa.Array:
    import datetime as dt
    return pa.array([dt.datetime(2020, 1, 1, 12), None, dt.datetime(1960, 6, 1, 23, 59)], pa.timestamp(unit, tz))


def _uuids() -> pa.Array:
    return pa.ExtensionArray.from_storage(pa.uuid(), pa.array([uuid.UUID(int=i).bytes if i != 1 else None for i in range(3)],
                                                              pa.binary(16)))


# id -> (the column, the oldest data storage version that stores it): what
# pylance writes and reads back exactly, put_arrow and put of to_pylist() rows
# store the same.
LIKE_PYLANCE = {
    **{f"ts-{u}-{tz}": (_stamps(u, tz), "2.0")
       for u in ("s", "ms", "us", "ns") for tz in ("+05:30", "-03:30", "+00:00")},
    "ts-in-struct": (pa.StructArray.from_arrays([_stamps("ms", "-09:30")], ["at"]), "2.1"),
    "ts-in-list": (pa.ListArray.from_arrays([0, 2, 3, 3], _stamps("us", "+05:45")), "2.0"),
    "ts-in-fixed-size-list": (pa.FixedSizeListArray.from_arrays(_stamps("ns", "-03:30"), 3), "2.0"),
    "ts-in-map": (pa.MapArray.from_arrays([0, 2, 3], pa.array(["a", "b", "c"]), _stamps("s", "+13:45")), "2.2"),
    # to_pylist() gives uuid.UUID values: a put of such rows stores them
    "uuid": (_uuids(), "2.0"),
    "uuid-in-struct": (pa.StructArray.from_arrays([_uuids()], ["u"]), "2.1"),
    "uuid-in-list": (pa.ListArray.from_arrays([0, 2, 3, 3], _uuids()), "2.0"),
    "uuid-as-plain-bytes": (pa.array([uuid.UUID(int=7).bytes, None], pa.binary(16)), "2.0"),
}


@pytest.mark.parametrize("name,version", [(n, v) for n, (_, oldest) in LIKE_PYLANCE.items()
                                          for v in VERSIONS if v >= oldest])
async def test_stored_as_pylance_stores_it(tmp_path, version, name):
    column = LIKE_PYLANCE[name][0]
    table = pa.table({"id": pa.array(range(len(column)), pa.int64()), "c": column})
    theirs = os.path.join(tmp_path, "theirs")
    lance.write_dataset(table, os.path.join(theirs, "data.lance"), data_storage_version=version)
    assert lance.dataset(os.path.join(theirs, "data.lance")).to_table().equals(table)  # the oracle
    ours = os.path.join(tmp_path, "ours")
    with PersistingBackend(0, ours, data_storage_version=version) as b:
        await b.put_arrow(table)
        assert (await b.get_arrow()).equals(table)
        await b.flush()
        assert (await b.get_arrow()).equals(table)
    ds = lance.dataset(os.path.join(ours, "data.lance"))
    ds.validate()
    assert ds.to_table().equals(table)
    with LanceBackend(0, theirs) as b:
        assert (await b.get_arrow()).equals(table)
        assert await b.get() == table.to_pylist()
        await b.put_batch(table.to_pylist())
        await b.put_arrow(table)
        await b.flush()
        assert (await b.get_arrow()).equals(pa.concat_tables([table] * 3))
    ds = lance.dataset(os.path.join(theirs, "data.lance"))
    ds.validate()
    assert ds.to_table().equals(pa.concat_tables([table] * 3))


# id -> (a column pylance refuses, or writes as something this library does not, and what the error says)
REFUSED = {
    "json": (pa.array(['{"a": 1}', None], pa.json_()), "field \"c\": arrow.json columns are not supported"),
    "json-in-struct": (pa.StructArray.from_arrays([pa.array(["[]"], pa.json_())], ["j"]),
                       "field \"c.j\": arrow.json columns are not supported"),
    "list_view": (pa.array([[1], None], pa.list_view(pa.int32())), "field \"c\": unsupported arrow type list_view"),
    "run_end_encoded": (pa.RunEndEncodedArray.from_arrays([2], pa.array([1], pa.int32())),
                        "field \"c\": unsupported arrow type run_end_encoded"),
    "sparse_union": (pa.UnionArray.from_sparse(pa.array([0], pa.int8()), [pa.array([1])]),
                     "field \"c\": unsupported arrow type sparse_union"),
    "month_day_nano": (pa.array([pa.MonthDayNano([1, 2, 3])]), "field \"c\": unsupported arrow type month_day_nano"),
    "decimal32": (pa.array([Decimal("1.25")], pa.decimal32(9, 2)), "field \"c\": decimal32(9, 2) is not supported"),
    "decimal64-in-list": (pa.array([[Decimal(7)]], pa.list_(pa.decimal64(18, 0))),
                          "field \"c.item\": decimal64(18, 0) is not supported"),
}


@pytest.mark.parametrize("name", list(REFUSED))
async def test_refused_with_the_column_named_and_nothing_stored(tmp_path, name):
    column, message = REFUSED[name]
    with PersistingBackend(0, str(tmp_path), data_storage_version="2.2") as b:
        await b.put({"id": 1})
        table = pa.table({"id": pa.array(range(len(column)), pa.int64()), "c": column})
        with pytest.raises(UnsupportedError) as e:
            await b.put_arrow(table)
        assert message in str(e.value), e.value
        assert b.total_count() == 1
        await b.flush()
    ds = lance.dataset(os.path.join(tmp_path, "data.lance"))
    ds.validate()
    assert ds.to_table().to_pylist() == [{"id": 1}]


def _bools(n: int) -> list:
    return [None if i % 11 == 5 else (i < n // 2 or i % 3 == 0) for i in range(n)]


# id -> a column pylance writes that a bucket reads as pylance does, though it
# does not write it (the bucket is read-only, the error naming the field)
READ_ONLY = {
    "dictionary<bool>": pa.array(_bools(ROWS)).dictionary_encode(),
    "dictionary<bool>-one-value": pa.array([True] * 10 + [None]).dictionary_encode(),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", list(READ_ONLY))
async def test_reads_what_pylance_wrote_and_refuses_to_write_it(bucket_path, version, name):
    column = READ_ONLY[name]
    table = pa.table({"id": pa.array(range(len(column)), pa.int64()), "c": column})
    uri = _pylance_writes(bucket_path, table, version)
    theirs = lance.dataset(uri).to_table()
    with LanceBackend(0, bucket_path) as b:
        assert (await b.get_arrow()).equals(theirs)
        assert await b.get() == theirs.to_pylist() == table.to_pylist()
        assert await b.get(3, 4) == table.slice(4, 3).to_pylist()
        assert await b.get_where("id", eq=7) == table.slice(7, 1).to_pylist()
        streamed = [r async for chunk in b.get_stream() for r in chunk]
        assert streamed == table.to_pylist()
        with pytest.raises(UnsupportedError, match='field "c"'):
            await b.put_arrow(table.slice(0, 1))
    assert lance.dataset(uri).to_table().equals(theirs)


async def test_a_uuid_types_a_new_field_as_pyarrow(bucket_path):
    """A UUID types a new field as pyarrow infers it: arrow.uuid (storage
    fixed_size_binary[16]); gets and pylance read it back as uuid.UUID."""
    with PersistingBackend(0, bucket_path) as b:
        await b.put({"id": 1})
        await b.put_batch([{"id": 2}, {"id": 3, "u": uuid.UUID(int=3)}])
        await b.flush()
        assert await b.get() == [{"id": 1, "u": None}, {"id": 2, "u": None}, {"id": 3, "u": uuid.UUID(int=3)}]
    ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
    assert ds.schema.field("u").type == pa.array([uuid.UUID(int=3)]).type == pa.uuid()
