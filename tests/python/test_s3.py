"""Buckets on s3:// against a real S3 server: MinIO on 127.0.0.1, started here
through tests/s3/minio.sh (which builds it with ``go install`` the first time;
a server that cannot be built or started fails these tests, never skips them).

The same ``storage_options`` dict opens the datasets in pylance, which reads
and appends to them, also while our writers append.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import threading
import time

import lance
import pyarrow as pa
import pytest

import pulsing as pul
from pulsing.streaming import read_queue, write_queue

from helpers import REPO, minio_server
from persisting.queue import LanceBackend, PersistingBackend, register

USER, SECRET = "persisting", "persisting-secret"


def _cluster_ready():
    """tests/cluster's readiness check of a pulsing node (one authority)."""
    spec = importlib.util.spec_from_file_location("cluster_node", REPO / "tests" / "cluster" / "node.py")
    node = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(node)
    return node.cluster_ready


cluster_ready = _cluster_ready()
BUCKET = "pqueue"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """Storage options (pylance's vocabulary) of a fresh MinIO holding the bucket BUCKET."""
    yield from minio_server(tmp_path_factory.mktemp("minio"), BUCKET)


def rows(start: int, n: int) -> list[dict]:
    return [{"id": f"user-{i}", "seq": i, "text": f"record {i}"} for i in range(start, start + n)]


async def test_queue_on_s3_through_write_and_read_queue(s3):
    path = f"s3://{BUCKET}/queue"
    system = await pul.actor_system()
    try:
        register()
        opts = {"flush_threshold": 50, "storage_options": s3}
        writer = await write_queue(system, "events", bucket_column="id", num_buckets=2, batch_size=10,
                                   storage_path=path, backend="lance", backend_options=opts)
        for r in rows(0, 120):
            await writer.put(r)
        await writer.flush()
        reader = await read_queue(system, "events", num_buckets=2, storage_path=path,
                                  backend="lance", backend_options=opts)
        got = await reader.get(limit=200)
    finally:
        await system.shutdown()
    assert sorted(r["seq"] for r in got) == list(range(120))
    # pylance opens each bucket's dataset with the same dict
    counts = [lance.dataset(f"{path}/bucket_{b}/data.lance", storage_options=s3).count_rows()
              for b in range(2)]
    assert sum(counts) == 120 and all(counts)


async def test_pylance_reads_and_appends_to_our_dataset(s3):
    path = f"s3://{BUCKET}/interop/bucket_0"
    uri = f"{path}/data.lance"
    b = LanceBackend(0, path, batch_size=10, storage_options=s3)
    try:
        await b.put_batch(rows(0, 30))
        await b.flush()
    finally:
        b.close()
    ds = lance.dataset(uri, storage_options=s3)
    assert ds.to_table().to_pylist() == rows(0, 30)
    lance.write_dataset(pa.Table.from_pylist(rows(30, 20), schema=ds.schema), uri, mode="append",
                        storage_options=s3)
    b = LanceBackend(0, path, batch_size=10, storage_options=s3)
    try:
        assert await b.get(limit=100) == rows(0, 50)
        await b.put_batch(rows(50, 10))
        await b.flush()
    finally:
        b.close()
    assert lance.dataset(uri, storage_options=s3).to_table().to_pylist() == rows(0, 60)


@pytest.mark.parametrize("n,prefix", list(enumerate(["a%20queue", "a queue", "%C3%A9t%C3%A9", "été", "100%25", "q%2Fsub"])))
async def test_url_escapes_name_the_prefix_pylance_opens(s3, n, prefix):
    """pylance decodes an s3:// URL's escapes (a%20queue is 'a queue'): the same URL opens one dataset in both."""
    path = f"s3://{BUCKET}/esc{n}-{prefix}/bucket_0"
    b = LanceBackend(0, path, batch_size=10, storage_options=s3)
    try:
        await b.put_batch(rows(0, 5))
        await b.flush()
    finally:
        b.close()
    ds = lance.dataset(f"{path}/data.lance", storage_options=s3)
    assert ds.to_table().to_pylist() == rows(0, 5)
    lance.write_dataset(pa.Table.from_pylist(rows(5, 5), schema=ds.schema), f"{path}/data.lance",
                        mode="append", storage_options=s3)
    b = LanceBackend(0, path, batch_size=10, storage_options=s3)
    try:
        assert await b.get(limit=100) == rows(0, 10)
    finally:
        b.close()


