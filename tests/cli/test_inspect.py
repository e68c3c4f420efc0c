"""inspect on buckets the backend wrote and datasets pylance wrote."""

import json
import os

import lance

from cli_run import SCRIPTS, cli, cli_json, tree
from helpers import child_env, explain, run_python


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
    text = cli("inspect", backend_bucket, "--versions", 2).stdout
    assert "versions    3 (" in text and "... 2 older (--versions N" in text


def test_inspect_text_lists_a_bounded_number_of_versions(tmp_path):
    import lance
    import pyarrow as pa

    uri = tmp_path / "bucket_0" / "data.lance"
    for i in range(13):
        lance.write_dataset(pa.table({"i": [i]}), str(uri), mode="append" if i else "create")
    line = [ln for ln in cli("inspect", uri.parent).stdout.splitlines() if ln.startswith("  versions")][0]
    assert [int(v.split(" (")[0]) for v in line.split(None, 1)[1].split(", ")] == list(range(4, 14))
    assert "... 3 older" in cli("inspect", uri.parent).stdout
    assert len(cli_json("inspect", uri.parent)["dataset"]["versions"]) == 13  # --json: every one


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


def test_inspect_counts_entries_a_kill_left_staged(tmp_path):
    """At wal_sync_interval > 0 a put is staged in wal/staged-entries until the next
    sync; a process killed before it leaves it there, and inspect counts it."""
    bucket = tmp_path / "bucket_0"
    made = run_python(SCRIPTS / "make_bucket.py", str(bucket), "--flushes", "1", "--pending",
                      "--wal-sync-interval", "60", env=child_env())
    assert made.returncode == 0, explain(made)
    assert (bucket / "wal" / "staged-entries").exists()
    wal = cli_json("inspect", bucket)["wal"]
    assert wal["pending"] == 1 and wal["entries"] == 1 and wal["bytes"] > 0, wal


def test_inspect_shows_wal_damage_and_still_succeeds(backend_bucket):
    segment = sorted(p for p in (backend_bucket / "wal").iterdir() if p.name.isdigit())[-1]
    os.truncate(segment, segment.stat().st_size - 5)  # a torn tail
    rep = cli_json("inspect", backend_bucket)
    [damage] = rep["wal"]["damage"]
    assert damage["file"] == str(segment) and damage["offset"] == 0 and damage["torn_tail"]
    assert rep["wal"]["pending"] == 0  # the damaged entry is not replayable
    assert f"damage      {segment} at offset 0" in cli("inspect", backend_bucket).stdout


def test_c_functions_refuse_bad_arguments(tmp_path):
    code = f"""
import ctypes
from persisting import _native
from persisting.errors import InvalidArgumentError
lib = _native.lib()
out, err = ctypes.c_void_p(None), _native.PersistingError()
codes = [lib.persisting_inspect(None, None, ctypes.byref(out), ctypes.byref(err))]
_native.lib().persisting_error_release(ctypes.byref(err))
codes.append(lib.persisting_verify({str(tmp_path).encode()!r}, None, ctypes.byref(err)))
_native.lib().persisting_error_release(ctypes.byref(err))
for call in (lambda: _native.inspect({str(tmp_path / "missing")!r}),
             lambda: _native.verify({str(tmp_path / "missing")!r}),
             lambda: _native.inspect({str(tmp_path)!r}, {{"versions_limit": -1}}),
             lambda: _native.inspect({str(tmp_path)!r}, {{"no_such_option": 1}})):
    try:
        call()
    except InvalidArgumentError as exc:
        codes.append(exc.code)
print(codes)
"""
    proc = run_python(code)
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.strip() == "[1, 1, 1, 1, 1, 1]", proc.stdout


def test_a_bucket_that_cannot_be_read_does_not_hide_the_others(backend_bucket, pylance_bucket):
    for manifest in (pylance_bucket / "data.lance" / "_versions").iterdir():
        manifest.write_bytes(b"not a manifest")
    proc = cli("inspect", backend_bucket.parent, "--json", check=3)
    good, bad = json.loads(proc.stdout)
    assert good["path"] == str(backend_bucket) and good["dataset"]["rows"] == 12
    assert bad["path"] == str(pylance_bucket) and "corrupt" in bad["error"]
    assert f"persisting inspect: {pylance_bucket}: " in proc.stderr  # as compact names its failures
    alone = cli("inspect", pylance_bucket, check=3)
    assert alone.stdout == "" and "corrupt" in alone.stderr
    # verify reads what inspect cannot: every manifest is a problem, status 1
    verified = cli("verify", backend_bucket.parent, "--quiet", check=1)
    assert f"{backend_bucket}: ok" in verified.stdout and f"{pylance_bucket}: 2 problems" in verified.stdout


def test_a_file_url_names_the_local_directory(backend_bucket):
    rep = cli_json("inspect", f"file://{backend_bucket}")
    assert rep["path"] == str(backend_bucket) and rep["dataset"]["rows"] == 12
    assert len(cli("tail", f"file://{backend_bucket}", "--limit", 2).stdout.splitlines()) == 2


def test_text_output_escapes_control_characters_from_the_bucket(tmp_path):
    """A field name or value from the data must not drive the terminal; --json keeps it exact."""
    import lance
    import pyarrow as pa

    bucket = tmp_path / "bucket_0"
    name = "s\x1b[2J\x07"
    not_utf8 = pa.Array.from_buffers(pa.string(), 1, [None, pa.array([0, 3], pa.int32()).buffers()[1],
                                                      pa.py_buffer(b"o\xff\x1b")])
    lance.write_dataset(pa.table({name: not_utf8}), str(bucket / "data.lance"))
    text = cli("inspect", bucket).stdout
    assert "\x1b" not in text and "\x07" not in text and r"s\x1b[2J\x07: utf8" in text
    assert cli_json("inspect", bucket)["dataset"]["schema"][0]["name"] == name
    record = cli("tail", bucket).stdout  # JSON escapes the control bytes; bytes that are not UTF-8 become U+FFFD
    assert "\x1b" not in record and json.loads(record) == {name: "o\ufffd\x1b"}
