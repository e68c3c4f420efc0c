"""pylance changes a bucket's dataset between our writes (session 11): a column
dropped and brought back by a put, a column dropped and another widened, a
branch made from one of our versions. The bucket writes so that pylance still
reads every version and branch, and reads what pylance reads."""

from __future__ import annotations

import datetime
import os

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError
from persisting.queue import LanceBackend, PersistingBackend

N = 50


def base() -> pa.Table:
    return pa.table({"id": pa.array(range(N), pa.int64()), "n": pa.array([i * 3 for i in range(N)], pa.int32()),
                     "f": pa.array([i / 4 for i in range(N)], pa.float32())})  # "f": the highest field id


# name: (pylance's change, the record we put after it, the columns pylance then reads, old rows first)
DROPS = {
    # the put brings "f" back as a new field (double): old rows read null in it
    "readd-dropped": (lambda ds: ds.drop_columns(["f"]), {"id": 1000, "n": 7, "f": 1.5},
                      {"id": list(range(N)) + [1000], "n": [i * 3 for i in range(N)] + [7], "f": [None] * N + [1.5]}),
    # a float widens "n" (int32) to double: its new field must not take "f"'s old id either
    "widen-after-drop": (lambda ds: ds.drop_columns(["f"]), {"id": 1000, "n": 2.5},
                         {"id": list(range(N)) + [1000], "n": [float(i * 3) for i in range(N)] + [2.5]}),
}


@pytest.mark.parametrize("version", ["2.0", "2.1", None])
@pytest.mark.parametrize("case", DROPS)
async def test_a_field_after_pylance_dropped_one_takes_a_new_id(bucket_path, case, version):
    """pylance's drop_columns leaves the column in the data files under its field id;
    a field the bucket added or widened afterwards took that id, and pylance then
    decoded the dropped float32 column as it ("Need at least 400 bytes in buffers[0]")."""
    change, record, want = DROPS[case]
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(base(), path, **({"data_storage_version": version} if version else {}))
    change(lance.dataset(path))
    b = PersistingBackend(0, bucket_path, enable_wal=True, wal_sync_interval=0)
    try:
        await b.put(record)
        await b.flush()
        ours = await b.get_arrow()
    finally:
        b.close()
    ds = lance.dataset(path)
    ds.validate()
    theirs = ds.to_table()
    assert theirs.to_pydict() == want
    assert ours.equals(theirs)
    for v in ds.versions():  # every version still reads
        lance.dataset(path, version=v["version"]).to_table()


async def test_cleanup_keeps_the_files_of_pylance_branches(bucket_path):
    """A branch pylance made from one of our versions references that version's
    data files in place; compaction and cleanup of the bucket removed them, and
    the branch no longer read ("Not found: .../data/....lance")."""
    path = os.path.join(bucket_path, "data.lance")
    b = PersistingBackend(0, bucket_path, maintenance=False)
    try:
        for i in range(3):
            await b.put_batch([{"id": 10 * i + k} for k in range(10)])
            await b.flush()
        ds = lance.dataset(path)
        branch = ds.create_branch("exp", 2)  # our second flush
        branch.insert(pa.table({"id": pa.array([500], pa.int64())}))
        await b.put({"id": 99})
        await b.flush()
        assert (await b.compact())["fragments"] == 1
        r = await b.cleanup_old_versions(older_than=datetime.timedelta(0))
        assert r["old_versions"] == 3 and r["tagged_kept"] == 1  # versions 1, 3 and 4 go; 2 stays
        assert [v["version"] for v in await b.versions()] == [2, 5]
    finally:
        b.close()
    ours = lance.dataset(path)
    ours.validate()
    assert ours.to_table()["id"].to_pylist() == list(range(30)) + [99]
    theirs = ours.checkout_version(("exp", None))
    assert theirs.to_table()["id"].to_pylist() == list(range(20)) + [500]
    theirs.validate()


def ids() -> pa.Table:
    return pa.table({"id": pa.array(range(N), pa.int64())})