async def test_concurrent_appends_from_us_and_pylance_lose_no_commit(s3):
    path = f"s3://{BUCKET}/race/bucket_0"
    uri = f"{path}/data.lance"
    # no background compaction: its Rewrite versions would blur the count below
    b = LanceBackend(0, path, batch_size=1000, storage_options=s3, maintenance=False,
                     max_flush_delay_sec=0)
    rounds = 12
    try:
        await b.put_batch(rows(0, 1))
        await b.flush()
        schema = lance.dataset(uri, storage_options=s3).schema
        failures: list[BaseException] = []

        def pylance_appends():
            try:
                for k in range(rounds):
                    lance.write_dataset(pa.Table.from_pylist(rows(1000 + k, 1), schema=schema), uri,
                                        mode="append", storage_options=s3)
            except BaseException as exc:  # reported by the test below
                failures.append(exc)

        t = threading.Thread(target=pylance_appends)
        t.start()
        for k in range(rounds):  # every flush commits a version while pylance commits its own
            await b.put_batch(rows(1 + k, 1))
            await b.flush()
        await asyncio.to_thread(t.join)
        assert not failures, failures
    finally:
        b.close()
    ds = lance.dataset(uri, storage_options=s3)
    seqs = sorted(r["seq"] for r in ds.to_table().to_pylist())
    assert seqs == list(range(0, 1 + rounds)) + list(range(1000, 1000 + rounds))
    assert ds.version == 1 + 2 * rounds  # one version per commit, none overwritten


async def test_restart_with_buckets_moving_between_nodes(s3, tmp_path):
    """Two nodes, each with its own local wal_path; the buckets swap nodes on restart."""
    wal = [str(tmp_path / "node-a"), str(tmp_path / "node-b")]

    def open_bucket(node: int, bucket: int) -> PersistingBackend:
        return PersistingBackend(bucket, f"s3://{BUCKET}/moving/bucket_{bucket}", enable_wal=True,
                                 wal_sync_interval=0.0, flush_threshold=25, storage_options=s3,
                                 wal_path=wal[node])

    first = [open_bucket(0, 0), open_bucket(1, 1)]
    for i, b in enumerate(first):
        for r in rows(100 * i, 40):
            await b.put(r)
        b.close()  # flushes what the WAL still holds
    moved = [open_bucket(1, 0), open_bucket(0, 1)]
    try:
        for i, b in enumerate(moved):
            assert await b.get(limit=100) == rows(100 * i, 40)
            await b.put(rows(100 * i + 40, 1)[0])
    finally:
        for b in moved:
            b.close()
    for i in range(2):
        ds = lance.dataset(f"s3://{BUCKET}/moving/bucket_{i}/data.lance", storage_options=s3)
        assert ds.to_table().to_pylist() == rows(100 * i, 41)


def test_bad_options_and_credentials_are_clear_errors(s3, tmp_path):
    with pytest.raises(ValueError, match="wal_path"):
        PersistingBackend(0, f"s3://{BUCKET}/bad/bucket_0", enable_wal=True, storage_options=s3)
    with pytest.raises(ValueError, match="aws_endpoit"):
        LanceBackend(0, f"s3://{BUCKET}/bad/bucket_0", storage_options={**s3, "aws_endpoit": "x"})
    wrong = {**s3, "aws_secret_access_key": "wrong"}
    with pytest.raises(Exception, match=r"s3://pqueue/denied/bucket_0.*403"):
        LanceBackend(0, f"s3://{BUCKET}/denied/bucket_0", storage_options=wrong)


