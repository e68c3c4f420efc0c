"""ctypes binding of ``libpersisting.so`` (``include/persisting.h``): one table of
C signatures, one generic call path; the put path's call goes through the compiled
``_put`` (``_put.c``) instead. The library loads on the first call (never at import):
``$PERSISTING_LIB``, else the one in this package (a wheel), else ``build/`` of a
checkout. After ``fork()`` every call raises ``ForkError``.
"""

from __future__ import annotations

import array
import ctypes
import json
import os
import sys
import threading
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint64, c_void_p
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from . import _version  # read at load: tests set another version first
from .errors import (BusyError, ClosedError, FlushError, ForkError, InvalidArgumentError, SchemaError,
                     StorageError, UnstorableError, UnsupportedError, WALError)

LIBRARY_NAME = "libpersisting.so"
ENV_LIBRARY = "PERSISTING_LIB"

# status codes (include/persisting.h) and the exception class of each
_CODES = "OK EINVALID_ARGUMENT EINVALID_HANDLE ESCHEMA EIO ECORRUPT EWAL EINTERNAL EUNSUPPORTED ETYPE ENOT_FLUSHED EBUSY"
(OK, EINVALID_ARGUMENT, EINVALID_HANDLE, ESCHEMA, EIO, ECORRUPT, EWAL, EINTERNAL, EUNSUPPORTED,
 ETYPE, ENOT_FLUSHED, EBUSY) = range(12)
CODE_NAMES = {code: "PERSISTING_" + name for code, name in enumerate(_CODES.split())}
_ERROR_CLASSES: dict[int, type[StorageError]] = {
    EINVALID_ARGUMENT: InvalidArgumentError, EINVALID_HANDLE: ClosedError, ESCHEMA: SchemaError,
    EWAL: WALError, EUNSUPPORTED: UnsupportedError, ETYPE: UnstorableError, ENOT_FLUSHED: FlushError,
    EBUSY: BusyError}


class PersistingError(Structure):
    """``struct PersistingError``, filled by a failing call; ctypes zeroes it."""

    _fields_ = [("code", c_int), ("message", c_char_p)]


# The Arrow C structs are only allocated here and handed to pyarrow, which
# moves them out; what it did not take is released through its callback.
_ARROW_STRUCTS = {"schema": (72, 56), "stream": (40, 24)}  # (size, offset of release) on 64-bit


def _arrow_import(kind: str, fill: Any, load: Any) -> Any:
    """Allocates a ``struct Arrow<kind>``, ``fill(address)`` fills it and
    ``load(address)`` imports it; released if the import did not take it."""
    size, release_at = _ARROW_STRUCTS[kind]
    struct = ctypes.create_string_buffer(size)
    fill(ctypes.addressof(struct))
    try:
        return load(ctypes.addressof(struct))
    finally:
        if release := c_void_p.from_buffer(struct, release_at).value:
            CFUNCTYPE(None, c_void_p)(release)(ctypes.addressof(struct))


# Every exported function: name -> (restype, argtypes), set once at load.
# Struct pointers are plain addresses (c_void_p): ctypes structs and Arrow
# PyCapsules' pointers go in without casts.
_E = c_void_p  # struct PersistingError*: an address too (the cheapest argument to convert)
_OUT = POINTER(c_void_p)  # char** out_json
_H = c_uint64  # a bucket handle
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "persisting_error_release": (None, [_E]),
    "persisting_string_free": (None, [c_void_p]),
    "persisting_version": (c_char_p, []),
    "persisting_open": (c_int, [c_char_p, c_char_p, POINTER(c_uint64), _E]),
    "persisting_close": (c_int, [_H, _E]),
    "persisting_append": (c_int, [_H, c_void_p, c_void_p, c_void_p, _E]),  # int64_t* first_offset: NULL
    "persisting_append_stream": (c_int, [_H, c_void_p, POINTER(c_int64), _E]),
    "persisting_append_records": (c_int, [_H, c_char_p, c_size_t, POINTER(c_int64), _E]),
    "persisting_read": (c_int, [_H, c_int64, c_int64, c_void_p, _E]),
    "persisting_schema": (c_int, [_H, c_void_p, _E]),
    "persisting_flush": (c_int, [_H, _E]),
    "persisting_count": (c_int, [_H] + [POINTER(c_int64)] * 3 + [_E]),
    "persisting_stats": (c_int, [_H, _OUT, _E]),
    "persisting_metrics_text": (c_int, [_OUT, _E]),
    "persisting_compact": (c_int, [_H, c_int64, _OUT, _E]),
    "persisting_cleanup_old_versions": (c_int, [_H, c_double, _OUT, _E]),
    "persisting_versions": (c_int, [_H, _OUT, _E]),
    "persisting_read_version": (c_int, [_H, c_uint64, c_int64, c_int64, c_void_p, _E]),
    "persisting_bucket_metrics": (c_int, [_H, _OUT, _E]),
    "persisting_create_index": (c_int, [_H, c_char_p, c_char_p, _OUT, _E]),
    "persisting_indices": (c_int, [_H, _OUT, _E]),
    "persisting_lookup": (c_int, [_H, c_char_p, c_char_p, c_void_p, _E]),
    "persisting_consumption_take": (c_int, [_H, c_char_p, c_char_p, c_int64, _OUT, _E]),
    "persisting_consumption_ready": (c_int, [_H, c_char_p, c_char_p, _OUT, _E]),
    "persisting_consumption_mark": (c_int, [_H, c_char_p, c_void_p, c_int64, _E]),
    "persisting_consumption_reset": (c_int, [_H, c_char_p, _E]),
    "persisting_clear": (c_int, [_H, c_void_p, c_int64, _E]),
    "persisting_live_indexes": (c_int, [_H, c_void_p, c_int64, _OUT, _E]),
    "persisting_check_fields": (c_int, [_H, c_char_p, _E]),
    "persisting_inspect": (c_int, [c_char_p, c_char_p, _OUT, _E]),
    "persisting_verify": (c_int, [c_char_p, _OUT, _E]),
}

