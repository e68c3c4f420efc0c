"""ctypes binding of ``libpersisting.so`` (the C ABI in ``include/persisting.h``).

Nothing here stores data: every function translates Python values into one C
call and the result back, moving Arrow data through the Arrow C Data Interface
without copying column buffers.

Loading is lazy: the shared library (and with it the Go runtime) is loaded on
the first call that needs it, never at import. That keeps two things safe:

- importing ``persisting`` before ``fork()`` (a Go runtime does not survive a
  fork: the child would hang);
- enabling ``faulthandler`` before the Go runtime installs its signal handlers
  (enabling it afterwards replaces Go's SIGSEGV handler, so a recovered Go panic
  would kill the process).

A call made in a process forked after the library was loaded raises
:class:`~persisting.errors.ForkError` instead of entering Go and hanging.

Where the library comes from (first match wins):

1. the environment variable ``PERSISTING_LIB`` (a path to ``libpersisting.so``),
   read when the library is first loaded - handy to test a fresh ``make lib``;
2. ``libpersisting.so`` bundled inside this package (what a wheel installs);
3. ``build/libpersisting.so`` of the source tree, when the package is used from
   a checkout (``python/persisting`` -> ``../../build``).
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    byref,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any

from .errors import (
    BusyError,
    ClosedError,
    ForkError,
    InvalidArgumentError,
    SchemaError,
    StorageError,
    UnsupportedError,
    WALError,
)

LIBRARY_NAME = "libpersisting.so"
ENV_LIBRARY = "PERSISTING_LIB"

# ---- status codes (include/persisting.h) -----------------------------------
OK = 0
EINVALID_ARGUMENT = 1
EINVALID_HANDLE = 2
ESCHEMA = 3
EIO = 4
ECORRUPT = 5
EWAL = 6
EINTERNAL = 7
EUNSUPPORTED = 8
EBUSY = 11

CODE_NAMES = {
    OK: "PERSISTING_OK",
    EINVALID_ARGUMENT: "PERSISTING_EINVALID_ARGUMENT",
    EINVALID_HANDLE: "PERSISTING_EINVALID_HANDLE",
    ESCHEMA: "PERSISTING_ESCHEMA",
    EIO: "PERSISTING_EIO",
    ECORRUPT: "PERSISTING_ECORRUPT",
    EWAL: "PERSISTING_EWAL",
    EINTERNAL: "PERSISTING_EINTERNAL",
    EUNSUPPORTED: "PERSISTING_EUNSUPPORTED",
    EBUSY: "PERSISTING_EBUSY",
}

_ERROR_CLASSES: dict[int, type[StorageError]] = {
    EINVALID_ARGUMENT: InvalidArgumentError,
    EINVALID_HANDLE: ClosedError,
    ESCHEMA: SchemaError,
    EWAL: WALError,
    EUNSUPPORTED: UnsupportedError,
    EBUSY: BusyError,
}


# ---- C structs ----------------------------------------------------------------
class PersistingError(Structure):
    """``struct PersistingError``: filled by a failing call, freed by
    ``persisting_error_release``. ctypes zero-initialises it."""

    _fields_ = [("code", c_int), ("message", c_char_p)]


class ArrowSchema(Structure):
    pass


class ArrowArray(Structure):
    pass


class ArrowArrayStream(Structure):
    pass


ArrowSchema._fields_ = [
    ("format", c_char_p),
    ("name", c_char_p),
    ("metadata", c_void_p),
    ("flags", c_int64),
    ("n_children", c_int64),
    ("children", POINTER(POINTER(ArrowSchema))),
    ("dictionary", POINTER(ArrowSchema)),
    ("release", CFUNCTYPE(None, POINTER(ArrowSchema))),
    ("private_data", c_void_p),
]

ArrowArray._fields_ = [
    ("length", c_int64),
    ("null_count", c_int64),
    ("offset", c_int64),
    ("n_buffers", c_int64),
    ("n_children", c_int64),
    ("buffers", POINTER(c_void_p)),
    ("children", POINTER(POINTER(ArrowArray))),
    ("dictionary", POINTER(ArrowArray)),
    ("release", CFUNCTYPE(None, POINTER(ArrowArray))),
    ("private_data", c_void_p),
]

ArrowArrayStream._fields_ = [
    ("get_schema", CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowSchema))),
    ("get_next", CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowArray))),
    ("get_last_error", CFUNCTYPE(c_char_p, POINTER(ArrowArrayStream))),
    ("release", CFUNCTYPE(None, POINTER(ArrowArrayStream))),
    ("private_data", c_void_p),
]

# Every exported function: name -> (restype, argtypes). Struct pointers are
# passed as plain addresses (c_void_p) so both ctypes structs and the pointers
# held by Arrow PyCapsules can be handed over without casts.
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "persisting_error_release": (None, [POINTER(PersistingError)]),
    "persisting_string_free": (None, [c_void_p]),
    "persisting_version": (c_char_p, []),
    "persisting_open": (c_int, [c_char_p, c_char_p, POINTER(c_uint64), POINTER(PersistingError)]),
    "persisting_close": (c_int, [c_uint64, POINTER(PersistingError)]),
    "persisting_append": (c_int, [c_uint64, c_void_p, c_void_p, POINTER(PersistingError)]),
    "persisting_append_stream": (c_int, [c_uint64, c_void_p, POINTER(PersistingError)]),
    "persisting_read": (c_int, [c_uint64, c_int64, c_int64, c_void_p, POINTER(PersistingError)]),
    "persisting_schema": (c_int, [c_uint64, c_void_p, POINTER(PersistingError)]),
    "persisting_flush": (c_int, [c_uint64, POINTER(PersistingError)]),
    "persisting_count": (
        c_int,
        [c_uint64, POINTER(c_int64), POINTER(c_int64), POINTER(c_int64), POINTER(PersistingError)],
    ),
    "persisting_stats": (c_int, [c_uint64, POINTER(c_void_p), POINTER(PersistingError)]),
    "persisting_metrics_text": (c_int, [POINTER(c_void_p), POINTER(PersistingError)]),
    "persisting_compact": (c_int, [c_uint64, c_int64, POINTER(c_void_p), POINTER(PersistingError)]),
    "persisting_cleanup_old_versions": (
        c_int,
        [c_uint64, c_double, POINTER(c_void_p), POINTER(PersistingError)],
    ),
    "persisting_versions": (c_int, [c_uint64, POINTER(c_void_p), POINTER(PersistingError)]),
    "persisting_read_version": (
        c_int,
        [c_uint64, c_uint64, c_int64, c_int64, c_void_p, POINTER(PersistingError)],
    ),
    "persisting_bucket_metrics": (c_int, [c_uint64, POINTER(c_void_p), POINTER(PersistingError)]),
    "persisting_create_index": (
        c_int,
        [c_uint64, c_char_p, c_char_p, POINTER(c_void_p), POINTER(PersistingError)],
    ),
    "persisting_indices": (c_int, [c_uint64, POINTER(c_void_p), POINTER(PersistingError)]),
    "persisting_lookup": (c_int, [c_uint64, c_char_p, c_char_p, c_void_p, POINTER(PersistingError)]),
    "persisting_append_records": (
        c_int,
        [c_uint64, c_char_p, c_size_t, POINTER(PersistingError)],
    ),
}

#: the same functions bound a second time, without ``argtypes``, under a name of
#: their own (alias -> (symbol, restype)): see :class:`RecordsCall`
_UNCHECKED: dict[str, tuple[str, Any]] = {
    "persisting_append_records_unchecked": ("persisting_append_records", c_int),
}

# ---- loading ------------------------------------------------------------------
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_path: str | None = None
_load_pid: int | None = None
#: set in a child forked after the library was loaded (os.register_at_fork), so
#: the per-record call can refuse without a getpid() each time
_forked = False


def _after_fork_in_child() -> None:
    global _forked
    if _lib is not None:
        _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def library_path() -> str:
    """The path of the library that is (or would be) loaded."""
    if _lib_path is not None:
        return _lib_path
    env = os.environ.get(ENV_LIBRARY)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise StorageError(f"{ENV_LIBRARY}={env!r} does not name an existing file")
        return str(path.resolve())
    here = Path(__file__).resolve().parent
    bundled = here / LIBRARY_NAME
    if bundled.is_file():
        return str(bundled)
    checkout = here.parent.parent / "build" / LIBRARY_NAME
    if checkout.is_file():
        return str(checkout)
    raise StorageError(
        f"{LIBRARY_NAME} not found: it is neither bundled in {here} nor built at {checkout}; "
        f"install the package with `pip install ./python` (needs Go), build it with `make lib`, "
        f"or set {ENV_LIBRARY}=/path/to/{LIBRARY_NAME}"
    )


def _check_process() -> None:
    if _load_pid is not None and os.getpid() != _load_pid:
        raise ForkError(
            f"{LIBRARY_NAME} was loaded in process {_load_pid}; this process ({os.getpid()}) "
            "was forked from it, and the Go runtime does not survive fork(). Start helper "
            "processes with multiprocessing's 'spawn' or 'forkserver' context, or load "
            "persisting only in the child."
        )


def lib() -> ctypes.CDLL:
    """The loaded library; loads it on first use."""
    global _lib, _lib_path, _load_pid
    if _lib is not None:
        _check_process()
        return _lib
    with _lock:
        if _lib is None:
            path = library_path()
            try:
                handle = ctypes.CDLL(path)
            except OSError as exc:
                raise StorageError(f"cannot load {path}: {exc}") from exc
            for name, (restype, argtypes) in _SIGNATURES.items():
                try:
                    fn = getattr(handle, name)
                except AttributeError as exc:
                    raise StorageError(
                        f"{path} does not export {name}: library and package are out of sync"
                    ) from exc
                fn.restype = restype
                fn.argtypes = argtypes
            for alias, (name, restype) in _UNCHECKED.items():
                fn = handle[name]  # a second function pointer: its argtypes stay None
                fn.restype = restype
                setattr(handle, alias, fn)
            _lib_path, _load_pid, _lib = path, os.getpid(), handle
    _check_process()
    return _lib


def is_loaded() -> bool:
    return _lib is not None


def loaded_in_this_process() -> bool:
    """True when the library was loaded by this very process (not a fork parent)."""
    return _lib is not None and _load_pid == os.getpid()


def version() -> str:
    """Version string of the loaded library."""
    raw = lib().persisting_version()
    return raw.decode("utf-8", "replace") if raw else ""


# ---- errors -------------------------------------------------------------------
def error_class(code: int) -> type[StorageError]:
    return _ERROR_CLASSES.get(code, StorageError)


def _raise(rc: int, err: PersistingError, what: str) -> None:
    """Turns a failed call into an exception; always releases ``err``."""
    try:
        code = err.code or rc
        message = err.message.decode("utf-8", "replace") if err.message else ""
    finally:
        _lib.persisting_error_release(byref(err))
    name = CODE_NAMES.get(code, f"status {code}")
    text = f"{what}: {message}" if message else f"{what} failed ({name})"
    raise error_class(code)(text, code=code)


def _call(what: str, fn_name: str, *args: Any) -> None:
    handle = lib()
    err = PersistingError()
    rc = getattr(handle, fn_name)(*args, byref(err))
    if rc != OK:
        _raise(rc, err, what)


# ---- capsules -------------------------------------------------------------------
_capsule_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_get_pointer.restype = c_void_p
_capsule_get_pointer.argtypes = [ctypes.py_object, c_char_p]


def _capsule_pointer(capsule: Any, name: bytes) -> int:
    ptr = _capsule_get_pointer(capsule, name)
    if not ptr:
        raise TypeError(f"expected a PyCapsule named {name.decode()!r}")
    return ptr


# ---- bucket calls ---------------------------------------------------------------
def open_bucket(path: str, options: dict[str, Any] | None = None) -> int:
    """``persisting_open``: opens (or creates) the bucket at ``path``; returns its handle."""
    opts = json.dumps(options).encode() if options else None
    out = c_uint64(0)
    _call(f"open {path!r}", "persisting_open", os.fsencode(path), opts, byref(out))
    if not out.value:
        raise StorageError(f"open {path!r}: the library returned a null handle", code=EINTERNAL)
    return out.value


def close_bucket(handle: int) -> None:
    """``persisting_close``: flushes and frees the handle (freed even on error)."""
    _call("close", "persisting_close", c_uint64(handle))


def flush(handle: int) -> None:
    """``persisting_flush``: buffered rows become a new Lance version."""
    _call("flush", "persisting_flush", c_uint64(handle))


def count(handle: int) -> tuple[int, int, int]:
    """``persisting_count``: (total, persisted, buffered)."""
    total, persisted, buffered = c_int64(0), c_int64(0), c_int64(0)
    _call("count", "persisting_count", c_uint64(handle), byref(total), byref(persisted), byref(buffered))
    return total.value, persisted.value, buffered.value


def _take_string(out: c_void_p) -> str | None:
    """The text of a string the library returned in ``out``; frees it."""
    if not out.value:
        return None
    try:
        return ctypes.string_at(out.value).decode("utf-8")
    finally:
        _lib.persisting_string_free(out)


def _json_call(what: str, fn_name: str, *args: Any) -> Any:
    """Calls a function whose last argument before the error is ``char** out_json``."""
    out = c_void_p(None)
    _call(what, fn_name, *args, byref(out))
    text = _take_string(out)
    return json.loads(text) if text else None


def stats(handle: int) -> dict[str, Any]:
    """``persisting_stats``: the engine's stats as a dict."""
    return _json_call("stats", "persisting_stats", c_uint64(handle)) or {}