def test_shell_passes_s3_path_and_storage_options_as_given(s3, monkeypatch):
    """The Python shell hands the s3:// path to the engine unchanged and
    storage_options as a JSON object (a bool stays a bool); the engine alone
    checks them: a non-object is a TypeError naming the option."""
    from persisting import _native

    opened = []
    real_open = _native.open_bucket
    monkeypatch.setattr(_native, "open_bucket",
                        lambda path, options=None: opened.append((path, json.dumps(options))) or
                        real_open(path, options))
    path = f"s3://{BUCKET}/shell/bucket_0"
    given = {**s3, "allow_http": True}
    LanceBackend(0, path, storage_options=given).close()
    assert opened[0][0] == path
    assert json.loads(opened[0][1])["storage_options"] == given
    with pytest.raises(TypeError, match="storage_options"):
        LanceBackend(0, path, storage_options="aws_region=us-east-1")


async def test_three_nodes_restart_with_buckets_on_s3(s3, tmp_path):
    """Three actor systems share one s3:// queue; buckets spread over them; after every
    node restarts (buckets may land elsewhere) every record is read back once."""
    from pulsing.streaming import get_storage_manager

    register()
    path = f"s3://{BUCKET}/cluster"
    opts = {"storage_options": s3, "enable_wal": True, "wal_path": str(tmp_path / "wal"),
            "wal_sync_interval": 0.0}

    async def start(n: int):
        first = await pul.actor_system(addr="127.0.0.1:0")
        systems = [first] + [await pul.actor_system(addr="127.0.0.1:0", seeds=[first.addr])
                             for _ in range(n - 1)]
        managers = [await get_storage_manager(s) for s in systems]
        # the state, not a time: every node sees n members alive and resolves
        # every node's storage manager (as tests/cluster waits; the deadline
        # only guards a hang)
        deadline = time.monotonic() + 60
        while not all([await cluster_ready(s, n) for s in systems]):
            assert time.monotonic() < deadline, "the nodes did not join"
            await asyncio.sleep(0.05)
        return systems, managers

    systems, managers = await start(3)
    try:
        w = await write_queue(systems[0], "events", storage_path=path, backend="persisting",
                              num_buckets=6, backend_options=opts)
        for i in range(120):
            await w.put({"id": f"r{i}", "value": i})
        await w.flush()
        owners = [sorted(b["bucket_id"] for b in await m.list_buckets()) for m in managers]
        assert sorted(sum(owners, [])) == list(range(6)), owners
        assert sum(1 for o in owners if o) >= 2, f"all buckets on one node: {owners}"
        for i in range(120, 130):  # acknowledged (WAL) but not flushed at the restart
            await w.put({"id": f"r{i}", "value": i})
    finally:
        for s in reversed(systems):
            await s.shutdown()

    systems, _ = await start(3)  # every node restarted
    try:
        r = await read_queue(systems[1], "events", storage_path=path, backend="persisting",
                             num_buckets=6, backend_options=opts)
        assert sorted(rec["value"] for rec in await r.get(limit=10_000)) == list(range(130))
    finally:
        for s in reversed(systems):
            await s.shutdown()


async def test_maintenance_on_s3(s3):
    path = f"s3://{BUCKET}/maintenance/bucket_0"
    b = LanceBackend(0, path, batch_size=10, storage_options=s3)
    try:
        for k in range(5):
            await b.put_batch(rows(10 * k, 10))
            await b.flush()
        await b.compact()
        removed = await b.cleanup_old_versions(older_than=0)
        assert await b.get(limit=100) == rows(0, 50)
    finally:
        b.close()
    ds = lance.dataset(f"{path}/data.lance", storage_options=s3)
    assert len(ds.get_fragments()) == 1 and len(ds.versions()) == 1, removed
    assert ds.to_table().to_pylist() == rows(0, 50)


