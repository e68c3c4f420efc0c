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


def footer_flipped(bucket: Path):
    victim = data_files(bucket)[0]
    flip(victim, -1)  # the magic: the file no longer opens
    return victim, victim.stat().st_size - 40, "footer or metadata"  # offset: the footer


def data_file_truncated(bucket: Path):
    victim = data_files(bucket)[1]
    return victim, truncate(victim, 64), "manifest records"  # offset: where the file now ends


def wal_truncated(bucket: Path):
    victim = wal_segments(bucket)[-1]
    truncate(victim, 5)  # inside its last entry
    return victim, 0, "torn tail"  # the only entry starts the segment


def wal_checksum(bucket: Path):
    victim = wal_segments(bucket)[-1]
    flip(victim, 30)  # inside the payload of its first entry
    return victim, 0, "checksum mismatch"


#: damage(bucket) -> (damaged file, offset of the damage, text of the message)
DAMAGE = {
    "data file footer flipped": footer_flipped,
    "data file truncated": data_file_truncated,
    "WAL segment truncated": wal_truncated,
    "WAL entry checksum": wal_checksum,
}


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_copy_fails_with_file_and_offset(kind, backend_bucket):
    damaged, offset, text = DAMAGE[kind](backend_bucket)
    proc = cli("verify", backend_bucket, check=1)
    assert proc.stdout.startswith(f"{backend_bucket}: 1 problem\n"), proc.stdout
    line = proc.stdout.splitlines()[1]
    assert line.startswith(f"  {damaged} offset {offset}: ") and text in line, line
    rep = cli_json("verify", backend_bucket, check=1)
    assert not rep["ok"]
    [problem] = rep["problems"]
    assert (problem["file"], problem["offset"]) == (str(damaged), offset) and text in problem["message"]


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
