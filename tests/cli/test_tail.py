"""tail prints committed records as JSON lines; --follow sees new versions."""

import json
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import lance
import pyarrow as pa
import pytest

from cli_run import CLI, SCRIPTS, cli, tree
from helpers import child_env, explain, run_python


def lines(text: str) -> list:
    return [json.loads(line) for line in text.splitlines()]


def test_tail_prints_every_committed_record(backend_bucket):
    before = tree(backend_bucket)
    got = lines(cli("tail", backend_bucket).stdout)
    assert [r["id"] for r in got] == [f"u{f}-{j}" for f in range(3) for j in range(4)]  # not the WAL-only one
    first = got[1]
    assert first == {"id": "u0-1", "clicks": 1, "blob": "AAE=", "score": 0.5}  # bytes as base64
    assert got[0]["score"] == "NaN"
    assert tree(backend_bucket) == before, "tail changed the bucket (or replayed its WAL)"


def test_tail_from_limit_offsets(backend_bucket):
    got = lines(cli("tail", backend_bucket, "--from", 5, "--limit", 3, "--offsets", "--batch", 2).stdout)
    assert [(r["offset"], r["record"]["id"]) for r in got] == [(5, "u1-1"), (6, "u1-2"), (7, "u1-3")]
    last = lines(cli("tail", backend_bucket, "--from", -2).stdout)
    assert [r["id"] for r in last] == ["u2-2", "u2-3"]
    assert cli("tail", backend_bucket, "--from", 100).stdout == ""


def test_tail_pylance_dataset_matches_pylance(pylance_bucket):
    truth = lance.dataset(str(pylance_bucket / "data.lance")).to_table().to_pylist()
    assert lines(cli("tail", pylance_bucket).stdout) == truth
    # the dataset directory itself names its bucket
    assert lines(cli("tail", pylance_bucket / "data.lance").stdout) == truth


def test_tail_needs_one_bucket(backend_bucket, pylance_bucket):
    proc = cli("tail", backend_bucket.parent, check=2)
    assert "holds 2 buckets" in proc.stderr


def test_tail_follow_prints_new_versions_until_interrupted(backend_bucket):
    proc = subprocess.Popen([*CLI, "tail", str(backend_bucket), "--follow", "--poll", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    got: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [got.put(line) for line in proc.stdout], daemon=True)
    reader.start()
    try:
        first = [json.loads(got.get(timeout=180))["id"] for _ in range(12)]
        assert first[-1] == "u2-3"
        # Another process commits a version: the WAL record, then 4 more.
        made = run_python(SCRIPTS / "make_bucket.py", str(backend_bucket), "--flushes", "1")
        assert made.returncode == 0, explain(made)
        more = [json.loads(got.get(timeout=180))["id"] for _ in range(5)]
        assert more == ["u99-1", "u0-0", "u0-1", "u0-2", "u0-3"]
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=180)
    assert rc == 0, proc.stderr.read()
    reader.join(timeout=60)  # stdout ends with the process: every line it printed is in got
    assert got.empty(), "printed more than the 17 records"



