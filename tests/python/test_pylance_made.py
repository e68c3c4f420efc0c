"""Datasets pylance 14 makes through its public API - every file version it writes, small files
and pages, deletes, updates, merge_insert, column changes, compaction, stable row ids, indices,
tags, restore, empty datasets, field encodings - opened fresh by persisting. For each: the
backends read what pylance reads (whole, paged, counted), the CLI inspects, verifies and tails
it, a bucket appends to it (or refuses to, naming why), and pylance then reads the whole result
exactly and still uses its indices."""

from __future__ import annotations

import datetime
import decimal
import json
import os
import subprocess
from dataclasses import dataclass, field

import lance
import numpy as np
import pyarrow as pa
import pytest

from helpers import REPO, child_env
from persisting import UnsupportedError
from persisting.queue import LanceBackend, PersistingBackend

N = 300
CLI = str(REPO / "build" / "persisting")


def table(n: int = N, start: int = 0, *, vec: bool = False, tags: bool = False) -> pa.Table:
    ids = range(start, start + n)
    cols = {"id": pa.array(ids, pa.int64()), "s": pa.array([f"w{i % 7} word{i % 13}" for i in ids]),
            "f": pa.array([i / 4 for i in ids], pa.float64())}
    if vec:
        values = np.random.default_rng(start).random(n * 4, dtype=np.float32)
        cols["v"] = pa.FixedSizeListArray.from_arrays(pa.array(values), 4)
    if tags:
        cols["t"] = pa.array([[f"t{i % 3}", f"t{i % 5}"] if i % 4 else None for i in ids],
                             pa.list_(pa.string()))
    return pa.table(cols)


def wide(n: int = N, start: int = 0, v20: bool = False) -> pa.Table:
    """Most column types pylance stores (no structs at 2.0, which is read-only for them)."""
    ids = range(start, start + n)
    cols = {
        "id": pa.array(ids, pa.int64()), "b": pa.array([None if i % 7 == 0 else i % 2 == 0 for i in ids]),
        "i8": pa.array([i % 100 for i in ids], pa.int8()), "u16": pa.array(ids, pa.uint16()),
        "i32": pa.array([None if i % 5 == 0 else i * 3 for i in ids], pa.int32()),
        "f16": pa.array(np.array([i / 8 for i in ids], np.float16)), "f32": pa.array([i / 3 for i in ids], pa.float32()),
        "ls": pa.array([f"long-{i}" * (i % 4) for i in ids], pa.large_string()),
        "big": pa.array([("x" * 300 + str(i)) if i % 3 else None for i in ids]),
        "bin": pa.array([bytes([i % 256]) * (i % 5) for i in ids], pa.binary()),
        "ts": pa.array([datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i) for i in ids], pa.timestamp("us")),
        "tz": pa.array([datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(minutes=i)
                        for i in ids], pa.timestamp("ms", "UTC")),
        "d": pa.array([datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in ids], pa.date32()),
        "dec": pa.array([decimal.Decimal(i) / 100 for i in ids], pa.decimal128(10, 2)),
        "nul": pa.nulls(n, pa.int32()),
        "li": pa.array([list(range(i % 4)) if i % 6 else None for i in ids], pa.list_(pa.int32())),
        "ll": pa.array([[f"x{i}"] * (i % 3) for i in ids], pa.large_list(pa.string())),
        "fsl": pa.FixedSizeListArray.from_arrays(pa.array(np.arange(start * 3, (start + n) * 3, dtype=np.float32)), 3),
        "cat": pa.array([["red", "green", None][i % 3] for i in ids]).dictionary_encode(),
    }
    if not v20:
        cols["st"] = pa.array([{"a": i, "b": f"s{i}", "c": [i, i + 1]} if i % 9 else None for i in ids],
                              pa.struct([("a", pa.int64()), ("b", pa.string()), ("c", pa.list_(pa.int64()))]))
        cols["los"] = pa.array([[{"k": f"k{i}", "v": i / 2}] * (i % 3) for i in ids],
                               pa.list_(pa.struct([("k", pa.string()), ("v", pa.float64())])))
    return pa.table(cols)


