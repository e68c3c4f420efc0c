"""Values pyarrow's inference types that records once refused or typed
otherwise: a UUID (arrow.uuid), numpy's uint64 beyond int64 (uint64), nested
parts that were only None or [] (list<null>, struct<a: null>, typed by a later
value), and puts into arrow.bool8 columns. Each bucket's dataset is read by
pylance after every flush and compared with pyarrow's inference."""

from __future__ import annotations

import os
import uuid

import lance
import numpy as np
import pyarrow as pa
import pytest

from persisting import SchemaError, UnstorableError
from persisting.queue import LanceBackend, PersistingBackend

U = uuid.UUID(int=7)

# name -> (records put one by one, pyarrow's type of the field once all are in)
SEQUENCES = {
    "uuid": ([{"v": U}, {"v": None}], pa.array([U, None]).type),
    "uint64 scalar": ([{"v": np.uint64(2**63)}, {"v": 3}], pa.array([np.uint64(2**63), np.uint64(3)]).type),
    "uint64 array": ([{"v": np.array([1, 2**64 - 1], dtype=np.uint64)}], pa.array([np.array([1, 2**64 - 1], np.uint64)]).type),
    "empty then ints": ([{"v": []}, {"v": [1, 2]}], pa.array([[], [1, 2]]).type),
    "None in a struct": ([{"v": {"a": None}}, {"v": {"a": 1.5}}], pa.array([{"a": None}, {"a": 1.5}]).type),
    "None items then structs": ([{"v": [None]}, {"v": [{"k": None}]}, {"v": [{"k": "x"}]}],
                                pa.array([[None], [{"k": None}], [{"k": "x"}]]).type),
    "empty numpy then floats": ([{"v": np.array([])}, {"v": [0.5]}], pa.array([[], [0.5]]).type),
    # an empty numpy array first: its dtype types the list (the record carries a zero of it)
    "empty float numpy alone": ([{"v": np.zeros(0)}], pa.array([np.zeros(0)]).type),
    "empty int numpy then ints": ([{"v": np.zeros(0, np.int64)}, {"v": [3]}], pa.array([np.zeros(0, np.int64), [3]]).type),
    "empty bool numpy alone": ([{"v": np.zeros(0, bool)}], pa.array([np.zeros(0, bool)]).type),
    "empty str numpy alone": ([{"v": np.array([], dtype=str)}], pa.array([np.array([], dtype=str)]).type),
    "empty datetime64 numpy alone": ([{"v": np.array([], "M8[ns]")}], pa.array([np.array([], "M8[ns]")]).type),
}


@pytest.mark.parametrize("backend_class", [LanceBackend, PersistingBackend])
@pytest.mark.parametrize("name", SEQUENCES)
async def test_typed_as_pyarrow_infers(tmp_path, backend_class, name):
    records, want = SEQUENCES[name]
    path = str(tmp_path / "b")
    uri = os.path.join(path, "data.lance")
    with backend_class(0, path) as b:
        for i, r in enumerate(records):
            await b.put(r)
            await b.flush()
            assert len(lance.dataset(uri).to_table().to_pylist()) == i + 1  # pylance reads every flush
        rows = await b.get()
    stored = lance.dataset(uri)
    assert stored.schema.field("v").type == want
    expect = [{"v": r["v"].tolist() if isinstance(r["v"], np.ndarray | np.generic) else r["v"]} for r in records]
    assert rows == stored.to_table().to_pylist() == expect


async def test_an_empty_float32_array_types_its_field_as_a_filled_one(tmp_path):
    """Not list<null>: the engine types float32 items double (docs/schema-rules.md), empty or not."""
    types = []
    for value in (np.zeros(0, np.float32), np.ones(2, np.float32)):
        with PersistingBackend(0, str(tmp_path / str(len(value)))) as b:
            await b.put({"v": value})
            await b.flush()
            types.append((await b.get_arrow()).schema.field("v").type)
    assert types == [pa.list_(pa.float64())] * 2


async def test_bool8_column_takes_bools(tmp_path):
    uri = str(tmp_path / "b" / "data.lance")
    lance.write_dataset(pa.table({"b": pa.ExtensionArray.from_storage(pa.bool8(), pa.array([1, None], pa.int8()))}), uri)
    with LanceBackend(0, str(tmp_path / "b")) as b:
        await b.put_batch([{"b": False}, {"b": True}])
        with pytest.raises(SchemaError, match=r"field 'b': expected arrow.bool8 \(a bool\), found int 1"):
            await b.put({"b": 1})
        await b.flush()
        assert await b.get() == [{"b": True}, {"b": None}, {"b": False}, {"b": True}]
    assert lance.dataset(uri).to_table().column("b").to_pylist() == [True, None, False, True]


@pytest.mark.parametrize("value", [{1, 2}, frozenset({1})])
async def test_a_set_is_refused_saying_why(bucket_path, value):
    with PersistingBackend(0, bucket_path) as b:
        with pytest.raises(UnstorableError, match=rf"field 'v': cannot store a {type(value).__name__}: it has no order"):
            await b.put({"v": value})
