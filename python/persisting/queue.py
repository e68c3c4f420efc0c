"""Storage backends for pulsing queues, kept as Lance datasets.

``LanceBackend`` and ``PersistingBackend`` implement pulsing's backend protocol (``put``,
``put_batch``, ``get``, ``get_stream``, ``flush``, ``stats``, ``total_count``) for one bucket at
``{storage_path}/data.lance``; ``register()`` makes them pulsing backends. A thin shell over the Go
engine: a put encodes its record (``persisting._encode``) in one C call; the engine checks it
(``docs/schema-rules.md``), logs it in the WAL when on, buffers it and flushes a Lance version
every ``flush_threshold`` rows and on ``flush()``. Reads see flushed and buffered rows as one log.
A refused record is never stored. With ``wal_sync_interval=0`` a put waits for its fsync on a
worker thread. Never ``fork()`` after using a backend (the child's calls raise ``ForkError``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
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
from ._encode import encode_record, encode_records
from .errors import ClosedError, FlushError, SchemaError, StorageError, UnsupportedError, WALError
from .training import TrainingMixin, table_rows

__all__ = ["LanceBackend", "PersistingBackend", "StorageError", "SchemaError", "UnsupportedError",
           "WALError", "register"]

logger = logging.getLogger(__name__)
STREAM_BATCH = 100  # records per list get_stream yields (pulsing's MemoryBackend uses 100)
_STREAM_READ = 1000  # rows read from the engine per call while streaming
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


# the parent's worker threads do not exist in a forked child
os.register_at_fork(after_in_child=lambda: globals().update(_pool=None, _pool_lock=threading.Lock()))


async def _off_loop(fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on a worker thread (many: fsync-waiting puts share fsyncs)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            _pool = _pool or ThreadPoolExecutor(max_workers=64, thread_name_prefix="persisting")
    return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(fn, *args))


class _Bucket:
    """A bucket's engine handle and whether it is closed, apart from the backend for ``weakref.finalize``."""

    def __init__(self, storage_path: str, options: dict[str, Any]):
        self.storage_path, self.closed, self._final_count = storage_path, False, 0
        self._lock = threading.Lock()
        self.raw_handle = _native.open_bucket(storage_path, options)

    def handle(self) -> int:  # ClosedError once closed
        if self.closed:
            raise ClosedError(f"bucket at {self.storage_path!r} is closed", code=_native.EINVALID_HANDLE)
        return self.raw_handle

    def total_count(self) -> int:
        try:
            return self._final_count if self.closed else _native.count(self.raw_handle)[0]
        except ClosedError:  # closed meanwhile
            return self._final_count

    def close(self) -> None:
        """Flushes and frees the handle. Idempotent; a racing call returns after it. A failed flush raises, and
        the engine keeps the bucket open (its records, the handle) unless a WAL holds the records."""
        with self._lock:
            if self.closed:
                return
            with contextlib.suppress(StorageError):
                self._final_count = _native.count(self.raw_handle)[0]
            self.closed = True
            try:
                _native.close_bucket(self.raw_handle)
            except StorageError:
                with contextlib.suppress(ClosedError):  # the handle answers: the engine kept the bucket open
                    _native.count(self.raw_handle)
                    self.closed = False
                raise

    def close_quietly(self) -> None:
        """The finalizer: closes unless this process may not call the library."""
        if not self.closed and _native.loaded_in_this_process():
            try:
                self.close()
            except BaseException:  # never raise from a finalizer or atexit
                logger.exception("persisting: closing %s failed; records no WAL holds are lost", self.storage_path)


def _arrow_stream(data: Any) -> tuple[pa.RecordBatchReader | None, int]:
    """``data`` as one stream of its non-empty batches (buffers not copied), and their rows."""
    if hasattr(data, "__arrow_c_stream__"):  # a Table, a RecordBatchReader, polars ...
        batches = list(pa.RecordBatchReader.from_stream(data))
    elif hasattr(data, "__arrow_c_array__"):
        batches = [pa.record_batch(data)]
    else:
        raise TypeError("put_arrow expects a pyarrow RecordBatch/Table/RecordBatchReader or an object with "
                        f"__arrow_c_stream__ or __arrow_c_array__, got {type(data).__name__} "
                        "(use put_batch for a list of dicts)")
    schema = batches[0].schema if batches else None
    batches = [b for b in batches if b.num_rows > 0]
    rows = sum(b.num_rows for b in batches)
    return (pa.RecordBatchReader.from_batches(schema, batches) if rows else None), rows