def bucket_metrics(handle: int) -> dict[str, Any]:
    """``persisting_bucket_metrics``: this bucket's metric values by name ({}
    without metrics). Does not wait for a running flush."""
    return _json_call("bucket_metrics", "persisting_bucket_metrics", c_uint64(handle)) or {}


def metrics_text() -> str:
    """``persisting_metrics_text``: the metrics of every bucket opened with
    metrics on, in the Prometheus text exposition format."""
    out = c_void_p(None)
    _call("metrics_text", "persisting_metrics_text", byref(out))
    return _take_string(out) or ""


def compact(handle: int, target_rows: int = 0) -> dict[str, Any]:
    """``persisting_compact``: merges small fragments (0: Lance's default size);
    returns version_before, version, fragments_before, fragments."""
    return _json_call("compact", "persisting_compact", c_uint64(handle), c_int64(target_rows)) or {}


def cleanup_old_versions(handle: int, older_than_seconds: float) -> dict[str, Any]:
    """``persisting_cleanup_old_versions``: removes versions older than that
    (never the newest); returns counts of what was removed."""
    return _json_call("cleanup_old_versions", "persisting_cleanup_old_versions", c_uint64(handle),
                      c_double(older_than_seconds)) or {}


def versions(handle: int) -> list[dict[str, Any]]:
    """``persisting_versions``: [{"version": int, "timestamp": RFC 3339 str}],
    oldest first."""
    return _json_call("versions", "persisting_versions", c_uint64(handle)) or []