# count converts its own arguments to ctypes values (ctypes' per-argument from_param is
# a good part of a microsecond call); append_records is called by _put.c, not ctypes.
_SELF_CONVERTED = frozenset({"persisting_append_records", "persisting_count"})

# ---- loading ------------------------------------------------------------------
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_lib_path: str | None = None
_load_pid: int | None = None
_calls = threading.local()  # per thread: the C structs the per-call path reuses; none in a forked child


os.register_at_fork(after_in_child=lambda: globals().update(_calls=threading.local()))


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
    for candidate in (here / LIBRARY_NAME, here.parent.parent / "build" / LIBRARY_NAME):
        if candidate.is_file():
            return str(candidate)
    raise StorageError(
        f"{LIBRARY_NAME} not found: it is neither bundled in {here} nor built at "
        f"{here.parent.parent / 'build'}; install the package with `pip install ./python` (needs Go), "
        f"build it with `make lib`, or set {ENV_LIBRARY}=/path/to/{LIBRARY_NAME}")


def lib() -> ctypes.CDLL:
    """The loaded library; loads it on first use."""
    global _lib, _lib_path, _load_pid
    if _lib is None:
        with _lock:
            if _lib is None:
                path = library_path()
                try:
                    handle = ctypes.CDLL(path)
                except OSError as exc:
                    raise StorageError(f"cannot load {path}: {exc}") from exc
                for name, (restype, argtypes) in _SIGNATURES.items():
                    fn = getattr(handle, name, None)
                    if fn is None:
                        raise StorageError(f"{path} does not export {name}: library and package are out of sync")
                    fn.restype, fn.argtypes = restype, None if name in _SELF_CONVERTED else argtypes
                _check_version(handle, path)
                try:
                    from . import _encode, _put
                except ImportError as exc:
                    raise StorageError(f"persisting's compiled put call is missing ({exc}): reinstall persisting, or "
                                       "in a checkout run `make lib` (needs Python's headers; Debian: python3-dev)") from exc
                _put.bind(*(ctypes.cast(getattr(handle, name), c_void_p).value for name in  # one library, one Go
                            ("persisting_append_records", "persisting_error_release")),
                          _append_failed, _encode.encode_record, _encode._PLAIN)
                globals().update(append_records=_put.append, put_record=_put.put)
                os.register_at_fork(after_in_child=_put.unbind)
                _lib_path, _load_pid, _lib = path, os.getpid(), handle
    if os.getpid() != _load_pid:
        raise ForkError(
            f"{LIBRARY_NAME} was loaded in process {_load_pid}; this process ({os.getpid()}) was forked "
            "from it, and the Go runtime does not survive fork(). Start helper processes with "
            "multiprocessing's 'spawn' or 'forkserver' context, or load persisting only in the child.")
    return _lib


def _check_version(handle: ctypes.CDLL, path: str) -> None:
    """Refuses a library built from another version than this package."""
    found = (handle.persisting_version() or b"").decode("utf-8", "replace")
    if found != _version.__version__:
        raise StorageError(
            f"{path} is libpersisting {found or '(no version)'}, but this persisting package is "
            f"{_version.__version__}: the library and the package must come from the same build (reinstall "
            f"persisting, rebuild with `make lib`, or point {ENV_LIBRARY} at a matching library)")


def is_loaded() -> bool:
    return _lib is not None


