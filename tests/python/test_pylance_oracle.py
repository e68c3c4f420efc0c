"""pylance as the oracle of what a bucket writes: after each kind of operation the engine
performs (puts of every value kind, schema evolution, put_arrow, tensors, consumption and
clear, an index and lookups, compaction, cleanup, retention), at each file version it
writes, pylance 14 validates the dataset and reads exactly what the bucket reads, in every
version, by take, filter and column scan, and parses every version's transaction."""

from __future__ import annotations

import datetime
import decimal
import os

import lance
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from persisting.queue import PersistingBackend

VERSIONS = [None, "2.0", "2.1", "2.2"]  # None: the default (2.2)


def plain(t: pa.Table) -> pa.Table:
    """t with dictionary columns decoded and one chunk per column: pylance and the engine
    may split a column into chunks, or a dictionary column into dictionaries, differently."""
    cols = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in t.columns]
    return pa.Table.from_arrays([c.combine_chunks() for c in cols], names=t.schema.names)


def assert_same(theirs: pa.Table, ours: pa.Table, what: str) -> None:
    assert theirs.schema.equals(ours.schema, check_metadata=True), f"{what}: schema\n{theirs.schema}\n{ours.schema}"
    assert plain(theirs).equals(plain(ours)), f"{what}: rows differ"


