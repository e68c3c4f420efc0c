"""pulsing's training-data API: put_tensor, get_meta with samplers, get_data,
get_by_indices, consumption (durable) and clear, on both backends."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading

import lance
import numpy as np
import pyarrow as pa
import pytest

from helpers import PYTHON_SRC, SCRIPTS, explain
from persisting import _native
from persisting._encode import encode_records
from persisting.errors import FlushError, InvalidArgumentError, StorageError
from persisting.queue import LanceBackend, PersistingBackend

BACKENDS = {
    "lance": lambda path: LanceBackend(0, path),
    "persisting": lambda path: PersistingBackend(0, path, enable_wal=True),
}


@pytest.fixture(params=sorted(BACKENDS))
def make(request, bucket_path):
    opened = []

    def open_backend():
        b = BACKENDS[request.param](bucket_path)
        opened.append(b)
        return b

    yield open_backend
    for b in opened:
        b.close()


@pytest.fixture
def backend(make):
    return make()


async def filled(backend, n: int = 10):
    obs = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    await backend.put_tensor({"obs": obs, "step": np.arange(n, dtype=np.int64),
                              "tag": [f"t{i}" for i in range(n)]})
    return obs


class FakeTorchTensor:
    """Duck-types a torch tensor: ``__dlpack__``, ``detach``, ``cpu``, ``numpy``."""

    def __init__(self, arr):
        self._arr = arr

    def __dlpack__(self, *a, **k):
        return self._arr.__dlpack__(*a, **k)

    def __dlpack_device__(self):
        return self._arr.__dlpack_device__()

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._arr


class FakeTensorDict:
    """Duck-types a tensordict.TensorDict: ``batch_size``, ``keys()``, ``[]``."""

    def __init__(self, columns, n):
        self._c, self.batch_size = columns, [n]

    def keys(self):
        return self._c.keys()

    def __getitem__(self, k):
        return self._c[k]


# ---- put_tensor shapes --------------------------------------------------------------
SHAPES = {
    "dict of numpy columns": lambda x: {"x": x, "i": np.arange(len(x))},
    "dict of per-row arrays": lambda x: {"x": list(x), "i": list(range(len(x)))},
    "list of dicts": lambda x: [{"x": x[k], "i": k} for k in range(len(x))],
    "torch-like tensor": lambda x: {"x": FakeTorchTensor(x), "i": list(range(len(x)))},
    "TensorDict-like": lambda x: FakeTensorDict({"x": FakeTorchTensor(x), "i": np.arange(len(x))}, len(x)),
    "pyarrow table": lambda x: pa.table({
        "x": pa.FixedShapeTensorArray.from_numpy_ndarray(x) if x.ndim > 1 else pa.array(x),
        "i": pa.array(np.arange(len(x)))}),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("dtype,dims", [("float32", (2, 3)), ("int64", (4,)), ("uint8", (2, 2, 2)),
                                        ("float64", ()), ("bool", (2, 3)), ("bool", (13,)), ("bool", ())])
async def test_put_tensor_round_trip(make, bucket_path, shape, dtype, dims):
    b = make()
    x = (np.arange(5 * int(np.prod(dims or (1,)))) % (3 if dtype == "bool" else 200)).astype(dtype).reshape((5,) + dims)
    put = await b.put_tensor(SHAPES[shape](x), partition_id="p")
    assert put.global_indexes == [0, 1, 2, 3, 4] and put.field_names == ["x", "i"]
    for flushed in (False, True):
        rows = await b.get_data({"global_indexes": [4, 0, 2]}, ["x"])
        assert [list(r) for r in rows] == [["x"]] * 3
        for row, k in zip(rows, [4, 0, 2]):
            got = row["x"]
            if dims:
                assert isinstance(got, np.ndarray) and got.dtype == x.dtype and got.shape == dims
                np.testing.assert_array_equal(got, x[k])
            else:
                assert got == x[k]
        await b.flush()
    if dims:  # pylance reads the column as a tensor of the same dtype and shape
        col = lance.dataset(os.path.join(bucket_path, "data.lance")).to_table().column("x")
        assert isinstance(col.type, pa.FixedShapeTensorType) and col.type.value_type == pa.from_numpy_dtype(x.dtype)
        flat = col.combine_chunks().storage.flatten().to_numpy(zero_copy_only=False)  # bool: no to_numpy_ndarray
        np.testing.assert_array_equal(flat.reshape(x.shape), x)


async def test_get_data_tensors_are_views_of_arrow_buffers(backend):
    await filled(backend)
    await backend.flush()
    rows = await backend.get_data({"global_indexes": [1, 2]}, ["obs"])
    a, b = rows[0]["obs"], rows[1]["obs"]
    assert not a.flags.owndata and not b.flags.owndata
    assert a.base is b.base  # one ndarray over the column's Arrow buffer


async def test_get_data_bool_tensors_are_copies_in_their_logical_shape(backend):
    # Arrow stores bools as bits: the rows are copies (through uint8), and a permuted
    # tensor type (pyarrow's for a column-major array) comes back in its logical shape.
    x = np.arange(4 * 3 * 5).reshape(4, 3, 5) % 7 < 3
    permuted = np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)
    column = pa.FixedShapeTensorArray.from_numpy_ndarray(permuted)
    assert column.type.permutation == [1, 0]
    await backend.put_tensor(pa.table({"m": column, "c": pa.FixedShapeTensorArray.from_numpy_ndarray(x)}))
    rows = await backend.get_data({"global_indexes": [0, 1, 2, 3]})
    for k, row in enumerate(rows):
        for name in ("m", "c"):
            assert row[name].dtype == bool and row[name].shape == (3, 5), name
            np.testing.assert_array_equal(row[name], x[k])


async def test_put_tensor_single_record_dict(backend):
    put = await backend.put_tensor({"a": 1, "b": "x"})
    assert put.global_indexes == [0]
    assert await backend.get_by_indices([0]) == [{"a": 1, "b": "x"}]


RACED = {  # put_tensor's data, and rows of the same schema that another caller appends meanwhile
    "tensor columns": ({"obs": np.arange(8, dtype=np.float32).reshape(4, 2), "step": np.arange(4)},
                       pa.table({"obs": pa.FixedShapeTensorArray.from_numpy_ndarray(np.full((3, 2), -1, np.float32)),
                                 "step": pa.array([-1] * 3)})),
    "records": ([{"obs": float(i), "step": i} for i in range(4)], [{"obs": -1.0, "step": -1}] * 3),
}


@pytest.mark.parametrize("kind", sorted(RACED))
async def test_put_tensor_indexes_are_its_rows_when_another_put_races_it(backend, monkeypatch, kind):
    """Another caller's append lands between put_tensor's start and its own append (a hook on the
    engine call, another thread, joined: no timing): the indexes put_tensor returns still hold exactly
    its rows, because the engine reports where they went instead of put_tensor counting before."""
    data, other = RACED[kind]
    await backend.put_tensor(data)  # rows 0..3: the race below starts from a non-empty bucket
    real = {name: getattr(_native, name) for name in ("append_stream", "append_records")}
    raced = []

    def racing(name):
        def call(handle, payload):
            if not raced:  # once: put_tensor's own append
                pushed = pa.table(other) if kind == "tensor columns" else encode_records(other)
                t = threading.Thread(target=lambda: raced.append(real[name](handle, pushed)))
                t.start()
                t.join()
            return real[name](handle, payload)
        return call

    for name in real:
        monkeypatch.setattr(_native, name, racing(name))
    put = await backend.put_tensor(data)
    assert raced, "the hook did not run: put_tensor no longer appends through _native"
    rows = await backend.get_by_indices(put.global_indexes)
    assert [r["step"] for r in rows] == [0, 1, 2, 3], put.global_indexes
    assert put.global_indexes == [7, 8, 9, 10]
    assert [r["step"] for r in await backend.get(3, 4)] == [-1, -1, -1]  # the other caller's rows


async def test_put_tensor_indexes_when_its_append_raised_flush_error(backend, monkeypatch):
    """FlushError: the rows are stored (a flush the append waited for failed); put_tensor still
    returns their indexes, from the offset the error carries, and logs the error as put does."""
    real = _native.append_stream

    def stored_then_flush_failed(handle, payload):
        raise FlushError("flush failed", code=_native.ENOT_FLUSHED, first_offset=real(handle, payload))

    await backend.put_tensor({"x": np.zeros((2, 3))})
    monkeypatch.setattr(_native, "append_stream", stored_then_flush_failed)
    put = await backend.put_tensor({"x": np.ones((3, 3))})
    assert put.global_indexes == [2, 3, 4]
    assert [r["x"].sum() for r in await backend.get_by_indices(put.global_indexes)] == [3.0, 3.0, 3.0]


@pytest.mark.parametrize("code,first_offset", [(_native.ENOT_FLUSHED, 41), (_native.EWAL, None), (_native.ESCHEMA, None)])
def test_only_flush_error_carries_the_out_parameter(code, first_offset):
    """The C call writes first_offset only when it stored the rows: another error's cell is stale."""
    _native.lib()
    with pytest.raises(StorageError) as raised:
        _native._raise(code, _native.PersistingError(), "append", ctypes.c_int64(41))
    assert raised.value.first_offset == first_offset and raised.value.code == code


