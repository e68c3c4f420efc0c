"""Bad input (issue #5), for both backends against the real engine: each case
is a clear error or is stored exactly; the process goes on; and no record
accepted before is lost (checked through get() and, after a flush, pylance)."""

from __future__ import annotations

import datetime
import math
import os
import random
import re

import lance
import numpy as np
import pyarrow as pa
import pytest

from persisting import InvalidArgumentError, SchemaError, StorageError, UnstorableError
from persisting.queue import LanceBackend, PersistingBackend

BACKENDS = {
    "lance": lambda p: LanceBackend(0, p, batch_size=2),
    "persisting": lambda p: PersistingBackend(0, p, batch_size=2),
    "persisting-wal": lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
}


def rec(i: int) -> dict:
    return {"id": f"k{i}", "n": i, "x": i / 2}


@pytest.fixture(params=list(BACKENDS))
async def backend(request, bucket_path):
    b = BACKENDS[request.param](bucket_path)
    await b.put_batch([rec(0), rec(1)])
    await b.flush()
    await b.put(rec(2))  # one more, not flushed
    yield b
    if not b.closed:
        b.close()


ACCEPTED = [rec(0), rec(1), rec(2)]


async def assert_intact(b, extra: list[dict] | None = None) -> None:
    """Everything accepted is there, in order, through get() and - after a
    flush - through pylance; and the backend still takes records."""
    want = ACCEPTED + (extra or [])
    assert b.total_count() == len(want)
    assert _same(await b.get(), want)
    await b.flush()
    got = lance.dataset(os.path.join(b.storage_path, "data.lance")).to_table().to_pylist()
    assert _same(got, want)
    await b.put(rec(99))
    assert _same(await b.get(1, len(want)), [rec(99)])


