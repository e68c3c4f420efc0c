"""Crash harness: SIGKILL a WAL writer at random moments and check recovery.

    python tests/crash/run.py --crashes 200            # `make crash`
    python tests/crash/run.py --crashes 20 --seed 123  # replay a seed
    pytest tests/crash -k short                        # ~15 crashes, in the normal run

Each round starts ``child.py`` (a fresh interpreter, spawned with subprocess)
on the same bucket, with ``PersistingBackend(enable_wal=True,
wal_sync_interval=0)`` (a third of the rounds 1 s: puts staged in the WAL's
mapped file) and a small ``flush_threshold`` (and sometimes a small
``max_wal_size``), so flushes - Lance commits followed by WAL truncations -
happen all the time. The child reports what it recovered, then writes numbered
records from several tasks, printing ``S`` before and ``A`` after each append
(see child.py). The parent kills it with SIGKILL at a random moment - or lets
the engine kill itself at a crash point (``PERSISTING_TEST_CRASH_AT``:
after_wal_write, before_commit, after_commit, after_truncate), the moments a
random kill rarely hits - and checks, at the next start:

- every acknowledged record is there, exactly once (the child verifies that no
  seq is there twice, each payload, and each writer's order);
- nothing that was never handed to the backend (announced by ``S``) appeared;
- nothing that was recovered once disappears later;
- pylance opens ``data.lance`` after the crash, before the engine touches it
  again, with exactly ``persisted_count`` rows, no seq twice.

``--resend`` adds what a client must do after a restart (docs/wal.md): each
child re-sends the puts that were started but never acknowledged, skipping
those it finds stored (an unacknowledged put may or may not be stored); the
checks above then also prove that re-sent records end up there exactly once.

The configuration of every round derives from one seed, printed on failure
together with the command that replays it (kill timing itself is real time,
so a replay explores the same configurations, not the same instants).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: the crash points exist only in the test build (./build.sh testhooks); the
#: harness uses it unless PERSISTING_LIB names a library
TESTHOOKS_LIBRARY = REPO / "build" / "testhooks" / "libpersisting.so"
if not os.environ.get("PERSISTING_LIB") and TESTHOOKS_LIBRARY.is_file():
    os.environ["PERSISTING_LIB"] = str(TESTHOOKS_LIBRARY)
sys.path.insert(0, str(REPO / "tests" / "python"))
from helpers import LIBRARY, child_env  # noqa: E402  (finds libpersisting.so like the tests)

CHILD = HERE / "child.py"
CRASH_POINTS = ["after_wal_write", "before_commit", "after_commit", "after_truncate"]
#: rounds on one bucket before the harness starts a fresh one (keeps reads cheap)
ROUNDS_PER_BUCKET = 40


class CrashCheckFailed(AssertionError):
    pass


@dataclass
class Round:
    index: int
    config: dict
    crash_point: str | None
    delay: float | None  # seconds after the recovery report; None: kill during startup
    startup_kill: float | None = None
    report: dict | None = None
    acked: list = field(default_factory=list)  # (first, n)
    started: set = field(default_factory=set)  # every seq announced by S
    started_end: int = 0
    flushes: int = 0
    resent: int = 0  # unacknowledged puts the child found missing and re-sent
    returncode: int | None = None
    killed_by_parent: bool = False
    stderr: str = ""

    def how(self) -> str:
        if self.crash_point:
            return f"engine crash point {self.crash_point}"
        if self.delay is not None:
            return f"SIGKILL {self.delay:.3f}s after recovery"
        return f"SIGKILL {self.startup_kill:.3f}s after spawn"

    def describe(self) -> str:
        return f"round {self.index} ({self.how()}; config {json.dumps(self.config)})"


@dataclass
class Ledger:
    """What the parent knows about one bucket across rounds."""

    path: Path
    started_end: int = 0  # no seq >= this was ever handed to the backend
    recovered: int = 0  # records a child found; never less later
    recovered_seqs: set = field(default_factory=set)  # what the last child found
    acked: set = field(default_factory=set)  # every seq ever acknowledged
    unacked: set = field(default_factory=set)  # started, never acknowledged, not (yet) found


def lance_rows(path: Path) -> int:
    """Opens data.lance with pylance; returns its row count after checking the
    seq column is 0..n-1 (no duplicate, gap or reordering in the Lance part)."""
    ds_path = path / "data.lance"
    versions = ds_path / "_versions"
    if not versions.is_dir() or not any(versions.glob("*.manifest")):
        return 0  # no version committed yet (a first flush may have been killed midway)
    import lance

    ds = lance.dataset(str(ds_path))
    table = ds.to_table(columns=["seq"])
    seqs = table.column("seq").to_pylist()
    if len(set(seqs)) != len(seqs):
        twice = next(s for s in seqs if seqs.count(s) > 1)
        raise CrashCheckFailed(f"pylance: {ds_path} version {ds.version} has seq {twice} twice")
    if ds.count_rows() != len(seqs):
        raise CrashCheckFailed(f"pylance: count_rows {ds.count_rows()} != {len(seqs)} rows read")
    return len(seqs)


class Child:
    """One spawned child.py with a thread collecting its stdout lines."""

    def __init__(self, config: dict, crash_point: str | None, stderr_path: Path):
        env = child_env()
        env.pop("PERSISTING_TEST_CRASH_AT", None)
        if crash_point:
            env["PERSISTING_TEST_CRASH_AT"] = crash_point
        self._stderr = open(stderr_path, "w+")
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(config)],
            stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True, bufsize=1,
        )
        self.lines: list[str] = []
        self.report = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("R "):
                self.report.set()
        self.report.set()  # EOF: stop waiting either way

    def kill(self) -> bool:
        """SIGKILL unless already gone; True when this call killed it."""
        if self.proc.poll() is not None:
            return False
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            return False
        return True

    def finish(self, timeout: float = 30) -> tuple[int, str]:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(timeout=10)
        self.proc.stdout.close()
        self._stderr.seek(0)
        err = self._stderr.read()
        self._stderr.close()
        return rc, err


def make_config(rng: random.Random, path: Path, index: int) -> dict:
    return {
        "path": str(path),
        "seed": rng.randrange(2**32),
        "flush_threshold": rng.choice([1, 2, 3, 5, 8, 16, 50, 200]),
        "batch_size": rng.choice([1, 4, 100]),
        "max_wal_size": rng.choice([100 * 1024 * 1024, 64 * 1024, 2048, 300]),
        "writers": rng.choice([1, 2, 4, 8]),
        "batch_prob": rng.choice([0.0, 0.2, 0.5]),
        "max_batch": rng.choice([3, 10, 40]),
        "yield_prob": rng.choice([0.0, 0.3]),
        "flush_every": rng.choice([0, 0.005, 0.05]),
        "max_seconds": 30,
        # 1 s: acknowledged puts are staged in the WAL's mapped file (docs/wal.md)
        "wal_sync_interval": rng.choice([0, 0, 1.0]),
    }


def seqs_of(report: dict) -> set[int]:
    return {s for first, last in report["seqs"] for s in range(first, last + 1)}


def check_report(rnd: Round, ledger: Ledger, pylance_rows: int) -> None:
    rep = rnd.report
    where = rnd.describe()
    if rep["bad"]:
        raise CrashCheckFailed(f"{where}: recovered log is wrong: {rep['bad']}")
    if rep["count"] != rep["total"] or rep["persisted"] + rep["buffered"] != rep["count"]:
        raise CrashCheckFailed(f"{where}: inconsistent counts {rep}")
    found = seqs_of(rep)
    if len(found) != rep["count"]:
        raise CrashCheckFailed(f"{where}: {rep['count']} records but {len(found)} seqs")
    missing = ledger.acked - found
    if missing:
        raise CrashCheckFailed(
            f"{where}: {len(missing)} acknowledged records lost (first {min(missing)}); "
            f"recovered {rep['count']}"
        )
    if found and max(found) >= ledger.started_end:
        raise CrashCheckFailed(
            f"{where}: recovered seq {max(found)}, but only seqs < {ledger.started_end} "
            "were ever handed to the backend"
        )
    lost = ledger.recovered_seqs - found
    if lost:
        raise CrashCheckFailed(
            f"{where}: {len(lost)} records an earlier start recovered are gone (first {min(lost)})"
        )
    if rep["persisted"] != pylance_rows:
        raise CrashCheckFailed(
            f"{where}: pylance counted {pylance_rows} rows in data.lance after the crash, the "
            f"engine reports persisted_count {rep['persisted']}"
        )


def run_round(rnd: Round, ledger: Ledger, workdir: Path) -> None:
    pylance_rows = lance_rows(ledger.path)  # the state the crash left, untouched
    child = Child(rnd.config, rnd.crash_point, workdir / f"stderr-{rnd.index}.txt")
    try:
        if rnd.delay is None and rnd.crash_point is None:
            time.sleep(rnd.startup_kill)  # maybe during import, open or WAL replay
            rnd.killed_by_parent = child.kill()
        else:
            if not child.report.wait(timeout=60):
                raise CrashCheckFailed(f"{rnd.describe()}: no recovery report within 60 s")
            if rnd.crash_point is None:
                time.sleep(rnd.delay)
                rnd.killed_by_parent = child.kill()
            else:  # give the engine time to reach its crash point, then kill anyway
                try:
                    child.proc.wait(timeout=rnd.delay)
                except subprocess.TimeoutExpired:
                    rnd.killed_by_parent = child.kill()
    finally:
        child.kill()
        rnd.returncode, rnd.stderr = child.finish()
    for line in child.lines:
        kind, _, rest = line.partition(" ")
        if kind == "R":
            rnd.report = json.loads(rest)
        elif kind == "S":
            first, n = map(int, rest.split())
            rnd.started_end = max(rnd.started_end, first + n)
            rnd.started.update(range(first, first + n))
        elif kind == "A":
            first, n = map(int, rest.split())
            rnd.acked.append((first, n))
        elif kind == "F":
            rnd.flushes += 1
        elif kind == "X":
            rnd.resent += 1
    if rnd.returncode != -signal.SIGKILL:
        raise CrashCheckFailed(
            f"{rnd.describe()}: the child ended with {rnd.returncode}, not by SIGKILL\n"
            f"--- stderr\n{rnd.stderr[-4000:]}\n--- last stdout\n" + "\n".join(child.lines[-20:])
        )
    if rnd.report is not None:
        check_report(rnd, ledger, pylance_rows)
        ledger.recovered = rnd.report["count"]
        ledger.recovered_seqs = seqs_of(rnd.report)
        ledger.unacked -= ledger.recovered_seqs
    ledger.unacked.update(rnd.started)
    for first, n in rnd.acked:
        ledger.acked.update(range(first, first + n))
    ledger.unacked -= ledger.acked
    ledger.started_end = max(ledger.started_end, rnd.started_end)


@dataclass
class Summary:
    seed: int
    crashes: int
    by_point: dict
    acknowledged: int
    recovered: int
    flushes: int
    buckets: int
    seconds: float
    resent: int = 0

    def __str__(self) -> str:
        points = ", ".join(f"{k}={v}" for k, v in sorted(self.by_point.items()))
        return (f"crash harness: seed {self.seed}: {self.crashes} crashes ({points}) over "
                f"{self.buckets} buckets, {self.acknowledged} acknowledged records, all "
                f"{self.recovered} recovered exactly once, {self.flushes} explicit flushes, "
                f"{self.resent} unacknowledged puts re-sent, {self.seconds:.1f}s")


def run(crashes: int, seed: int | None = None, workdir: Path | None = None,
        point_share: float = 0.35, log=print, resend: bool = False) -> Summary:
    """Runs ``crashes`` kill/restart rounds; raises CrashCheckFailed (naming the
    seed and the command that replays it) when recovery is wrong. With
    ``resend`` each child first re-sends the unacknowledged puts it does not
    find stored."""
    if LIBRARY is None:
        raise RuntimeError("libpersisting.so not found: run ./build.sh testhooks or set PERSISTING_LIB")
    if b"PERSISTING_TEST_CRASH_AT" not in Path(LIBRARY).read_bytes():
        raise RuntimeError(f"{LIBRARY} has no crash points: the harness needs the test build "
                           "(./build.sh testhooks, build/testhooks/libpersisting.so)")
    seed = random.randrange(2**32) if seed is None else seed
    rng = random.Random(seed)
    own_dir = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="persisting-crash-")) if own_dir else Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    by_point: dict[str, int] = {}
    ledgers: list[Ledger] = []
    flushes = acknowledged = resent = 0
    try:
        ledger = None
        for i in range(crashes):
            if ledger is None or i % ROUNDS_PER_BUCKET == 0:
                ledger = Ledger(path=workdir / f"bucket_{len(ledgers)}")
                ledgers.append(ledger)
            config = make_config(rng, ledger.path, i)
            config["next_seq"] = ledger.started_end
            if resend:
                config["resend"] = sorted(ledger.unacked)
            roll = rng.random()
            crash_point = None
            delay: float | None = rng.uniform(0.0, 0.4)
            startup_kill = None
            first_rounds = point_share > 0 and i < len(CRASH_POINTS)
            if first_rounds or roll < point_share:
                # the first rounds visit every point once, later ones pick at random
                point = CRASH_POINTS[i] if first_rounds else rng.choice(CRASH_POINTS)
                crash_point = f"{point}:{rng.randint(1, 6)}"
                config["flush_threshold"] = rng.choice([1, 2, 3, 5, 8])  # reach it soon
                # A point is usually reached within milliseconds: later rounds
                # give up after 3 s ("not reached"). The first rounds must reach
                # theirs however loaded the machine is, so they wait for the
                # child, which writes for max_seconds (past that it exits 0 and
                # the round fails).
                delay = config["max_seconds"] + 30.0 if first_rounds else 3.0
            elif roll < point_share + 0.1:
                delay, startup_kill = None, rng.uniform(0.05, 0.6)
            rnd = Round(i, config, crash_point, delay, startup_kill)
            try:
                run_round(rnd, ledger, workdir)
            except CrashCheckFailed as exc:
                raise CrashCheckFailed(
                    f"{exc}\nseed {seed}; replay: python {Path(__file__).relative_to(REPO)} "
                    f"--crashes {crashes} --seed {seed}{' --resend' if resend else ''}; "
                    f"files kept in {workdir}"
                ) from None
            if crash_point:
                key = crash_point.split(":")[0] + (" (not reached)" if rnd.killed_by_parent else "")
            else:
                key = "random kill" if delay is not None else "kill while starting"
            by_point[key] = by_point.get(key, 0) + 1
            flushes += rnd.flushes
            acked = sum(n for _, n in rnd.acked)
            acknowledged += acked
            resent += rnd.resent
            log(f"  round {i:3d}: {rnd.how():40s} recovered "
                f"{rnd.report['count'] if rnd.report else '-':>6}, then acked {acked}"
                + (f", re-sent {rnd.resent}" if rnd.resent else "")
                + (" (the engine did not reach its crash point)" if crash_point and rnd.killed_by_parent else ""))
        # a last start checks the last crash
        for ledger in ledgers:
            rnd = Round(crashes, {**make_config(rng, ledger.path, crashes), "verify_only": True},
                        None, 0.0)
            pylance_rows = lance_rows(ledger.path)
            child = Child(rnd.config, None, workdir / f"stderr-verify-{ledger.path.name}.txt")
            child.report.wait(timeout=60)
            rc, err = child.finish()
            line = next((ln for ln in child.lines if ln.startswith("R ")), None)
            if rc != 0 or line is None:
                raise CrashCheckFailed(f"verify start failed ({rc}): {err[-4000:]}\nseed {seed}")
            rnd.report = json.loads(line[2:])
            try:
                check_report(rnd, ledger, pylance_rows)
            except CrashCheckFailed as exc:
                raise CrashCheckFailed(f"{exc}\nseed {seed}; files kept in {workdir}") from None
            ledger.recovered = rnd.report["count"]
    except BaseException:
        log(f"crash harness FAILED with seed {seed} (files kept in {workdir})")
        raise
    summary = Summary(seed, crashes, by_point, acknowledged, sum(l.recovered for l in ledgers),
                      flushes, len(ledgers), time.monotonic() - started, resent)
    if own_dir:
        shutil.rmtree(workdir, ignore_errors=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crashes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None,
                        help="replay a seed (default: random, or $PERSISTING_CRASH_SEED)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep the buckets here (default: a temporary directory, removed on success)")
    parser.add_argument("--point-share", type=float, default=0.35,
                        help="share of rounds that crash at an engine crash point")
    parser.add_argument("--resend", action="store_true",
                        help="each child re-sends the unacknowledged puts it does not find stored")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    seed = args.seed
    if seed is None and os.environ.get("PERSISTING_CRASH_SEED"):
        seed = int(os.environ["PERSISTING_CRASH_SEED"])
    try:
        summary = run(args.crashes, seed, args.workdir, args.point_share,
                      log=(lambda *_: None) if args.quiet else print, resend=args.resend)
    except CrashCheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