BAD_PUTS = [
    ({"x": [object(), object()]}, TypeError, "field 'x'"),
    ({"x": np.array([object(), 1], dtype=object)}, TypeError, "Python objects"),
    ({"x": np.zeros(()), "y": [1]}, ValueError, "0-d array has no rows"),
    ({"x": np.zeros((3, 2)), "y": [1, 2]}, ValueError, "differ in rows"),
    ({"x": [np.zeros(2), np.zeros(3)]}, ValueError, "differ in shape"),
    ({1: [1, 2]}, TypeError, "field names must be str"),
    ({}, ValueError, "no fields"),
    ([], ValueError, "no rows"),
    ([{"a": 1}, {"b": 2}], ValueError, "row 1 has fields"),
    ([{"a": 1}, 5], TypeError, "row 1 must be a dict"),
    ("text", TypeError, "put_tensor expects"),
    ({"x": {1, 2}}, TypeError, "field 'x': cannot store a set"),  # one row, as MemoryBackend
]


@pytest.mark.parametrize("data,exc,words", BAD_PUTS, ids=[str(i) for i in range(len(BAD_PUTS))])
async def test_put_tensor_bad_input_stores_nothing(backend, data, exc, words):
    with pytest.raises(exc, match=words):
        await backend.put_tensor(data)
    assert backend.total_count() == 0


