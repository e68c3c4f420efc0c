"""An s3:// bucket whose server goes away and comes back (a real MinIO,
stopped and started again on its data): every error names the server and
the request, nothing acknowledged is lost, and the same process opens the
bucket again at once (its own unreleased lease does not lock it out)."""

from __future__ import annotations

import subprocess

import lance
import pytest

from helpers import MINIO_SCRIPT
from persisting.errors import StorageError
from persisting.queue import PersistingBackend

BUCKET = "outage"


def start(directory) -> dict:
    proc = subprocess.run([str(MINIO_SCRIPT), "start", str(directory), BUCKET], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"minio.sh start failed:\n{proc.stdout}\n{proc.stderr}"
    endpoint = next(ln.split("=", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("endpoint="))
    # one retry: the test wants the failure, not the documented 10 retries' wait
    return {"aws_endpoint": endpoint, "aws_region": "us-east-1", "aws_access_key_id": "persisting",
            "aws_secret_access_key": "persisting-secret", "allow_http": "true", "client_max_retries": "1"}


def stop(directory) -> None:
    subprocess.run([str(MINIO_SCRIPT), "stop", str(directory)], timeout=60, check=True)


@pytest.fixture
def server_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("minio-outage")
    yield d
    stop(d)


async def test_server_gone_then_back_loses_nothing(server_dir, tmp_path):
    s3 = start(server_dir)
    path, wal = f"s3://{BUCKET}/queue/bucket_0", str(tmp_path / "wal")

    def open_bucket(options):
        return PersistingBackend(0, path, enable_wal=True, wal_sync_interval=0, wal_path=wal, storage_options=options,
                                 max_flush_delay_sec=0)

    b = open_bucket(s3)
    for i in range(10):
        await b.put({"id": f"r{i}", "seq": i})
    await b.flush()
    stop(server_dir)
    for i in range(10, 20):  # acknowledged: in the local WAL
        await b.put({"id": f"r{i}", "seq": i})
    with pytest.raises(StorageError) as flushed:
        await b.flush()
    message = str(flushed.value)
    for part in (f"s3://{BUCKET}/queue/bucket_0/data.lance", f"cannot connect to {s3['aws_endpoint']}",
                 "connection refused", "attempts: 2", "client_max_retries=1"):
        assert part in message, message
    assert 'Put "http' not in message, message  # Go's raw transport error is not the message
    assert sorted(r["seq"] for r in await b.get(limit=100, offset=10)) == list(range(10, 20))  # buffered rows read
    with pytest.raises(StorageError, match="cannot connect"):
        b.close()

    s3 = start(server_dir)  # the same data, on a new port
    b = open_bucket(s3)  # at once: the lease the failed close left is this process's own
    try:
        assert sorted(r["seq"] for r in await b.get(limit=100)) == list(range(20))
    finally:
        b.close()
    ds = lance.dataset(f"{path}/data.lance", storage_options=s3)
    assert sorted(ds.to_table().column("seq").to_pylist()) == list(range(20))