def create_index(handle: int, column: str, kind: str) -> dict[str, Any]:
    """``persisting_create_index``: a scalar index ("BTREE" or "BITMAP") on a
    top-level column, as a new version (buffered rows are flushed first)."""
    return _json_call(f"create index on {column!r}", "persisting_create_index", c_uint64(handle),
                      column.encode("utf-8"), kind.encode("utf-8")) or {}


def indices(handle: int) -> list[dict[str, Any]]:
    """``persisting_indices``: the dataset's indices."""
    return _json_call("indices", "persisting_indices", c_uint64(handle)) or []


def lookup(handle: int, column: str, cond: dict[str, Any]) -> Any:
    """``persisting_lookup``: rows whose ``column`` satisfies ``cond`` (see the
    header) as a ``pyarrow.RecordBatchReader`` (buffered rows are flushed first)."""
    stream = ArrowArrayStream()
    _call(f"lookup on {column!r}", "persisting_lookup", c_uint64(handle), column.encode("utf-8"),
          json.dumps(cond).encode("utf-8"), c_void_p(ctypes.addressof(stream)))
    return _import_stream(stream)


def _import_stream(stream: ArrowArrayStream) -> Any:
    import pyarrow as pa

    try:
        return pa.RecordBatchReader._import_from_c(ctypes.addressof(stream))
    finally:
        if stream.release:  # import failed: the stream is still ours
            stream.release(byref(stream))