# name: pylance's change, made while the bucket holds rows it has not flushed; each adds "g"
ADDED = {
    "add_columns-sql": lambda ds: ds.add_columns({"g": "CAST(id AS DOUBLE) * 2"}),
    "add_columns-schema": lambda ds: ds.add_columns(pa.field("g", pa.float64())),
    "add_columns-udf": lambda ds: ds.add_columns(lance.batch_udf(output_schema=pa.schema([("g", pa.float64())]))(
        lambda batch: pa.record_batch([pa.array([2.0 * i for i in batch["id"].to_pylist()])], names=["g"]))),
    "merge": lambda ds: ds.merge(pa.table({"id": pa.array(range(N), pa.int64()),
                                           "g": pa.array([2.0 * i for i in range(N)])}), "id"),
}
BACKENDS = {
    "lance": lambda p: LanceBackend(0, p),
    "persisting-wal": lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("change", ADDED)
async def test_fields_pylance_adds_while_rows_wait_are_taken(bucket_path, change, backend):
    """The flush of rows put before pylance added a field failed ("the dataset schema
    changed concurrently (2 fields, want 1)"), and so did every later one, until close
    lost them (LanceBackend). The bucket now takes the added field: the rows read null
    in it, and later puts may set it."""
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(ids(), path)
    b = BACKENDS[backend](bucket_path)
    try:
        await b.put({"id": 1000})
        ADDED[change](lance.dataset(path))
        await b.flush()
        await b.put({"id": 1001, "g": 0.5})
        await b.flush()
        ours = await b.get_arrow()
    finally:
        b.close()
    theirs = lance.dataset(path).to_table()
    g = None if change == "add_columns-schema" else 2.0
    assert theirs.to_pylist() == [{"id": i, "g": None if g is None else g * i} for i in range(N)] + [
        {"id": 1000, "g": None}, {"id": 1001, "g": 0.5}]
    assert ours.equals(theirs)


def ids_and_s() -> pa.Table:
    return pa.table({"id": pa.array(range(N), pa.int64()), "s": ["a"] * N})


def restore_first(ds: lance.LanceDataset) -> None:
    ds.insert(pa.table({"id": pa.array([-1], pa.int64()), "s": ["z"]}))
    lance.dataset(ds.uri, version=1).restore()


# pylance's change while the bucket holds {"id": 1000, "s": "x"}: (change, what pylance then reads
# at the end with schema evolution, whether a bucket without it can keep its rows' fields)
REFIT = {
    "rename": (lambda ds: ds.alter_columns({"path": "s", "name": "t"}), {"id": 1000, "t": None, "s": "x"}, False),
    "cast": (lambda ds: ds.alter_columns({"path": "id", "data_type": pa.int32()}), {"id": 1000, "s": "x"}, False),
    "drop": (lambda ds: ds.drop_columns(["s"]), {"id": 1000, "s": "x"}, False),
    "overwrite": (lambda ds: lance.write_dataset(ids_and_s().slice(0, 10), ds.uri, mode="overwrite"),
                  {"id": 1000, "s": "x"}, True),
    "restore": (restore_first, {"id": 1000, "s": "x"}, True),
}


@pytest.mark.parametrize("evolution", [True, False])
@pytest.mark.parametrize("change", REFIT)
async def test_other_pylance_changes_while_rows_wait(bucket_path, change, evolution):
    """A rename, cast or drop, an overwrite or a restore while rows waited failed every
    later flush until the bucket was reopened (and a bucket without the WAL then lost
    them). The flush now does what a reopen does: the bucket takes the latest version's
    schema and admits its rows by its rules. Rows that do not fit (no schema evolution)
    stay readable, and the error says to undo the change: a restore, and they are stored."""
    fn, last, fits_strict = REFIT[change]
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(ids_and_s(), path)
    b = PersistingBackend(0, bucket_path) if evolution else LanceBackend(0, bucket_path)
    await b.put({"id": 1000, "s": "x"})
    fn(lance.dataset(path))
    if evolution or fits_strict:
        await b.flush()
        b.close()
        assert lance.dataset(path).to_table().to_pylist()[-1] == last
        return
    with pytest.raises(SchemaError, match="do not fit its schema now.*undo the change"):
        await b.flush()
    assert (await b.get())[-1] == {"id": 1000, "s": "x"}
    # Every put is refused now, of the old shape or the new one: it would wait behind rows
    # that cannot be stored as things stand (puts of the old shape used to be acknowledged).
    new_shape = {"rename": {"id": 1001, "t": "y"}, "drop": {"id": 1001}}.get(change, {"id": 1001, "s": "y"})
    for record in ({"id": 1001, "s": "y"}, new_shape):
        with pytest.raises(SchemaError, match="put refused: another writer changed the dataset.*Undo the change"):
            await b.put(record)
    assert b.total_count() == N + 1
    with pytest.raises(SchemaError, match="do not fit its schema now"):
        b.close()
    assert not b.closed
    lance.dataset(path, version=1).restore()  # undone: the rows fit again
    b.close()
    assert lance.dataset(path).to_table().to_pylist() == ids_and_s().to_pylist() + [{"id": 1000, "s": "x"}]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("value", ["x", None])
async def test_a_field_pylance_makes_not_nullable_while_a_null_waits(bucket_path, backend, value):
    """alter_columns(nullable=False) while the bucket held a null for the field: the
    flush wrote it, and pylance could read nothing more ("Found unmasked nulls for
    non-nullable ... field"). Now that flush fails naming the field; a value is stored."""
    path = os.path.join(bucket_path, "data.lance")
    lance.write_dataset(pa.table({"id": pa.array(range(N), pa.int64()), "s": ["a"] * N}), path)
    b = BACKENDS[backend](bucket_path)
    try:
        await b.put({"id": 1000, "s": value})
        lance.dataset(path).alter_columns({"path": "s", "nullable": False})
        if value is None:
            with pytest.raises(SchemaError, match='field "s" is not nullable but has 1 nulls'):
                await b.flush()
        else:
            await b.flush()
    finally:
        if value is None:
            with pytest.raises(SchemaError, match='field "s" is not nullable'):
                b.close()
        else:
            b.close()
    ds = lance.dataset(path)
    ds.validate()
    assert ds.to_table().to_pylist()[N:] == ([{"id": 1000, "s": "x"}] if value else [])