def test_tail_follow_ends_when_its_reader_goes_away(backend_bucket):
    """`tail --follow | head -1`: nothing new is committed, so no write meets EPIPE;
    the follower must notice the closed pipe itself (the poll is far longer than the wait)."""
    proc = subprocess.Popen([*CLI, "tail", str(backend_bucket), "--follow", "--poll", "3600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        assert json.loads(proc.stdout.readline())["id"] == "u0-0"
        proc.stdout.close()  # as head does after its line
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, proc.stderr.read()
    assert proc.stderr.read() == ""

def test_read_only_open_refuses_appends(backend_bucket):
    code = f"""
import pyarrow as pa
from persisting import _native
from persisting.errors import UnsupportedError
h = _native.open_bucket({str(backend_bucket)!r}, {{"read_only": True}})
fitting = pa.record_batch({{"id": ["x"], "clicks": [1], "blob": [b""], "score": [1.0]}})
for batch in (fitting, pa.record_batch({{"other": [1]}})):
    try:
        _native.append(h, batch)
    except UnsupportedError as exc:
        assert "read-only" in str(exc), exc
        print("refused")
_native.close_bucket(h)
"""
    before = tree(backend_bucket)
    proc = run_python(code)
    assert proc.returncode == 0 and proc.stdout.split() == ["refused", "refused"], explain(proc)
    assert tree(backend_bucket) == before


def test_tail_follow_gives_up_after_repeated_failures(backend_bucket):
    proc = subprocess.Popen([*CLI, "tail", str(backend_bucket), "--follow", "--poll", "0.05"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        for _ in range(12):  # everything committed so far
            assert proc.stdout.readline()
        for manifest in (backend_bucket / "data.lance" / "_versions").iterdir():
            manifest.write_bytes(b"not a manifest")  # every later poll fails
        rc = proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert rc == 3, stderr
    assert stderr.count("(trying again)") == 2 and "corrupt" in stderr, stderr


def test_tail_skips_cleared_records_and_prints_their_true_offsets(tmp_path):
    """Cleared offsets hold no record; no other record moves (docs/training.md)."""
    bucket = tmp_path / "bucket_0"
    made = run_python(f"""
import asyncio
from persisting.queue import PersistingBackend
async def main():
    b = PersistingBackend(bucket_id=0, storage_path={str(bucket)!r}, enable_wal=True)
    await b.put_batch([{{"id": f"r{{i}}"}} for i in range(40)])
    await b.flush()
    await b.clear(list(range(20)) + [25])
    await b.flush()
    b.close()
asyncio.run(main())
""")
    assert made.returncode == 0, explain(made)
    live = [i for i in range(20, 40) if i != 25]
    for args in ([], ["--batch", "3"], ["--batch", "1000"]):
        got = lines(cli("tail", bucket, "--offsets", *args).stdout)
        assert [(r["offset"], r["record"]["id"]) for r in got] == [(i, f"r{i}") for i in live], args
    # the first 20 offsets are all cleared: --limit still finds the next records
    assert [r["offset"] for r in lines(cli("tail", bucket, "--offsets", "--limit", 2, "--batch", 5).stdout)] == [20, 21]
    assert [r["offset"] for r in lines(cli("tail", bucket, "--offsets", "--from", -16).stdout)][:3] == [24, 26, 27]


def test_tail_reopens_when_a_read_fails_then_gives_up(plain_bucket):
    """A writer's cleanup may remove the files of the version tail reads: it reopens
    the newest version and reads on; a file that stays unreadable ends it (status 3)."""
    victim = sorted((plain_bucket / "data.lance" / "data").iterdir())[0]
    victim.write_bytes(b"")  # every read of it fails, every reopen still works
    proc = cli("tail", plain_bucket, check=3)
    assert proc.stderr.count("(trying again)") == 2, proc.stderr


def test_tail_offsets_are_the_buckets_after_pylance_deletes(tmp_path):
    """Rows pylance deleted are gone from the bucket's offsets (get(limit,
    offset) numbers over what is left), our own clears keep theirs: tail
    --offsets prints, for every record, the offset get(1, offset) finds it at."""
    bucket = tmp_path / "bucket_0"
    made = run_python(f"""
import asyncio, json, lance
from persisting.queue import PersistingBackend
async def main():
    b = PersistingBackend(bucket_id=0, storage_path={str(bucket)!r})
    await b.put_batch([{{"id": i}} for i in range(10)])
    await b.flush()
    await b.put_batch([{{"id": i}} for i in range(10, 15)])
    await b.flush()
    await b.clear([7])
    b.close()
    lance.dataset({str(bucket / "data.lance")!r}).delete("id = 2 OR id = 11")
    b = PersistingBackend(bucket_id=0, storage_path={str(bucket)!r})
    print(json.dumps([[o, r["id"]] for o in range(16) for r in await b.get(1, o)]))
    b.close()
asyncio.run(main())
""")
    assert made.returncode == 0, explain(made)
    by_get = [tuple(p) for p in json.loads(made.stdout.splitlines()[-1])]
    assert [i for _, i in by_get] == [i for i in range(15) if i not in (2, 7, 11)]
    for args in ([], ["--batch", "2"], ["--from", "5", "--limit", "4"]):
        got = [(r["offset"], r["record"]["id"]) for r in lines(cli("tail", bucket, "--offsets", *args).stdout)]
        want = by_get if not args or args[0] == "--batch" else [p for p in by_get if p[0] >= 5][:4]
        assert got == want, args


class Follower:
    """`persisting tail --follow` in a subprocess, its stdout and stderr read line by line."""

    def __init__(self, bucket, *args):
        self.proc = subprocess.Popen([*CLI, "tail", str(bucket), "--follow", "--poll", "0.05", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
        self.out: queue.Queue = queue.Queue()
        self.err: queue.Queue = queue.Queue()
        self.readers = [threading.Thread(target=lambda s=stream, q=q: [q.put(line) for line in s], daemon=True)
                        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    def records(self, n: int) -> list:
        return [json.loads(self.out.get(timeout=180)) for _ in range(n)]

    def note(self, word: str) -> str:
        """Waits for the stderr line holding word."""
        while True:
            line = self.err.get(timeout=180)
            if word in line:
                return line

    def stop(self) -> int:
        """Ends it as Ctrl-C does; then out and err hold every line it wrote."""
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=180)
        for reader in self.readers:
            reader.join(timeout=60)
        return rc

    def notes(self) -> str:
        """The stderr lines not yet taken (after stop: all of them)."""
        lines = []
        while not self.err.empty():
            lines.append(self.err.get())
        return "".join(lines)


SCHEMA = pa.schema([("name", pa.string()), ("n", pa.int64()), ("v", pa.list_(pa.float64()))])


def rows(names):
    return pa.table({"name": names, "n": list(range(len(names))), "v": [None] * len(names)}, schema=SCHEMA)


def _overwrite(uri):
    lance.write_dataset(rows(list("uvwxyz")), uri, mode="overwrite")  # past the 4 printed
    return list("uvwxyz")


def _overwrite_smaller(uri):
    lance.write_dataset(rows(["p", "q"]), uri, mode="overwrite")
    return ["p", "q"]


def _restore(uri):
    lance.dataset(uri, version=1).restore()  # version 3 holds version 1's 3 rows
    return ["a", "b", "c"]


def _made_again(uri):
    shutil.rmtree(uri)
    lance.write_dataset(rows(["m"]), uri)
    return ["m"]


def _bucket_made_again(uri):
    bucket = Path(uri).parent
    shutil.rmtree(bucket)
    bucket.mkdir()
    lance.write_dataset(rows(["k", "l"]), uri)
    return ["k", "l"]


@pytest.mark.parametrize("replace", [_overwrite, _overwrite_smaller, _restore, _made_again, _bucket_made_again])
def test_tail_follow_starts_again_when_the_dataset_is_replaced(pylance_bucket, replace):
    """A queue's dataset replaced (by pylance's overwrite or restore, or deleted and made again)
    is printed from its first record, with a note on stderr; then it is followed as before."""
    uri = str(pylance_bucket / "data.lance")
    f = Follower(pylance_bucket, "--offsets")
    try:
        assert [r["record"]["name"] for r in f.records(4)] == ["a", "b", "c", "d"]
        names = replace(uri)
        assert "printing it from its first record" in f.note("replaced")
        got = f.records(len(names))
        assert [(r["offset"], r["record"]["name"]) for r in got] == list(enumerate(names))
        lance.write_dataset(rows(["late"]), uri, mode="append")
        assert f.records(1) == [{"offset": len(names), "record": {"name": "late", "n": 0, "v": None}}]
    finally:
        rc = f.stop()
    assert rc == 0
    assert f.out.empty()


def test_tail_follow_waits_for_a_dataset_that_went_away(pylance_bucket):
    """As `tail -F` does with a file: a dataset deleted while followed is waited for (a note on
    stderr says so), and the one made in its place is printed from its first record."""
    uri = pylance_bucket / "data.lance"
    f = Follower(pylance_bucket)
    try:
        assert len(f.records(4)) == 4
        shutil.rmtree(pylance_bucket)
        assert "waiting for it" in f.note("no longer there")
        assert f.proc.poll() is None
        pylance_bucket.mkdir()
        lance.write_dataset(rows(["new"]), str(uri))
        f.note("replaced")
        assert [r["name"] for r in f.records(1)] == ["new"]
    finally:
        rc = f.stop()
    assert rc == 0


def test_tail_follow_keeps_its_offset_through_maintenance_and_schema_changes(plain_bucket):
    """Compaction, a cleanup of the version tail read, clears and added columns make later versions
    of the same dataset: tail goes on from where it was, with no note."""
    uri = str(plain_bucket / "data.lance")
    f = Follower(plain_bucket)
    try:
        assert [r["id"] for r in f.records(12)][-1] == "u2-3"
        made = run_python(SCRIPTS / "make_bucket.py", str(plain_bucket), "--flushes", "1")
        assert made.returncode == 0, explain(made)
        assert [r["id"] for r in f.records(5)] == ["u99-1", "u0-0", "u0-1", "u0-2", "u0-3"]
        cli("compact", plain_bucket)
        cli("cleanup", plain_bucket, "--older-than", 0)  # the version tail holds is gone
        lance.dataset(uri).add_columns({"extra": "clicks * 2"})
        lance.write_dataset(lance.dataset(uri).to_table().slice(0, 1), uri, mode="append")
        assert [r["id"] for r in f.records(1)] == ["u0-0"]
    finally:
        rc = f.stop()
    assert rc == 0
    assert f.out.empty()
    notes = f.notes()
    assert "replaced" not in notes and "no longer there" not in notes, notes