def wide_then(op, version):
    def make(path):
        lance.write_dataset(wide(v20=version == "2.0"), path, data_storage_version=version,
                            max_rows_per_file=70, max_rows_per_group=16)
        op(lance.dataset(path), path, version)
    return make


def wide_upsert(ds, path, version):  # a partial-schema source: fragments get new data files for i32
    src = pa.table({"id": pa.array(range(50, 120), pa.int64()), "i32": pa.array(range(70), pa.int32())})
    ds.merge_insert("id").when_matched_update_all().when_not_matched_insert_all().execute(src)


def wide_changed(ds, path, version):
    ds.add_columns({"g": "i32 * 2"})
    lance.dataset(path).drop_columns(["i8", "f32"])
    lance.dataset(path).alter_columns({"path": "g", "data_type": pa.int64()}, {"path": "ls", "name": "text"})
    lance.dataset(path).delete("id % 4 = 0")
    lance.dataset(path).optimize.compact_files(target_rows_per_fragment=90)


WIDE_OPS = {"plain": lambda ds, p, v: None, "upsert": wide_upsert, "changed": wide_changed,
            "updated": lambda ds, p, v: ds.update({"i32": "i32 + 1", "ls": "'z'"}, where="id % 3 = 0"),
            "appended-fewer-columns": lambda ds, p, v: lance.write_dataset(
                wide(20, 1000, v20=v == "2.0").select(["id", "ls", "st"] if v != "2.0" else ["id", "ls"]), p, mode="append")}


def with_metadata(path):
    t = table()
    schema = pa.schema([f.with_metadata({"unit": "m"}) if f.name == "f" else f for f in t.schema], metadata={"owner": "me"})
    ds = write(path, t.cast(schema))
    ds.update_schema_metadata({"k": "v"})
    lance.dataset(path).update_field_metadata({"s": {"lang": "en"}})


def multi_base(path):
    """Data files under two other base paths (one a dataset root: its files under data/), and the own one."""
    bases = [lance.DatasetBasePath(os.path.join(os.path.dirname(path), "other"), name="elsewhere"),
             lance.DatasetBasePath(os.path.join(os.path.dirname(path), "root2"), name="r", is_dataset_root=True)]
    write(path, initial_bases=bases, target_bases=["elsewhere"], max_rows_per_file=100)
    lance.dataset(path).delete("id % 7 = 0")
    lance.write_dataset(table(20, N), path, mode="append", target_bases=["r"])
    lance.write_dataset(table(20, N + 20), path, mode="append")


def structs(op, compact=False, version="2.1"):
    def make(path):
        st = pa.struct([("a", pa.int64()), ("b", pa.string()), ("c", pa.list_(pa.int32()))])
        t = table().append_column("st", pa.array([{"a": i, "b": str(i), "c": [i]} if i % 5 or version == "2.0" else None
                                            for i in range(N)], st))  # 2.0 stores no struct nulls
        op(write(path, t, max_rows_per_file=100, data_storage_version=version))
        if compact:  # and cleanup: verify reports the old versions' split fragments as not read here
            lance.dataset(path).optimize.compact_files()
            lance.dataset(path).cleanup_old_versions(older_than=datetime.timedelta(0))
    return make