# ---- get_meta and consumption -------------------------------------------------------
async def test_get_meta_shape_and_per_task_consumption(backend):
    await filled(backend)
    meta = await backend.get_meta(["obs", "step"], 4, "train", partition_id="p1")
    assert meta["global_indexes"] == [0, 1, 2, 3]
    assert [s["global_index"] for s in meta["samples"]] == [0, 1, 2, 3]
    assert meta["samples"][0] == {
        "partition_id": "p1", "global_index": 0,
        "fields": {"obs": {"name": "obs", "dtype": "float32", "shape": [2, 3], "production_status": "ready"},
                   "step": {"name": "step", "dtype": "int64", "shape": [], "production_status": "ready"}}}
    assert (await backend.get_meta(["obs"], 4, "train"))["global_indexes"] == [4, 5, 6, 7]
    assert (await backend.get_meta(["obs"], 4, "other"))["global_indexes"] == [0, 1, 2, 3]
    await backend.mark_consumed("train", [9])
    assert (await backend.get_meta(["obs"], 4, "train"))["global_indexes"] == [8]
    assert (await backend.get_meta(["obs"], 4, "train"))["global_indexes"] == []
    assert (await backend.get_meta(["obs"], 0, "other"))["global_indexes"] == []
    await backend.reset_consumption("train")
    assert (await backend.get_meta(["obs"], 2, "train"))["global_indexes"] == [0, 1]
    # get_data takes the dict or any object with global_indexes, and a samples-only dict
    meta = await backend.get_meta([], 2, "third")

    class Meta:
        global_indexes = [1, 0]

    assert [r["step"] for r in await backend.get_data(meta)] == [0, 1]
    assert [r["step"] for r in await backend.get_data(Meta(), ["step"])] == [1, 0]
    assert [r["step"] for r in await backend.get_data({"samples": meta["samples"]}, ["step"])] == [0, 1]