def loaded_in_this_process() -> bool:
    """True when this very process (not a fork parent) loaded the library."""
    return _lib is not None and _load_pid == os.getpid()


def version() -> str:
    """Version of the loaded ``libpersisting.so`` (loads it)."""
    return (lib().persisting_version() or b"").decode("utf-8", "replace")


# ---- the generic call path ---------------------------------------------------------
def error_class(code: int) -> type[StorageError]:
    return _ERROR_CLASSES.get(code, StorageError)


def _raise(rc: int, err: PersistingError, what: str, first: Any = None) -> None:
    """Turns a failed call into its exception (a FlushError's first_offset: ``first``); releases ``err``."""
    try:
        code, message = err.code or rc, err.message
    finally:
        _lib.persisting_error_release(byref(err))
    _fail(code, message, what, getattr(first, "value", None))


def _fail(code: int, message: bytes | None, what: str, first: int | None) -> None:
    text = message.decode("utf-8", "replace") if message else ""
    text = f"{what}: {text}" if text else f"{what} failed ({CODE_NAMES.get(code, f'status {code}')})"
    raise error_class(code)(text, code=code, first_offset=first if code == ENOT_FLUSHED else None)  # C wrote it then


def _append_failed(rc: int, code: int, message: bytes | None, first: int) -> None:
    """What ``_put.c`` calls when ``persisting_append_records`` failed (rc -1: not bound, a forked child)."""
    if rc < 0:
        lib()  # ForkError in a forked child
        raise StorageError("persisting._put is not bound to the library")
    _fail(code, message, "append", first)


def _c_args(c_name: str, args: tuple) -> tuple[list[Any], list[Any]]:
    """``args`` as ``c_name``'s parameters, by its signature: for a ``char*`` a
    str is encoded (as the OS encodes file names), a dict or list is JSON, and
    one left out is NULL; a list of ints for a pointer is an int64 array and
    its length. Also returns what must stay alive during the call."""
    types, out, keep = iter(_SIGNATURES[c_name][1]), [], []
    for value in args:
        kind = next(types)
        if kind is c_char_p and isinstance(value, str):
            value = os.fsencode(value)
        elif kind is c_char_p and isinstance(value, (dict, list)):
            value = json.dumps(value).encode("utf-8")
        elif kind is c_void_p and isinstance(value, list):
            arr = array.array("q", value)
            keep.append(arr)
            out.append(arr.buffer_info()[0] if arr else None)
            next(types)
            value = len(arr)
        out.append(value)
    return out + [None for kind in types if kind is c_char_p], keep


def _call(what: str, c_name: str, *args: Any, first: Any = None) -> None:  # first: an append's out-parameter
    err = PersistingError()
    rc = getattr(lib(), c_name)(*args, byref(err))
    if rc != OK:
        _raise(rc, err, what, first)


def _take_string(out: c_void_p) -> str | None:
    """The text of a string the library returned in ``out``; frees it."""
    if not out.value:
        return None
    try:
        return ctypes.string_at(out.value).decode("utf-8")
    finally:
        _lib.persisting_string_free(out)


def _bind(c_name: str, what: str, result: str = "", empty: Any = None) -> Any:
    """A Python function calling ``c_name`` (errors say ``what``, formatted with
    the arguments); it returns per ``result``: "" nothing, "json" the parsed
    ``char** out`` (``empty`` for NULL), "text" that string, "stream" a
    ``pyarrow.RecordBatchReader`` over the filled ``ArrowArrayStream``."""
    def call(*args: Any) -> Any:
        c_args, keep = _c_args(c_name, args)
        label = what.format(*args)
        if result == "stream":
            import pyarrow as pa

            return _arrow_import("stream", lambda address: _call(label, c_name, *c_args, address),
                                 pa.RecordBatchReader._import_from_c)
        if not result:
            return _call(label, c_name, *c_args)
        out = c_void_p(None)
        _call(label, c_name, *c_args, byref(out))
        text = _take_string(out)
        return text if result == "text" else json.loads(text) if text else empty

    call.__name__ = call.__qualname__ = c_name.removeprefix("persisting_")
    call.__doc__ = f"``{c_name}`` (include/persisting.h)."
    return call