_TIMESTAMP = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _parse_timestamp(text: str) -> datetime:
    """The engine's RFC 3339 time (nanoseconds) as an aware UTC ``datetime`` (microseconds)."""
    m = _TIMESTAMP.match(text)
    if not m:
        raise StorageError(f"the engine reported a timestamp that is not RFC 3339: {text!r}")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{(m.group(2) or '')[:6].ljust(6, '0')}{zone}").astimezone(timezone.utc)


class _QueueBackend(TrainingMixin, contextlib.AbstractContextManager, contextlib.AbstractAsyncContextManager):
    """Both backends: pulsing's protocol, Arrow, versions, maintenance, indices, closing, training data."""

    backend_name = ""

    def _open(self, bucket_id: Any, storage_path: Any, batch_size: Any, flush_threshold: Any,
              extra: dict[str, Any], engine_options: dict[str, Any], ignored: frozenset = frozenset()
              ) -> dict[str, Any]:
        """Opens the bucket, returns its stats; ``extra``: other options, for the engine unless ``ignored``."""
        self.storage_path = opt.check_storage_path(storage_path)
        self.batch_size = opt.check_int("batch_size", batch_size)  # for pulsing; puts go to the engine at once
        self.options = dict(extra)
        passed = {k: v for k, v in extra.items() if k not in ignored}
        # get_stream readers waiting for records (future -> its loop): a put or close on any thread wakes them
        self._waiters: dict[asyncio.Future, asyncio.AbstractEventLoop] = {}
        self._bucket = _Bucket(self.storage_path, opt.engine_options(
            {**passed, "bucket_id": bucket_id, "flush_threshold": flush_threshold, **engine_options}))
        self._finalizer = weakref.finalize(self, _Bucket.close_quietly, self._bucket)
        try:
            stats = _native.stats(self._bucket.handle())
        except BaseException:
            self.close()
            raise
        self.bucket_id, self.flush_threshold = stats["bucket_id"], stats["flush_threshold"]
        unknown = sorted(ignored & set(extra) | set(stats.get("ignored_options") or ()))
        if unknown:
            logger.warning("%s(bucket %s) ignores unknown options: %s", type(self).__name__, self.bucket_id,
                           ", ".join(unknown))
        if stats.get("read_only") and not extra.get("read_only"):  # unasked: say why
            logger.warning("bucket %s is read-only: %s", self.storage_path, stats["read_only"])
        # a put waits for its fsync on a worker thread, else it runs on the loop's thread (microseconds)
        self._puts_off_loop = bool(stats["wal_enabled"] and stats["wal_sync_interval"] == 0)
        self._handle = self._bucket.raw_handle  # the put path's: the engine says when it is closed
        self._sampling = threading.Lock()
        return stats

    def __repr__(self) -> str:
        state = "closed" if self._bucket.closed else f"{self.total_count()} records"
        return f"{type(self).__name__}(bucket_id={self.bucket_id}, storage_path={self.storage_path!r}, {state})"

    closed = property(lambda self: self._bucket.closed, doc="Whether the backend was closed.")

    async def _engine(self, fn: Any, *args: Any) -> Any:
        """``fn(handle, *args)`` on a worker thread."""
        return await _off_loop(fn, self._bucket.handle(), *args)

    def _wake(self) -> None:
        """Wakes every reader waiting in ``get_stream``, whatever loop or thread it waits on."""
        for future in list(self._waiters):  # one waker pops each; one registered later counts again itself
            if loop := self._waiters.pop(future, None):
                with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
                    loop.call_soon_threadsafe(lambda f=future: f.done() or f.set_result(None))

    async def _idle(self, seen: int, timeout: float | None) -> bool:
        """Waits for a record at offset ``seen`` or close; True after ``timeout`` idle seconds (None, 0: never)."""
        loop = asyncio.get_running_loop()
        self._waiters[future := loop.create_future()] = loop  # before counting again: a put after the count wakes it
        end = loop.time() + (timeout or 1e18)  # read-only: no put here wakes it, so it counts again every 0.1 s
        try:  # (the engine's count follows the commits of the process that writes)
            while not future.done() and not self._bucket.closed and seen >= self.total_count():
                if (left := end - loop.time()) <= 0:
                    return True
                await asyncio.wait([future], timeout=min(left, 0.1) if self.options.get("read_only") else left)
            return False
        finally:
            self._waiters.pop(future, None)

    # -- writing --------------------------------------------------------------------
    async def put(self, record: dict[str, Any]) -> None:
        """Appends one record; returns once the engine holds it (with the WAL: once
        it is in the WAL). Raises ``TypeError`` (an unsupported value, not a dict),
        ``ValueError`` (an empty record, a bad name), SchemaError (does not fit),
        WALError or ClosedError; a refused record is not stored."""
        try:  # _append's steps inline: awaiting it costs a coroutine per put
            if self._puts_off_loop:  # encoded here: the worker thread must not read a dict the loop may change
                await _off_loop(_native.append_records, self._handle, encode_record(record))
            else:
                _native.put_record(self._handle, record)  # encodes and appends: one C call (_put.c)
        except FlushError as exc:  # stored: the next flush retries writing it
            logger.warning("bucket %s: %s", self.storage_path, exc)
        if self._waiters:
            self._wake()

    async def put_batch(self, records: Iterable[dict[str, Any]]) -> None:
        """Appends many records as one unit: all are accepted or none."""
        if isinstance(records, (dict, str, bytes)) or not isinstance(records, Iterable):
            raise TypeError(f"records must be a list of dicts, got {type(records).__name__}")
        records = list(records)
        if records:
            await self._append(_native.append_records, encode_records(records), self._puts_off_loop)

    async def _append(self, fn: Any, data: Any, off_loop: bool) -> int:
        """``fn(handle, data)`` (off the loop when ``off_loop``): the first row's offset; the engine checks the handle."""
        try:
            first = await _off_loop(fn, self._handle, data) if off_loop else fn(self._handle, data)
        except FlushError as exc:  # stored: the next flush retries writing it
            first = exc.first_offset
            logger.warning("bucket %s: %s", self.storage_path, exc)
        if self._waiters:
            self._wake()
        return first

    async def put_arrow(self, data: Any) -> int:
        """Appends Arrow data without copying its buffers; returns the rows appended.
        ``data``: a ``pyarrow.RecordBatch``, ``Table`` or ``RecordBatchReader``, or
        anything with ``__arrow_c_stream__``/``__arrow_c_array__`` (polars,
        nanoarrow, arrow-rs ...): one engine call, one unit (all or none)."""
        return (await self._put_arrow(data))[0]

    async def _put_arrow(self, data: Any) -> tuple[int, int]:  # (rows, the first one's offset)
        stream, rows = _arrow_stream(data)
        self._bucket.handle()  # ClosedError also for no rows
        return rows, await self._append(_native.append_stream, stream, True) if rows else 0

    async def flush(self) -> None:
        """Writes every buffered record as a new Lance dataset version."""
        await self._engine(_native.flush)

    # -- reading --------------------------------------------------------------------
    async def get(self, limit: int | None = None, offset: int = 0, version: int | None = None
                  ) -> list[dict[str, Any]]:
        """Records at offsets [offset, offset+limit) in append order (``limit=None``: to the end; a cleared offset
        holds none; tensors as numpy arrays); pulsing passes (limit, offset) positionally. ``version``: that version."""
        return await self._read(limit, offset, version, table_rows)

    async def get_arrow(self, limit: int | None = None, offset: int = 0, version: int | None = None) -> pa.Table:
        """Records [offset, offset+limit) as a ``pyarrow.Table`` of the engine's
        buffers (not copied). ``version``: as for :meth:`get`."""
        return await self._read(limit, offset, version, lambda table: table)

    async def _read(self, limit: Any, offset: Any, version: Any, convert: Any) -> Any:
        """``convert(table)`` of records [offset, offset+limit) (of ``version``), read on a worker thread."""
        limit, offset = opt.check_range(limit, offset)
        limit = -1 if limit is None else limit  # the engine's "to the end"
        version = None if version is None else opt.check_version(version)

        def read(handle: int) -> Any:
            if version is None:
                return convert(_native.read(handle, offset, limit).read_all())
            return convert(_native.read_version(handle, version, offset, limit).read_all())
        return await self._engine(read)

    async def get_stream(self, limit: int | None = None, offset: int = 0, wait: bool = False,
                         timeout: float | None = None, *, block: bool | None = None
                         ) -> AsyncIterator[list[dict[str, Any]]]:
        """Lists of <= 100 records from ``offset`` (cleared ones skipped); ``wait`` (alias ``block``) waits for puts
        through this object until ``limit`` were yielded, ending after ``timeout`` idle seconds (0: never) or close."""
        wait = wait if block is None else bool(block)
        remaining, current = opt.check_range(limit, offset)
        self._bucket.handle()  # ClosedError now, not at the first read
        while (remaining is None or remaining > 0) and not self._bucket.closed:
            total = self.total_count()
            if current >= total:
                if not wait or await self._idle(current, timeout):
                    return
                continue
            want = min(total - current, remaining or _STREAM_READ, _STREAM_READ)  # offsets that exist
            try:
                rows = await self.get(want, current)
            except ClosedError:
                return
            current += want  # by offsets, not by rows read: an offset may hold no row
            for start in range(0, len(rows), STREAM_BATCH):
                chunk = rows[start:start + STREAM_BATCH]
                yield chunk
                remaining = None if remaining is None else remaining - len(chunk)

    # -- state, versions, maintenance, indices -------------------------------------------
    def total_count(self) -> int:
        """Records in the bucket, flushed or not (synchronous, cheap)."""
        return self._bucket.total_count()

    async def stats(self) -> dict[str, Any]:
        """The engine's figures (total_count, persisted_count, buffer_count, version, ...) plus ``buffer_size``
        (pulsing's name), ``pending_count`` (0), ``batch_size``, ``read_only`` (bool) and ``backend``."""
        stats = await self._engine(_native.stats)
        reason = stats.pop("read_only", None)
        stats.update(bucket_id=self.bucket_id, storage_path=self.storage_path,
                     buffer_size=stats.get("buffer_count", 0), pending_count=0, batch_size=self.batch_size,
                     read_only=bool(reason), backend=self.backend_name)
        if reason:
            stats["read_only_reason"] = reason
        return stats

    async def versions(self) -> list[dict[str, Any]]:
        """The committed versions, oldest first: ``{"version", "timestamp" (UTC)}``."""
        return [{"version": int(v["version"]), "timestamp": _parse_timestamp(v["timestamp"])}
                for v in await self._engine(_native.versions)]

    async def compact(self, target_rows: int | None = None) -> dict[str, Any]:
        """Merges small adjacent fragments into ones of up to ``target_rows`` rows (None: Lance's
        default) as one new version; offsets stay. Returns versions and fragments before/after."""
        return await self._engine(_native.compact, 0 if target_rows is None else opt.check_int("target_rows", target_rows))

    async def cleanup_old_versions(self, older_than: timedelta | float = timedelta(days=14)) -> dict[str, Any]:
        """Removes versions older than ``older_than`` (a timedelta or seconds) and
        the files only they use; never the newest. Returns counts."""
        return await self._engine(_native.cleanup_old_versions, opt.check_older_than(older_than))

    async def create_index(self, column: str, kind: str = "BTREE") -> dict[str, Any]:
        """Builds a Lance scalar index ("BTREE": ranges, equality; "BITMAP": equality on few values) on
        top-level field ``column``: a new version covering every record (buffered ones flushed first)."""
        column, kind = opt.check_column(column), opt.check_str("kind", kind)  # the engine checks the kind
        return await self._engine(_native.create_index, column, kind)

    async def indices(self) -> list[dict[str, Any]]:
        """The dataset's indices, as :meth:`create_index` describes them."""
        return await self._engine(_native.indices)

    async def get_where(self, column: str, *, eq: Any = opt.UNSET, lo: Any = None, hi: Any = None,
                        lo_inclusive: bool = True, hi_inclusive: bool = False, is_null: bool = False,
                        as_arrow: bool = False) -> list[dict[str, Any]] | pa.Table:
        """The records whose top-level field ``column`` satisfies one condition, in append order: ``eq=v``;
        ``lo=``/``hi=`` (a bound left out is open; inclusive low, exclusive high by default); or ``is_null=True``.
        An index of ``column`` answers what it covers; buffered records are flushed first. ``as_arrow``: a Table."""
        column = opt.check_column(column)
        cond = opt.condition(eq, lo, hi, lo_inclusive, hi_inclusive, is_null)
        table = await self._engine(lambda h: _native.lookup(h, column, cond).read_all())
        return table if as_arrow else table_rows(table)

    # -- closing --------------------------------------------------------------------
    def close(self) -> None:
        """Flushes and releases the bucket, ends waiting ``get_stream`` readers. Idempotent; later calls: ClosedError.
        A failed flush raises; without the WAL the backend then stays open with its records: close again later."""
        try:
            self._bucket.close()
        finally:
            if self._bucket.closed:  # else the finalizer tries again at exit
                self._finalizer.detach()
            self._wake()

    async def aclose(self) -> None:
        """``close()`` off the event loop."""
        if not self._bucket.closed:
            await _off_loop(self.close)

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __exit__(self, *exc: Any) -> None:
        self.close()