async def test_results_have_upstream_batch_meta_attributes(backend):
    """get_meta's dict and put_tensor's result also answer upstream Persisting's BatchMeta
    attributes; what pulsing's actor sends (to_dict) and a pickle are plain dicts."""
    import pickle

    obs = await filled(backend)
    meta = await backend.get_meta(["obs", "step"], 3, "t")
    assert (meta.size, meta.global_indexes, meta.field_names) == (3, [0, 1, 2], ["obs", "step"])
    put = await backend.put_tensor({"obs": obs[:2], "step": np.arange(2), "tag": ["a", "b"]})
    assert put.size == 2 and put.to_dict() == {"global_indexes": [10, 11], "field_names": ["obs", "step", "tag"]}
    for plain in (meta.to_dict(), pickle.loads(pickle.dumps(meta))):
        assert type(plain) is dict and plain == meta
    assert [r["step"] for r in await backend.get_data(meta.to_dict(), ["step"])] == [0, 1, 2]
    empty = await backend.get_meta(["obs"], 3, "t", lambda ready, n, **kw: ([], []))
    assert (empty.size, empty.global_indexes, empty.field_names) == (0, [], [])


async def test_get_meta_before_the_first_record_is_an_empty_batch(backend):
    """A consumer may poll before the producer writes, as with pulsing's MemoryBackend:
    no schema yet, no field to refuse; once records exist, unknown fields are refused."""
    for sampler in (None, Reverse()):
        meta = await backend.get_meta(["obs", "step"], 4, "t", sampler)
        assert meta == {"samples": [], "global_indexes": []}, sampler
    assert await backend.get_data(meta, ["obs"]) == []
    await filled(backend, 5)
    with pytest.raises(InvalidArgumentError, match='unknown field "later"'):
        await backend.get_meta(["obs", "later"], 4, "t")
    assert (await backend.get_meta(["obs", "step"], 9, "t"))["global_indexes"] == [0, 1, 2, 3, 4]


class Reverse:
    def __init__(self):
        self.calls = []

    def sample(self, ready, batch_size, **kw):
        self.calls.append((list(ready), batch_size, kw))
        picked = ready[::-1][:batch_size]
        return picked, picked[:1]  # hands out batch_size, marks only the first


async def test_get_meta_with_samplers(backend):
    await filled(backend, 6)
    s = Reverse()
    meta = await backend.get_meta(["step"], 3, "t", s, partition_id="p", temperature=0.5)
    assert meta["global_indexes"] == [5, 4, 3]
    assert s.calls == [([0, 1, 2, 3, 4, 5], 3, {"partition_id": "p", "temperature": 0.5})]
    assert meta["samples"][0]["partition_id"] == "p"
    meta = await backend.get_meta(["step"], 3, "t", s)  # only 5 was marked
    assert meta["global_indexes"] == [4, 3, 2] and s.calls[-1][0] == [0, 1, 2, 3, 4]
    # a plain callable works too
    meta = await backend.get_meta(["step"], 2, "t", lambda ready, n, **kw: (ready[:n], ready[:n]))
    assert meta["global_indexes"] == [0, 1]


class Boom(Exception):
    pass


