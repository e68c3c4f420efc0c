"""ctypes binding of ``libpersisting.so`` (the C ABI in ``include/persisting.h``).

Every function translates Python values into one C call and the result back;
Arrow data moves through the Arrow C Data Interface without copying buffers.
The library (and the Go runtime) is loaded on the first call, never at import,
so importing before ``fork()`` or enabling ``faulthandler`` is safe. A call in
a process forked after the library was loaded raises
:class:`~persisting.errors.ForkError` instead of entering Go and hanging.

The library is, first match wins: ``$PERSISTING_LIB``; ``libpersisting.so``
bundled in this package (a wheel); ``build/libpersisting.so`` of a checkout.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint64, c_void_p
from pathlib import Path
from typing import Any

from .errors import (BusyError, ClosedError, FlushError, ForkError, InvalidArgumentError, SchemaError,
                     StorageError, UnstorableError, UnsupportedError, WALError)

LIBRARY_NAME = "libpersisting.so"
ENV_LIBRARY = "PERSISTING_LIB"

# ---- status codes (include/persisting.h) -----------------------------------
(OK, EINVALID_ARGUMENT, EINVALID_HANDLE, ESCHEMA, EIO, ECORRUPT, EWAL, EINTERNAL, EUNSUPPORTED,
 ETYPE, ENOT_FLUSHED, EBUSY) = range(12)
CODE_NAMES = {code: "PERSISTING_" + name for code, name in enumerate(
    "OK EINVALID_ARGUMENT EINVALID_HANDLE ESCHEMA EIO ECORRUPT EWAL EINTERNAL EUNSUPPORTED "
    "ETYPE ENOT_FLUSHED EBUSY".split())}

_ERROR_CLASSES: dict[int, type[StorageError]] = {
    EINVALID_ARGUMENT: InvalidArgumentError,
    EINVALID_HANDLE: ClosedError,
    ESCHEMA: SchemaError,
    EWAL: WALError,
    EUNSUPPORTED: UnsupportedError,
    ETYPE: UnstorableError,
    ENOT_FLUSHED: FlushError,
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


_release = lambda t: ("release", CFUNCTYPE(None, POINTER(t)))  # noqa: E731
ArrowSchema._fields_ = [
    ("format", c_char_p), ("name", c_char_p), ("metadata", c_void_p), ("flags", c_int64),
    ("n_children", c_int64), ("children", POINTER(POINTER(ArrowSchema))),
    ("dictionary", POINTER(ArrowSchema)), _release(ArrowSchema), ("private_data", c_void_p)]
ArrowArray._fields_ = [
    ("length", c_int64), ("null_count", c_int64), ("offset", c_int64), ("n_buffers", c_int64),
    ("n_children", c_int64), ("buffers", POINTER(c_void_p)),
    ("children", POINTER(POINTER(ArrowArray))), ("dictionary", POINTER(ArrowArray)),
    _release(ArrowArray), ("private_data", c_void_p)]
ArrowArrayStream._fields_ = [
    ("get_schema", CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowSchema))),
    ("get_next", CFUNCTYPE(c_int, POINTER(ArrowArrayStream), POINTER(ArrowArray))),
    ("get_last_error", CFUNCTYPE(c_char_p, POINTER(ArrowArrayStream))),
    _release(ArrowArrayStream), ("private_data", c_void_p)]

# Every exported function: name -> (restype, argtypes). Struct pointers are
# passed as plain addresses (c_void_p) so both ctypes structs and the pointers
# held by Arrow PyCapsules can be handed over without casts.
_E = POINTER(PersistingError)
_OUT = POINTER(c_void_p)  # char** out_json
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "persisting_error_release": (None, [_E]),
    "persisting_string_free": (None, [c_void_p]),
    "persisting_version": (c_char_p, []),
    "persisting_open": (c_int, [c_char_p, c_char_p, POINTER(c_uint64), _E]),
    "persisting_close": (c_int, [c_uint64, _E]),
    "persisting_append": (c_int, [c_uint64, c_void_p, c_void_p, _E]),
    "persisting_append_stream": (c_int, [c_uint64, c_void_p, _E]),
    "persisting_append_records": (c_int, [c_uint64, c_char_p, c_size_t, _E]),
    "persisting_read": (c_int, [c_uint64, c_int64, c_int64, c_void_p, _E]),
    "persisting_schema": (c_int, [c_uint64, c_void_p, _E]),
    "persisting_flush": (c_int, [c_uint64, _E]),
    "persisting_count": (c_int, [c_uint64] + [POINTER(c_int64)] * 3 + [_E]),
    "persisting_stats": (c_int, [c_uint64, _OUT, _E]),
    "persisting_metrics_text": (c_int, [_OUT, _E]),
    "persisting_compact": (c_int, [c_uint64, c_int64, _OUT, _E]),
    "persisting_cleanup_old_versions": (c_int, [c_uint64, c_double, _OUT, _E]),
    "persisting_versions": (c_int, [c_uint64, _OUT, _E]),
    "persisting_read_version": (c_int, [c_uint64, c_uint64, c_int64, c_int64, c_void_p, _E]),
    "persisting_bucket_metrics": (c_int, [c_uint64, _OUT, _E]),
    "persisting_create_index": (c_int, [c_uint64, c_char_p, c_char_p, _OUT, _E]),
    "persisting_indices": (c_int, [c_uint64, _OUT, _E]),
    "persisting_lookup": (c_int, [c_uint64, c_char_p, c_char_p, c_void_p, _E]),
}

# ---- loading ------------------------------------------------------------------
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_path: str | None = None
_load_pid: int | None = None
#: set in a child forked after the library was loaded: the record call checks it
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
    """``persisting_bucket_metrics``: metric values by name ({} without metrics)."""
    return _json_call("bucket_metrics", "persisting_bucket_metrics", c_uint64(handle)) or {}


def metrics_text() -> str:
    """``persisting_metrics_text``: every bucket's metrics, Prometheus text format."""
    out = c_void_p(None)
    _call("metrics_text", "persisting_metrics_text", byref(out))
    return _take_string(out) or ""