class LanceBackend(_QueueBackend):
    """A pulsing storage backend: bucket ``bucket_id`` as the Lance dataset ``{storage_path}/data.lance``
    (``storage_path``: a directory, created when missing, or an object-store URL). ``batch_size`` is for
    pulsing (every put goes to the engine at once); ``flush_threshold`` buffered records start a flush (a
    new version); ``**kwargs`` go to the engine, unknown ones (and PersistingBackend's) are logged.
    ``flush()`` makes records durable; ``close()``/``aclose()`` and interpreter exit flush and release."""

    backend_name = "lance"

    def __init__(self, bucket_id: int, storage_path: str | os.PathLike, batch_size: int = 100,
                 flush_threshold: int = 1000, **kwargs: Any):
        self._open(bucket_id, storage_path, batch_size, flush_threshold, kwargs, {"schema_evolution": False},
                   opt.PERSISTING_OPTIONS)


class PersistingBackend(_QueueBackend):
    """LanceBackend plus a write-ahead log, schema evolution and Prometheus metrics.

    Args: those of :class:`LanceBackend` (here ``flush_threshold`` is a keyword) and
        enable_wal: log every record in ``{storage_path}/wal`` before ``put``
            returns; reopening replays what was not flushed, exactly once.
        compression: "zstd", "lz4" or None (default) for the data files.
        enable_metrics: ``stats()["metrics"]``, :meth:`get_metrics`, ``persisting.metrics_text()``.
        wal_sync_interval: seconds; 0 fsyncs before each put returns (off the
            event loop; concurrent puts share an fsync), > 0 in the background.
        max_wal_size: bytes; past half of it a flush empties the WAL; past it puts wait for that flush.
        metrics_address: "host:port" serving ``/metrics`` (port 0: a free one,
            reported by ``stats()``); implies ``enable_metrics``.
        schema_evolution: True (default) adds fields and widens ints to floats.
        compaction_threshold: compact after a flush leaving this many fragments (0: never).
        data_storage_version: "2.0", "2.1" or "2.2" (None: 2.2) for a new dataset.

    The engine checks every option first (``UnstorableError``: TypeError; ``InvalidArgumentError``: ValueError).
    """

    backend_name = "persisting"

    def __init__(self, bucket_id: int, storage_path: str | os.PathLike, batch_size: int = 100,
                 enable_wal: bool = False, compression: str | None = None, enable_metrics: bool = False,
                 wal_sync_interval: float = 1.0, max_wal_size: int = 100 * 1024 * 1024, *,
                 flush_threshold: int = 1000, metrics_address: str | None = None, schema_evolution: bool = True,
                 compaction_threshold: int = 0, data_storage_version: str | None = None, **kwargs: Any):
        engine = {"enable_wal": enable_wal, "wal_sync_interval": wal_sync_interval, "max_wal_size": max_wal_size,
                  "enable_metrics": enable_metrics, "compaction_threshold": compaction_threshold,
                  "schema_evolution": schema_evolution, "compression": compression,
                  "data_storage_version": data_storage_version, "metrics_address": metrics_address}
        stats = self._open(bucket_id, storage_path, batch_size, flush_threshold, kwargs, engine)
        # the options in force, as the engine took them
        self.enable_wal, self.wal_sync_interval = stats["wal_enabled"], float(stats["wal_sync_interval"])
        self.max_wal_size, self.enable_metrics = stats["max_wal_size"], stats["metrics_enabled"]
        self.compaction_threshold = stats["compaction_threshold"]
        self.schema_evolution, self.compression = stats["schema_evolution"], stats["compression"] or None
        self.data_storage_version, self.metrics_address = data_storage_version, metrics_address

    async def stats(self) -> dict[str, Any]:
        """LanceBackend's plus ``wal_enabled``, ``wal_size``, ``compression``, ``schema_evolution``,
        ``compaction_threshold``, ``metrics_address`` and, with metrics on, ``metrics``."""
        stats = await super().stats()
        stats["compression"] = stats.get("compression") or None
        stats["metrics_address"] = stats.get("metrics_address") or None
        if stats.pop("metrics_enabled", False):  # the engine leaves out metrics it does not keep
            stats.setdefault("metrics", {})
        return stats

    def get_metrics(self) -> dict[str, Any]:
        """This bucket's metric values by name ({} when off); never waits for a flush."""
        return _native.bucket_metrics(self._bucket.handle())  # the engine's {} when off


