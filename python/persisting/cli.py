"""The ``persisting`` command line: look at, check and maintain buckets.

Every command is a thin shell over one engine call (``persisting_inspect``,
``persisting_verify``, a read-only open for ``tail``, ``persisting_compact``,
``persisting_cleanup_old_versions``); the manual is ``persisting --help`` and
docs/cli.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import decimal
import json
import math
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

from . import _native
from ._version import __version__
from .errors import StorageError

# ---- exit codes (documented in the epilog and docs/cli.md) -----------------------
EXIT_OK = 0
EXIT_PROBLEMS = 1  # verify found damage
EXIT_USAGE = 2  # bad arguments, or PATH is not a bucket (argparse uses 2 too)
EXIT_FAILED = 3  # the command could not do its work (I/O error, engine error)

DATASET_DIR = "data.lance"
WAL_DIR = "wal"

EXIT_CODES = """\
exit status:
  0  success (verify: no problem found)
  1  verify found problems (each printed with its file and byte offset)
  2  usage error: bad arguments, or PATH holds no bucket
  3  the command failed (an I/O or engine error, printed on stderr; the other
     buckets of a queue directory are still done)
  130  interrupted (Ctrl-C); tail --follow ends so with 0"""

PATHS = """\
PATH is one bucket directory (it holds data.lance/ and, with the WAL, wal/),
a Lance dataset directory (one with _versions/, e.g. written by pylance), or a
queue directory whose bucket_N/ subdirectories are buckets (pulsing stores the
buckets of a queue so); inspect, verify, compact and cleanup then act on every
bucket in it, tail needs one bucket. Only local paths are supported: the
backends store buckets on the local file system."""


class UsageError(Exception):
    """A bad argument or PATH: exit status 2."""


# ---- finding buckets --------------------------------------------------------------
def _is_bucket(path: Path) -> bool:
    return (path / DATASET_DIR).is_dir() or (path / WAL_DIR).is_dir() or (path / "_versions").is_dir()


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def find_buckets(path: str) -> list[Path]:
    """The buckets PATH names: itself, or the buckets below it (a queue
    directory, up to three levels: base/topic/bucket_N)."""
    root = Path(path)
    if not root.exists():
        raise UsageError(f"{path}: no such file or directory")
    if not root.is_dir():
        raise UsageError(f"{path}: not a directory")
    if _is_bucket(root):
        return [root]
    found: list[Path] = []
    level = [root]
    for _ in range(3):
        below: list[Path] = []
        for d in level:
            for child in sorted(d.iterdir()):
                if not child.is_dir() or child.name.startswith("."):
                    continue
                (found if _is_bucket(child) else below).append(child)
        if found:
            break
        level = below
    if not found:
        raise UsageError(f"{path}: no bucket here (no {DATASET_DIR}/, {WAL_DIR}/ or _versions/, nor bucket directories below)")
    return sorted(found, key=_natural_key)


def one_bucket(path: str) -> Path:
    """PATH as the single bucket tail, compact and cleanup open by handle. A
    bucket's own data.lance/ is taken as the bucket."""
    p = Path(path)
    if (p / "_versions").is_dir() and p.name == DATASET_DIR:
        return p.parent
    if (p / "_versions").is_dir():
        raise UsageError(f"{path} is a Lance dataset outside a bucket: this command needs a bucket "
                         f"(a directory holding {DATASET_DIR}/); inspect and verify read bare datasets")
    buckets = find_buckets(path)
    if len(buckets) != 1:
        names = ", ".join(str(b) for b in buckets[:5]) + (", ..." if len(buckets) > 5 else "")
        raise UsageError(f"{path} holds {len(buckets)} buckets ({names}): name one")
    return buckets[0]