def compact(handle: int, target_rows: int = 0) -> dict[str, Any]:
    """``persisting_compact`` (target_rows 0: Lance's default size)."""
    return _json_call("compact", "persisting_compact", c_uint64(handle), c_int64(target_rows)) or {}


def cleanup_old_versions(handle: int, older_than_seconds: float) -> dict[str, Any]:
    """``persisting_cleanup_old_versions``: counts of what was removed."""
    return _json_call("cleanup_old_versions", "persisting_cleanup_old_versions", c_uint64(handle),
                      c_double(older_than_seconds)) or {}


def versions(handle: int) -> list[dict[str, Any]]:
    """``persisting_versions``: [{"version", "timestamp" (RFC 3339)}], oldest first."""
    return _json_call("versions", "persisting_versions", c_uint64(handle)) or []


def create_index(handle: int, column: str, kind: str) -> dict[str, Any]:
    """``persisting_create_index``: "BTREE" or "BITMAP" on a top-level column."""
    return _json_call(f"create index on {column!r}", "persisting_create_index", c_uint64(handle),
                      column.encode("utf-8"), kind.encode("utf-8")) or {}


def indices(handle: int) -> list[dict[str, Any]]:
    """``persisting_indices``: the dataset's indices."""
    return _json_call("indices", "persisting_indices", c_uint64(handle)) or []


def lookup(handle: int, column: str, cond: dict[str, Any]) -> Any:
    """``persisting_lookup``: rows whose ``column`` satisfies ``cond`` (see the
    header) as a ``pyarrow.RecordBatchReader``."""
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
    """``persisting_append`` of one batch (anything with ``__arrow_c_array__``),
    zero-copy; the library moves the array out of its capsule."""
    schema_capsule, array_capsule = batch.__arrow_c_array__()
    schema_ptr = _capsule_pointer(schema_capsule, b"arrow_schema")
    array_ptr = _capsule_pointer(array_capsule, b"arrow_array")
    _call("append", "persisting_append", c_uint64(handle), c_void_p(schema_ptr), c_void_p(array_ptr))
    del schema_capsule, array_capsule  # alive until here: their destructors release what is left


def append_stream(handle: int, data: Any) -> None:
    """``persisting_append_stream``: every batch of ``data`` (anything with
    ``__arrow_c_stream__``) as one unit, all or none, zero-copy."""
    capsule = data.__arrow_c_stream__()
    stream_ptr = _capsule_pointer(capsule, b"arrow_array_stream")
    _call("append", "persisting_append_stream", c_uint64(handle), c_void_p(stream_ptr))
    del capsule


def append_records(handle: int, data: bytes) -> None:
    """``persisting_append_records`` of a list of records in the record
    encoding v1 (``persisting._encode``): one C call, with the calling
    thread's error struct (releasing it zeroes it)."""
    if _forked or _lib is None:
        lib()
    try:
        err, ref = _errors.pair
    except AttributeError:
        err = PersistingError()
        err, ref = _errors.pair = (err, byref(err))
    rc = _lib.persisting_append_records(handle, data, len(data), ref)
    if rc != OK:
        _raise(rc, err, "append")


#: per thread: a PersistingError and a pointer to it, for append_records
_errors = threading.local()


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