# ---- the calls (include/persisting.h says what each does) ------------------------------
close_bucket = _bind("persisting_close", "close")  # flushes; on error frees the handle if a WAL holds the rows
flush = _bind("persisting_flush", "flush")
stats = _bind("persisting_stats", "stats", "json", {})
bucket_metrics = _bind("persisting_bucket_metrics", "bucket_metrics", "json", {})
metrics_text = _bind("persisting_metrics_text", "metrics_text", "text")
metrics_text.__doc__ = """Metrics of every bucket opened with metrics on in this process, in the
Prometheus text format, as ``/metrics`` serves them."""
compact = _bind("persisting_compact", "compact", "json", {})  # (handle, target_rows: 0 = Lance's)
cleanup_old_versions = _bind("persisting_cleanup_old_versions", "cleanup_old_versions", "json", {})
versions = _bind("persisting_versions", "versions", "json", [])  # [{version, timestamp (RFC 3339)}]
inspect = _bind("persisting_inspect", "inspect {0!r}", "json", {})  # (path, options=None)
verify = _bind("persisting_verify", "verify {0!r}", "json", {})
create_index = _bind("persisting_create_index", "create index on {1!r}", "json", {})
indices = _bind("persisting_indices", "indices", "json", [])
lookup = _bind("persisting_lookup", "lookup on {1!r}", "stream")  # (handle, column, condition)
read = _bind("persisting_read", "read", "stream")  # (handle, offset, limit < 0: to the end)
read_version = _bind("persisting_read_version", "read version {1}", "stream")
consumption_take = _bind("persisting_consumption_take", "get_meta", "json")
consumption_ready = _bind("persisting_consumption_ready", "get_meta", "json")
consumption_mark = _bind("persisting_consumption_mark", "mark_consumed")
consumption_reset = _bind("persisting_consumption_reset", "reset_consumption")
clear = _bind("persisting_clear", "clear")
live_indexes = _bind("persisting_live_indexes", "get_by_indices", "json")
check_fields = _bind("persisting_check_fields", "get_data")  # InvalidArgumentError naming unknown fields


def open_bucket(path: str, options: dict[str, Any] | None = None) -> int:
    """Opens (or creates) the bucket at ``path``; returns its handle."""
    out = c_uint64(0)
    _call(f"open {path!r}", "persisting_open", os.fsencode(path),
          json.dumps(options).encode() if options else None, byref(out))
    return out.value


def schema(handle: int) -> Any:
    """The bucket's ``pyarrow.Schema``, or None before the first append."""
    import pyarrow as pa

    try:
        return _arrow_import("schema", lambda address: _call("schema", "persisting_schema", handle, address),
                             pa.Schema._import_from_c)
    except SchemaError:  # no schema yet
        return None


_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype, _capsule_pointer.argtypes = c_void_p, [ctypes.py_object, c_char_p]


def append(handle: int, batch: Any) -> None:
    """One batch (anything with ``__arrow_c_array__``), moved out of its capsules."""
    schema_capsule, array_capsule = batch.__arrow_c_array__()  # their destructors release what the call left
    _call("append", "persisting_append", handle, _capsule_pointer(schema_capsule, b"arrow_schema"),
          _capsule_pointer(array_capsule, b"arrow_array"), None)


def append_stream(handle: int, data: Any) -> int:
    """Every batch of ``data`` (``__arrow_c_stream__``) as one unit, zero-copy; returns its first row's offset."""
    capsule, first = data.__arrow_c_stream__(), c_int64()
    _call("append", "persisting_append_stream", handle, _capsule_pointer(capsule, b"arrow_array_stream"), byref(first),
          first=first)
    return first.value


def _per_thread() -> Any:
    """The calling thread's error struct and count cells, made after lib() (ForkError in a forked child)."""
    lib()
    kit = _calls.kit = SimpleNamespace(err=PersistingError(), cells=(c_int64(), c_int64(), c_int64()))
    kit.ref, kit.cell_refs = c_void_p(ctypes.addressof(kit.err)), [c_void_p(ctypes.addressof(c)) for c in kit.cells]
    return kit


def count(handle: int) -> tuple[int, int, int]:
    """(total, persisted, buffered). Below 2**31 a handle or size goes as a plain int (libffi widens it)."""
    try:  # not getattr(..., None): a put pays for it (pulsing counts before every put)
        kit = _calls.kit
    except AttributeError:  # the thread's first call
        kit = _per_thread()
    if _lib.persisting_count(handle if handle < 1 << 31 else c_uint64(handle), *kit.cell_refs, kit.ref):
        _raise(OK, kit.err, "count")
    return kit.cells[0].value, kit.cells[1].value, kit.cells[2].value


def append_records(handle: int, data: bytes) -> int:
    """Records in the record encoding (``persisting._encode``): the put path's one C call; returns the first's
    offset. Once the library is loaded this name is ``_put.append`` itself (``_put.c``), with no Python frame."""
    lib()
    return sys.modules[__package__ + "._put"].append(handle, data)  # not this name: a test may have put this back


def put_record(handle: int, record: Any) -> int:
    """One record, encoded (``_encode.encode_record``) and appended; loaded: ``_put.put``, as above."""
    lib()
    return sys.modules[__package__ + "._put"].put(handle, record)
