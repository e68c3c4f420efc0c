"""Dictionary columns (pandas categoricals) and map columns, which pylance
writes and LanceBackend must read, append to and write exactly as pylance
would: same Arrow types, same values."""

from __future__ import annotations

import os

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError, UnsupportedError
from persisting.queue import LanceBackend

N = 3000  # several mini-block chunks; max_rows_per_file splits it over files

try:
    import pandas
except ImportError:  # pragma: no cover - depends on the machine
    pandas = None


def dataset_path(storage_path: str) -> str:
    return os.path.join(storage_path, "data.lance")


def colors(n: int, start: int = 0) -> pa.Array:
    return pa.array([None if i % 7 == 0 else ["red", "green", "blue"][i % 3]
                     for i in range(start, start + n)]).dictionary_encode()


def dict_table(n: int = N, start: int = 0) -> pa.Table:
    return pa.table({
        "id": pa.array(range(start, start + n), pa.int64()),
        "color": colors(n, start),
        "size": pa.array([i % 4 if i % 9 else None for i in range(start, start + n)], pa.int64()).dictionary_encode(),
    })


async def read_back(bucket_path: str, limit: int, offset: int):
    b = LanceBackend(0, bucket_path)
    try:
        return await b.get_arrow(), await b.get(limit, offset)
    finally:
        b.close()


async def append(bucket_path: str, table: pa.Table | None, records: list[dict]) -> None:
    b = LanceBackend(0, bucket_path)
    try:
        if table is not None:
            await b.put_arrow(table)
        for r in records:
            await b.put(r)
        await b.flush()
    finally:
        b.close()


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
async def test_dictionary_columns_pylance_wrote(bucket_path, version):
    lance.write_dataset(dict_table(), dataset_path(bucket_path), data_storage_version=version,
                        max_rows_per_file=1200)
    expected = lance.dataset(dataset_path(bucket_path)).to_table()
    got, rows = await read_back(bucket_path, 50, 1190)
    assert got.schema == expected.schema
    assert got.equals(expected)  # same dictionaries, same indices
    assert rows == expected.slice(1190, 50).to_pylist()

    more = dict_table(100, start=N)
    records = [{"id": N + 100, "color": "blue", "size": 3}, {"id": N + 101, "color": None, "size": None},
               {"id": N + 102, "color": "violet", "size": 99}]
    await append(bucket_path, more, records)
    back = lance.dataset(dataset_path(bucket_path)).to_table()
    assert back.schema == expected.schema
    assert back.to_pylist() == expected.to_pylist() + more.to_pylist() + records
    got, _ = await read_back(bucket_path, 1, 0)
    assert got.equals(back)


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
async def test_pylance_reads_dictionaries_put_arrow_wrote_exactly(tmp_path, version):
    lance.write_dataset(dict_table(1, start=1), dataset_path(str(tmp_path)), data_storage_version=version)
    table = pa.table({
        "id": pa.array(range(5), pa.int64()),
        # unused and out-of-order entries are kept, as pylance keeps them
        "color": pa.DictionaryArray.from_arrays(pa.array([3, 1, 3, None, 1], pa.int32()),
                                                pa.array(["w", "x", "y", "z"])),
        "size": pa.array([5, 5, None, 6, 5], pa.int64()).dictionary_encode(),
    })
    await append(str(tmp_path), table, [])
    fragments = lance.dataset(dataset_path(str(tmp_path))).get_fragments()
    assert len(fragments) == 2
    ours = fragments[1].to_table()
    if version == "2.0":
        # a 2.0 page with null rows points them at a null item, and pylance
        # returns it: compare the values (the 2.1+ pages compare whole)
        assert ours.schema == table.schema and ours.to_pylist() == table.to_pylist()
    else:
        assert ours.equals(table)