def append(handle: int, batch: Any) -> None:
    """``persisting_append`` of one record batch, zero-copy.

    ``batch`` is anything with ``__arrow_c_array__`` returning a struct array
    (a ``pyarrow.RecordBatch``, a nanoarrow/polars/arrow-rs batch). The capsules
    own the C structs: the library moves the array out of its capsule, the
    schema capsule releases the borrowed schema when it is collected, so no
    exception can leak either.
    """
    schema_capsule, array_capsule = batch.__arrow_c_array__()
    schema_ptr = _capsule_pointer(schema_capsule, b"arrow_schema")
    array_ptr = _capsule_pointer(array_capsule, b"arrow_array")
    try:
        _call("append", "persisting_append", c_uint64(handle), c_void_p(schema_ptr), c_void_p(array_ptr))
    finally:
        # The library always moves the array; if a buggy build did not, the
        # capsule's destructor still releases it. Keep both alive until here.
        del schema_capsule, array_capsule


def append_stream(handle: int, data: Any) -> None:
    """``persisting_append_stream``: every batch of ``data`` as one unit (all or
    none), zero-copy. ``data`` has ``__arrow_c_stream__`` (a
    ``pyarrow.RecordBatchReader`` or ``Table``, a polars frame, ...). The library
    moves the stream out of its capsule; the capsule frees the empty shell."""
    capsule = data.__arrow_c_stream__()
    stream_ptr = _capsule_pointer(capsule, b"arrow_array_stream")
    try:
        _call("append", "persisting_append_stream", c_uint64(handle), c_void_p(stream_ptr))
    finally:
        del capsule


