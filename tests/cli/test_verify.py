"""verify on intact buckets and on damaged copies."""

import os
from pathlib import Path

import pytest

from cli_run import cli, cli_json, tree


def data_files(bucket: Path) -> list[Path]:
    return sorted((bucket / "data.lance" / "data").iterdir())


def wal_segments(bucket: Path) -> list[Path]:
    return sorted(p for p in (bucket / "wal").iterdir() if p.name.isdigit())


def flip(path: Path, at: int) -> int:
    data = bytearray(path.read_bytes())
    at %= len(data)
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    return at


def truncate(path: Path, by: int) -> int:
    size = path.stat().st_size - by
    os.truncate(path, size)
    return size


@pytest.mark.parametrize("make", ["backend_bucket", "pylance_bucket"])
def test_intact_bucket_verifies(make, request):
    bucket = request.getfixturevalue(make)
    before = tree(bucket)
    proc = cli("verify", bucket)
    assert proc.stdout.startswith(f"{bucket}: ok\n")
    assert "checked" in proc.stdout and "pages" in proc.stdout
    rep = cli_json("verify", bucket)
    assert rep["ok"] and rep["problems"] == []
    assert rep["dataset"]["data_files"] >= 2 and rep["dataset"]["pages"] > 0
    assert tree(bucket) == before, "verify changed the bucket"


# damage(bucket) -> (damaged file, expected offset or None for any, text in the message)
DAMAGE = {
    "data file footer flipped": lambda b: (data_files(b)[0], None, flip(data_files(b)[0], -1) and "footer or metadata"),
    "data file truncated": lambda b: (data_files(b)[1], truncate(data_files(b)[1], 64), "manifest records"),
    "WAL segment truncated": lambda b: (wal_segments(b)[-1], None, truncate(wal_segments(b)[-1], 5) and "torn tail"),
    "WAL entry checksum": lambda b: (wal_segments(b)[-1], 0, flip(wal_segments(b)[-1], 30) and "checksum mismatch"),
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_copy_fails_with_file_and_offset(kind, backend_bucket):
    damaged, offset, text = DAMAGE[kind](backend_bucket)
    proc = cli("verify", backend_bucket, check=1)
    assert proc.stdout.startswith(f"{backend_bucket}: 1 problem\n"), proc.stdout
    line = proc.stdout.splitlines()[1]
    assert line.startswith(f"  {damaged} ") and text in line, line
    if offset is not None:
        assert f" offset {offset}: " in line, line
    rep = cli_json("verify", backend_bucket, check=1)
    assert not rep["ok"]
    [problem] = rep["problems"]
    assert problem["file"] == str(damaged) and text in problem["message"]
    if offset is not None:
        assert problem["offset"] == offset


def test_damaged_pylance_data_file(pylance_bucket):
    victim = sorted((pylance_bucket / "data.lance" / "data").iterdir())[0]
    flip(victim, -2)
    proc = cli("verify", pylance_bucket / "data.lance", check=1)
    assert str(victim) in proc.stdout


def test_queue_directory_names_only_the_damaged_bucket(backend_bucket, pylance_bucket):
    flip(data_files(backend_bucket)[0], -1)
    proc = cli("verify", backend_bucket.parent, "--quiet", check=1)
    assert f"{backend_bucket}: 1 problem" in proc.stdout
    assert f"{pylance_bucket}: ok" in proc.stdout
    assert "checked" not in proc.stdout  # --quiet