def test_environment_variables_configure_the_store(s3, tmp_path):
    """Without storage_options the AWS_* environment reaches the server (a fresh process)."""
    from helpers import child_env, explain, run_python

    env = child_env(AWS_ENDPOINT_URL=s3["aws_endpoint"], AWS_ACCESS_KEY_ID=USER,
                    AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1", AWS_ALLOW_HTTP="true")
    code = f"""
import asyncio
from persisting.queue import LanceBackend
async def main():
    b = LanceBackend(0, "s3://{BUCKET}/env/bucket_0")
    await b.put_batch([{{"id": "a", "seq": 1}}])
    await b.flush()
    print(await b.get(limit=5))
    b.close()
asyncio.run(main())
"""
    proc = run_python(code, env=env)
    assert proc.returncode == 0, explain(proc)
    assert "'seq': 1" in proc.stdout, explain(proc)
    ds = lance.dataset(f"s3://{BUCKET}/env/bucket_0/data.lance", storage_options=s3)
    assert ds.to_table().to_pylist() == [{"id": "a", "seq": 1}]


async def test_file_url_is_a_local_path(tmp_path):
    b = LanceBackend(0, f"file://{tmp_path}/bucket_0")
    try:
        await b.put_batch(rows(0, 3))
        await b.flush()
    finally:
        b.close()
    assert lance.dataset(str(tmp_path / "bucket_0" / "data.lance")).to_table().to_pylist() == rows(0, 3)


def wait_for_lease_expiry(bucket_url: str, s3: dict) -> None:
    """Waits until the writer lease a killed process left in the bucket has
    run out, by the expiry the lease object records."""
    import datetime
    import time

    from pyarrow import fs

    store = fs.S3FileSystem(access_key=s3["aws_access_key_id"], secret_key=s3["aws_secret_access_key"],
                            endpoint_override=s3["aws_endpoint"], region=s3["aws_region"], scheme="http")
    with store.open_input_stream(bucket_url.removeprefix("s3://") + "/_persisting/writer-lease.json") as f:
        lease = json.loads(f.read())
    expires = datetime.datetime.fromisoformat(lease["expires"].replace("Z", "+00:00"))
    assert not lease.get("released"), "a killed writer cannot have released its lease"
    time.sleep(max(0.0, (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) + 0.1)


@pytest.mark.parametrize("backend_name,kill", [("persisting", True), ("lance", True), ("lance", False)])
def test_training_consumption_on_s3_across_processes(s3, tmp_path, backend_name, kill):
    """pulsing's training API on an s3:// bucket through a real actor system:
    consumption and clear survive a restart (and SIGKILL: the local journal
    with the WAL, the snapshot written at the flush without it)."""
    from test_training import run_scenario

    path = f"s3://{BUCKET}/training-{backend_name}-{kill}"
    # A short writer lease: the killed process's lease must expire before the
    # second one may write the bucket (issue 17). Renewed every third of it:
    # 2 s to spare for a renewal held up on a loaded machine (a late one
    # would refuse the first process's commits).
    opts = {"storage_options": s3, "wal_path": str(tmp_path / "wal"), "writer_lease_sec": 3.0}
    first = run_scenario("first", path, backend_name, kill=kill, backend_options=opts)
    if kill:
        wait_for_lease_expiry(f"{path}/bucket_0", s3)
    assert first["train"] == [0, 1, 2, 3] and first["eval"] == [9, 8, 7]
    second = run_scenario("second", path, backend_name, backend_options=opts)
    assert second["train"] == [4, 7, 8, 9]  # 0-3 handed out, 6 marked, 5 cleared
    assert second["eval"] == [0, 1, 2, 3, 4, 6]
    assert [r["step"] for r in second["data"]] == [9, 0]
    assert second["get"] == [3, 4, 6]
    steps = lance.dataset(f"{path}/bucket_0/data.lance", storage_options=s3).to_table().column("step")
    assert 5 not in steps.to_pylist() and len(steps) == 9