async def check(b, path: str, storage_version: str | None) -> lance.LanceDataset:
    uri = os.path.join(path, "data.lance")
    ds = lance.dataset(uri)
    ds.validate()
    first = (await b.stats())["first_retained_offset"]
    ours = await b.get_arrow(offset=first)
    # An untyped field (None in every record so far) is not stored (schema-rules.md).
    unstored = [f.name for f in ours.schema if f.name not in ds.schema.names]
    assert all(ours.schema.field(n).type == pa.null() for n in unstored), unstored
    ours = ours.drop_columns(unstored)
    assert_same(ds.to_table(), ours, "latest")
    assert ds.count_rows() == ours.num_rows
    assert ds.data_storage_version == (storage_version or "2.2")
    ours_versions = [v["version"] for v in await b.versions()]
    assert [v["version"] for v in ds.versions()] == ours_versions
    for v in ours_versions:
        old = lance.dataset(uri, version=v)
        old.validate()
        theirs = old.to_table()
        mine = await b.get_arrow(version=v, offset=first if v == ds.version else 0)
        assert_same(theirs, mine.drop_columns([n for n in mine.schema.names if n not in theirs.schema.names]),
                    f"version {v}")
        assert type(old.read_transaction(v).operation).__name__ in {
            "Overwrite", "Append", "Merge", "Delete", "Rewrite", "CreateIndex"}, v
    ds.stats.dataset_stats()
    for frag in ds.get_fragments():
        assert frag.count_rows() <= frag.physical_rows
    n = ds.count_rows()
    rows = [0, n // 2, n - 1]
    assert plain(ds.take(rows)).equals(plain(ours).take(rows))
    assert ds.to_table(with_row_id=True, with_row_address=True).num_rows == n
    assert_same(ds.scanner(columns=["id", "s"]).to_table(), ours.select(["id", "s"]), "columns")
    assert_same(ds.to_table(filter="id > 5"), ours.filter(pc.greater(ours["id"], 5)), "filter")
    return ds


@pytest.mark.parametrize("storage_version", VERSIONS)
async def test_pylance_reads_every_step_exactly(bucket_path, storage_version):
    kw = {"data_storage_version": storage_version} if storage_version else {}
    b = PersistingBackend(0, bucket_path, maintenance=False, **kw)
    try:
        await b.put_batch([{"id": i, "f": i / 2, "ok": i % 2 == 0, "s": f"s{i}", "by": bytes([i]),
                            "n": None} for i in range(10)])
        await b.flush()
        await check(b, bucket_path, storage_version)
        nested = {"d": {"x": 1, "y": "q"}} if storage_version != "2.0" else {}
        utc = datetime.timezone.utc
        await b.put_batch([{"id": 10 + i, "l": [i, None], "ls": ["a", None], **nested,
                            "ts": datetime.datetime(2024, 1, 1, i, tzinfo=utc), "dt": datetime.date(2024, 1, 1 + i),
                            "dec": decimal.Decimal(f"{i}.25"), "vec": np.arange(3, dtype=np.float32) + i,
                            "f": 7, "n": i}  # an int into a float field; "n" typed after others were stored
                           for i in range(5)])
        await b.flush()
        await check(b, bucket_path, storage_version)
        await b.put_arrow(pa.table({
            "id": pa.array([20, 21], pa.int64()), "s": pa.array(["a", None], pa.large_string()),
            "i8": pa.array([1, None], pa.int8()), "f16": pa.array(np.array([1, 2], np.float16)),
            "fsb": pa.array([b"abcd"] * 2, pa.binary(4)), "dict": pa.array(["x", None]).dictionary_encode(),
            "bvec": pa.array([[True, False]] * 2, pa.list_(pa.bool_(), 2)),
            "dur": pa.array([1, 2], pa.duration("ms")), "nul": pa.array([None, None], pa.null())}))
        await b.put_tensor({"id": np.array([30, 31]), "obs": np.ones((2, 2, 3), np.float32),
                            "mask": np.ones((2, 2), bool)})
        await b.flush()
        await check(b, bucket_path, storage_version)
        await b.get_meta(["id"], 3, "task")
        await b.clear([1, 2])
        await b.flush()
        await check(b, bucket_path, storage_version)
        await b.create_index("id", "BTREE")
        assert [r["id"] for r in await b.get_where("id", eq=5)] == [5]  # the untyped "n" too
        await b.put({"id": 99, "s": "after the index"})
        await b.flush()
        ds = await check(b, bucket_path, storage_version)
        assert [i["fields"] for i in ds.list_indices()] == [["id"]]
        assert ds.to_table(filter="id = 99")["s"].to_pylist() == ["after the index"]
    finally:
        b.close()


@pytest.mark.parametrize("storage_version", VERSIONS)
async def test_compaction_between_fragments_keeps_ids_ascending(bucket_path, storage_version):
    """Tiered compaction rewrites small fragments that later ones follow: their
    replacements take their ids, as Lance wants them ascending (pylance's validate
    called the dataset corrupt when they got fresh ids), and rows keep their order."""
    kw = {"data_storage_version": storage_version} if storage_version else {}
    b = PersistingBackend(0, bucket_path, maintenance=False, **kw)
    try:
        next_id = 0
        for size in (10, 2, 2, 10, 2):
            await b.put_batch([{"id": next_id + i, "s": "x"} for i in range(size)])
            await b.flush()
            next_id += size
        result = await b.compact(target_rows=5)
        assert (result["fragments_before"], result["fragments"]) == (5, 4)
        ds = await check(b, bucket_path, storage_version)
        assert [f.fragment_id for f in ds.get_fragments()] == [0, 1, 3, 4]
        assert ds.to_table()["id"].to_pylist() == list(range(26))
        r = await b.cleanup_old_versions(older_than=datetime.timedelta(0))
        assert r["old_versions"] == 5
        await b.put({"id": 26, "s": "y"})
        await b.flush()
        ds = await check(b, bucket_path, storage_version)
        assert [f.fragment_id for f in ds.get_fragments()] == [0, 1, 3, 4, 5]
        ds.optimize.compact_files()  # pylance compacts after us
        lance.dataset(ds.uri).validate()
    finally:
        b.close()


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
@pytest.mark.parametrize("storage_version", ["2.0", "2.2"])
async def test_a_codec_recorded_in_the_fields_shows_in_reads(bucket_path, storage_version, codec):
    """A dataset created with a codec records it in every field's metadata (nested ones
    too); the bucket that created it reads that schema, as pylance does, before a reopen."""
    b = PersistingBackend(0, bucket_path, maintenance=False, compression=codec, data_storage_version=storage_version)
    try:
        await b.put_batch([{"id": i, "s": "x" * i, "l": [i, i + 1]} for i in range(10)])
        await b.flush()
        ds = await check(b, bucket_path, storage_version)
        assert ds.schema.field("l").type.value_field.metadata == {b"lance-encoding:compression": codec.encode()}
    finally:
        b.close()