def append_records(handle: int, data: bytes) -> None:
    """``persisting_append_records``: ``data`` is ``marshal.dumps(record or
    list of records, 4)``. The engine checks every record strictly against the
    bucket's schema, logs them in the WAL (fsynced before returning only when
    ``wal_sync_interval`` is 0) and buffers them; it never flushes here. Raises
    :class:`SchemaError` (code ``ESCHEMA``) - having appended nothing - when a
    record does not fit the schema exactly, the bucket has no schema yet or a
    value is of a kind it does not decode: the caller then takes the Arrow path,
    which evolves the schema or names the precise error.

    The per-record hot path: one ctypes call, no other work (the error struct
    is the calling thread's, reused: a failure releases it, which zeroes it)."""
    handle_ = _lib if _lib is not None and not _forked else lib()
    try:
        err, ref = _errors.pair
    except AttributeError:
        err = PersistingError()
        err, ref = _errors.pair = (err, byref(err))
    rc = handle_.persisting_append_records(handle, data, len(data), ref)
    if rc != OK:
        _raise(rc, err, "append")


#: per thread: a PersistingError and a pointer to it, for append_records
_errors = threading.local()

#: the largest payload RecordsCall passes (its length goes as a C int, see there)
_RECORDS_CALL_MAX = 0x7FFFFFFF


