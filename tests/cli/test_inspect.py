"""inspect on buckets the backend wrote and datasets pylance wrote."""

import json

import lance

from cli_run import cli, cli_json, tree


def test_inspect_backend_bucket_json(backend_bucket):
    before = tree(backend_bucket)
    rep = cli_json("inspect", backend_bucket)
    ds, wal = rep["dataset"], rep["wal"]
    assert rep["path"] == str(backend_bucket)
    assert ds["version"] == 4 and ds["rows"] == 12  # 3 flushes, then the index
    assert [f["rows"] for f in ds["fragments"]] == [4, 4, 4]
    assert all(f["bytes"] > 0 and f["files"][0]["path"].startswith("data/") for f in ds["fragments"])
    assert ds["bytes"] == sum(f["bytes"] for f in ds["fragments"]) and ds["disk_bytes"] > ds["bytes"]
    assert [(f["name"], f["type"]) for f in ds["schema"]] == [
        ("id", "utf8"), ("clicks", "int64"), ("blob", "binary"), ("score", "float64")]
    assert [(i["type"], i["columns"]) for i in ds["indices"]] == [("BTree", ["clicks"])]
    assert [v["version"] for v in ds["versions"]] == [1, 2, 3, 4]
    assert ds["retained"]["count"] == 4 and (ds["retained"]["oldest"], ds["retained"]["newest"]) == (1, 4)
    assert ds["wal_watermark"] == 3 and wal["watermark"] == 3
    assert wal["last_index"] == 4 and wal["pending"] == 1 and wal["damage"] == []
    assert len(wal["segments"]) >= 1 and wal["bytes"] > 0
    assert tree(backend_bucket) == before, "inspect changed the bucket"


def test_inspect_backend_bucket_text(backend_bucket):
    out = cli("inspect", backend_bucket).stdout
    assert f"bucket {backend_bucket}" in out
    assert "version     4" in out
    assert "rows        12 in 3 fragments" in out
    assert "clicks: int64" in out and "BTree on clicks" in out
    assert "1 entry pending" in out and "watermark   3" in out


def test_inspect_versions_limit(backend_bucket):
    ds = cli_json("inspect", backend_bucket, "--versions", 2)["dataset"]
    assert [v["version"] for v in ds["versions"]] == [3, 4] and ds["retained"]["count"] == 4


def test_inspect_pylance_dataset_by_bucket_and_by_dataset_path(pylance_bucket):
    truth = lance.dataset(str(pylance_bucket / "data.lance"))
    for path in (pylance_bucket, pylance_bucket / "data.lance"):
        rep = cli_json("inspect", path)
        ds = rep["dataset"]
        assert ds["rows"] == truth.count_rows() == 4
        assert ds["version"] == truth.version == 2
        assert [v["version"] for v in ds["versions"]] == [v["version"] for v in truth.versions()]
        assert [f["name"] for f in ds["schema"]] == truth.schema.names
        assert len(ds["fragments"]) == len(truth.get_fragments())
        assert rep["wal"] is None


def test_inspect_queue_directory_lists_every_bucket(backend_bucket, pylance_bucket):
    queue = backend_bucket.parent  # holds bucket_0 and bucket_7
    reps = cli_json("inspect", queue)
    assert [r["path"] for r in reps] == [str(queue / "bucket_0"), str(queue / "bucket_7")]
    out = cli("inspect", queue).stdout
    assert out.count("\nbucket ") + out.startswith("bucket ") == 2


def test_inspect_empty_bucket(tmp_path):
    (tmp_path / "b" / "wal").mkdir(parents=True)
    rep = json.loads(cli("inspect", tmp_path / "b", "--json").stdout)
    assert rep["dataset"] is None and rep["wal"]["segments"] == []