BAD_SAMPLERS = [
    (lambda ready, n, **kw: (_ for _ in ()).throw(Boom("sampler failed")), Boom, "sampler failed"),
    (lambda ready, n, **kw: [1, 2, 3], TypeError, r"\(sampled, marked\)"),
    (lambda ready, n, **kw: ([99], [99]), ValueError, "not ready"),
    (lambda ready, n, **kw: (["a"], []), TypeError, "must be ints"),
    (42, TypeError, "sample"),
]


@pytest.mark.parametrize("sampler,exc,words", BAD_SAMPLERS, ids=[str(i) for i in range(len(BAD_SAMPLERS))])
async def test_bad_sampler_marks_nothing(backend, sampler, exc, words):
    await filled(backend, 4)
    with pytest.raises(exc, match=words):
        await backend.get_meta(["step"], 2, "t", sampler)
    assert (await backend.get_meta(["step"], 10, "t"))["global_indexes"] == [0, 1, 2, 3]


BAD_CALLS = [
    ("get_meta", (["nope"], 2, "t"), InvalidArgumentError, "unknown field \"nope\""),
    ("get_meta", ("step", 2, "t"), TypeError, "fields must be a list"),
    ("get_meta", (["step"], -1, "t"), InvalidArgumentError, "negative"),
    ("get_meta", (["step"], 2.5, "t"), TypeError, "batch_size"),
    ("get_meta", (["step"], 2, 7), TypeError, "task_name"),
    ("get_meta", (["step"], 2, ""), InvalidArgumentError, "task name"),
    ("get_data", ({"global_indexes": [0]}, ["step", "zzz"]), InvalidArgumentError, "zzz"),
    ("get_data", (["not", "meta"],), TypeError, "batch_meta"),
    ("get_data", ({"other": 1},), ValueError, "global_indexes"),
    ("mark_consumed", ("t", [0, -1]), InvalidArgumentError, "index -1 is out of range"),
    ("mark_consumed", ("t", [0, 10]), InvalidArgumentError, "index 10 is out of range"),
    ("mark_consumed", ("t", [2**70]), InvalidArgumentError, "out of range"),
    ("mark_consumed", ("t", ["0"]), TypeError, "must be ints"),
    ("mark_consumed", ("t", [1.0]), TypeError, "must be ints"),
    ("mark_consumed", ("t", 3), TypeError, "list of ints"),
    ("clear", ([3, 10],), InvalidArgumentError, "index 10 is out of range"),
    ("clear", ([-5],), InvalidArgumentError, "index -5"),
    ("get_by_indices", ([None],), TypeError, "must be ints"),
]


@pytest.mark.parametrize("method,args,exc,words", BAD_CALLS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_CALLS)])
async def test_bad_calls_change_nothing(backend, method, args, exc, words):
    await filled(backend)
    with pytest.raises(exc, match=words):
        await getattr(backend, method)(*args)
    assert (await backend.get_meta(["step"], 100, "t"))["global_indexes"] == list(range(10))


async def test_clear_get_by_indices_and_get(backend):
    await filled(backend)
    await backend.get_meta(["step"], 3, "t")
    await backend.clear([3, 5])
    assert (await backend.get_meta(["step"], 100, "t"))["global_indexes"] == [4, 6, 7, 8, 9]
    assert (await backend.get_meta(["step"], 100, "new"))["global_indexes"] == [0, 1, 2, 4, 6, 7, 8, 9]
    await backend.reset_consumption("t")
    assert (await backend.get_meta(["step"], 100, "t"))["global_indexes"] == [0, 1, 2, 4, 6, 7, 8, 9]
    rows = await backend.get_by_indices([9, 3, -1, 10, 0, 0, 5, 4])
    assert [r["step"] for r in rows] == [9, 0, 0, 4]  # cleared, negative, past the end: skipped
    rows = await backend.get_data({"global_indexes": [5, 6]}, ["step"])
    assert rows == [{"step": 6}]
    # get(limit, offset): the records at offsets [offset, offset+limit); a
    # cleared offset holds none and no record moves
    assert [r["step"] for r in await backend.get(limit=3, offset=4)] == [4, 6]
    assert await backend.get(limit=1, offset=5) == []
    assert backend.total_count() == 10
    streamed = [r["step"] async for chunk in backend.get_stream(6, 2) for r in chunk]
    assert streamed == [2, 4, 6, 7, 8, 9]  # limit counts records; cleared ones skipped


