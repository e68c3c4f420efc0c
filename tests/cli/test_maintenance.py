"""compact and cleanup: results, and a progress bar only on a terminal."""

import json
import os
import pty
import subprocess
import sys

from cli_run import CLI, SCRIPTS, cli, cli_json, tree
from helpers import child_env


def test_compact_piped_has_no_progress_bar(plain_bucket):
    proc = cli("compact", plain_bucket)
    # the WAL-only record is committed first (version 4), then compacted with the rest
    assert proc.stdout == f"{plain_bucket}: 4 -> 1 fragment, version 4 -> 5\n"
    assert proc.stderr == ""
    ds = cli_json("inspect", plain_bucket)["dataset"]
    # what it reported is what the bucket holds: nothing committed after it
    assert ds["version"] == 5 and ds["rows"] == 13 and [f["rows"] for f in ds["fragments"]] == [13]
    assert [r["id"] for r in map(json.loads, cli("tail", plain_bucket).stdout.splitlines())][-2:] == ["u2-3", "u99-1"]


def run_on_terminal(*args) -> tuple[int, str, str]:
    """Runs the CLI with stderr on a pseudo-terminal; returns (status, stdout, terminal output)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=slave,
                                stdin=subprocess.DEVNULL, env=dict(child_env(), TERM="xterm"))
        os.close(slave)
        out = proc.stdout.read().decode()
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        return proc.wait(timeout=60), out, seen.decode(errors="replace")
    finally:
        os.close(master)


def test_compact_on_a_terminal_draws_a_progress_bar(plain_bucket, pylance_bucket):
    rc, out, terminal = run_on_terminal("compact", plain_bucket.parent)
    assert rc == 0, terminal
    assert "compact [" in terminal and "2/2" in terminal and "\r" in terminal
    assert [line.split(":")[0] for line in out.splitlines()] == [str(plain_bucket), str(pylance_bucket)]


def test_cleanup_removes_old_versions(plain_bucket):
    rep = cli_json("cleanup", plain_bucket, "--older-than", "0")
    # the WAL-only record is committed first (version 4): versions 1 to 3 go
    assert rep["old_versions"] == 3 and rep["data_files"] == 0 and rep["path"] == str(plain_bucket)
    ds = cli_json("inspect", plain_bucket)["dataset"]
    assert ds["version"] == 4 and ds["retained"]["count"] == 1 and ds["rows"] == 13
    assert cli("verify", plain_bucket).returncode == 0


def test_a_failing_bucket_exits_3_after_the_others_are_done(backend_bucket, pylance_bucket):
    # bucket_0 has a scalar index, which compaction does not remap: refused
    proc = cli("compact", backend_bucket.parent, check=3)
    assert f"persisting compact: {backend_bucket}: " in proc.stderr and "indices" in proc.stderr
    assert proc.stdout == f"{pylance_bucket}: 2 -> 1 fragment, version 2 -> 3\n"


def test_json_lines_name_a_failed_bucket_too(backend_bucket, pylance_bucket):
    proc = cli("compact", backend_bucket.parent, "--json", check=3)
    failed, done = map(json.loads, proc.stdout.splitlines())
    assert failed["path"] == str(backend_bucket) and "indices" in failed["error"] and set(failed) == {"path", "error"}
    assert done["path"] == str(pylance_bucket) and done["version"] == 3


def test_cleanup_keeps_recent_versions(plain_bucket):
    proc = cli("cleanup", plain_bucket, "--older-than", "1w", "--no-progress")
    assert "removed 0 versions" in proc.stdout


def test_a_bucket_open_for_writing_elsewhere_is_refused_and_untouched(plain_bucket):
    holder = subprocess.Popen([sys.executable, str(SCRIPTS / "hold_bucket.py"), str(plain_bucket)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout.readline() == "holding\n"
        before = tree(plain_bucket)
        for command in (["compact"], ["cleanup", "--older-than", "0"]):
            proc = cli(*command, plain_bucket, check=3)
            assert "bucket is busy" in proc.stderr and f"pid {holder.pid}" in proc.stderr, proc.stderr
            assert proc.stdout == ""
        assert tree(plain_bucket) == before, "a refused compact/cleanup changed the bucket"
        holder.stdin.close()  # the holder appends, flushes and closes: its lease was never stolen
        assert holder.wait(timeout=120) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
    assert [r["id"] for r in map(json.loads, cli("tail", plain_bucket).stdout.splitlines())][-3:] == \
        ["u99-1", "held-0", "held-1"]
    assert cli("verify", plain_bucket).returncode == 0
