"""Storage backends for pulsing queues, kept as Lance datasets.

``LanceBackend`` implements the protocol pulsing's ``BucketStorage`` calls on a
backend (``put``, ``put_batch``, ``get``, ``get_stream``, ``flush``, ``stats``,
``total_count``) for one bucket stored at ``{storage_path}/data.lance``::

    from pulsing.streaming import register_backend, write_queue   # pulsing >= 0.1.1
    # from pulsing.queue import register_backend, write_queue      # pulsing 0.1.0
    from persisting.queue import LanceBackend

    register_backend("lance", LanceBackend)        # or persisting.queue.register()
    writer = await write_queue(system, "events", backend="lance", storage_path="/data/q")

The backends are a thin shell over the Go engine: a put encodes its record
(``persisting._encode``) and makes one C call. The engine checks the record
(every rule and message is the engine's: ``docs/schema-rules.md``), logs it in
the WAL when on, buffers it, and flushes a new Lance version every
``flush_threshold`` rows (in the background) and on ``flush()``. Reads see
flushed and buffered rows as one log, in append order, at contiguous offsets.
``LanceBackend`` keeps the first record's fields and types; ``PersistingBackend``
(``schema_evolution``, on by default) adds fields and widens ints to floats.
A refused record is never stored; records accepted before it stay.

With ``enable_wal=True`` a put returns once its record is in the WAL: with
``wal_sync_interval > 0`` the call runs on the event loop's thread and the WAL
is fsynced in the background; with ``0`` it waits for the fsync on a worker
thread, and concurrent puts share one. Reopening replays what was
acknowledged, exactly once; an unacknowledged put may or may not be stored.

Never ``fork()`` after using a backend (every call in the child raises
``ForkError``); use subprocesses or multiprocessing's ``spawn``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Iterable

import pyarrow as pa

from . import _native, options as opt
from ._encode import encode_records
from .errors import ClosedError, FlushError, SchemaError, StorageError, UnsupportedError, WALError
from .training import TrainingMixin

__all__ = ["LanceBackend", "PersistingBackend", "StorageError", "SchemaError", "UnsupportedError",
           "WALError", "register"]

logger = logging.getLogger(__name__)

#: Records per batch yielded by ``get_stream`` (pulsing's MemoryBackend uses 100).
STREAM_BATCH = 100
#: Rows fetched from the engine per call while streaming.
_STREAM_READ = 1000

# ---- worker threads ---------------------------------------------------------------
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool_after_fork() -> None:
    # the parent's worker threads do not exist in a forked child
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _executor() -> ThreadPoolExecutor:
    """The worker threads of every bucket in the process: engine calls that
    wait (fsync, flush, compaction, large reads) run there, off the event
    loop. Many threads, so that concurrent fsync-waiting puts share an fsync."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="persisting")
    return _pool