def _same(got: list[dict], want: list[dict]) -> bool:
    """Equality where NaN equals NaN and a field ``want`` lacks must be null
    (an evolving bucket may have gained fields)."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if any(v is not None for k, v in g.items() if k not in w):
            return False
        if not all(_same_value(g.get(k), v) for k, v in w.items()):
            return False
    return True


def _same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@pytest.mark.parametrize("bad", ["text", 5, None, 1.5, ["id", 1], ("id", 1), b"{}", {"id", "n"}])
async def test_record_that_is_not_a_dict(backend, bad):
    with pytest.raises(TypeError, match="must be a dict"):
        await backend.put(bad)
    with pytest.raises(TypeError, match="must be a dict"):
        await backend.put_batch([rec(3), bad])  # all or nothing
    await assert_intact(backend)


async def test_records_argument_that_is_not_a_list(backend):
    for bad in (rec(3), 5, None):
        with pytest.raises(TypeError, match="list of dicts"):
            await backend.put_batch(bad)
    await assert_intact(backend)


async def test_empty_record(backend):
    with pytest.raises(ValueError, match="empty"):
        await backend.put({})
    with pytest.raises(ValueError, match="empty"):
        await backend.put_batch([rec(3), {}])
    await assert_intact(backend)


@pytest.mark.parametrize("key", [1, 2.5, b"id", None, ("t",), True])
async def test_key_that_is_not_a_str(backend, key):
    with pytest.raises(TypeError, match=rf"field names must be str, got {type(key).__name__}"):
        await backend.put({"id": "k3", key: 1})
    await assert_intact(backend)


@pytest.mark.parametrize("value", [{1, 2}, frozenset({1}), object(), 3 + 4j, Ellipsis, print,
                                   datetime.time(12, 0, tzinfo=datetime.timezone.utc),  # naive times are stored
                                   # numpy structured values: as lists (tolist) they would lose their field names
                                   np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]), np.void(b"ab")])
async def test_unsupported_value_names_field_and_type(backend, value):
    with pytest.raises(TypeError) as info:
        await backend.put({"id": "k3", "payload": value})
    msg = str(info.value)
    assert "'payload'" in msg and type(value).__name__ in msg, msg
    await assert_intact(backend)


HOUR = datetime.timedelta(hours=1)


@pytest.mark.parametrize("value, exc, why", [
    (datetime.datetime.min.replace(tzinfo=datetime.timezone(HOUR)), InvalidArgumentError,
     r"datetime 0000-12-31 23:00:00\+00:00 is outside the range of Python's datetime"),
    (datetime.datetime.max.replace(tzinfo=datetime.timezone(-HOUR)), InvalidArgumentError, "outside the range of Python's datetime"),
    (datetime.timedelta.max, InvalidArgumentError, r"86399999999999999999\) is out of range: its int does not fit in int64"),
    (np.datetime64("20000-01-01", "s"), InvalidArgumentError, "datetime 20000-01-01 00:00:00 is outside the range of Python's datetime"),
    (np.datetime64("-20000-01-01", "D"), InvalidArgumentError, "outside the range of Python's date"),
    (np.timedelta64(2**62, "s"), InvalidArgumentError, "outside the range of Python's timedelta"),
    (datetime.time(12, tzinfo=datetime.timezone.utc), UnstorableError, "cannot store a value of type time with tzinfo"),
])
async def test_times_no_read_could_return_are_refused(backend, value, exc, why):
    """Stored, these would make every get() of the bucket fail (pyarrow's
    conversion overflows); an aware time would lose its zone."""
    with pytest.raises(exc, match=rf"field 'n': .*{why}"):
        await backend.put({"id": "k3", "n": value})
    await assert_intact(backend)


async def test_unsupported_value_in_a_known_field(backend):
    with pytest.raises(TypeError, match=r"'n'.*complex"):
        await backend.put({"id": "k3", "n": 1j})
    await assert_intact(backend)


async def test_nan_and_infinities_are_stored_faithfully(backend):
    rows = [{"id": "nan", "n": 3, "x": math.nan}, {"id": "inf", "n": 4, "x": math.inf},
            {"id": "-inf", "n": 5, "x": -math.inf}, {"id": "-0", "n": 6, "x": -0.0}]
    await backend.put_batch(rows[:2])
    for r in rows[2:]:
        await backend.put(r)
    got = await backend.get(offset=3)
    assert math.isnan(got[0]["x"]) and got[1]["x"] == math.inf and got[2]["x"] == -math.inf
    assert got[3]["x"] == 0.0 and math.copysign(1, got[3]["x"]) == -1
    await assert_intact(backend, rows)
    table = lance.dataset(os.path.join(backend.storage_path, "data.lance")).to_table()
    xs = table.column("x").to_pylist()[3:7]
    assert math.isnan(xs[0]) and xs[1:3] == [math.inf, -math.inf]
    assert math.copysign(1, xs[3]) == -1


async def test_nan_as_the_first_value_of_a_field(bucket_path):
    for make in BACKENDS.values():
        path = bucket_path + str(id(make))
        b = make(path)
        try:
            await b.put({"v": math.nan})
            await b.put({"v": 1.0})
            await b.flush()
            got = [r["v"] for r in await b.get()]
            assert math.isnan(got[0]) and got[1] == 1.0
        finally:
            b.close()


async def test_ten_megabyte_string_is_stored_exactly(backend):
    rng = random.Random(5)
    alphabet = "abcdefghijklmnopqrstuvwxyzäöü€𝄞 \n\t\"'\\"
    big = "".join(rng.choice(alphabet) for _ in range(10 * 1024 * 1024 // 4))
    big = (big * 4)[: 10 * 1024 * 1024]
    assert len(big) == 10 * 1024 * 1024
    await backend.put({"id": big, "n": 3, "x": 1.5})
    got = await backend.get(1, 3)
    assert got[0]["id"] == big
    await assert_intact(backend, [{"id": big, "n": 3, "x": 1.5}])


def nested(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for i in range(levels - 1):
        value = {f"level{i}": value}
    return value


async def test_dict_nested_50_levels_is_stored_exactly(bucket_path):
    """A struct nested 50 levels is within Lance's limit (64): stored, read back
    exactly through get() and pylance, on every backend."""
    deep = nested(50)
    for name, make in BACKENDS.items():
        path = f"{bucket_path}-{name}"
        b = make(path)
        try:
            await b.put({"id": "k0", "deep": deep})
            assert (await b.get())[0]["deep"] == deep
            await b.flush()
            got = lance.dataset(os.path.join(path, "data.lance")).to_table().to_pylist()
            assert got == [{"id": "k0", "deep": deep}]
        finally:
            b.close()
        b = make(path)  # reopened: the schema on disk takes a second record
        try:
            await b.put({"id": "k1", "deep": deep})
            assert [r["deep"] for r in await b.get()] == [deep, deep]
        finally:
            b.close()


async def test_deeper_nesting_than_lance_allows_is_a_clear_error_naming_the_field(backend):
    """Deeper than 64 levels: refused in put, naming the field (LanceBackend
    refuses the new field before looking at its value)."""
    for deep in (nested(65), nested(5000)):  # no recursion error, no crash
        with pytest.raises((TypeError, SchemaError)) as info:
            await backend.put({"id": "k3", "deep": deep})
        msg = str(info.value)
        assert "'deep" in msg, msg
        if not isinstance(backend, LanceBackend):
            assert re.search(r"nested more than \d+ levels", msg), msg
    await assert_intact(backend)


async def test_deeper_nesting_in_a_new_bucket_is_a_clear_error(bucket_path):
    for name, make in BACKENDS.items():
        b = make(f"{bucket_path}-{name}")
        try:
            with pytest.raises(TypeError, match=r"'deep.*nested more than \d+ levels"):
                await b.put({"id": "k0", "deep": nested(5000)})
            with pytest.raises(TypeError, match=r"'deep.*nested more than 32 levels.*list"):
                await b.put({"id": "k0", "deep": {"l": [nested(40)]}})
            assert b.total_count() == 0
        finally:
            b.close()


async def test_deeply_nested_arrow_data_is_stored_exactly_or_refused_naming_the_field(backend):
    """Through put_arrow a struct column nested 50 levels reaches the engine:
    an evolving bucket (a 2.2 dataset) stores it exactly; LanceBackend refuses
    the new field, naming it."""
    row = {"id": "k3", "deep": nested(50)}
    table = pa.Table.from_pylist([row])
    if isinstance(backend, LanceBackend):
        with pytest.raises(SchemaError, match="'deep'"):
            await backend.put_arrow(table)
        await assert_intact(backend)
        return
    await backend.put_arrow(table)
    got = await backend.get(1, 3)
    assert got[0]["deep"] == row["deep"]
    assert (await backend.get_arrow(1, 3)).column("deep").type == table.column("deep").type
    await assert_intact(backend, [row])


async def test_struct_arrow_data_into_a_2_0_dataset_is_refused_naming_the_field(tmp_path):
    """A 2.0 dataset cannot hold struct columns: a clear error, nothing lost."""
    path = str(tmp_path / "b")
    lance.write_dataset(pa.Table.from_pylist(ACCEPTED), os.path.join(path, "data.lance"),
                        data_storage_version="2.0")
    b = PersistingBackend(0, path)
    try:
        with pytest.raises(StorageError) as info:
            await b.put_arrow(pa.table({"id": ["k3"], "pos": [{"x": 0.5}]}))
        assert "pos" in str(info.value), info.value
        with pytest.raises(StorageError, match="deep"):
            await b.put_arrow(pa.Table.from_pylist([{"id": "k3", "deep": nested(50)}]))
        await assert_intact(b)
    finally:
        b.close()


@pytest.mark.parametrize("value, mix", [([1, "a", 2.0], "float, int, string"), ([b"x", 1], "binary, int"),
                                        ([[1], 2], "int, list"), ([True, None, 1.5], "bool, float")])
async def test_list_of_mixed_element_types_is_a_clear_error(backend, value, mix):
    fresh = LanceBackend(0, backend.storage_path + "-fresh")  # where the field would be new
    try:
        for b in (backend, fresh) if not isinstance(backend, LanceBackend) else (fresh,):
            with pytest.raises(TypeError) as info:
                await b.put({"id": "k3", "items": value})
            msg = str(info.value)
            assert "'items'" in msg and "list" in msg and f"mix {mix}" in msg, msg
        assert fresh.total_count() == 0
    finally:
        fresh.close()
    with pytest.raises((pa.ArrowException, TypeError, ValueError)):
        await backend.put_arrow(pa.Table.from_pylist([{"id": "k3", "items": value}]))
    await assert_intact(backend)


async def test_list_of_one_type_is_stored_in_a_new_bucket(bucket_path):
    for name, make in BACKENDS.items():
        path = f"{bucket_path}-{name}"
        b = make(path)
        try:
            rows = [{"id": "k0", "vec": [0.1, 0.2], "tags": ["a"], "ns": [1, None]},
                    {"id": "k1", "vec": [], "tags": None, "ns": [2]}]
            await b.put_batch(rows)
            assert await b.get() == rows
            await b.flush()
            assert lance.dataset(os.path.join(path, "data.lance")).to_table().to_pylist() == rows
        finally:
            b.close()


async def test_nested_value_into_a_flat_bucket(backend):
    """A new list field: LanceBackend keeps its fields (SchemaError naming
    it); an evolving bucket adds it."""
    if isinstance(backend, LanceBackend):
        with pytest.raises(SchemaError, match="'vec'"):
            await backend.put({"id": "k3", "vec": [0.1, 0.2]})
        await assert_intact(backend)
        return
    row = {"id": "k3", "vec": [0.1, 0.2]}
    await backend.put(row)
    await assert_intact(backend, [row])


async def test_values_that_do_not_fit_their_field(backend):
    with pytest.raises(SchemaError, match=r"'n'.*int64.*str"):
        await backend.put({"id": "k3", "n": "three"})
    with pytest.raises((ValueError, SchemaError), match="'n'"):
        await backend.put({"id": "k3", "n": 2**64})
    with pytest.raises(ValueError, match="'id'.*UTF-8"):
        await backend.put({"id": "bad \udc80 surrogate"})
    with pytest.raises(ValueError, match="'a.b'"):
        await backend.put({"a.b": 1})
    await assert_intact(backend)


@pytest.mark.parametrize("kind", list(BACKENDS))
@pytest.mark.parametrize("float_type, exact", [(pa.float32(), 2**24), (pa.float64(), 2**53)])
async def test_int_into_a_float_column_only_while_the_float_holds_it_exactly(bucket_path, kind, float_type,
                                                                            exact):
    """An int beyond what the column's float represents exactly is refused by its
    own put; it never reaches the batch conversion, where pyarrow would refuse it
    and hold up every later record."""
    b = BACKENDS[kind](bucket_path)
    try:
        await b.put_arrow(pa.table({"x": pa.array([0.5], float_type)}))
        for value in (exact, -exact):
            await b.put({"x": value})
        for value in (exact + 1, -exact - 1):
            with pytest.raises(SchemaError, match="'x'"):
                await b.put({"x": value})
        await b.flush()
        got = lance.dataset(os.path.join(b.storage_path, "data.lance")).to_table()
        assert got.schema.field("x").type == float_type
        assert got.column("x").to_pylist() == [0.5, float(exact), float(-exact)]
    finally:
        b.close()


OPTION_CASES = [
    ({"batch_size": 0}, ValueError), ({"batch_size": -1}, ValueError), ({"batch_size": "10"}, TypeError),
    ({"batch_size": 2.0}, TypeError), ({"batch_size": None}, TypeError),
    ({"flush_threshold": 0}, ValueError), ({"flush_threshold": "1000"}, TypeError),
    ({"flush_threshold": True}, TypeError),
    ({"bucket_id": -1}, ValueError), ({"bucket_id": "0"}, TypeError), ({"bucket_id": None}, TypeError),
    ({"storage_path": ""}, ValueError), ({"storage_path": None}, TypeError), ({"storage_path": 3}, TypeError),
]
PERSISTING_OPTION_CASES = [
    ({"enable_wal": "true"}, TypeError), ({"enable_metrics": 1}, TypeError),
    ({"compression": "brotli"}, ValueError), ({"compression": "snappy"}, ValueError),
    ({"wal_sync_interval": -1}, ValueError), ({"wal_sync_interval": math.inf}, ValueError),
    ({"max_wal_size": 0}, ValueError), ({"max_wal_size": "1GB"}, TypeError),
    ({"metrics_address": "nowhere"}, ValueError), ({"metrics_address": 9464}, TypeError),
    ({"compaction_threshold": -1}, ValueError), ({"compaction_threshold": "3"}, TypeError),
    ({"compaction_threshold": True}, TypeError), ({"compaction_threshold": 1.5}, TypeError),
    ({"compaction_threshold": 2**40}, ValueError),
    ({"schema_evolution": "yes"}, TypeError), ({"schema_evolution": 1}, TypeError),
    ({"schema_evolution": None}, TypeError),
]


@pytest.mark.parametrize("cls", [LanceBackend, PersistingBackend])
@pytest.mark.parametrize("kwargs, exc", OPTION_CASES)
def test_wrong_option_values(tmp_path, cls, kwargs, exc):
    path = tmp_path / "b"
    args = {"bucket_id": 0, "storage_path": str(path)} | kwargs
    name = next(iter(kwargs))
    with pytest.raises(exc, match=name):
        cls(**args)
    assert not path.exists()  # refused before anything was opened


@pytest.mark.parametrize("kwargs, exc", PERSISTING_OPTION_CASES)
def test_wrong_persisting_option_values(tmp_path, kwargs, exc):
    path = tmp_path / "b"
    name = next(iter(kwargs))
    with pytest.raises(exc, match=name if name != "compression" else "compression|snappy"):
        PersistingBackend(0, str(path), **kwargs)
    assert not path.exists()


async def test_wrong_option_values_leave_an_open_bucket_alone(backend):
    """A second backend refused for its options does not disturb the first."""
    with pytest.raises(ValueError):
        type(backend)(0, backend.storage_path, batch_size=0)
    await assert_intact(backend)