async def test_get_meta_past_one_roaring_container(backend):
    """Past 65,536 consumed or cleared indexes (one roaring container) get_meta
    hands out the next ones: roaring's own search handed consumed indexes out
    again ([65536, 4464, 65536]) and, after such a clear, never returned."""
    await backend.put_arrow(pa.table({"step": pa.array(range(70_100), pa.int64())}))
    await backend.mark_consumed("t", range(70_000))
    assert (await backend.get_meta(["step"], 3, "t"))["global_indexes"] == [70_000, 70_001, 70_002]
    await backend.clear(range(70_050))
    assert (await backend.get_meta(["step"], 100, "new"))["global_indexes"] == list(range(70_050, 70_100))


@pytest.mark.parametrize("first", [2**32 - 2, 2**32 + 10, 2**40])
@pytest.mark.parametrize("kind", sorted(BACKENDS))
async def test_training_past_2_32(bucket_path, kind, first):
    """Offsets never restart: a queue running for months hands out, marks,
    clears and reads records past 2^32 (retention dropped those below).
    Before, get_meta raised UnsupportedError there, clear and mark_consumed
    InvalidArgumentError."""
    b = BACKENDS[kind](bucket_path)
    await b.put_arrow(pa.table({"step": pa.array(range(14), pa.int64())}))
    b.close()
    ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
    ds.delete("step = 0")  # as retention does: the 13 rows left hold offsets first .. first+12
    ds.update_config({"persisting.first_offset": str(first)})

    def at(*rel):
        return [first + r for r in rel]

    b = BACKENDS[kind](bucket_path)
    try:
        assert b.total_count() == first + 13
        assert (await b.get_meta(["step"], 3, "t"))["global_indexes"] == at(0, 1, 2)
        await b.mark_consumed("t", at(4))
        await b.clear(at(3, 6))
        assert (await b.get_meta(["step"], 100, "t"))["global_indexes"] == at(5, 7, 8, 9, 10, 11, 12)
        meta = await b.get_meta(["step"], 2, "u", lambda ready, n, **kw: (ready[-n:], ready[-n:]))
        assert meta["global_indexes"] == at(11, 12)
        assert [r["step"] for r in await b.get_by_indices(at(12, 3, 2, 13))] == [13, 3]
        assert [r["step"] for r in await b.get(limit=5, offset=first + 2)] == [3, 5, 6]
    finally:
        b.close()
    b = BACKENDS[kind](bucket_path)
    try:
        assert (await b.get_meta(["step"], 100, "t"))["global_indexes"] == []
        assert (await b.get_meta(["step"], 100, "u"))["global_indexes"] == at(0, 1, 2, 4, 5, 7, 8, 9, 10)
    finally:
        b.close()


@pytest.mark.parametrize("kind", sorted(BACKENDS))
async def test_clear_deletes_rows_for_pylance(bucket_path, kind):
    b = BACKENDS[kind](bucket_path)
    try:
        await filled(b, 300)
        await b.flush()
        await filled(b, 5)  # buffered: clear flushes them first
        await b.clear([0, 7, 150, 151, 302])
        ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
        steps = ds.to_table(columns=["step"]).column("step").to_pylist()
        assert steps == [i for i in range(300) if i not in (0, 7, 150, 151)] + [0, 1, 3, 4]
        assert ds.count_rows() == 300 + 5 - 5
    finally:
        b.close()
    # pylance's compaction materialises the deletions: offsets do not move
    ds = lance.dataset(os.path.join(bucket_path, "data.lance"))
    ds.optimize.compact_files(target_rows_per_fragment=10_000, materialize_deletions_threshold=0.0)
    assert all(f.deletion_file() is None for f in lance.dataset(ds.uri).get_fragments())
    b = BACKENDS[kind](bucket_path)
    try:
        assert b.total_count() == 305
        assert [r["step"] for r in await b.get(4, 149)] == [149, 152]
        assert [r["step"] for r in await b.get_by_indices([303, 302, 151, 6])] == [3, 6]
        assert (await b.get_meta(["step"], 3, "t"))["global_indexes"] == [1, 2, 3]
    finally:
        b.close()