def _pulsing() -> Any:
    """pulsing's queue module; its ``BucketStorage.on_stop`` made to close our backend (flush, release the bucket,
    end waiting streams): else the bucket stayed held and its next actor in this process got BusyError."""
    for module in ("pulsing.streaming", "pulsing.queue"):  # pulsing >= 0.1.1, 0.1.0
        with contextlib.suppress(ImportError):
            pulsing = importlib.import_module(module)
            actor = getattr(storage := getattr(pulsing, "BucketStorage", None), "_cls", storage)  # under @remote
            if (stop := getattr(actor, "on_stop", None)) and not hasattr(stop, "persisting"):
                def on_stop(self: Any, stop: Any = stop) -> None:
                    stop(self)
                    if isinstance(backend := getattr(self, "_backend", None), _QueueBackend):
                        backend._finalizer(), backend._wake()  # close_quietly: logs a failed flush
                actor.on_stop, on_stop.persisting = on_stop, True
            return pulsing
    raise ImportError("persisting.queue.register() needs pulsing installed")


def register(register_backend: Any = None) -> list[str]:
    """Registers the backends with pulsing, by short and class name, in this process (each that may own a bucket)."""
    register_backend = register_backend or _pulsing().register_backend
    backends = {"lance": LanceBackend, "LanceBackend": LanceBackend,
                "persisting": PersistingBackend, "PersistingBackend": PersistingBackend}
    for name, cls in backends.items():
        register_backend(name, cls)
    return list(backends)


with contextlib.suppress(ImportError):  # no pulsing: the backends work on their own
    for _cls in (LanceBackend, PersistingBackend):  # backend=LanceBackend: pulsing looks up "LanceBackend"
        _pulsing().register_backend(_cls.__name__, _cls)