async def test_pandas_categorical(bucket_path):
    codes, categories = [i % 3 if i % 11 else -1 for i in range(500)], ["low", "mid", "high"]
    if pandas is not None:
        frame = pandas.DataFrame({"n": range(500), "level": pandas.Categorical.from_codes(codes, categories)})
        lance.write_dataset(frame, dataset_path(bucket_path))
    else:  # the table pandas would hand pylance: int8 codes, string categories
        level = pa.DictionaryArray.from_arrays(pa.array([c if c >= 0 else None for c in codes], pa.int8()),
                                               pa.array(categories))
        lance.write_dataset(pa.table({"n": pa.array(range(500), pa.int64()), "level": level}),
                            dataset_path(bucket_path))
    expected = lance.dataset(dataset_path(bucket_path)).to_table()
    # pandas 3 hands its categories over as large_string, older ones as string
    assert expected.schema.field("level").type in (pa.dictionary(pa.int8(), pa.string()),
                                                   pa.dictionary(pa.int8(), pa.large_string()))
    got, rows = await read_back(bucket_path, 3, 10)
    assert got.equals(expected)
    assert [r["level"] for r in rows] == [None if codes[i] < 0 else categories[codes[i]] for i in range(10, 13)]

    await append(bucket_path, None, [{"n": 500, "level": "high"}])
    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(SchemaError, match="level"):
            await b.put({"n": 501, "level": 2})  # a code is not a category
        assert b.total_count() == 501
    finally:
        b.close()
    back = lance.dataset(dataset_path(bucket_path)).to_table()
    assert back.schema == expected.schema
    assert back.to_pylist() == expected.to_pylist() + [{"n": 500, "level": "high"}]


MAP_TYPE = pa.map_(pa.string(), pa.int64())


def map_table(n: int, start: int = 0) -> pa.Table:
    def entries(i):
        if i % 5 == 0:
            return None
        return [(f"k{j}", None if j == 1 else i * j) for j in range(i % 4)]
    return pa.table({"id": pa.array(range(start, start + n), pa.int64()),
                     "attrs": pa.array([entries(i) for i in range(start, start + n)], MAP_TYPE)})


async def test_map_columns(bucket_path):
    # pylance writes maps at 2.2 only (2.0 and 2.1 refuse them)
    lance.write_dataset(map_table(N), dataset_path(bucket_path), data_storage_version="2.2",
                        max_rows_per_file=2000)
    expected = lance.dataset(dataset_path(bucket_path)).to_table()
    assert expected.schema.field("attrs").type == MAP_TYPE
    got, rows = await read_back(bucket_path, 20, 1990)
    assert got.equals(expected)
    assert rows == expected.slice(1990, 20).to_pylist()

    more = map_table(50, start=N)
    records = [{"id": N + 50, "attrs": {"a": 1, "b": None}}, {"id": N + 51, "attrs": {}},
               {"id": N + 52, "attrs": None}]
    await append(bucket_path, more, records)
    b = LanceBackend(0, bucket_path)
    try:
        # a list of pairs is a map too (what get returns), but not of three items
        for bad in ({"attrs": {"a": "x"}}, {"attrs": {1: 2}}, {"attrs": [("a", 1, 2)]}, {"attrs": [("a", "x")]}):
            with pytest.raises(SchemaError, match="attrs"):
                await b.put({"id": -1, **bad})
        assert b.total_count() == N + 53
    finally:
        b.close()
    back = lance.dataset(dataset_path(bucket_path)).to_table()
    assert back.schema == expected.schema
    as_pairs = [{"id": r["id"], "attrs": None if r["attrs"] is None else list(r["attrs"].items())} for r in records]
    assert back.to_pylist() == expected.to_pylist() + more.to_pylist() + as_pairs