async def _off_loop(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on a worker thread; the event loop goes on meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(
        _executor(), functools.partial(fn, *args))


# ---- one bucket: the engine handle --------------------------------------------------
class _Bucket:
    """The engine handle of one bucket and whether it is closed (set under a
    lock; all other state is the engine's). Apart from the backend so that a
    ``weakref.finalize`` can close it at collection or interpreter exit."""

    def __init__(self, storage_path: str, options: dict[str, Any]):
        self.storage_path = storage_path
        self._lock = threading.Lock()
        self._handle = _native.open_bucket(storage_path, options)
        self.closed = False
        self._final_count = 0

    def handle(self) -> int:
        """The engine handle; ClosedError once closed."""
        if self.closed:
            raise ClosedError(f"bucket at {self.storage_path!r} is closed",
                              code=_native.EINVALID_HANDLE)
        return self._handle

    def total_count(self) -> int:
        if self.closed:
            return self._final_count
        try:
            return _native.count(self._handle)[0]
        except ClosedError:  # closed by another thread meanwhile
            return self._final_count

    def close(self) -> None:
        """Flushes and frees the engine handle (freed even when the flush
        fails, which is raised). Idempotent."""
        with self._lock:
            if self.closed:
                return
            try:
                self._final_count = _native.count(self._handle)[0]
            except StorageError:
                pass
            self.closed = True
        _native.close_bucket(self._handle)

    def close_quietly(self) -> None:
        """Finalizer: close unless this process cannot call the library any more."""
        if self.closed or not _native.loaded_in_this_process():
            return
        try:
            self.close()
        except BaseException:  # never raise from a finalizer or atexit
            logger.exception("persisting: closing bucket at %s failed", self.storage_path)


def _arrow_stream(data: Any) -> tuple[pa.RecordBatchReader, int]:
    """``data`` as one stream of its non-empty batches, and their rows
    (column buffers are not copied)."""
    if isinstance(data, pa.RecordBatch):
        batches = [data]
    elif isinstance(data, pa.Table):
        batches = data.to_batches()
    elif isinstance(data, pa.RecordBatchReader):
        batches = list(data)
    elif hasattr(data, "__arrow_c_stream__"):
        batches = list(pa.RecordBatchReader.from_stream(data))
    elif hasattr(data, "__arrow_c_array__"):
        batches = [pa.record_batch(data)]
    else:
        raise TypeError(
            "put_arrow expects a pyarrow RecordBatch/Table/RecordBatchReader or an object with "
            f"__arrow_c_stream__ or __arrow_c_array__, got {type(data).__name__} "
            "(use put_batch for a list of dicts)"
        )
    schema = batches[0].schema if batches else None
    batches = [b for b in batches if b.num_rows > 0]
    rows = sum(b.num_rows for b in batches)
    return (pa.RecordBatchReader.from_batches(schema, batches) if rows else None), rows


_TIMESTAMP = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _parse_timestamp(text: str) -> datetime:
    """An RFC 3339 time as the engine writes it (nanoseconds, ``Z``) as an
    aware ``datetime`` in UTC (microseconds: Python has no finer)."""
    m = _TIMESTAMP.match(text)
    if not m:
        raise StorageError(f"the engine reported a timestamp that is not RFC 3339: {text!r}")
    frac = (m.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{zone}").astimezone(timezone.utc)


# ---- the backends -------------------------------------------------------------------
class _QueueBackend(TrainingMixin):
    """What LanceBackend and PersistingBackend share: the protocol pulsing calls
    (``put``, ``put_batch``, ``get``, ``get_stream``, ``flush``, ``stats``,
    ``total_count``), the Arrow extras, versions, maintenance, indices and
    closing; the training-data methods come from ``TrainingMixin``.
    Subclasses check their options and call :meth:`_open`."""

    backend_name = ""

    def _open(self, bucket_id: Any, storage_path: Any, batch_size: Any, flush_threshold: Any,
              extra: dict[str, Any], engine_options: dict[str, Any], ignored: list[str],
              wait_for_fsync: Any = None) -> dict[str, Any]:
        """Opens the bucket, the engine checking its options; returns the
        engine's stats. ``extra``: other keyword options, for the engine;
        ``ignored``: names dropped here; ``wait_for_fsync(stats)``: whether
        puts wait for an fsync (on a worker thread)."""
        self.storage_path = opt.check_storage_path(storage_path)
        #: accepted for pulsing's sake; every put goes to the engine at once
        self.batch_size = opt.check_int("batch_size", batch_size)
        self.options = dict(extra)
        passed = {k: v for k, v in extra.items() if k not in ignored}
        open_options = opt.engine_options({**passed, "bucket_id": bucket_id,
                                           "flush_threshold": flush_threshold, **engine_options})
        self._bucket = _Bucket(self.storage_path, open_options)
        self._finalizer = weakref.finalize(self, _Bucket.close_quietly, self._bucket)
        try:
            stats = _native.stats(self._bucket.handle())
        except BaseException:
            self.close()
            raise
        # what the engine took (it checked them)
        self.bucket_id, self.flush_threshold = stats["bucket_id"], stats["flush_threshold"]
        unknown = sorted(set(ignored) & set(extra) | set(stats.get("ignored_options") or ()))
        if unknown:
            logger.warning("%s(bucket %s) ignores unknown options: %s",
                           type(self).__name__, self.bucket_id, ", ".join(unknown))
        if stats.get("read_only") and not extra.get("read_only"):  # unasked: say why
            logger.warning("bucket %s is read-only: %s", self.storage_path, stats["read_only"])
        self._wait_for_fsync = bool(wait_for_fsync and wait_for_fsync(stats))
        self._loop: asyncio.AbstractEventLoop | None = None  # get_stream's, made on its loop
        self._cond: asyncio.Condition | None = None
        #: readers waiting in get_stream for new records (a put wakes them only then)
        self._readers = 0
        return stats

    def __repr__(self) -> str:
        state = "closed" if self._bucket.closed else f"{self.total_count()} records"
        return (f"{type(self).__name__}(bucket_id={self.bucket_id}, "
                f"storage_path={self.storage_path!r}, {state})")

    @property
    def closed(self) -> bool:
        return self._bucket.closed

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._cond = loop, asyncio.Condition()
        return self._cond

    async def _notify(self) -> None:
        """Wakes the readers waiting in ``get_stream`` on this loop."""
        cond = self._condition()
        async with cond:
            cond.notify_all()

    # -- writing --------------------------------------------------------------------
    async def _append(self, fn: Any, data: Any, off_loop: bool) -> None:
        """One append call, ``fn(handle, data)``: on the event loop's thread
        (microseconds), or on a worker thread when it may wait (an fsync, a
        large Arrow append). ``FlushError`` means stored: logged, not raised."""
        handle = self._bucket.handle()
        try:
            if off_loop:
                await _off_loop(fn, handle, data)
            else:
                fn(handle, data)
        except FlushError as exc:  # the next flush retries writing the records
            logger.warning("bucket %s: %s", self.storage_path, exc)
        if self._readers:
            await self._notify()

    async def put(self, record: dict[str, Any]) -> None:
        """Appends one record; returns once the engine holds it (with the WAL:
        once it is in the WAL). Raises ``TypeError`` (an unsupported value, not
        a dict), ``ValueError`` (an empty record, a bad name), SchemaError (does
        not fit the schema), WALError or ClosedError; a refused record is not stored."""
        await self._append(_native.append_records, encode_records([record]), self._wait_for_fsync)

    async def put_batch(self, records: Iterable[dict[str, Any]]) -> None:
        """Appends many records as one unit: all are accepted or none."""
        if isinstance(records, (dict, str, bytes)) or not isinstance(records, Iterable):
            raise TypeError(f"records must be a list of dicts, got {type(records).__name__}")
        records = list(records)
        if records:
            await self._append(_native.append_records, encode_records(records), self._wait_for_fsync)

    async def put_arrow(self, data: Any) -> int:
        """Appends Arrow data without copying its buffers; returns the rows appended.

        ``data``: a ``pyarrow.RecordBatch``, ``Table`` or ``RecordBatchReader``, or
        any object with ``__arrow_c_stream__``/``__arrow_c_array__`` (polars,
        nanoarrow, arrow-rs ...). All batches go to the engine in one call, as
        one unit (all or none), after the records of earlier puts.
        """
        stream, rows = _arrow_stream(data)
        self._bucket.handle()  # ClosedError also for no rows
        if rows:
            await self._append(_native.append_stream, stream, True)
        return rows

    async def flush(self) -> None:
        """Writes every buffered record as a new Lance dataset version."""
        await _off_loop(_native.flush, self._bucket.handle())

    # -- reading --------------------------------------------------------------------
    def _read_table(self, offset: int, limit: int | None) -> pa.Table:
        return _native.read(self._bucket.handle(), offset, -1 if limit is None else limit).read_all()

    async def get(self, limit: int | None = None, offset: int = 0, version: int | None = None
                  ) -> list[dict[str, Any]]:
        """Records at offsets [offset, offset+limit) in append order (``limit=None``:
        to the end); a cleared offset holds no record (fewer rows, none moved).

        pulsing calls ``get(limit, offset)`` positionally; keywords work too.
        ``version``: read that committed Lance version instead (time travel, see
        :meth:`versions`); records not flushed yet belong to no version.
        """
        limit, offset = opt.check_range(limit, offset)
        if version is not None:
            return (await self.get_arrow(limit, offset, version=version)).to_pylist()
        handle = self._bucket.handle()
        if limit == 0:
            return []
        return await _off_loop(lambda: _native.read(
            handle, offset, -1 if limit is None else limit).read_all().to_pylist())

    async def get_arrow(self, limit: int | None = None, offset: int = 0,
                        version: int | None = None) -> pa.Table:
        """Records [offset, offset+limit) as a ``pyarrow.Table`` of the engine's
        buffers (not copied). ``version``: as for :meth:`get`."""
        limit, offset = opt.check_range(limit, offset)
        handle = self._bucket.handle()
        if version is not None:
            version = opt.check_version(version)
            reader = await _off_loop(_native.read_version, handle, version, offset,
                                     -1 if limit is None else limit)
            return await _off_loop(reader.read_all)
        return await _off_loop(self._read_table, offset, limit)

    async def get_stream(self, limit: int | None = None, offset: int = 0, wait: bool = False,
                         timeout: float | None = None, *, block: bool | None = None
                         ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yields lists of at most 100 records from ``offset`` (cleared ones skipped). ``wait=True``
        (alias ``block``) waits for new records until ``limit`` were yielded;
        ``timeout`` is an idle timeout restarted at every wake-up (None or 0:
        forever). The stream ends quietly at the timeout or when the backend
        closes. Puts made through this backend object wake a waiting reader."""
        if block is not None:
            wait = bool(block)
        limit, offset = opt.check_range(limit, offset)
        self._bucket.handle()  # ClosedError now, not at the first read
        remaining, current = limit, offset
        cond = self._condition()
        while remaining is None or remaining > 0:
            if self._bucket.closed:
                return  # closed while streaming
            total = self.total_count()
            if current >= total:
                if not wait:
                    return
                async with cond:
                    if current >= self.total_count() and not self._bucket.closed:
                        self._readers += 1
                        try:
                            await asyncio.wait_for(cond.wait(), timeout=timeout or None)
                        except asyncio.TimeoutError:
                            return
                        finally:
                            self._readers -= 1
                continue
            # Offsets [current, current+want) all exist; cleared ones hold no
            # record, so the stream moves on by offsets, not by rows read.
            want = min(total - current, _STREAM_READ if remaining is None else min(remaining, _STREAM_READ))
            try:
                rows = await self.get(want, current)
            except ClosedError:
                return
            current += want
            for start in range(0, len(rows), STREAM_BATCH):
                chunk = rows[start : start + STREAM_BATCH]
                yield chunk
                if remaining is not None:
                    remaining -= len(chunk)

    # -- state ----------------------------------------------------------------------
    def total_count(self) -> int:
        """Records in the bucket, flushed or not (synchronous, cheap)."""
        return self._bucket.total_count()

    async def stats(self) -> dict[str, Any]:
        """The engine's figures (total_count, persisted_count, buffer_count,
        version, ...) plus ``buffer_size`` (pulsing's name), ``pending_count``
        (0), ``batch_size``, ``read_only`` (bool) and ``backend``."""
        stats = await _off_loop(_native.stats, self._bucket.handle())
        reason = stats.pop("read_only", None)
        stats.update(bucket_id=self.bucket_id, storage_path=self.storage_path,
                     buffer_size=stats.get("buffer_count", 0), pending_count=0,
                     batch_size=self.batch_size, read_only=bool(reason),
                     backend=self.backend_name)
        if reason:
            stats["read_only_reason"] = reason
        return stats

    # -- versions and maintenance ---------------------------------------------------
    async def versions(self) -> list[dict[str, Any]]:
        """The committed versions, oldest first, as ``{"version": int,
        "timestamp": datetime (UTC)}``; each is readable with ``get(version=v)``."""
        raw = await _off_loop(_native.versions, self._bucket.handle())
        return [{"version": int(v["version"]), "timestamp": _parse_timestamp(v["timestamp"])}
                for v in raw]

    async def compact(self, target_rows: int | None = None) -> dict[str, Any]:
        """Merges small adjacent fragments into fragments of up to
        ``target_rows`` rows (None: Lance's default) as one new version; offsets
        stay. Returns ``version_before``, ``version``, ``fragments_before``,
        ``fragments``."""
        rows = 0 if target_rows is None else opt.check_int("target_rows", target_rows)
        return await _off_loop(_native.compact, self._bucket.handle(), rows)

    async def cleanup_old_versions(self, older_than: timedelta | float = timedelta(days=14)
                                   ) -> dict[str, Any]:
        """Removes versions older than ``older_than`` (a timedelta or seconds)
        and the files only they use; never the newest. Returns counts."""
        seconds = opt.check_older_than(older_than)
        return await _off_loop(_native.cleanup_old_versions, self._bucket.handle(), seconds)

    # -- scalar indices and lookups -------------------------------------------------
    async def create_index(self, column: str, kind: str = "BTREE") -> dict[str, Any]:
        """Builds a Lance scalar index ("BTREE": ranges and equality; "BITMAP":
        equality on few distinct values) on top-level field ``column``, as a
        new version covering every record (buffered ones are flushed first).
        Returns its ``name``, ``type``, ``columns``, ``dataset_version`` and
        ``fragments``. The engine refuses an unknown or untyped column."""
        column = opt.check_column(column)
        kind = opt.check_index_kind(kind)
        return await _off_loop(_native.create_index, self._bucket.handle(), column, kind)

    async def indices(self) -> list[dict[str, Any]]:
        """The dataset's indices, as :meth:`create_index` describes them."""
        return await _off_loop(_native.indices, self._bucket.handle())

    async def get_where(self, column: str, *, eq: Any = opt.UNSET, lo: Any = None, hi: Any = None,
                        lo_inclusive: bool = True, hi_inclusive: bool = False,
                        is_null: bool = False, as_arrow: bool = False
                        ) -> list[dict[str, Any]] | pa.Table:
        """The records whose top-level field ``column`` satisfies one condition,
        in append order: ``eq=v``; ``lo=``/``hi=`` (a bound left out is open;
        inclusive low, exclusive high by default); or ``is_null=True``. An
        index of ``column`` answers what it covers; buffered records are
        flushed first. ``as_arrow=True`` returns a ``pyarrow.Table``."""
        column = opt.check_column(column)
        cond = opt.condition(eq, lo, hi, lo_inclusive, hi_inclusive, is_null)
        handle = self._bucket.handle()
        table = await _off_loop(lambda: _native.lookup(handle, column, cond).read_all())
        return table if as_arrow else table.to_pylist()

    # -- closing --------------------------------------------------------------------
    def close(self) -> None:
        """Flushes and releases the bucket. Idempotent; later calls raise ClosedError."""
        try:
            self._bucket.close()
        finally:
            self._finalizer.detach()

    async def aclose(self) -> None:
        """``close()`` off the event loop; wakes readers waiting in ``get_stream``."""
        if self._bucket.closed:
            return
        try:
            await _off_loop(self.close)
        finally:
            await self._notify()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LanceBackend(_QueueBackend):
    """A pulsing storage backend: one queue bucket as a Lance dataset.

    Args:
        bucket_id: the bucket's number (reported by ``stats``).
        storage_path: the bucket's directory (created when missing); data lives
            in ``{storage_path}/data.lance``; reopening continues the offsets.
        batch_size: accepted for pulsing, which passes it; every put goes to
            the engine at once.
        flush_threshold: buffered records that start a flush (a new version).
        **kwargs: passed to the engine; those it does not know (and
            PersistingBackend's own options) are accepted and logged.

    Construction does no asyncio work (pulsing builds backends on a worker
    thread). ``flush()`` makes records durable; ``close()``/``aclose()`` flush
    and release the bucket, as does interpreter exit for a backend left open.
    """

    backend_name = "lance"

    def __init__(self, bucket_id: int, storage_path: str | os.PathLike, batch_size: int = 100,
                 flush_threshold: int = 1000, **kwargs: Any):
        self._open(bucket_id, storage_path, batch_size, flush_threshold, kwargs,
                   {"schema_evolution": False}, sorted(opt.PERSISTING_OPTIONS))


class PersistingBackend(_QueueBackend):
    """LanceBackend plus a write-ahead log, schema evolution and Prometheus metrics.

    Args:
        bucket_id, storage_path, batch_size, flush_threshold: as for
            :class:`LanceBackend` (``flush_threshold`` is a keyword option here).
        enable_wal: log every record in ``{storage_path}/wal`` before ``put``
            returns; reopening replays what was not flushed, exactly once.
        compression: "zstd", "lz4" or None (default) for the data files
            ("snappy" is refused: Lance has no snappy codec).
        enable_metrics: ``stats()["metrics"]``, :meth:`get_metrics` and
            :func:`persisting.metrics_text`.
        wal_sync_interval: seconds; 0 fsyncs before each put returns (off the
            event loop; concurrent puts share an fsync), > 0 in the background.
        max_wal_size: bytes; past it the buffer is flushed, emptying the WAL.
        metrics_address (keyword): "host:port" to serve ``/metrics`` (port 0:
            a free one, reported by ``stats()``); implies ``enable_metrics``.
        schema_evolution (keyword): True (default) adds fields and widens
            ints to floats; False keeps the first record's schema.
        compaction_threshold (keyword): compact after a flush that leaves at
            least this many fragments (0, default: never on its own).
        data_storage_version (keyword): "2.0", "2.1" or "2.2" (None: 2.2) for
            a new dataset; 2.0 cannot store struct or list fields.
        **kwargs: passed to the engine; those it does not know are logged.

    Bad values raise TypeError/ValueError before anything is created: the
    engine checks its options (``UnstorableError``/``InvalidArgumentError``).
    """

    backend_name = "persisting"

    def __init__(self, bucket_id: int, storage_path: str | os.PathLike, batch_size: int = 100,
                 enable_wal: bool = False, compression: str | None = None,
                 enable_metrics: bool = False, wal_sync_interval: float = 1.0,
                 max_wal_size: int = 100 * 1024 * 1024, *, flush_threshold: int = 1000,
                 metrics_address: str | None = None, schema_evolution: bool = True,
                 compaction_threshold: int = 0, data_storage_version: str | None = None,
                 **kwargs: Any):
        engine = {"enable_wal": enable_wal, "wal_sync_interval": wal_sync_interval,
                  "max_wal_size": max_wal_size, "enable_metrics": enable_metrics,
                  "compaction_threshold": compaction_threshold,
                  "schema_evolution": schema_evolution, "compression": compression,
                  "data_storage_version": data_storage_version,
                  "metrics_address": metrics_address}
        stats = self._open(bucket_id, storage_path, batch_size, flush_threshold, kwargs, engine,
                           [], wait_for_fsync=lambda s: s["wal_enabled"] and
                           s["wal_sync_interval"] == 0)
        # the options in force, as the engine took them
        self.enable_wal = stats["wal_enabled"]
        self.wal_sync_interval = float(stats["wal_sync_interval"])
        self.max_wal_size, self.enable_metrics = stats["max_wal_size"], stats["metrics_enabled"]
        self.compaction_threshold = stats["compaction_threshold"]
        self.schema_evolution, self.compression = stats["schema_evolution"], stats["compression"] or None
        self.data_storage_version = data_storage_version
        self.metrics_address = metrics_address

    async def stats(self) -> dict[str, Any]:
        """LanceBackend's stats plus ``wal_enabled``, ``wal_size``, ``compression``,
        ``schema_evolution``, ``compaction_threshold``, ``metrics_address``
        and, with metrics on, ``metrics``."""
        stats = await super().stats()
        stats["compression"] = stats.get("compression") or None
        stats["metrics_address"] = stats.get("metrics_address") or None
        if stats.pop("metrics_enabled", False):
            stats["metrics"] = stats.get("metrics") or {}
        else:
            stats.pop("metrics", None)
        return stats

    def get_metrics(self) -> dict[str, Any]:
        """This bucket's metric values by name ({} when metrics are off);
        synchronous, and never waits for a running flush."""
        handle = self._bucket.handle()
        if not self.enable_metrics:
            return {}
        return _native.bucket_metrics(handle)


def register(register_backend: Any = None) -> list[str]:
    """Registers the backends with pulsing: ``LanceBackend`` as "lance" and
    "LanceBackend", ``PersistingBackend`` as "persisting" and "PersistingBackend".

    pulsing turns a backend class into its ``__name__`` before looking it up, so
    ``write_queue(..., backend=LanceBackend)`` needs the class name too. Works
    with pulsing 0.1.0 (``pulsing.queue``) and 0.1.1+ (``pulsing.streaming``).
    The registry is per process: call it in every process that may own a bucket.
    """
    if register_backend is None:
        try:  # pulsing >= 0.1.1
            from pulsing.streaming import register_backend
        except ImportError:
            try:  # pulsing 0.1.0
                from pulsing.queue import register_backend
            except ImportError as exc:
                raise ImportError("persisting.queue.register() needs pulsing installed") from exc
    backends = {"lance": LanceBackend, "LanceBackend": LanceBackend,
                "persisting": PersistingBackend, "PersistingBackend": PersistingBackend}
    for name, cls in backends.items():
        register_backend(name, cls)
    return list(backends)