# ---- formatting -----------------------------------------------------------------------
def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s" if not noun.endswith("y") else f"{n} {noun[:-1]}ies"


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '2h', '7d', '1w' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 3600, 90s, 15m, 2h, 7d, 1w)")
    scale = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return float(m.group(1)) * scale


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def jsonable(value: Any) -> Any:
    """A record value as JSON can carry it: bytes as base64 text, times in
    ISO 8601, decimals as text, NaN and infinities as "NaN"/"Infinity"."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "tolist"):  # numpy arrays and scalars (tensor columns)
        return jsonable(value.tolist())
    return value


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


# ---- progress ---------------------------------------------------------------------------
class Progress:
    """A one-line progress bar on stderr, redrawn while a step runs (the
    engine call releases the GIL); nothing at all unless stderr is a
    terminal, so piped output and logs stay clean."""

    WIDTH = 24

    def __init__(self, total: int, what: str, stream: TextIO, enabled: bool) -> None:
        self.total, self.what, self.stream = total, what, stream
        self.enabled = enabled
        self.done = 0
        self.label = ""
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._draw()
            self._thread = threading.Thread(target=self._tick, name="persisting-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()

    def step(self, label: str) -> None:
        with self._lock:
            self.label = label
        self._draw()

    def print(self, line: str, out: TextIO) -> None:
        """Writes a line of output above the bar (which is redrawn below it)."""
        if self.enabled:
            with self._lock:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
        out.write(line + "\n")
        out.flush()
        self._draw()

    def advance(self) -> None:
        with self._lock:
            self.done += 1
        self._draw()

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            filled = self.WIDTH * self.done // max(self.total, 1)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\r\x1b[2K{self.what} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s {self.label}")
            self.stream.flush()


def progress_enabled(args: argparse.Namespace, stream: TextIO) -> bool:
    if args.progress is not None:
        return args.progress
    return stream.isatty() and os.environ.get("TERM", "") != "dumb"


# ---- inspect --------------------------------------------------------------------------------
def _per_bucket(path: str, look: Callable[[str], dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
    """look() on every bucket of path; a bucket it cannot read becomes
    {"path", "error"} (reported on stderr) and the others still get theirs."""
    reports, failed = [], False
    for b in find_buckets(path):
        try:
            reports.append(look(str(b)))
        except StorageError as exc:
            if _is_bucket(Path(path)):
                raise  # the one bucket named: an ordinary failure
            print(f"persisting: {b}: {exc}", file=sys.stderr)
            reports.append({"path": str(b), "error": str(exc)})
            failed = True
    return reports, failed


def _one_or_all(path: str, reports: list[dict[str, Any]]) -> Any:
    """One bucket named: its report; a queue directory: the list."""
    return reports[0] if len(reports) == 1 and _is_bucket(Path(path)) else reports


def cmd_inspect(args: argparse.Namespace, out: TextIO) -> int:
    options = {"versions_limit": args.versions} if args.versions else None
    reports, failed = _per_bucket(args.path, lambda b: _native.inspect(b, options))
    if args.json:
        out.write(_dump(_one_or_all(args.path, reports)) + "\n")
    else:
        for i, rep in enumerate(r for r in reports if "error" not in r):
            if i:
                out.write("\n")
            _print_inspection(rep, out, all_fragments=args.all)
    return EXIT_FAILED if failed else EXIT_OK


def _print_inspection(rep: dict[str, Any], out: TextIO, all_fragments: bool) -> None:
    w = out.write
    w(f"bucket {rep['path']}\n")
    ds = rep.get("dataset")
    if ds is None:
        w("  dataset     none yet (nothing committed)\n")
    else:
        w(f"  dataset     {ds['path']} (Lance file format {ds['data_storage_version']})\n")
        w(f"  version     {ds['version']}, committed {ds['timestamp']}\n")
        r = ds["retained"]
        w(f"  retained    {plural(r['count'], 'version')}, {r['oldest']}..{r['newest']} (since {r['since']})\n")
        w(f"  rows        {ds['rows']} in {plural(len(ds['fragments']), 'fragment')}, {human_bytes(ds['bytes'])} "
          f"({human_bytes(ds['disk_bytes'])} on disk with every version kept)\n")
        for j, field in enumerate(ds["schema"] or []):
            head = "  schema      " if j == 0 else "              "
            null = "" if field["nullable"] else " not null"
            w(f"{head}{field['name']}: {field['type']}{null}\n")
        if not ds["indices"]:
            w("  indices     none\n")
        for j, ix in enumerate(ds["indices"]):
            head = "  indices     " if j == 0 else "              "
            w(f"{head}{ix['name']}: {ix['type']} on {', '.join(ix['columns'])} "
              f"(built at version {ix['dataset_version']}, covers {plural(ix['fragments'], 'fragment')})\n")
        frags = ds["fragments"]
        shown = frags if all_fragments or len(frags) <= 10 else frags[:5] + frags[-5:]
        for j, f in enumerate(shown):
            if not all_fragments and len(frags) > 10 and j == 5:
                w(f"              ... {len(frags) - 10} more (--all lists every fragment)\n")
            head = "  fragments   " if j == 0 else "              "
            deleted = f", {f['deleted_rows']} deleted" if f["deleted_rows"] else ""
            files = " ".join(x["path"] for x in f["files"])
            w(f"{head}#{f['id']}: {f['rows']} rows{deleted}, {human_bytes(f['bytes'])}  {files}\n")
        if ds["tags"]:
            w("  tags        " + ", ".join(f"{k}={v}" for k, v in sorted(ds["tags"].items())) + "\n")
    wal = rep.get("wal")
    if wal is None:
        w("  wal         none\n")
    else:
        count = wal["last_index"] - wal["first_index"] + 1
        w(f"  wal         {wal['path']}: {plural(len(wal['segments']), 'segment')}, {human_bytes(wal['bytes'])}, "
          f"entries {wal['first_index']}..{wal['last_index']} ({max(count, 0)})\n")
        w(f"  watermark   {wal['watermark']} (last entry in the dataset); {plural(wal['pending'], 'entry')} pending "
          f"(replayed at the next open)\n")
        for seg in wal["segments"]:
            w(f"              {seg['file']}: {plural(seg['entries'], 'entry')} from {seg['first_index']}, "
              f"{human_bytes(seg['bytes'])}\n")
        for d in wal["damage"]:
            w(f"  damage      {d['file']} at offset {d['offset']}: {d['reason']}\n")
    if ds is not None:
        w("  versions    " + ", ".join(f"{v['version']} ({v['timestamp']})" for v in ds["versions"]) + "\n")


# ---- verify ----------------------------------------------------------------------------------
def cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    reports, failed = _per_bucket(args.path, _native.verify)
    bad = any(not rep.get("ok") for rep in reports if "error" not in rep)
    status = EXIT_PROBLEMS if bad else EXIT_FAILED if failed else EXIT_OK
    if args.json:
        out.write(_dump(_one_or_all(args.path, reports)) + "\n")
        return status
    reports = [r for r in reports if "error" not in r]
    for rep in reports:
        problems = rep["problems"]
        verdict = "ok" if rep["ok"] else plural(len(problems), "problem")
        out.write(f"{rep['path']}: {verdict}\n")
        for p in problems:
            where = f"offset {p['offset']}" if p["offset"] >= 0 else "(whole file)"
            out.write(f"  {p['file']} {where}: {p['message']}\n")
        if not args.quiet:
            parts = []
            ds = rep.get("dataset")
            if ds is not None:
                parts.append(f"{plural(ds['versions'], 'version')}, {plural(ds['data_files'], 'data file')} "
                             f"({plural(ds['pages'], 'page')}, {human_bytes(ds['bytes'])}), "
                             f"{plural(ds['deletion_files'], 'deletion file')}, {plural(ds['index_files'], 'index file')}")
            wal = rep.get("wal")
            if wal is not None:
                parts.append(f"WAL {plural(wal['segments'], 'segment')}, {plural(wal['entries'], 'entry')} checked "
                             f"({human_bytes(wal['bytes'])})")
            out.write("  checked " + ("; ".join(parts) if parts else "nothing: the bucket is empty") + "\n")
    return status


# ---- tail ---------------------------------------------------------------------------------------
class _Reader:
    """The bucket opened read-only; reopened to see newer versions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = 0

    def reopen(self) -> int:
        """Opens the newest committed version; returns its row count."""
        self.close()
        self.handle = _native.open_bucket(str(self.path), {"read_only": True})
        return _native.count(self.handle)[1]

    def read(self, offset: int, limit: int) -> list[dict[str, Any]]:
        return _native.read(self.handle, offset, limit).read_all().to_pylist()

    def close(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, 0
            _native.close_bucket(handle)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


#: failed polls in a row that end --follow (a version removed between listing
#: and reading it, by a cleanup beside us, fails one poll; the next sees it gone)
FOLLOW_RETRIES = 3


def cmd_tail(args: argparse.Namespace, out: TextIO) -> int:
    reader = _Reader(one_bucket(args.path))
    if args.follow and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` ends a follower as Ctrl-C does
    printed = 0
    failures = 0
    try:
        rows = reader.reopen()
        offset = args.from_ if args.from_ >= 0 else max(rows + args.from_, 0)
        stale = False  # a newer version may have been committed: reopen first
        while True:
            try:
                if stale:
                    rows = reader.reopen()
                    stale = False
                while offset < rows and (args.limit is None or printed < args.limit):
                    n = args.batch if args.limit is None else min(args.batch, args.limit - printed)
                    records = reader.read(offset, n)
                    if not records:
                        break
                    for record in records:
                        line = {"offset": offset, "record": record} if args.offsets else record
                        out.write(_dump(jsonable(line)) + "\n")
                        offset += 1
                    printed += len(records)
                    out.flush()
                failures = 0
            except StorageError as exc:
                failures += 1
                if not args.follow or failures >= FOLLOW_RETRIES:
                    raise
                print(f"persisting tail: {exc} (trying again)", file=sys.stderr)
            if not args.follow or (args.limit is not None and printed >= args.limit):
                return EXIT_OK
            time.sleep(args.poll)
            stale = True
    except KeyboardInterrupt:  # the way --follow ends
        return EXIT_OK
    finally:
        reader.close()


# ---- compact and cleanup -----------------------------------------------------------------------
def _maintain(args: argparse.Namespace, out: TextIO, what: str,
              call: Callable[[int], dict[str, Any]], describe: Callable[[dict[str, Any]], str]) -> int:
    buckets = find_buckets(args.path)
    for b in buckets:
        if (b / "_versions").is_dir():
            raise UsageError(f"{b} is a Lance dataset outside a bucket: {what} needs a bucket directory")
    failed = 0
    with Progress(len(buckets), what, sys.stderr, progress_enabled(args, sys.stderr)) as bar:
        for b in buckets:
            bar.step(str(b))
            try:
                # The bucket's own WAL setting: opening without it would
                # replay, flush and retire a WAL the queue still uses.
                handle = _native.open_bucket(str(b), {"enable_wal": (b / WAL_DIR).is_dir()})
                try:
                    result = dict(call(handle), path=str(b))
                finally:
                    _native.close_bucket(handle)
            except StorageError as exc:  # reported; the other buckets still get their turn
                failed += 1
                bar.print(f"persisting {what}: {b}: {exc}", sys.stderr)
            else:
                bar.print(_dump(result) if args.json else f"{result['path']}: {describe(result)}", out)
            bar.advance()
    return EXIT_FAILED if failed else EXIT_OK


def cmd_compact(args: argparse.Namespace, out: TextIO) -> int:
    def describe(r: dict[str, Any]) -> str:
        if r.get("version", 0) == r.get("version_before", 0):
            return f"nothing to compact ({plural(r.get('fragments', 0), 'fragment')}, version {r.get('version', 0)})"
        return (f"{r['fragments_before']} -> {plural(r['fragments'], 'fragment')}, "
                f"version {r['version_before']} -> {r['version']}")

    return _maintain(args, out, "compact", lambda h: _native.compact(h, args.target_rows), describe)


def cmd_cleanup(args: argparse.Namespace, out: TextIO) -> int:
    def describe(r: dict[str, Any]) -> str:
        text = (f"removed {plural(r['old_versions'], 'version')}, {plural(r['data_files'], 'data file')}, "
                f"{plural(r['deletion_files'], 'deletion file')}, {plural(r['transaction_files'], 'transaction file')} "
                f"({human_bytes(r['bytes_removed'])})")
        return text + (f"; kept {r['tagged_kept']} tagged" if r.get("tagged_kept") else "")

    return _maintain(args, out, "cleanup", lambda h: _native.cleanup_old_versions(h, args.older_than), describe)


# ---- the parser ------------------------------------------------------------------------------
class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


def _command(sub: Any, name: str, summary: str, description: str, examples: str,
             run: Callable[[argparse.Namespace, TextIO], int]) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, description=f"{summary}\n\n{description}\n\n{PATHS}",
                       epilog=f"examples:\n{examples}\n\n{EXIT_CODES}", formatter_class=_Formatter)
    p.add_argument("path", metavar="PATH", help="a bucket, a Lance dataset or a queue directory")
    p.set_defaults(run=run)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="persisting",
        description=(
            "Look at, check and maintain persisting buckets: the Lance datasets and write-ahead\n"
            "logs that persisting's queue backends keep on disk.\n\n"
            "inspect, verify and tail only read (they are safe beside a running queue); compact\n"
            "and cleanup write a new dataset version and open the bucket as its writer, so run\n"
            "them while no queue process has the bucket open.\n\n"
            "Run `persisting COMMAND --help` for a command's manual."),
        epilog=("examples:\n"
                "  persisting inspect /data/events/bucket_0\n"
                "  persisting verify /data/events && echo intact\n"
                "  persisting tail /data/events/bucket_0 --from -10 --follow\n"
                "  persisting cleanup /data/events --older-than 7d\n\n" + EXIT_CODES),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"persisting {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    sub.required = True

    p = _command(sub, "inspect", "Describe buckets: versions, fragments, rows, bytes, schema, indices, WAL.",
                 "Prints, for each bucket, the newest dataset version and when it was committed, the\n"
                 "range of versions still kept (time travel reaches them), rows, fragments and their\n"
                 "files with sizes, the schema, the scalar indices, and the write-ahead log: its\n"
                 "segments, the entries they hold, the watermark (the last entry the dataset\n"
                 "contains) and how many entries the next open will replay. Reads only.",
                 "  persisting inspect /data/events/bucket_0\n"
                 "  persisting inspect /data/events --json | jq '.[].dataset.rows'\n"
                 "  persisting inspect /data/events/bucket_0 --versions 5",
                 cmd_inspect)
    p.add_argument("--json", action="store_true",
                   help="print one JSON document (an object for a bucket, a list for a queue directory)")
    p.add_argument("--versions", type=_positive_int, metavar="N", default=0,
                   help="list only the newest N versions (default: all)")
    p.add_argument("--all", action="store_true", help="list every fragment (default: the first and last 5)")

    p = _command(sub, "verify", "Check every data page and every WAL entry; exit 1 on damage.",
                 "Reads every page of every column of every data file that any kept version uses,\n"
                 "every deletion file, checks that manifests decode and transaction and index files\n"
                 "exist, and checks the CRC of every write-ahead log entry. Each problem is printed\n"
                 "with its file and a byte offset: of the damaged page, WAL entry or file metadata,\n"
                 "or where a file ends too early. Nothing is changed.\n"
                 "Lance data files carry no checksums: damage to a file's structure (footer,\n"
                 "metadata, page layout, compressed pages, sizes) is found, a flipped bit inside a\n"
                 "plain value is not. A torn WAL tail (a write cut by a crash, never acknowledged)\n"
                 "is reported too; the next open of the bucket cuts it off.",
                 "  persisting verify /data/events/bucket_0\n"
                 "  persisting verify /data/events --quiet || alert 'queue damaged'\n"
                 "  persisting verify /data/events --json > report.json",
                 cmd_verify)
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the status and the problems")

    p = _command(sub, "tail", "Print a bucket's records as JSON lines, like a console consumer.",
                 "Prints the committed records of one bucket, one JSON object per line, from an\n"
                 "offset on. The bucket is opened read-only: nothing is replayed or written, and\n"
                 "records still only in the writer's memory or WAL are not shown until a flush\n"
                 "commits them. With --follow, polls for newly committed versions and prints their\n"
                 "records until interrupted (Ctrl-C ends it with status 0). Binary values are\n"
                 "printed as base64 text, times in ISO 8601, NaN and infinities as strings.",
                 "  persisting tail /data/events/bucket_0\n"
                 "  persisting tail /data/events/bucket_0 --from 1000 --limit 10\n"
                 "  persisting tail /data/events/bucket_0 --from -5 --follow --poll 0.5\n"
                 "  persisting tail /data/events/bucket_0 --offsets | jq -c '.offset'",
                 cmd_tail)
    p.add_argument("--from", dest="from_", type=_int, default=0, metavar="OFFSET",
                   help="first offset to print; negative counts back from the end (default 0)")
    p.add_argument("--limit", type=_non_negative_int, metavar="N", help="stop after N records")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing newly committed records")
    p.add_argument("--poll", type=_positive_float, default=1.0, metavar="SECONDS",
                   help="with --follow: how often to look for new versions (default 1)")
    p.add_argument("--offsets", action="store_true", help='print {"offset": N, "record": {...}} per line')
    p.add_argument("--batch", type=_positive_int, default=1000, metavar="N", help="records read per call (default 1000)")

    progress_help = "show (or hide) the progress bar; default: shown when stderr is a terminal"
    p = _command(sub, "compact", "Merge small fragments into large ones (a new version).",
                 "Rewrites each bucket's small adjacent fragments into fragments of up to\n"
                 "--target-rows rows, as one new dataset version; row order and offsets stay, older\n"
                 "versions stay readable until cleanup removes them. Opens the bucket as its writer\n"
                 "(rows its WAL still holds are flushed as well): stop the queue first.",
                 "  persisting compact /data/events/bucket_0\n"
                 "  persisting compact /data/events --target-rows 100000",
                 cmd_compact)
    p.add_argument("--target-rows", type=_non_negative_int, default=0, metavar="N",
                   help="rows per compacted fragment (default 0: Lance's default, 1Mi)")
    p.add_argument("--json", action="store_true", help="print one JSON object per bucket")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help=progress_help)

    p = _command(sub, "cleanup", "Remove old dataset versions and the files only they use.",
                 "Removes the versions committed longer ago than --older-than (never the newest,\n"
                 "never a tagged one) and the data, deletion and transaction files no kept version\n"
                 "uses; time travel to them ends. Opens the bucket as its writer: stop the queue first.",
                 "  persisting cleanup /data/events/bucket_0 --older-than 7d\n"
                 "  persisting cleanup /data/events --older-than 0   # keep only the newest version",
                 cmd_cleanup)
    p.add_argument("--older-than", type=parse_duration, default=parse_duration("7d"), metavar="AGE",
                   help="age of the versions to remove: seconds, or with a unit s, m, h, d, w (default 7d)")
    p.add_argument("--json", action="store_true", help="print one JSON object per bucket")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help=progress_help)
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(None if argv is None else list(argv))
    out = sys.stdout
    try:
        return args.run(args, out)
    except UsageError as exc:
        print(f"persisting {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as exc:
        print(f"persisting {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_FAILED
    except BrokenPipeError:  # `persisting tail ... | head`: the reader is gone
        # Python docs' recipe: stdout to /dev/null, so the flush at exit is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """The console script's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
