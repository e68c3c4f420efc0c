"""The CLI on s3:// paths, against a real S3 server: MinIO on 127.0.0.1,
started through tests/s3/minio.sh (built with `go install` the first time; a
server that cannot be built or started fails these tests, never skips them).
Buckets are written by the backend and checked against pylance with the same
storage options."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import lance
import pytest
from pyarrow import fs

from cli_run import SCRIPTS, cli, cli_json
from helpers import child_env, explain, minio_server, run_python

USER, SECRET = "persisting", "persisting-secret"
S3_BUCKET = "clitest"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """Storage options (pylance's vocabulary) of a fresh MinIO holding the bucket S3_BUCKET."""
    yield from minio_server(tmp_path_factory.mktemp("minio"), S3_BUCKET)


def storage(s3: dict) -> list[str]:
    return ["--storage-options", json.dumps(s3)]


def make_s3_bucket(url: str, s3: dict, *args: str) -> str:
    proc = run_python(SCRIPTS / "make_bucket.py", url, "--storage-options", json.dumps(s3), *args)
    assert proc.returncode == 0, explain(proc)
    return url


def object_store(s3: dict) -> fs.S3FileSystem:
    scheme, host = s3["aws_endpoint"].split("://")
    return fs.S3FileSystem(access_key=USER, secret_key=SECRET, endpoint_override=host, scheme=scheme,
                           region=s3["aws_region"])


@pytest.fixture(scope="module")
def queue(s3) -> str:
    """s3://clitest/queue holding bucket_0 (3 versions, an index: 4) and bucket_1 (2 versions)."""
    make_s3_bucket(f"s3://{S3_BUCKET}/queue/bucket_0", s3, "--index")
    make_s3_bucket(f"s3://{S3_BUCKET}/queue/bucket_1", s3, "--flushes", "2")
    return f"s3://{S3_BUCKET}/queue"


def test_inspect_s3_bucket_matches_pylance(s3, queue):
    bucket = f"{queue}/bucket_0"
    truth = lance.dataset(f"{bucket}/data.lance", storage_options=s3)
    rep = cli_json("inspect", bucket, *storage(s3))
    ds = rep["dataset"]
    assert rep["path"] == bucket and rep["wal"] is None
    assert ds["path"] == f"{bucket}/data.lance"
    assert ds["rows"] == truth.count_rows() == 12 and ds["version"] == truth.version == 4
    assert [v["version"] for v in ds["versions"]] == [v["version"] for v in truth.versions()]
    assert [f["rows"] for f in ds["fragments"]] == [4, 4, 4] and all(f["bytes"] > 0 for f in ds["fragments"])
    assert ds["disk_bytes"] > ds["bytes"] > 0
    assert [(i["type"], i["columns"]) for i in ds["indices"]] == [("BTree", ["clicks"])]
    out = cli("inspect", bucket, *storage(s3)).stdout
    assert f"bucket {bucket}\n" in out and "rows        12 in 3 fragments" in out


def test_inspect_s3_queue_lists_every_bucket_and_reads_the_environment(s3, queue):
    reps = cli_json("inspect", queue, *storage(s3))
    assert [(r["path"], r["dataset"]["rows"]) for r in reps] == [(f"{queue}/bucket_0", 12), (f"{queue}/bucket_1", 8)]
    # the same settings from AWS_* variables alone, one of them overridden by --storage-option
    env = child_env(AWS_ENDPOINT_URL=s3["aws_endpoint"], AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID=USER,
                    AWS_SECRET_ACCESS_KEY="wrong", AWS_ALLOW_HTTP="true")
    from cli_run import CLI
    proc = subprocess.run([*CLI, "inspect", queue, "--json", "--storage-option", f"aws_secret_access_key={SECRET}"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, explain(proc)
    assert len(json.loads(proc.stdout)) == 2


def test_verify_s3_intact_then_damaged(s3):
    bucket = make_s3_bucket(f"s3://{S3_BUCKET}/verify/bucket_0", s3)
    proc = cli("verify", bucket, *storage(s3))
    assert proc.stdout.startswith(f"{bucket}: ok\n") and "pages" in proc.stdout
    store = object_store(s3)
    data = sorted(i.path for i in store.get_file_info(fs.FileSelector(f"{S3_BUCKET}/verify/bucket_0/data.lance/data")))
    victim = data[0]
    with store.open_input_stream(victim) as f:
        content = f.read()
    with store.open_output_stream(victim) as f:
        f.write(content[:-64])  # a data file cut short
    proc = cli("verify", bucket, *storage(s3), check=1)
    assert proc.stdout.startswith(f"{bucket}: 1 problem\n"), proc.stdout
    line = proc.stdout.splitlines()[1]
    assert line.startswith(f"  s3://{victim} offset {len(content) - 64}: "), line
    rep = cli_json("verify", bucket, *storage(s3), check=1)
    assert [p["file"] for p in rep["problems"]] == [f"s3://{victim}"]


def test_tail_s3_bucket_matches_pylance(s3, queue):
    bucket = f"{queue}/bucket_1"
    truth = lance.dataset(f"{bucket}/data.lance", storage_options=s3).to_table().to_pylist()
    got = [json.loads(line) for line in cli("tail", bucket, *storage(s3)).stdout.splitlines()]
    assert [r["id"] for r in got] == [r["id"] for r in truth] and len(got) == 8
    assert got[1] == {"id": "u0-1", "clicks": 1, "blob": "AAE=", "score": 0.5}
    last = [json.loads(line) for line in cli("tail", bucket, "--from", -2, "--offsets", *storage(s3)).stdout.splitlines()]
    assert [(r["offset"], r["record"]["id"]) for r in last] == [(6, "u1-2"), (7, "u1-3")]
    assert "holds 2 buckets" in cli("tail", queue, *storage(s3), check=2).stderr


def test_compact_and_cleanup_s3(s3):
    bucket = make_s3_bucket(f"s3://{S3_BUCKET}/maint/bucket_0", s3)
    assert cli("compact", bucket, *storage(s3)).stdout == f"{bucket}: 3 -> 1 fragment, version 3 -> 4\n"
    ds = lance.dataset(f"{bucket}/data.lance", storage_options=s3)
    assert ds.version == 4 and len(ds.get_fragments()) == 1 and ds.count_rows() == 12
    rep = cli_json("cleanup", bucket, "--older-than", "0", *storage(s3))
    assert rep["old_versions"] == 3 and rep["data_files"] == 3 and rep["path"] == bucket
    ds = lance.dataset(f"{bucket}/data.lance", storage_options=s3)
    assert [v["version"] for v in ds.versions()] == [4] and ds.count_rows() == 12
    assert cli("verify", bucket, *storage(s3)).returncode == 0


@pytest.mark.parametrize("command", ["inspect", "verify", "tail", "compact", "cleanup"])
def test_s3_access_failures_exit_3_with_a_clear_error(command, s3, queue):
    missing = cli(command, "s3://no-such-bucket/queue/bucket_0", *storage(s3), check=3)
    assert "no-such-bucket" in missing.stderr and ("NoSuchBucket" in missing.stderr or "does not exist" in missing.stderr), missing.stderr
    denied = cli(command, f"{queue}/bucket_0", *storage(dict(s3, aws_secret_access_key="wrong")), check=3)
    assert "403" in denied.stderr or "SignatureDoesNotMatch" in denied.stderr or "Access Denied" in denied.stderr, denied.stderr


@pytest.mark.parametrize("args, text", [
    (["--storage-option", "no_such_option=1"], "no_such_option"),
    (["--storage-options", "[1]"], "not a JSON object"),
    (["--storage-option", "novalue"], "not KEY=VALUE"),
])
def test_bad_storage_options_exit_2(args, text, s3, queue):
    proc = cli("inspect", f"{queue}/bucket_0", *storage(s3), *args, check=2)
    assert text in proc.stderr


def test_an_empty_prefix_holds_no_bucket(s3, queue):
    proc = cli("inspect", f"s3://{S3_BUCKET}/nothing-here", *storage(s3), check=2)
    assert "no bucket here" in proc.stderr


def test_tail_follow_s3_sees_new_versions_until_interrupted(s3):
    import queue as queues
    import signal
    import threading

    from cli_run import CLI

    bucket = make_s3_bucket(f"s3://{S3_BUCKET}/follow/bucket_0", s3, "--flushes", "1")
    proc = subprocess.Popen([*CLI, "tail", bucket, "--follow", "--poll", "0.05", *storage(s3)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    got: queues.Queue = queues.Queue()
    reader = threading.Thread(target=lambda: [got.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        assert [json.loads(got.get(timeout=180))["id"] for _ in range(4)] == [f"u0-{j}" for j in range(4)]
        make_s3_bucket(bucket, s3, "--flushes", "1")  # another process commits a version
        assert [json.loads(got.get(timeout=180))["id"] for _ in range(4)] == [f"u0-{j}" for j in range(4)]
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=180)
    assert rc == 0, proc.stderr.read()
    reader.join(timeout=60)  # stdout ends with the process: every line it printed is in got
    assert got.empty(), "printed more than the 8 records"


def test_tail_follow_s3_starts_again_when_the_dataset_is_replaced(s3):
    """On an object store too: an overwrite, and a dataset deleted and made again, are printed
    from their first record; a dataset gone is waited for."""
    import pyarrow as pa

    from test_tail import Follower

    bucket = make_s3_bucket(f"s3://{S3_BUCKET}/replaced/bucket_0", s3, "--flushes", "2")
    uri = f"{bucket}/data.lance"
    f = Follower(bucket, "--offsets", *storage(s3))
    try:
        assert len(f.records(8)) == 8
        lance.write_dataset(pa.table({"id": ["o1", "o2"]}), uri, mode="overwrite", storage_options=s3)
        assert "it was overwritten" in f.note("replaced")
        assert [(r["offset"], r["record"]["id"]) for r in f.records(2)] == [(0, "o1"), (1, "o2")]
        object_store(s3).delete_dir(uri.removeprefix("s3://"))
        f.note("no longer there")
        lance.write_dataset(pa.table({"id": ["n1"]}), uri, storage_options=s3)
        assert "it is there again" in f.note("replaced")
        assert [(r["offset"], r["record"]["id"]) for r in f.records(1)] == [(0, "n1")]
    finally:
        rc = f.stop()
    assert rc == 0, f.notes()
    assert f.out.empty()
