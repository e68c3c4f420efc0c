"""The crash harness (run.py) as a test: a short run of kill/restart rounds.

``pytest tests/crash -k short`` runs 15 crashes (the first four at the engine's
crash points after_wal_write, before_commit, after_commit and after_truncate,
then random SIGKILLs and random crash points); ``make crash`` runs 200+ with
``python tests/crash/run.py``. Set PERSISTING_CRASH_SEED to replay a seed; a
failure names the seed and the replay command.
"""

from __future__ import annotations

import os
import random

import pytest

import run

SHORT_CRASHES = 15


def test_crash_short(tmp_path):
    seed = int(os.environ.get("PERSISTING_CRASH_SEED") or random.randrange(2**32))
    lines: list[str] = []
    try:
        summary = run.run(SHORT_CRASHES, seed=seed, workdir=tmp_path, log=lines.append)
    except run.CrashCheckFailed as exc:
        pytest.fail(f"crash harness failed (seed {seed}):\n{exc}\n" + "\n".join(lines), pytrace=False)
    print(summary)
    assert summary.crashes == SHORT_CRASHES
    assert summary.acknowledged > 0
    # every engine crash point was reached (the engine killed itself there), so
    # the dangerous moments were tested and not only random instants
    for point in run.CRASH_POINTS:
        assert summary.by_point.get(point, 0) >= 1, (point, summary.by_point, seed)


def test_crash_resend_short(tmp_path):
    """The --resend mode: each child re-sends the puts it started but never saw
    acknowledged, unless it finds them stored; every record is then there
    exactly once (the child refuses a seq found twice)."""
    seed = int(os.environ.get("PERSISTING_CRASH_SEED") or random.randrange(2**32))
    lines: list[str] = []
    try:
        summary = run.run(8, seed=seed, workdir=tmp_path, log=lines.append, resend=True)
    except run.CrashCheckFailed as exc:
        pytest.fail(f"crash harness (resend) failed (seed {seed}):\n{exc}\n" + "\n".join(lines),
                    pytrace=False)
    print(summary)
    assert summary.crashes == 8 and summary.acknowledged > 0


def test_harness_sees_a_lost_acknowledgement_short(tmp_path, monkeypatch):
    """The checks bite: a child that acknowledges before its put returns (and
    so may lose acknowledged records) is caught, with its seed."""
    src = (run.HERE / "child.py").read_text()
    before = '            out(f"S {first} {n}")\n'
    assert before in src
    bad = tmp_path / "child_acks_early.py"
    bad.write_text(src.replace(before, before + '            out(f"A {first} {n}")\n'
                               "            await asyncio.sleep(0.05)\n"))
    monkeypatch.setattr(run, "CHILD", bad)
    with pytest.raises(run.CrashCheckFailed, match=r"acknowledged records lost[\s\S]*seed 7"):
        run.run(8, seed=7, workdir=tmp_path / "w", point_share=0.0, log=lambda *_: None)