@pytest.mark.parametrize("version", ["2.1", "2.2"])
async def test_dictionary_among_other_columns(bucket_path, version):
    n = 1000
    table = pa.table({
        "id": pa.array(range(n), pa.int64()),
        "name": pa.array([f"name-{i}" for i in range(n)]),
        "color": colors(n),
        "tags": pa.array([[f"t{i % 3}"] * (i % 3) for i in range(n)], pa.list_(pa.string())),
        "point": pa.array([{"x": i, "y": float(i) / 2} for i in range(n)],
                          pa.struct([("x", pa.int64()), ("y", pa.float64())])),
        "score": pa.array([i / 3 for i in range(n)]),
    })
    lance.write_dataset(table, dataset_path(bucket_path), data_storage_version=version)
    expected = lance.dataset(dataset_path(bucket_path)).to_table()
    got, rows = await read_back(bucket_path, 5, 500)
    assert got.equals(expected) and expected.equals(table)
    assert rows == table.slice(500, 5).to_pylist()
    record = {"id": n, "name": "last", "color": "green", "tags": ["t9"], "point": {"x": 1, "y": 2.5}, "score": 0.25}
    await append(bucket_path, table.slice(0, 10), [record])
    back = lance.dataset(dataset_path(bucket_path)).to_table()
    assert back.schema == table.schema
    assert back.to_pylist() == table.to_pylist() + table.slice(0, 10).to_pylist() + [record]


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
async def test_packed_struct_is_read_and_appends_refused(bucket_path, version):
    point = pa.struct([("x", pa.int32()), ("y", pa.float64())])
    schema = pa.schema([pa.field("id", pa.int64()),
                        pa.field("p", point, metadata={"lance-encoding:packed": "true"})])
    rows = [{"id": i, "p": None if (i % 9 == 4 and version != "2.0") else {"x": i, "y": i / 4}} for i in range(2000)]
    lance.write_dataset(pa.Table.from_pylist(rows, schema=schema), dataset_path(bucket_path),
                        data_storage_version=version)
    expected = lance.dataset(dataset_path(bucket_path)).to_table()
    b = LanceBackend(0, bucket_path)
    try:
        got = await b.get_arrow()
        assert got.equals(expected)
        assert await b.get(3, 3) == rows[3:6]
        stats = await b.stats()
        assert stats["read_only"] and "lance-encoding:packed" in stats["read_only_reason"]
        with pytest.raises(UnsupportedError, match="packed"):
            await b.put({"id": 1, "p": {"x": 1, "y": 2.0}})
        assert b.total_count() == 2000
    finally:
        b.close()


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
@pytest.mark.parametrize("values,fragments_after", [(50, 2), (100, 3)])
async def test_compaction_of_fragments_whose_dictionaries_do_not_fit_one(bucket_path, version, values,
                                                                         fragments_after):
    """Three pylance fragments, each with its own int8 dictionary, that together overflow
    int8. pylance reads a file's page dictionaries as one dictionary, so compaction must
    not put more of them into one file than fit: 50-value dictionaries go two and one,
    100-value ones cannot be merged at all, and then nothing is committed. Before, our
    compaction merged all three and pylance could no longer read the dataset
    ("Dictionary key bigger than the key type")."""
    def part(k):
        dictionary = pa.array([f"k{k}_{i}" for i in range(values)])
        indices = pa.array([i % values for i in range(1000)], pa.int8())
        return pa.table({"id": pa.array(range(k * 1000, k * 1000 + 1000), pa.int64()),
                         "d": pa.DictionaryArray.from_arrays(indices, dictionary)})

    path = dataset_path(bucket_path)
    for k in range(3):
        lance.write_dataset(part(k), path, mode="append" if k else "create", data_storage_version=version)
    expected = lance.dataset(path).to_table()
    b = LanceBackend(0, bucket_path)
    try:
        out = await b.compact()
        assert (out["fragments_before"], out["fragments"]) == (3, fragments_after), out
        assert (out["version"] > out["version_before"]) == (fragments_after < 3), out
        assert (await b.get_arrow()).to_pylist() == expected.to_pylist()
    finally:
        b.close()
    after = lance.dataset(path).to_table()
    assert after.schema == expected.schema and after.to_pylist() == expected.to_pylist()


@pytest.mark.parametrize("version", ["2.0", "2.1", "2.2"])
async def test_one_flush_of_batches_whose_dictionaries_do_not_fit_one(bucket_path, version):
    """put_arrow batches with different 100-value int8 dictionaries, flushed together: one
    data file could not hold them (pylance reads a file's page dictionaries as one), so the
    flush writes a file per batch that fits, one fragment each, in one version; pylance and
    a full read both see every row. Before, the flush wrote one file neither could read
    whole."""
    def part(k):
        dictionary = pa.array([f"k{k}_{i}" for i in range(100)])
        indices = pa.array([i % 100 for i in range(1000)], pa.int8())
        return pa.table({"id": pa.array(range(k * 1000, k * 1000 + 1000), pa.int64()),
                         "d": pa.DictionaryArray.from_arrays(indices, dictionary)})

    lance.write_dataset(part(0).slice(0, 0), dataset_path(bucket_path), data_storage_version=version)
    b = LanceBackend(0, bucket_path, flush_threshold=100_000)
    try:
        for k in range(3):
            await b.put_arrow(part(k))
        await b.flush()
        assert (await b.stats())["version"] == 2
        got = await b.get_arrow()
    finally:
        b.close()
    want = pa.concat_tables([part(k) for k in range(3)])
    ds = lance.dataset(dataset_path(bucket_path))
    assert len(ds.get_fragments()) == 3
    assert ds.to_table().to_pylist() == want.to_pylist() == got.to_pylist()