def nested_dictionaries(version):
    """A dictionary-typed list item and struct child (pylance reads them back as dictionaries; the
    writer stores no dictionary inside a nested type, so the bucket is read-only)."""
    def make(path):
        words = pa.array([["red", "green", None][i % 3] for i in range(2 * N)]).dictionary_encode()
        ld = pa.ListArray.from_arrays(pa.array([2 * (i // 2) for i in range(N + 1)], pa.int32()), words.slice(0, N))
        sd = pa.StructArray.from_arrays([words.slice(0, N), pa.array(range(N))], names=["c", "n"])
        write(path, table().append_column("ld", ld).append_column("sd", sd), data_storage_version=version)
    return make


def write(path, data=None, **kw):
    lance.write_dataset(table() if data is None else data, path, **kw)
    return lance.dataset(path)


def after(op, **kw):
    """A maker: pylance writes table() with kw, then op(dataset, path)."""
    def make(path):
        ds = write(path, **kw)
        op(ds, path)
    return make


def appends(**kw):
    def make(path):
        write(path, table(100), **kw)
        for k in range(3):
            lance.write_dataset(table(100, 100 * (k + 1)), path, mode="append",
                                **{k: v for k, v in kw.items() if k != "data_storage_version"})
    return make


def doubled(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.record_batch([pa.compute.multiply(batch["f"], 2)], names=["g"])


def udf_columns(ds, path):
    ds.add_columns(lance.batch_udf(output_schema=pa.schema([pa.field("g", pa.float64())]))(doubled),
                   read_columns=["f"])


def compacted(ds, path, **kw):
    for k in range(4):
        lance.write_dataset(table(30, N + 30 * k), path, mode="append")
    lance.dataset(path).delete("id % 4 = 1")
    lance.dataset(path).optimize.compact_files(**kw)


def stable_moved(ds, path):
    lance.write_dataset(table(40, N), path, mode="append")
    lance.dataset(path).delete("id % 3 = 0")
    lance.dataset(path).optimize.compact_files()


def restored(ds, path):
    lance.write_dataset(table(10, 5000), path, mode="append")
    lance.dataset(path).delete("id < 50")
    lance.dataset(path, version=2).restore()


def encoded(path, version=None):
    md = [{"lance-encoding:compression": "zstd"}, {"lance-encoding:compression": "lz4"},
          {"lance-encoding:structural-encoding": "fullzip"},
          {"lance-encoding:structural-encoding": "miniblock", "lance-encoding:compression": "zstd",
           "lance-encoding:compression-level": "9"}]
    t = table()
    schema = pa.schema([pa.field(f.name, f.type, metadata=m) for f, m in zip(t.schema, md[:3])])
    t = pa.table(t.columns, schema=schema).append_column(pa.field("h", pa.string(), metadata=md[3]),
                                                         pa.array([f"h{i % 17}" for i in range(N)]))
    write(path, t, **({"data_storage_version": version} if version else {}))


def empty(path, version=None):
    write(path, table().schema.empty_table(), **({"data_storage_version": version} if version else {}))


def indexed(kind):
    def op(ds, path):
        if kind == "IVF_PQ":
            ds.create_index("v", "IVF_PQ", num_partitions=2, num_sub_vectors=2)
        else:
            ds.create_scalar_index({"BTREE": "id", "BITMAP": "s", "LABEL_LIST": "t", "INVERTED": "s"}[kind], kind)
        lance.write_dataset(table(50, N, vec=kind == "IVF_PQ", tags=kind == "LABEL_LIST"), path, mode="append")
        if kind != "INVERTED":
            lance.dataset(path).optimize.optimize_indices()
    return op


def index_query(kind):
    """Runs a query pylance answers from the index; returns (result, the same by a scan)."""
    def run(ds):
        if kind == "IVF_PQ":
            q = np.full(4, 0.5, dtype=np.float32)
            got = ds.to_table(columns=["id"], nearest={"column": "v", "q": q, "k": 5, "use_index": True})
            assert got.num_rows == 5
            return None, None
        if kind == "INVERTED":
            got = ds.to_table(columns=["id"], full_text_query="word3")
            return sorted(got["id"].to_pylist()), None
        flt = {"BTREE": "id >= 100 AND id < 120 OR id = 1000000", "BITMAP": "s = 'w3 word3' OR s = 'mine'",
               "LABEL_LIST": "array_has_any(t, ['t1'])"}[kind]
        got = ds.to_table(columns=["id"], filter=flt)
        plain = ds.to_table(columns=["id"], filter=flt, use_scalar_index=False)
        return sorted(got["id"].to_pylist()), sorted(plain["id"].to_pylist())
    return run


@dataclass
class Case:
    make: object
    writable: bool = True          # False: the bucket is read-only, reads work
    refused: str | None = None     # a read is refused with this in its message
    index: str | None = None       # an index kind pylance must still use after our append
    version: int | None = None     # also read this older version
    extra: dict = field(default_factory=dict)


V = {"2.0": {"data_storage_version": "2.0"}, "2.1": {"data_storage_version": "2.1"},
     "stable": {"data_storage_version": "stable"}, "next": {"data_storage_version": "next"},
     "2.2": {"data_storage_version": "2.2"}}

CASES = {
    **{f"create-{v}": Case(after(lambda ds, p: None, **kw)) for v, kw in V.items() if v != "next"},
    "create-next": Case(after(lambda ds, p: None, **V["next"]), refused="file version 2.3"),  # unstable in 14
    "legacy": Case(after(lambda ds, p: None, data_storage_version="legacy"), refused="data storage version 0.1"),
    **{f"append-{v}": Case(appends(**kw), version=2) for v, kw in V.items() if v in ("2.0", "2.1", "2.2")},
    "overwrite": Case(lambda p: (write(p), lance.write_dataset(table(20, 900), p, mode="overwrite")), version=1),
    "overwrite-other-schema": Case(lambda p: (write(p), lance.write_dataset(
        pa.table({"k": pa.array(["a", "b"]), "n": pa.array([1, 2], pa.int32())}), p, mode="overwrite")), version=1),
    **{f"many-files-pages-{v}": Case(after(lambda ds, p: None, max_rows_per_file=37, max_rows_per_group=5, **kw))
       for v, kw in V.items() if v in ("2.0", "2.1", "2.2")},
    "max-bytes-per-file": Case(after(lambda ds, p: None, max_bytes_per_file=2048, max_rows_per_group=16)),
    "delete-some": Case(after(lambda ds, p: ds.delete("id % 3 = 0"), max_rows_per_file=100)),
    "delete-fragments": Case(after(lambda ds, p: ds.delete("id < 200"), max_rows_per_file=100)),
    "delete-all": Case(after(lambda ds, p: ds.delete("true"), max_rows_per_file=100)),
    "delete-only-fragment": Case(after(lambda ds, p: ds.delete("id >= 0"))),
    "update": Case(after(lambda ds, p: ds.update({"s": "'upd'", "f": "f + 1"}, where="id % 5 = 0"),
                         max_rows_per_file=100)),
    "upsert": Case(after(lambda ds, p: ds.merge_insert("id").when_matched_update_all()
                         .when_not_matched_insert_all().execute(table(100, 250)))),
    "insert-if-absent": Case(after(lambda ds, p: ds.merge_insert("id").when_not_matched_insert_all()
                                   .execute(table(100, 250)))),
    "add-columns-sql": Case(after(lambda ds, p: ds.add_columns({"g": "f * 2", "u": "upper(s)"}))),
    "add-columns-udf": Case(after(udf_columns, max_rows_per_file=100)),
    "add-columns-udf-2.0": Case(after(udf_columns, max_rows_per_file=100, **V["2.0"])),
    "rename": Case(after(lambda ds, p: ds.alter_columns({"path": "s", "name": "text"}))),
    "not-nullable": Case(after(lambda ds, p: ds.alter_columns({"path": "f", "nullable": False}))),
    "nullable": Case(lambda p: write(p, pa.table(table().columns, schema=pa.schema(
        [pa.field(f.name, f.type, nullable=False) for f in table().schema]))).alter_columns(
        {"path": "s", "nullable": True})),
    "cast": Case(lambda p: write(p, table().set_column(2, "f", pa.array([i / 4 for i in range(N)], pa.float32())))
                 .alter_columns({"path": "f", "data_type": pa.float64()})),
    "drop-columns": Case(after(lambda ds, p: ds.drop_columns(["s"]))),
    "compact": Case(after(compacted, max_rows_per_file=60)),
    "compact-materialize": Case(after(lambda ds, p: compacted(ds, p, materialize_deletions=True,
                                                            materialize_deletions_threshold=0.0),
                                      max_rows_per_file=60)),
    "compact-2.0": Case(after(compacted, max_rows_per_file=60, **V["2.0"])),
    "stable-row-ids": Case(after(lambda ds, p: None, enable_stable_row_ids=True), writable=False),
    "stable-row-ids-moved": Case(after(stable_moved, enable_stable_row_ids=True, max_rows_per_file=100),
                                 writable=False),
    "v2-manifest-paths": Case(appends(enable_v2_manifest_paths=True), version=1),
    **{f"index-{k.lower()}": Case(after(indexed(k)) if k not in ("IVF_PQ", "LABEL_LIST")
                                  else (lambda p, k=k: (write(p, table(vec=k == "IVF_PQ", tags=k == "LABEL_LIST")),
                                                        indexed(k)(lance.dataset(p), p))), index=k)
       for k in ("BTREE", "BITMAP", "LABEL_LIST", "INVERTED", "IVF_PQ")},
    "tags": Case(lambda p: (write(p), lance.write_dataset(table(5, N), p, mode="append"),
                            lance.dataset(p).tags.create("first", 1)), version=1),
    "restore": Case(after(restored), version=3),
    "empty": Case(empty),
    "empty-2.0": Case(lambda p: empty(p, "2.0")),
    "encodings": Case(encoded),
    "encodings-2.1": Case(lambda p: encoded(p, "2.1")),
    "max-page-bytes": Case(after(lambda ds, p: None, max_page_bytes=512, max_rows_per_group=64)),
    "max-page-bytes-2.0": Case(after(lambda ds, p: None, max_page_bytes=512, **V["2.0"])),
    "schema-metadata": Case(with_metadata),
    "multi-base": Case(multi_base),
    "config": Case(after(lambda ds, p: ds.update_config({"mykey": "v1"}))),
    "write-fragments-commit": Case(lambda p: (
        lance.LanceDataset.commit(p, lance.LanceOperation.Overwrite(table().schema, lance.fragment.write_fragments(
            table(), p, max_rows_per_file=100))),
        lance.LanceDataset.commit(p, lance.LanceOperation.Append(lance.fragment.write_fragments(
            table(50, N), p, max_rows_per_file=30)), read_version=1))),
    "merge-insert-by-source-delete": Case(after(lambda ds, p: ds.merge_insert("id").when_matched_update_all()
                                                .when_not_matched_insert_all().when_not_matched_by_source_delete()
                                                .execute(table(150, 250)), max_rows_per_file=100)),
    "struct-child-renamed": Case(structs(lambda ds: ds.alter_columns({"path": "st.a", "name": "aa"}))),
    "struct-child-nullable": Case(structs(lambda ds: ds.alter_columns({"path": "st.b", "nullable": True}), version="2.2")),
    **{f"struct-child-dropped-{v}": Case(structs(lambda ds: ds.drop_columns(["st.b"]), version=v)) for v in ("2.1", "2.2")},
    "struct-child-dropped-2.0": Case(structs(lambda ds: ds.drop_columns(["st.b"]), version="2.0"), writable=False),
    **{f"struct-child-cast-{v}": Case(structs(lambda ds: ds.alter_columns({"path": "st.a", "data_type": pa.int32()}), version=v))
       for v in ("2.1", "2.2")},
    "struct-upsert-partial": Case(structs(lambda ds: ds.merge_insert("id").when_matched_update_all().execute(pa.table({
        "id": pa.array([3, 5, 7], pa.int64()),
        "st": pa.array([{"a": -3}, {"a": -5}, None], pa.struct([("a", pa.int64())]))})))),  # st.a to a new data file
    "struct-child-dropped-compacted": Case(structs(lambda ds: ds.drop_columns(["st.b"]), compact=True)),
    **{f"nested-dictionary-{v}": Case(nested_dictionaries(v), writable=False) for v in ("2.0", "2.1", "2.2")},
    "struct-column-added": Case(structs(lambda ds: ds.add_columns({"s2": "named_struct('x', id, 'y', s)"}))),
    **{f"wide-{op}-{v}": Case(wide_then(WIDE_OPS[op], v)) for op in WIDE_OPS for v in ("2.0", "2.1", "2.2")},
}


def value(t: pa.DataType, k: int):
    if pa.types.is_integer(t):
        return 1_000_000 + k
    if pa.types.is_floating(t):
        return 0.5 + k
    if pa.types.is_string(t):
        return "mine"
    if pa.types.is_fixed_size_list(t):
        return [0.25 * k] * t.list_size
    if pa.types.is_list(t) and pa.types.is_string(t.value_type):
        return ["t1", f"mine{k}"]
    raise AssertionError(f"no value for {t}")


def ours(expected: pa.Table) -> pa.Table:
    """Three records to append: made up for the plain schemas, else the dataset's first rows again."""
    try:
        return pa.Table.from_pylist([{f.name: value(f.type, k) for f in expected.schema} for k in (1, 2, 3)],
                                    schema=expected.schema)
    except AssertionError:
        assert expected.num_rows >= 3
        return expected.slice(0, 3)


def same(a: pa.Table, b: pa.Table) -> bool:
    """Equal values and schema (metadata too); a dictionary column may hold its dictionary otherwise."""
    assert a.schema.equals(b.schema, check_metadata=True), f"{a.schema}\n{b.schema}"
    return all(a[c].equals(b[c]) or pa.types.is_dictionary(a[c].type) and a[c].to_pylist() == b[c].to_pylist()
               for c in a.column_names)


def cli(*args, check=0):
    proc = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=child_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == check, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def check_cli(path: str, expected: pa.Table):
    doc = json.loads(cli("inspect", path, "--json", "--all-fragments").stdout)
    assert doc["dataset"]["rows"] == expected.num_rows
    cli("verify", path, "--quiet")
    tail = [json.loads(line) for line in cli("tail", path, "--batch", 64).stdout.splitlines()]
    assert len(tail) == expected.num_rows
    if expected.num_rows:
        keys = [n for n in expected.schema.names if n in ("id", "s", "text", "k", "t")]
        assert [{n: r[n] for n in keys} for r in tail] == expected.select(keys).to_pylist()


@pytest.mark.parametrize("name", CASES)
async def test_pylance_made_dataset(tmp_path, name):
    case = CASES[name]
    bucket = str(tmp_path / "bucket_0")
    path = os.path.join(bucket, "data.lance")
    case.make(path)
    ds = lance.dataset(path)
    expected = ds.to_table()
    indexes_before = sorted(i.name for i in ds.describe_indices())

    make = LanceBackend if len(name) % 2 else (lambda i, p: PersistingBackend(i, p, enable_wal=True))
    b = make(0, bucket)
    try:
        if case.refused:
            with pytest.raises(Exception, match=case.refused):
                await b.get_arrow()
            return
        stats = await b.stats()
        assert stats["read_only"] is (not case.writable), stats.get("read_only_reason")
        got = await b.get_arrow()
        assert same(got, expected)
        assert b.total_count() == expected.num_rows
        paged, offset = [], 0
        while page := await b.get(41, offset):
            paged += page
            offset += len(page)
        assert paged == expected.to_pylist()
        if case.version:
            old = lance.dataset(path, version=case.version).to_table()
            assert same(await b.get_arrow(version=case.version), old)
        check_cli(path, expected)
        mine = ours(expected) if case.writable or expected.num_rows >= 3 else None
        if not case.writable:
            with pytest.raises(UnsupportedError):
                await b.put_arrow(mine)
            assert b.total_count() == expected.num_rows
            return
        await b.put(mine.to_pylist()[0])
        await b.put_arrow(mine.slice(1))
        await b.flush()
    finally:
        b.close()

    ds = lance.dataset(path)
    ds.validate()
    result = ds.to_table()
    assert same(result.slice(0, expected.num_rows), expected)
    assert same(result.slice(expected.num_rows), mine)
    assert sorted(i.name for i in ds.describe_indices()) == indexes_before
    check_cli(path, result)
    if case.index:
        run = index_query(case.index)
        for dataset in (ds, (ds.optimize.optimize_indices(), lance.dataset(path))[1]):
            got, plain = run(dataset)
            if plain is not None:
                assert got == plain
            if case.index == "INVERTED":
                want = sorted(r["id"] for r in result.to_pylist() if "word3" in r["s"].split())
                assert got == want