@pytest.mark.parametrize("kind", sorted(BACKENDS))
async def test_consumption_survives_reopen(bucket_path, kind):
    b = BACKENDS[kind](bucket_path)
    await filled(b)
    await b.get_meta(["step"], 3, "t")
    await b.mark_consumed("u", [1, 2])
    await b.clear([4])
    b.close()
    assert os.path.isfile(os.path.join(bucket_path, "consumption.log"))
    b = BACKENDS[kind](bucket_path)
    try:
        assert (await b.get_meta(["step"], 100, "t"))["global_indexes"] == [3, 5, 6, 7, 8, 9]
        assert (await b.get_meta(["step"], 100, "u"))["global_indexes"] == [0, 3, 5, 6, 7, 8, 9]
    finally:
        b.close()


# ---- through a real pulsing 0.1.2 actor system, across processes ----------------------
def run_scenario(*args, kill=False, backend_options=None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(PYTHON_SRC),
           "PERSISTING_SCENARIO_BACKEND_OPTIONS": json.dumps(backend_options or {})}
    cmd = [sys.executable, "-X", "faulthandler", str(SCRIPTS / "training_scenario.py"), *args]
    if not kill:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert proc.returncode == 0 and line, explain(proc)
        return json.loads(line[len("RESULT "):])
    proc = subprocess.Popen(cmd + ["kill"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        while True:
            line = proc.stdout.readline()
            if not line or line.startswith("RESULT "):
                break
        assert line.startswith("RESULT "), f"no RESULT line (exit {proc.poll()}): {proc.stderr.read()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("backend_name,kill", [("persisting", True), ("persisting", False), ("lance", True), ("lance", False)])
def test_pulsing_actor_restart(tmp_path, backend_name, kill):
    path = str(tmp_path / "q")
    first = run_scenario("first", path, backend_name, kill=kill)
    assert first["before"] == {"samples": [], "global_indexes": []}  # polled before the first put
    assert first["put"] == {"status": "ok"}
    assert first["train"] == [0, 1, 2, 3]
    assert first["train_fields"]["obs"] == {"name": "obs", "dtype": "float32", "shape": [2, 3],
                                            "production_status": "ready"}
    assert [r["_shape"] for r in first["data"]] == [[2, 3]] * 4
    assert [r["_dtype"] for r in first["data"]] == ["float32"] * 4
    assert first["data"][1]["obs"] == [[6.0, 7.0, 8.0], [9.0, 10.0, 11.0]]
    assert first["eval"] == [9, 8, 7]
    # get and get_stream (read_queue's path) give tensors in their shape, as get_data does
    assert [(r["_shape"], r["_dtype"], r["step"]) for r in first["read"]] == [([2, 3], "float32", i) for i in range(3)]
    assert first["read"][1]["obs"] == first["data"][1]["obs"]

    second = run_scenario("second", path, backend_name)
    for refused in (first["refused"], second["refused"]):  # before and after the restart
        assert refused["count"] == 10, refused  # nothing stored
        assert 'found arrow.fixed_shape_tensor{"shape":[3,2]' in refused["shape"], refused  # not reshaped
        assert "over fixed_size_list<item: float64, nullable>[6]" in refused["dtype"], refused
    assert second["count"] == 10
    assert second["train"] == [4, 7, 8, 9]  # 0-3 handed out, 6 marked, 5 cleared
    assert second["eval"] == [0, 1, 2, 3, 4, 6]
    assert [r["step"] for r in second["data"]] == [9, 0]  # 5 is cleared: skipped
    assert second["data"][0]["obs"] == [[54.0, 55.0, 56.0], [57.0, 58.0, 59.0]]
    assert second["data"][0]["_dtype"] == "float32"
    assert second["after_reset"] == [0, 1, 2, 3, 4, 6, 7, 8, 9]
    assert second["get"] == [3, 4, 6]  # offsets 3..6: 5 is cleared, nothing moved
    steps = lance.dataset(os.path.join(path, "bucket_0", "data.lance")).to_table().column("step")
    assert 5 not in steps.to_pylist() and len(steps) == 9


def test_put_tensor_rows_without_tensors_are_records_as_for_memory_backend(tmp_path):
    """Through a real actor system, rows (and columns) without tensors are records, as
    MemoryBackend takes rows, judged by the engine's record rules: a Decimal column keeps
    put's precision, aware datetimes of any zone are stored as UTC instants, a set is refused."""
    memory = run_scenario("rows", str(tmp_path / "memory"), "memory")
    assert memory["set"] is None and memory["count"] == 4  # MemoryBackend keeps anything
    for name in ("lance", "persisting"):
        ours = run_scenario("rows", str(tmp_path / name), name)
        assert ours["rows"][:3] == memory["rows"][:3], ours
        assert ours["rows"][3:] == [{"v": ["Decimal", "7.5"], "when": None}, {"v": None, "when": None}], ours
        for refused in (ours["set"], ours["columns_set"]):  # in rows, in a dict of columns
            assert "field 'tags': cannot store a set" in refused, ours
        assert ours["count"] == 5, ours
    assert ours["tensors_after_a_record"] == [  # persisting
        "{'status': 'ok'}", ["float32", 2, 3], None, ["float32", 2, 3]], ours


# pulsing's unreleased main checks backends against runtime-checkable protocols
# (TensorBackend, ConsumptionBackend in python/pulsing/streaming/backend.py):
# every one of these methods must exist, as a coroutine function.
PROTOCOL_METHODS = {
    "put_tensor": ["data"], "get_data": ["batch_meta", "fields"],
    "get_meta": ["fields", "batch_size", "task_name", "sampler"],
    "mark_consumed": ["task_name", "global_indexes"], "reset_consumption": ["task_name"],
    "clear": ["global_indexes"], "get_by_indices": ["indexes"],
}


@pytest.mark.parametrize("cls", [LanceBackend, PersistingBackend])
def test_backends_have_pulsing_protocol_methods(cls):
    import inspect

    for name, params in PROTOCOL_METHODS.items():
        fn = getattr(cls, name)
        assert inspect.iscoroutinefunction(fn), name
        assert list(inspect.signature(fn).parameters)[1:len(params) + 1] == params, name


# get_meta names each field's numpy dtype without pandas (pyarrow's to_pandas_dtype
# imports it for timezone-aware timestamps and refuses time64).
FIELD_DTYPES = [
    (pa.array(np.arange(3, dtype=np.float16)), "float16", []),
    (pa.array([0, 1, 2], pa.timestamp("us", tz="UTC")), "datetime64[us]", []),
    (pa.array([0, 1, 2], pa.time64("us")), "object", []),
    (pa.array([0, 1, 2], pa.date32()), "datetime64[D]", []),
    (pa.FixedShapeTensorArray.from_numpy_ndarray(np.zeros((3, 2), np.uint8)), "uint8", [2]),
    (pa.FixedShapeTensorArray.from_numpy_ndarray(np.ones((3, 2, 4), bool)), "bool", [2, 4]),
    (pa.array(["a", "b", "c"]), "string", None),
]


@pytest.mark.parametrize("column,dtype,shape", FIELD_DTYPES, ids=[d for _, d, _ in FIELD_DTYPES])
async def test_get_meta_field_dtypes(backend, column, dtype, shape):
    await backend.put_tensor(pa.table({"x": column}))
    meta = await backend.get_meta(["x"], 1, "t")
    assert meta["samples"][0]["fields"]["x"] == {"name": "x", "dtype": dtype, "shape": shape,
                                                 "production_status": "ready"}