class RecordsCall:
    """``persisting_append_records`` on one bucket for a caller that makes
    the calls one at a time (the bucket's engine lock held): the per-record
    hot path of a put with the WAL.

    ctypes converts every argument through ``argtypes`` (a ``from_param`` per
    argument, a new ``c_uint64`` for the handle ...), which costs about as
    much as the call into the library itself (~0.4 us of a ~0.9 us call).
    This one calls ``persisting_append_records_unchecked`` (the same symbol
    without ``argtypes``) with arguments ctypes passes as they are: the handle
    as a ``c_uint64`` made once, the payload as ``bytes`` (a pointer to its
    data), the error struct by a pointer made once (one struct per bucket:
    calls never overlap). The length goes as a Python int, which ctypes
    passes as a C int and libffi widens (sign-extends) to the full register
    of the ``size_t`` parameter on the 64-bit ABIs the library is built for;
    so only payloads below 2**31 bytes take this call, larger ones
    :func:`append_records`."""

    __slots__ = ("_raw", "_handle", "_err", "_ref")

    def __init__(self, handle: int) -> None:
        lib()
        self._raw = handle
        self._handle = c_uint64(handle)
        self._err = PersistingError()
        self._ref = byref(self._err)

    def __call__(self, data: bytes) -> None:
        """As :func:`append_records` (same errors); ForkError in a forked child."""
        if _forked:
            lib()
        n = len(data)
        if n > _RECORDS_CALL_MAX:
            append_records(self._raw, data)
            return
        rc = _lib.persisting_append_records_unchecked(self._handle, data, n, self._ref)
        if rc != OK:
            _raise(rc, self._err, "append")


def read(handle: int, offset: int, limit: int) -> Any:
    """``persisting_read``: rows [offset, offset+limit) (limit < 0: to the end)
    as a ``pyarrow.RecordBatchReader`` over the library's stream (zero-copy)."""
    stream = ArrowArrayStream()
    _call("read", "persisting_read", c_uint64(handle), c_int64(offset), c_int64(limit), c_void_p(ctypes.addressof(stream)))
    return _import_stream(stream)


def read_version(handle: int, version: int, offset: int, limit: int) -> Any:
    """``persisting_read_version``: like :func:`read`, on committed dataset
    version ``version`` (time travel; buffered rows belong to no version)."""
    stream = ArrowArrayStream()
    _call(f"read version {version}", "persisting_read_version", c_uint64(handle), c_uint64(version),
          c_int64(offset), c_int64(limit), c_void_p(ctypes.addressof(stream)))
    return _import_stream(stream)


def schema(handle: int) -> Any:
    """``persisting_schema`` as a ``pyarrow.Schema``, or None before the first append."""
    import pyarrow as pa

    out = ArrowSchema()
    lib_ = lib()
    err = PersistingError()
    rc = lib_.persisting_schema(c_uint64(handle), c_void_p(ctypes.addressof(out)), byref(err))
    if rc == ESCHEMA:
        lib_.persisting_error_release(byref(err))
        return None
    if rc != OK:
        _raise(rc, err, "schema")
    try:
        return pa.Schema._import_from_c(ctypes.addressof(out))
    finally:
        if out.release:
            out.release(byref(out))


__all__ = [
    "ArrowArray",
    "ArrowArrayStream",
    "ArrowSchema",
    "PersistingError",
    "append",
    "append_records",
    "append_stream",
    "bucket_metrics",
    "cleanup_old_versions",
    "close_bucket",
    "compact",
    "count",
    "create_index",
    "flush",
    "indices",
    "is_loaded",
    "lib",
    "library_path",
    "lookup",
    "metrics_text",
    "open_bucket",
    "read",
    "read_version",
    "schema",
    "stats",
    "version",
    "versions",
]

