"""Storage backends for pulsing queues, kept as Lance datasets.

``LanceBackend`` implements the protocol pulsing's ``BucketStorage`` calls on a
backend (``put``, ``put_batch``, ``get``, ``get_stream``, ``flush``, ``stats``,
``total_count``) for one bucket stored at ``{storage_path}/data.lance``::

    from pulsing.streaming import register_backend, write_queue   # pulsing >= 0.1.1
    # from pulsing.queue import register_backend, write_queue      # pulsing 0.1.0
    from persisting.queue import LanceBackend

    register_backend("lance", LanceBackend)        # or persisting.queue.register()
    writer = await write_queue(system, "events", backend="lance", storage_path="/data/q")

One record's walk: ``put`` validates the dict and appends it to a small Python
list (``total_count()`` counts it at once). A record whose fields the bucket
already has, each with exactly the Python type of its column (or None), takes
a fast check of those types on the event loop's thread; anything else takes
the full validation, which raises the precise error or evolves the schema.
When the list holds ``batch_size`` records (or on ``flush``/``close``) it
becomes one ``pyarrow.RecordBatch`` and one ``persisting_append`` call, which
hands the column buffers to the engine without copying; for a put's full batch
a worker thread makes that call, and whatever reads the engine's state waits
for it first. The engine buffers rows and writes a new Lance version every
``flush_threshold`` rows and on ``flush()``. Reads see flushed rows, rows in the
engine's buffer and records still in the Python list as one log, in append
order, with contiguous 0-based offsets.

``PersistingBackend`` is the same bucket with the engine's write-ahead log and
metrics switched on by options. With ``enable_wal=True`` a record does not wait
in the Python list: ``put`` hands it to the engine at once, as a marshal payload
(``persisting_append_records``; the first records, and any the engine refuses
there, as Arrow), and returns once the engine has logged it in
``{storage_path}/wal``. With ``wal_sync_interval > 0`` that call runs on the
event loop's thread and flushes run in the background; with ``0`` it is
fsynced before returning, off the event loop, and puts that arrive while an
engine call runs are gathered into the next call. A process killed without ``flush()`` loses nothing
acknowledged: reopening the path replays it, exactly once, at the same offsets.

Schema rules of LanceBackend (a bucket has one fixed schema):

- The first record names the fields; a later record with a field that is not
  in the schema is refused (:class:`SchemaError`); a missing field is stored as
  null.
- Types are inferred from the first non-null value of each field:
  ``int`` -> int64, ``float`` -> float64, ``bool`` -> bool, ``str`` -> string,
  ``bytes`` -> binary.
  ``dict`` -> struct of its keys, ``list``/``tuple`` -> list of its
  elements' type (floats -> list<double>, ints -> list<int64>, strs ->
  list<string>, dicts -> list<struct>; ints among floats are floats), nested
  as deep as Lance allows (64 levels, 32 with a list inside); every level is
  nullable. The records of one ``put_batch`` together decide a new nested
  field's type (a struct gets the keys all of them bring); parts that were
  only None or empty lists are stored as string. Later, a dict may leave keys
  out (null) but not bring new ones. Datasets of Lance data storage version
  2.0 cannot hold nested fields (:class:`UnsupportedError` naming the field).
  An ``int`` is accepted in a float column (while a double holds it exactly,
  ``|i| <= 2**53``); any other mismatch is a
  :class:`SchemaError` naming the field, the expected and the found type.
  Values of other Python types (sets, objects, complex, dates, ...) and lists
  whose elements mix kinds are refused with ``TypeError`` naming the field.
- A bucket reopened from disk (or a dataset pylance wrote) uses the schema on
  disk; values are checked against its types.
- A field that is ``None`` in every record so far has no type yet: such records
  stay in the Python list (still counted and readable) until a non-null value
  fixes the type. If they must be written before that - ``flush()``, ``close()``
  or ``flush_threshold`` records waiting - the still untyped field is written as
  a nullable **string** column, and from then on only strings (or ``None``) fit.

PersistingBackend evolves its schema (``schema_evolution=True``, the default;
the engine commits each change as a Lance schema change):

- A record may bring new fields (typed as above, struct and list fields
  included; earlier rows read null) and leave fields out (null).
- An ``int`` goes into a float field as a float; a ``float`` into an int field
  widens the field to float64 (the engine rewrites the stored column, and
  refuses - with a SchemaError at that put - when a stored integer does not fit
  a float64 exactly); an int too large for an int32 field (from pylance or
  ``put_arrow``) widens it to int64. Anything else is a SchemaError naming the
  field, the expected and the found type.
- A field ``None`` in every record so far is not written until a value gives it
  a type (reads show it as null meanwhile); only when no field of the very
  first records has a type does the string fallback above apply.
- A record that changes the engine's schema is appended on its own, at once,
  so the engine's verdict reaches its ``put``; other puts wait for it.

A bucket over a dataset the engine cannot append to (a data file version it
does not write, such as pylance's unstable 2.3) is read-only: every put raises
:class:`UnsupportedError`, and ``stats()["read_only"]`` is True.

Every check happens in the ``put`` that brings the record: a refused record is
never stored, and records accepted before it stay readable.

Never ``fork()`` a process after it used a backend (the Go runtime in the
library does not survive it); use subprocesses or multiprocessing's ``spawn``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import marshal
import math
import numbers
import os
import re
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Any, AsyncIterator, Iterable

import pyarrow as pa

from . import _native
from .errors import (
    ClosedError,
    InvalidArgumentError,
    SchemaError,
    StorageError,
    UnsupportedError,
    WALError,
)

__all__ = [
    "LanceBackend",
    "PersistingBackend",
    "StorageError",
    "SchemaError",
    "UnsupportedError",
    "WALError",
    "register",
]

logger = logging.getLogger(__name__)

#: Records per batch yielded by ``get_stream`` (pulsing's MemoryBackend uses 100).
STREAM_BATCH = 100
#: Rows fetched from the engine per call while streaming.
_STREAM_READ = 1000
#: Arrow type of a field that was ``None`` in every record written so far.
UNTYPED_FALLBACK = pa.string()

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
#: by float bit width: every int up to this magnitude converts exactly (pyarrow
#: refuses the others, so put must refuse them before they are queued)
_EXACT_FLOAT_INT = {16: 2**11, 32: 2**24, 64: 2**53}

_KIND_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "binary": pa.binary(),
    # datetime -> timestamp (microseconds, Python's resolution); an aware one
    # is stored as UTC and read back as an aware UTC datetime
    "timestamp": pa.timestamp("us"),
    "timestamp_tz": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


# ---- values and types -------------------------------------------------------------
def _kind(value: Any) -> str:
    """The storable kind of a non-None Python value, or ``""`` if it has none."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, datetime):  # before date: a datetime is a date too
        return "timestamp" if value.tzinfo is None or value.utcoffset() is None else "timestamp_tz"
    if isinstance(value, date):
        return "date"
    if isinstance(value, numbers.Integral):  # numpy integers
        return "int"
    if isinstance(value, numbers.Real):  # numpy floats
        return "float"
    return ""


def _check_utf8(what: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what}: not storable as UTF-8 ({exc.reason} at {exc.start})") from None


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _int_range(dtype: pa.DataType) -> tuple[int, int]:
    bits = dtype.bit_width
    if pa.types.is_signed_integer(dtype):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _fits(dtype: pa.DataType, value: Any, kind: str) -> bool:
    """Whether ``value`` (of ``kind``) can be stored in a column of ``dtype``."""
    if pa.types.is_integer(dtype):
        if kind != "int":
            return False
        lo, hi = _int_range(dtype)
        return lo <= int(value) <= hi
    if pa.types.is_floating(dtype):  # an int only while the column's float holds it exactly
        return kind == "float" or (
            kind == "int" and abs(int(value)) <= _EXACT_FLOAT_INT[dtype.bit_width])
    if pa.types.is_boolean(dtype):
        return kind == "bool"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or _is_string_view(dtype):
        return kind == "string"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return kind == "binary"
    if pa.types.is_timestamp(dtype):  # naive values in naive columns, aware in zoned ones
        return kind == ("timestamp" if dtype.tz is None else "timestamp_tz")
    if pa.types.is_date(dtype):
        return kind == "date"
    # A column pylance (or another writer) created with a type we never infer:
    # let pyarrow decide whether the value converts.
    try:
        pa.scalar(value, type=dtype)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return False
    return True


def _is_standard(dtype: pa.DataType) -> bool:
    """Integer, floating, boolean or string: the families put() infers."""
    return (
        pa.types.is_integer(dtype)
        or pa.types.is_floating(dtype)
        or pa.types.is_boolean(dtype)
        or pa.types.is_string(dtype)
        or pa.types.is_large_string(dtype)
        or _is_string_view(dtype)
        or pa.types.is_binary(dtype)
        or pa.types.is_large_binary(dtype)
        or pa.types.is_timestamp(dtype)
        or pa.types.is_date(dtype)
    )


def _is_string_view(dtype: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check and check(dtype))


def _same_family(have: pa.DataType, want: pa.DataType) -> bool:
    """Whether a column of ``have`` may be cast to ``want`` without changing meaning."""
    if pa.types.is_integer(want):
        return pa.types.is_integer(have)
    if pa.types.is_floating(want):
        return pa.types.is_floating(have) or pa.types.is_integer(have)
    if pa.types.is_string(want) or pa.types.is_large_string(want) or _is_string_view(want):
        return pa.types.is_string(have) or pa.types.is_large_string(have) or _is_string_view(have)
    if pa.types.is_binary(want) or pa.types.is_large_binary(want):
        return pa.types.is_binary(have) or pa.types.is_large_binary(have)
    if pa.types.is_timestamp(want):
        return pa.types.is_timestamp(have) and (have.tz is None) == (want.tz is None)
    if pa.types.is_date(want):
        return pa.types.is_date(have)
    return pa.types.is_null(have)


#: struct levels a value may nest (the engine's Lance schema refuses deeper ones)
MAX_NESTING = 64
#: levels a value that contains a list may nest (the Lance 2.1+ structural
#: encoding takes at most 32 repetition/definition layers with a list)
MAX_LIST_NESTING = 32


def _is_nested_value(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple))


def _is_list_type(dtype: pa.DataType) -> bool:
    return pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)


def _is_nested_type(dtype: pa.DataType | None) -> bool:
    return dtype is not None and (pa.types.is_struct(dtype) or _is_list_type(dtype))


def _elements_kind(path: str, value: list | tuple) -> None:
    """Refuses a list whose (non-None) elements are of more than one kind (an
    int among floats is fine: the list holds floats)."""
    kinds = set()
    for v in value:
        if v is None:
            continue
        if isinstance(v, dict):
            kinds.add("dict")
        elif isinstance(v, (list, tuple)):
            kinds.add("list")
        else:
            kinds.add(_kind(v) or type(v).__name__)
    if len(kinds) > 1 and kinds != {"int", "float"}:
        raise TypeError(
            f"field {path!r}: cannot store a {type(value).__name__} whose elements mix "
            f"{', '.join(sorted(kinds))}: a list column holds one element type - convert the "
            "elements to one type, serialise the list (json.dumps), or store them as fields"
        )


def _value_type(path: str, expected: pa.DataType | None, value: Any, grow: bool,
                depth: int = 1, lists: int = 0) -> pa.DataType:
    """The type a (possibly nested) field of type ``expected`` has after it
    takes ``value``: ``expected`` itself (the same object) when the value fits,
    a refined type when ``expected`` still has untyped parts (``pa.null()``:
    nothing but None seen there yet), or - with ``grow``, for a type inferred
    in this very unit - one with new struct fields or int widened to float.
    Raises TypeError (a value no column can hold, too deep), ValueError (a bad
    key, an int beyond int64) or SchemaError (does not fit ``expected``)."""
    if expected is not None and pa.types.is_null(expected):
        expected = None
    if value is None:
        return expected if expected is not None else pa.null()
    if depth > MAX_NESTING or (lists and depth > MAX_LIST_NESTING):
        limit = MAX_LIST_NESTING if lists else MAX_NESTING
        raise TypeError(
            f"field {path!r}: cannot store a value nested more than {limit} levels deep "
            f"(Lance's limit{' with a list inside' if lists else ''}); flatten it or serialise it "
            "(json.dumps)"
        )
    if isinstance(value, dict):
        if expected is not None and not pa.types.is_struct(expected):
            raise SchemaError(f"field {path!r}: expected {expected}, found a dict")
        if not value and expected is None:
            raise ValueError(f"field {path!r}: cannot infer a struct from an empty dict "
                             "(a struct column needs at least one field)")
        children = {f.name: f for f in expected} if expected is not None else {}
        changed = expected is None
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"field {path!r}: field names must be str, got "
                                f"{type(key).__name__} {key!r}")
            if not key or "." in key:
                raise ValueError(f"field name {key!r} in {path!r}: must be non-empty and without "
                                 "'.' (Lance reads dots as nested paths)")
            if not key.isascii():
                _check_utf8(f"field name in {path!r}", key)
            child = children.get(key)
            if child is None and expected is not None and not grow:
                raise SchemaError(
                    f"field {path!r}: {key!r} is not a field of its struct {expected} (a struct "
                    "keeps the fields it was first stored with)")
            sub = _value_type(f"{path}.{key}", None if child is None else child.type, item, grow,
                              depth + 1, lists)
            if child is None or sub is not child.type:
                children[key] = (child.with_type(sub) if child is not None
                                 else pa.field(key, sub, nullable=True))
                changed = True
        return pa.struct(list(children.values())) if changed else expected
    if isinstance(value, (list, tuple)):
        if expected is not None and not _is_list_type(expected):
            raise SchemaError(f"field {path!r}: expected {expected}, found a {type(value).__name__}")
        _elements_kind(path, value)
        if expected is not None and pa.types.is_fixed_size_list(expected) \
                and len(value) != expected.list_size:
            raise SchemaError(f"field {path!r}: expected {expected} ({expected.list_size} "
                              f"elements), found {len(value)} elements")
        item_field = expected.value_field if expected is not None else pa.field("item", pa.null())
        elem = item_field.type
        for item in value:
            elem = _value_type(f"{path}[]", elem, item, grow, depth + 1, lists + 1)
        if expected is not None and elem is item_field.type:
            return expected
        if expected is not None and pa.types.is_fixed_size_list(expected):
            return pa.list_(item_field.with_type(elem), expected.list_size)
        if expected is not None and pa.types.is_large_list(expected):
            return pa.large_list(item_field.with_type(elem))
        return pa.list_(item_field.with_type(elem))
    kind = _kind(value)
    if not kind:
        raise TypeError(_unstorable(path, value))
    if kind == "string" and not value.isascii():
        _check_utf8(f"field {path!r}", value)
    if expected is None:
        if kind == "int" and not _INT64_MIN <= int(value) <= _INT64_MAX:
            raise ValueError(f"field {path!r}: {value} does not fit in int64")
        return _KIND_TYPES[kind]
    if _is_nested_type(expected):
        raise SchemaError(f"field {path!r}: expected {expected}, found {_describe(value)}")
    if _fits(expected, value, kind):
        return expected
    if grow and kind == "float" and pa.types.is_integer(expected):
        return pa.float64()
    raise SchemaError(f"field {path!r}: expected {expected}, found {_describe(value)}")


def _has_untyped(dtype: pa.DataType) -> bool:
    if pa.types.is_null(dtype):
        return True
    if pa.types.is_struct(dtype):
        return any(_has_untyped(f.type) for f in dtype)
    if _is_list_type(dtype):
        return _has_untyped(dtype.value_type)
    return False


def _settle(dtype: pa.DataType) -> pa.DataType:
    """``dtype`` with its untyped parts (only None, or empty lists, seen there)
    given the fallback type, as a top-level field that is None when it must be
    written."""
    if pa.types.is_null(dtype):
        return UNTYPED_FALLBACK
    if pa.types.is_struct(dtype):
        return pa.struct([f.with_type(_settle(f.type)) for f in dtype])
    if pa.types.is_fixed_size_list(dtype):
        return pa.list_(dtype.value_field.with_type(_settle(dtype.value_type)), dtype.list_size)
    if pa.types.is_large_list(dtype):
        return pa.large_list(dtype.value_field.with_type(_settle(dtype.value_type)))
    if pa.types.is_list(dtype):
        return pa.list_(dtype.value_field.with_type(_settle(dtype.value_type)))
    return dtype


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)


def _check_range(limit: Any, offset: Any) -> tuple[int | None, int]:
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
            raise TypeError(f"limit must be an int or None, got {type(limit).__name__}")
        if limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit}")
        limit = int(limit)
    if isinstance(offset, bool) or not isinstance(offset, numbers.Integral):
        raise TypeError(f"offset must be an int, got {type(offset).__name__}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    return limit, int(offset)


# ---- the fast path of put -----------------------------------------------------------
def _fast_type(dtype: pa.DataType) -> type | None:
    """The one Python type whose values a column of ``dtype`` takes unchanged,
    for the fast check of :func:`_fast_fits`; None where the full check must
    decide (other int widths, timestamps, dates, nested and untyped fields)."""
    if dtype == pa.int64():
        return int
    if pa.types.is_floating(dtype):
        return float
    if pa.types.is_boolean(dtype):
        return bool
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return str
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return bytes
    return None


def _fast_fits(record: Any, types: dict[str, type]) -> bool:
    """Whether ``record`` is a plain dict whose every value has exactly the
    Python type ``types`` names for its field, or is None (``types`` holds only
    nullable fields): such a record passes the full check unchanged, adding no
    field and widening none. False sends it to the full check, which accepts
    it, evolves the schema or raises the precise error. bool is not int here
    (``type(v) is t``); an int must fit int64, a str must encode as UTF-8."""
    if type(record) is not dict or not record:
        return False
    try:
        for name, value in record.items():
            t = types[name]  # KeyError: a field without a fast type
            if type(value) is t:
                if t is str:
                    if not value.isascii():
                        value.encode("utf-8")  # UnicodeEncodeError: a lone surrogate
                elif t is int and not -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
                    return False
            elif value is not None:
                return False
    except (KeyError, UnicodeEncodeError):
        return False
    return True


#: _put_fast_batching: taken, and the put hands the first batch to the engine itself
_FIRST_APPEND = "first append"
#: the most records a put lets wait for the background appends before it waits
_MAX_BACKLOG = 65536

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _forget_executor_after_fork() -> None:
    # the parent's worker threads do not exist in a forked child; a new pool is
    # made there on demand (its jobs then meet ForkError instead of never running)
    global _executor, _executor_lock
    _executor, _executor_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_executor_after_fork)


def _submit(fn: Any) -> bool:
    """Runs ``fn`` on a worker thread shared by every bucket of the process;
    False once the interpreter is shutting down (nothing runs then)."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(thread_name_prefix="persisting")
    try:
        _executor.submit(fn)
    except RuntimeError:
        return False
    return True


_struct_cache: tuple[pa.Schema | None, pa.DataType | None] = (None, None)


def _struct_of(schema: pa.Schema) -> pa.DataType:
    """``schema``'s fields as a struct type (the last one is kept: a bucket
    writes batch after batch with one schema object)."""
    global _struct_cache
    cached_schema, cached = _struct_cache
    if cached_schema is schema:
        return cached
    struct = pa.struct(list(schema))
    _struct_cache = (schema, struct)
    return struct


def _records_to_batch(records: list[dict], schema: pa.Schema) -> pa.RecordBatch:
    """``records`` as one batch of ``schema``: converted as one struct array
    (a single pass over the dicts), which gives the columns
    ``RecordBatch.from_pylist`` gives, faster. Should pyarrow refuse a value
    that way, ``from_pylist`` converts (or raises) as before."""
    try:
        batch = pa.RecordBatch.from_struct_array(pa.array(records, type=_struct_of(schema)))
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return pa.RecordBatch.from_pylist(records, schema=schema)
    if schema.metadata:
        batch = batch.replace_schema_metadata(schema.metadata)
    return batch


# ---- one bucket: the synchronous core -----------------------------------------------
class _Group:
    """The records accepted between two engine calls: one ``persisting_append``.

    A write-through bucket hands all pending records to the engine in one call
    and marks their group done (or failed) afterwards; every ``put`` whose
    record was in the group returns (or raises) then. ``done`` and ``error``
    are written under the bucket's locks before the draining call returns.
    """

    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = False
        self.error: BaseException | None = None


class _Gate:
    """Closed while a schema change is on its way; ``wait()`` (async) returns
    once it is opened. Waiting takes no thread (waiters must not fill the
    executor that the change itself needs)."""

    __slots__ = ("_lock", "_open", "_waiters")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []

    def set(self) -> None:
        with self._lock:
            self._open = True
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def is_set(self) -> bool:
        return self._open

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._open:
                return
            self._waiters.append((loop, future))
        await future


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class _Change:
    """Records whose acceptance changes an evolving bucket's schema in the
    engine (a new field, a widened type). They go to the engine in a call of
    their own, at once, so the engine's verdict (say, a stored value that does
    not widen exactly) reaches the put that brought them. While one is on its
    way, ``accept`` hands other records a wait (``_Wait``): they are checked
    against the schema that results.
    """

    __slots__ = ("records", "gate", "started", "abandoned")

    def __init__(self, records: list[dict], gate: _Gate) -> None:
        self.records = records
        self.gate = gate
        self.started = False
        self.abandoned = False


class _Wait:
    """``accept`` could not check records now: a schema change is on its way,
    or records that came earlier wait for their turn. Wait for ``gate``, then
    call ``accept`` again with ``ticket`` (turns are taken in arrival order)."""

    __slots__ = ("gate", "ticket")

    def __init__(self, gate: _Gate, ticket: int) -> None:
        self.gate = gate
        self.ticket = ticket


class _Bucket:
    """Engine handle plus the Python-side list of records not yet appended.

    Thread-safe. Lock order: ``_engine_lock`` (serialises appends, flushes and
    close, so batches reach the engine in put order) before ``_state_lock``
    (guards the counters and lists below; held only for short, non-blocking
    work). Kept apart from the backend object so a ``weakref.finalize`` can
    flush and close it when the backend is collected or the interpreter exits.

    Two ways to write:

    - batching (``write_through=False``, LanceBackend; PersistingBackend without
      WAL): records wait in ``_pending`` until ``batch_size`` of them make one
      engine call. A failed call puts them back, to be retried.
    - write-through (PersistingBackend with WAL): every put waits until its
      record went to the engine (and so to the WAL). Records accepted while a
      call is in flight form the next group, written by the next single call
      (group commit). A failed call drops its records and fails their puts:
      nothing unacknowledged lingers to be written later.

    With ``evolve`` (the engine's ``schema_evolution``), records may add fields
    and widen types; a record that changes the engine's schema is a
    :class:`_Change`, appended on its own (see there). Fields that were None in
    every record so far are left out of the batches (the engine reads them as
    null and adds them once a value gives them a type); reads show them as null.
    """

    def __init__(self, storage_path: str, bucket_id: int, batch_size: int, flush_threshold: int,
                 engine_options: dict[str, Any] | None = None, write_through: bool = False,
                 evolve: bool = False):
        self.storage_path = storage_path
        #: whether the dataset can hold struct and list columns (all but 2.0)
        self.nested_ok = (engine_options or {}).get("data_storage_version") != "2.0"
        self.bucket_id = bucket_id
        self.batch_size = batch_size
        self.flush_threshold = flush_threshold
        self.write_through = write_through
        self.evolve = evolve
        self._engine_lock = threading.Lock()
        self._state_lock = threading.Lock()
        options = {"bucket_id": bucket_id, "flush_threshold": flush_threshold}
        if evolve:
            options["schema_evolution"] = True
        options.update(engine_options or {})
        self._handle = _native.open_bucket(storage_path, options)
        self.closed = False
        #: why the engine refuses appends to this bucket (None: it does not)
        self.read_only: UnsupportedError | None = None
        try:
            schema = _native.schema(self._handle)
            total, _, buffered = _native.count(self._handle)
            if schema is not None:
                self.read_only = self._probe_appendable(schema)
        except BaseException:
            _native.close_bucket(self._handle)
            raise
        if schema is not None:  # an existing dataset keeps its version: the engine judges
            self.nested_ok = True
        #: the engine's schema once it has one
        self._schema: pa.Schema | None = schema
        #: field name -> Arrow type, None while only None values were seen
        self._fields: dict[str, pa.DataType | None] | None = (
            {f.name: f.type for f in schema} if schema is not None else None
        )
        #: fields the schema declares not nullable (a dataset pylance or put_arrow made)
        self._required: frozenset[str] = _required(schema)
        self._committed = total  # rows the engine holds (as far as Python knows)
        self._inflight: list[dict] = []  # records being appended right now
        self._pending: list[dict] = []  # accepted records not yet appended
        self._group = _Group()  # the group the pending records belong to
        self._gate: _Gate | None = None  # set while a schema change is on its way
        # turns of the puts that had to wait: tickets in arrival order
        self._next_ticket = 0  # the next ticket to hand out
        self._serving = 0  # the ticket whose turn it is (== _next_ticket: nobody waits)
        self._abandoned: set[int] = set()  # tickets whose puts gave up
        self._wakeup = _Gate()  # set (and replaced) whenever waiting puts should check again
        self.last_error: BaseException | None = None  # last failed append
        # -- the fast path of put (see put_fast) --
        #: field -> the exact Python type the fast check takes, cached for the
        #: (_fields, _schema) objects it was made from (both are replaced, never
        #: changed in place, when a type changes); None: no fast path now
        self._fast_types: dict[str, type] | None = None
        self._fast_made_from: tuple[Any, Any] = (None, None)
        self._write_schema_cache: tuple[Any, Any, Any] = (None, None, None)
        #: a background job (appending full batches, or flushing) runs
        self._job = False
        self._job_flushes = False
        self._job_done = threading.Condition(self._state_lock)
        #: > 0 while an operation that may change the schema runs on another
        #: thread (put_arrow): puts take the full path meanwhile
        self.exclusive = 0
        #: records held in Python before a put waits for the background appends:
        #: room for several flushes' worth (a flush that lags takes all that
        #: waits, and its fixed cost is shared by more rows), bounded
        self._backlog = max(4 * batch_size, min(16 * flush_threshold, _MAX_BACKLOG))
        #: rows the engine buffers since its last flush, as far as Python knows
        #: (an upper bound: a WAL past max_wal_size makes the engine flush on its
        #: own). Records appends never flush, so Python flushes when it reaches
        #: flush_threshold; the engine refuses them while the WAL is past
        #: max_wal_size, and the Arrow append that takes them then flushes.
        self._unflushed = buffered
        self.sync_interval = float((engine_options or {}).get("wal_sync_interval") or 0.0)
        #: write-through records go to the engine as marshal payloads
        #: (persisting_append_records) instead of Arrow batches
        self.records_path = write_through
        #: records calls run on the event loop's thread (no fsync in them)
        self.records_on_loop = write_through and self.sync_interval > 0
        #: the per-record call of _put_fast_records (made on its first use)
        self._records_call: _native.RecordsCall | None = None
        if not write_through:
            self.put_fast = self._put_fast_batching
        elif self.records_on_loop:
            self.put_fast = self._put_fast_records
        else:
            self.put_fast = self._no_fast_path

    def _probe_appendable(self, schema: pa.Schema) -> UnsupportedError | None:
        """Whether the engine refuses appends to the dataset on disk (one that
        pylance wrote in a data file version this engine does not write).

        The engine checks that before anything else an append does, so an
        append of no rows in the bucket's own schema asks it without storing
        anything (no buffer, no WAL entry, no version).
        """
        try:
            _native.append(self._handle, pa.RecordBatch.from_pylist([], schema=schema))
        except UnsupportedError as exc:
            logger.warning("bucket %s is read-only: %s", self.storage_path, exc)
            return exc
        except StorageError as exc:  # not a verdict on appending; a real append will tell
            logger.debug("bucket %s: probing for appends: %s", self.storage_path, exc)
        return None

    def _read_only_error(self) -> UnsupportedError:
        exc = UnsupportedError(
            f"bucket at {self.storage_path!r} is read-only, nothing can be appended: "
            f"{self.read_only}", code=_native.EUNSUPPORTED)
        exc.__cause__ = self.read_only
        return exc

    # -- the fast path of put ----------------------------------------------------------
    def _fast_types_locked(self) -> dict[str, type] | None:
        """The fast check's map (state lock held): every typed field whose type
        :func:`_fast_type` knows - as the engine's schema has it, or, before the
        bucket has one, as the records so far fixed it (what the first append
        will write). None before any record, on a read-only bucket, or when the
        schema has required fields (the full check counts them)."""
        fields, schema = self._fields, self._schema
        made_from = self._fast_made_from
        if made_from[0] is fields and made_from[1] is schema:
            return self._fast_types
        types: dict[str, type] | None = None
        if fields and self.read_only is None and not self._required:
            have = None if schema is None else {f.name: f.type for f in schema}
            types = {}
            for name, dtype in fields.items():
                if dtype is None or (have is not None and have.get(name) != dtype):
                    continue  # untyped yet, or not (yet) the engine's type
                py = _fast_type(dtype)
                if py is not None:
                    types[name] = py
        self._fast_types, self._fast_made_from = types, (fields, schema)
        return types

    def _in_turn_locked(self) -> bool:
        """Whether a record may be taken now without overtaking anything
        (state lock held): open, no schema change on its way, no earlier put
        waiting for its turn."""
        return not self.closed and self._gate is None and self._serving == self._next_ticket

    def _fast_copies_locked(self, records: list) -> list[dict] | None:
        """Copies of ``records`` when every one passes the fast check (state
        lock held): they would pass the full check unchanged."""
        types = self._fast_types_locked()
        if types is None:
            return None
        for record in records:
            if not _fast_fits(record, types):
                return None
        return [r.copy() for r in records]

    def _no_fast_path(self, record: Any) -> None:
        return None

    def _put_fast_batching(self, record: Any) -> bool | None:
        """put() of one record on a batching bucket, on the event loop's thread
        and without a lock: when it may be taken now and passes the fast check,
        a copy joins the pending records. Returns None when the full path must
        take it (nothing was done), True when taken, False when taken but so
        many records wait for the background appends that the put should wait
        for them (:meth:`settle`), ``_FIRST_APPEND`` when taken and the first
        batch of a bucket without a schema is due: the put appends it itself,
        as the full path would (the engine's verdict on the new schema is its).

        Without the state lock because nothing it reads can change under it in
        a way that matters: the pending list is only appended to (here and in
        ``accept``) and cut at its head by an append that took those records;
        the schema only grows (a record that fits the old one fits the new),
        except through a schema change, which starts on the event loop's
        thread (a ``_Change`` sets ``_gate`` in ``accept``; put_arrow raises
        ``exclusive`` before its thread starts) and sends puts here to the full
        path. Appending to a list and reading an attribute are atomic.

        When ``batch_size`` records wait, a background job hands them to the
        engine (one call per batch; the engine flushes in it when its
        threshold is reached), so neither the append nor a flush holds up the
        event loop. Everything that reads the engine's state waits for that job
        first (:meth:`settle`), so it sees what a put that appended at once
        would have left.
        """
        if (self.exclusive or self._gate is not None or self.closed
                or self._serving != self._next_ticket):
            return None
        pending = self._pending
        if self.last_error is not None and len(pending) >= max(self.batch_size,
                                                                self.flush_threshold):
            return None  # the full path refuses it, with the engine's error
        made_from = self._fast_made_from
        if made_from[0] is self._fields and made_from[1] is self._schema:
            types = self._fast_types
        else:
            with self._state_lock:
                types = self._fast_types_locked()
        if types is None:
            return None
        if not _fast_fits(record, types):
            return None
        pending.append(record.copy())
        n = len(pending)
        if n < self.batch_size or self._job:
            return n < self._backlog
        if self._schema is None:
            return _FIRST_APPEND  # the first append fixes the schema: the put awaits it
        with self._state_lock:
            if self._job:
                return True
            if self.last_error is not None:
                if n % self.batch_size:
                    return True  # after a failed append: retry once per batch, not every put
            elif not self._drain_due_locked():
                return True
            self._job = True
            self._job_flushes = False
        if not _submit(self._append_job):
            with self._state_lock:
                self._end_job_locked()
        return True

    def _drain_due_locked(self) -> bool:
        """Whether full batches wait for the engine (state lock held): as
        :meth:`should_drain` says, unless an append just failed."""
        n = len(self._pending)
        return (n >= self.batch_size and self.last_error is None
                and (n >= self.flush_threshold or not self._waiting_for_types()))

    def _end_job_locked(self) -> None:
        self._job = self._job_flushes = False
        self._job_done.notify_all()

    def _append_job(self) -> None:
        """Background job: appends the pending records, one engine call per
        pass, while full batches wait. A failure keeps the records (as the
        drain of a put does) and ends the job; the next put of a full batch,
        flush() or close() retries."""
        while True:
            stop = False
            try:
                with self._engine_lock:
                    if self.closed:
                        stop = True
                    else:
                        self._drain_locked(self.batch_size, False, whole_batches=True)
            except StorageError as exc:
                stop = True
                logger.warning(
                    "bucket %s: appending to the engine failed (records kept, retried on the "
                    "next batch or flush): %s", self.storage_path, exc,
                )
            except BaseException:  # a worker thread has nobody to raise to
                stop = True
                logger.exception("bucket %s: appending to the engine failed (records kept)",
                                 self.storage_path)
            with self._state_lock:
                if stop or self.closed or not self._drain_due_locked():
                    self._end_job_locked()
                    return
                self._job_done.notify_all()

    def _put_fast_records(self, record: Any) -> bool | None:
        """put() of one record with the WAL (sync interval > 0): one
        ``persisting_append_records`` call on the event loop's thread.
        :meth:`append_records_fast` for one record, with the checks that need
        no lock made without one: while this thread holds the engine lock, only
        this thread (the event loop's, where ``accept`` runs) changes the
        pending records, the turn and the gate, and only engine-lock holders
        write ``_committed``, so a reader sees it before or after the record,
        which is in the engine either way. The call goes through the bucket's
        :class:`_native.RecordsCall` (engine lock held: one call at a time)."""
        if type(record) is not dict or not record:
            return None
        engine_lock = self._engine_lock
        if not engine_lock.acquire(False):
            return None  # an engine call (a flush, a group) runs: queue behind it
        try:
            if (self._pending or self._inflight or self._job or self.closed
                    or self._gate is not None or self._serving != self._next_ticket):
                return None
            made_from = self._fast_made_from
            if made_from[0] is self._fields and made_from[1] is self._schema:
                types = self._fast_types
            else:
                with self._state_lock:
                    types = self._fast_types_locked()
            if types is None or self._schema is None:
                return None
            if not _fast_fits(record, types):
                return None
            try:
                payload = marshal.dumps(record, 4)
            except ValueError:  # a value marshal cannot write
                return None
            call = self._records_call
            if call is None:
                call = self._records_call = _native.RecordsCall(self._handle)
            try:
                call(payload)
            except SchemaError as exc:
                if exc.code == _native.ESCHEMA:
                    return None  # nothing appended: the full path takes it
                self.last_error = exc
                raise
            except BaseException as exc:
                self.last_error = exc
                raise
            self._committed += 1
            self.last_error = None
            unflushed = self._unflushed = self._unflushed + 1
            if unflushed < self.flush_threshold:
                return True
            with self._state_lock:
                if self._job:
                    return True
                self._job = self._job_flushes = True
        finally:
            engine_lock.release()
        if not _submit(self._flush_job):
            with self._state_lock:
                self._end_job_locked()
        return True

    def append_records_fast(self, records: list) -> bool | None:
        """Write-through (put_batch): hands ``records`` to the engine as one
        marshal payload (``persisting_append_records``, one call) in the calling
        thread, when they may be taken now (the engine is free, nothing accepted
        earlier is on its way) and pass the fast check. None: nothing was done, the full
        path takes them (also when the engine answers ESCHEMA: it appended
        nothing). True: they are in the engine and its WAL; a flush the
        thresholds ask for runs in the background. Other engine errors are
        raised: the records were not stored."""
        if not self._engine_lock.acquire(False):
            return None  # an engine call (a flush, a group) runs: queue behind it
        try:
            with self._state_lock:
                if (not self._in_turn_locked() or self._pending or self._inflight or self._job
                        or self.read_only is not None or self._schema is None):
                    return None  # (without a schema the engine takes only Arrow)
                types = self._fast_types_locked()
                if types is None:
                    return None
                for record in records:
                    if not _fast_fits(record, types):
                        return None
            try:
                if not self._records_appended(records):
                    return None
            except BaseException as exc:
                with self._state_lock:
                    self.last_error = exc
                raise
            with self._state_lock:
                n = len(records)
                self._committed += n
                self.last_error = None
                self._unflushed += n
                if not self._flush_due_locked():
                    return True
                self._job = self._job_flushes = True
        finally:
            self._engine_lock.release()
        if not _submit(self._flush_job):
            with self._state_lock:
                self._end_job_locked()
        return True

    def _flush_due_locked(self) -> bool:
        """Whether records appends (which never flush) filled the engine's
        buffer to ``flush_threshold`` (state lock held)."""
        return self._unflushed >= self.flush_threshold

    def _flush_job(self) -> None:
        """Background job: the flush that records appends made due."""
        try:
            with self._engine_lock:
                if not self.closed:
                    self._flush_after_records_locked()
        finally:
            with self._state_lock:
                self._end_job_locked()

    def _flush_after_records_locked(self) -> None:
        """Flushes (engine lock held) as the engine would have after the
        append; a failure is logged - the records are stored, in the engine's
        buffer and WAL - and the next threshold or flush() retries."""
        try:
            _native.flush(self._handle)
        except StorageError as exc:
            logger.warning(
                "bucket %s: the engine stored the records but then reported: %s "
                "(the next flush retries writing them to Lance)", self.storage_path, exc,
            )
            return
        with self._state_lock:
            self._unflushed = 0

    def _note_flushed(self) -> None:
        """The engine's buffer was flushed (engine lock held)."""
        with self._state_lock:
            self._unflushed = 0

    def settle(self) -> None:
        """Waits until a background job has handed the engine every record
        accepted before this call (or stopped, on a failure) and its flush is
        done. Called before anything that reads or changes the engine's state,
        never with a lock held."""
        if _native._forked:  # a job of the parent never ends here: ForkError instead
            _native.lib()
        with self._state_lock:
            target = self._committed + len(self._inflight) + len(self._pending)
            while self._job and (self._job_flushes or self._committed < target):
                self._job_done.wait()

    @contextlib.contextmanager
    def _engine(self):
        """The engine lock, taken once background appends are settled."""
        self.settle()
        with self._engine_lock:
            yield

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(handle, *args)`` once background work is settled (for calls
        that need no Python-side state: versions, compaction, ...)."""
        self.settle()
        return fn(self.handle(), *args)

    # -- accepting records ---------------------------------------------------------
    def _validate(self, record: Any, fields: dict | None,
                  provisional: set[str] | None = None) -> tuple[dict, dict]:
        """Checks one record against ``fields``; returns (copy, types it sets:
        those of fields it brings the first value of, and with ``evolve`` those
        it widens). ``provisional``: nested fields whose type this unit of
        records infers (a later record of the unit may add struct fields, or
        turn ints into floats, there); updated."""
        if provisional is None:
            provisional = set()
        if not isinstance(record, dict):
            raise TypeError(f"a record must be a dict, got {type(record).__name__}")
        if not record:
            raise ValueError("a record must not be empty")
        resolved: dict[str, pa.DataType] = {}
        for name, value in record.items():
            if not isinstance(name, str):
                raise TypeError(f"field names must be str, got {type(name).__name__} {name!r}")
            if not name or "." in name:
                raise ValueError(
                    f"field name {name!r}: must be non-empty and without '.' "
                    "(Lance reads dots as nested paths)"
                )
            if not name.isascii():
                _check_utf8("field name", name)
            known = fields is not None and name in fields
            expected = fields[name] if known else None
            kind = _kind(value) if value is not None else "none"
            nested = _is_nested_value(value)
            if not kind and not nested and (expected is None or _is_standard(expected)):
                raise TypeError(_unstorable(name, value))
            if fields is not None and not known and not self.evolve:
                raise SchemaError(
                    f"field {name!r} is not in this bucket's schema "
                    f"(fields: {', '.join(fields)}); a LanceBackend bucket keeps the "
                    "fields of its first record"
                )
            if nested or _is_nested_type(expected):
                if value is None:
                    if name in self._required:
                        raise SchemaError(f"field {name!r}: expected a value (not nullable), found None")
                    continue
                if nested and expected is not None and _is_standard(expected):
                    raise SchemaError(f"field {name!r}: expected {expected}, found a "
                                      f"{type(value).__name__}")
                dtype = _value_type(name, expected, value, grow=expected is None or name in provisional)
                if dtype is not expected:
                    if not self.nested_ok and _is_nested_type(dtype):
                        raise UnsupportedError(
                            f"field {name!r}: a {dtype} column needs Lance data storage version "
                            "2.1 or later; this bucket writes version 2.0 (nested types "
                            "(struct, list) need 2.1 or later)", code=_native.EUNSUPPORTED)
                    resolved[name] = dtype
                    provisional.add(name)
                continue
            if value is None:
                if name in self._required:
                    raise SchemaError(f"field {name!r}: expected a value (not nullable), found None")
                continue
            if kind == "string" and not value.isascii():
                _check_utf8(f"field {name!r}", value)
            if expected is None:
                if kind == "int" and not _INT64_MIN <= int(value) <= _INT64_MAX:
                    raise ValueError(f"field {name!r}: {value} does not fit in int64")
                resolved[name] = _KIND_TYPES[kind]
            elif not _fits(expected, value, kind):
                wider = _widened(expected, value, kind) if self.evolve else None
                if wider is None:
                    why = " (it cannot be stored there without loss)" if self.evolve else ""
                    raise SchemaError(
                        f"field {name!r}: expected {expected}, found {_describe(value)}{why}"
                    )
                resolved[name] = wider
        if self._required:
            missing = [n for n in self._required if n not in record]
            if missing:
                raise SchemaError(
                    f"field {sorted(missing)[0]!r} is missing; this bucket's schema declares it "
                    "not nullable"
                )
        return dict(record), resolved

    def _check(self, records: list) -> tuple[list[dict], dict[str, pa.DataType | None] | None]:
        """Validates ``records`` as one unit (state lock held): (copies, the
        fields after them). Changes nothing."""
        fields = None if self._fields is None else dict(self._fields)
        accepted = []
        provisional: set[str] = set()
        for record in records:
            copy, resolved = self._validate(record, fields, provisional)
            if fields is None:
                fields = {name: resolved.get(name) for name in copy}
            else:
                for name in copy:
                    fields.setdefault(name, None)
                fields.update(resolved)
            accepted.append(copy)
        for name in provisional:  # nested parts still without a type get the fallback
            dtype = fields[name]
            if dtype is not None and _has_untyped(dtype):
                logger.warning("bucket %s: parts of field %r were None (or empty lists) in every "
                               "value so far; storing them as %s", self.storage_path, name,
                               UNTYPED_FALLBACK)
                fields[name] = _settle(dtype)
        return accepted, fields

    def _changes_engine_schema(self, fields: dict[str, pa.DataType | None]) -> bool:
        """Whether appending records with ``fields`` changes the engine's schema
        in a way it may refuse (state lock held): a widened field, or a new
        field of a bucket that has a schema."""
        for name, dtype in fields.items():
            if dtype is None:
                continue
            old = self._fields.get(name) if self._fields else None
            if old is not None and old != dtype:
                return True
            if self._schema is not None and name not in self._schema.names:
                return True
        return False

    def accept(self, records: list, ticket: int | None = None,
               refuse_when_stuck: bool = True) -> _Group | _Change | _Wait:
        """Validates ``records`` as one unit and queues them; returns their group.

        Nothing is queued when any record is refused. On an evolving bucket it
        may instead return a :class:`_Change` (the caller appends it with
        :meth:`apply_change`) or a :class:`_Wait`: while a change is on its way
        records cannot be checked, so they take a ticket and are accepted in
        ticket order once it is done (a later put never overtakes an earlier
        one). ``ticket`` is the one a previous ``_Wait`` gave.
        """
        with self._state_lock:
            if ticket is not None:
                if self.closed:
                    self._abandon_ticket_locked(ticket)
                    raise ClosedError(f"bucket at {self.storage_path!r} is closed")
                if self._gate is not None or ticket != self._serving:
                    return _Wait(self._wakeup, ticket)
                self._advance_locked()  # our turn; the next waiter follows once we are done
            elif self._gate is not None or self._serving < self._next_ticket:
                if self.closed:
                    raise ClosedError(f"bucket at {self.storage_path!r} is closed")
                ticket, self._next_ticket = self._next_ticket, self._next_ticket + 1
                return _Wait(self._wakeup, ticket)
            if self.closed:
                raise ClosedError(f"bucket at {self.storage_path!r} is closed")
            if self.read_only is not None:
                raise self._read_only_error()
            limit = max(self.batch_size, self.flush_threshold)
            if refuse_when_stuck and self.last_error is not None and len(self._pending) >= limit:
                raise StorageError(
                    f"bucket at {self.storage_path!r} refuses new records: {len(self._pending)} "
                    f"records wait for the engine, which failed with: {self.last_error}"
                )
            copies = self._fast_copies_locked(records)
            if copies is not None:  # they pass the full check unchanged: skip it
                self._pending.extend(copies)
                return self._group
            accepted, fields = self._check(records)
            if self.evolve and self._changes_engine_schema(fields):
                self._gate = _Gate()
                return _Change(accepted, self._gate)
            self._fields = fields
            self._pending.extend(accepted)
            return self._group

    def _advance_locked(self) -> None:
        """The ticket being served is done: serve the next one not abandoned."""
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._broadcast_locked()

    def abandon_ticket(self, ticket: int) -> None:
        """A put waiting with ``ticket`` gave up (cancelled): skip its turn."""
        with self._state_lock:
            self._abandon_ticket_locked(ticket)

    def _abandon_ticket_locked(self, ticket: int) -> None:
        if ticket < self._serving:
            return
        if ticket == self._serving:
            self._advance_locked()
        else:
            self._abandoned.add(ticket)

    def _broadcast_locked(self) -> None:
        """Wakes every put waiting for its turn (they check again)."""
        wakeup, self._wakeup = self._wakeup, _Gate()
        wakeup.set()

    def abandon_change(self, change: _Change) -> None:
        """The put of ``change`` gave up before its append started: lift its gate."""
        with self._state_lock:
            if change.started:
                return
            change.abandoned = True
            self._open_gate(change.gate)

    def _open_gate(self, gate: _Gate) -> None:
        """State lock held."""
        if self._gate is gate:
            self._gate = None
        gate.set()
        self._broadcast_locked()

    def apply_change(self, change: _Change) -> None:
        """Appends a schema-changing unit of records on its own: the records
        accepted before it first, then it (checked again, against the schema as
        it is now). On failure nothing of it is kept and the error is raised."""
        with self._state_lock:
            if change.abandoned:
                return
            change.started = True
        try:
            with self._engine():
                self._check_open()
                self._drain_locked(1, True)
                with self._state_lock:
                    if self.read_only is not None:
                        raise self._read_only_error()
                    records, fields = self._check(change.records)
                    schema = self._write_schema(fields=fields)
                batch = pa.RecordBatch.from_pylist(records, schema=schema)
                self._append_batch(batch)
                schema = _native.schema(self._handle)
                with self._state_lock:
                    self._fields = fields
                    self._merge_engine_schema(schema)
                    self._committed += len(records)
        finally:
            with self._state_lock:
                self._open_gate(change.gate)

    # -- appending -------------------------------------------------------------------
    def _waiting_for_types(self) -> bool:
        """Whether the pending records should wait for a value that gives their
        untyped fields a type (state lock held): before the bucket has a schema,
        any untyped field (every field, on an evolving bucket, which leaves
        untyped fields out)."""
        if self._schema is not None or not self._fields:
            return False
        check = all if self.evolve else any
        return check(t is None for t in self._fields.values())

    def should_drain(self) -> bool:
        """Whether a put should hand the pending records to the engine now."""
        with self._state_lock:
            n = len(self._pending)
            if n < self.batch_size:
                return False
            if self._waiting_for_types() and n < self.flush_threshold:
                return False
            if self.last_error is not None:  # retry once per batch, not on every put
                return n % self.batch_size == 0
            return True

    def untyped_fields(self) -> list[str]:
        with self._state_lock:
            if self._schema is not None or not self._fields:
                return []
            return [name for name, t in self._fields.items() if t is None]

    def _write_schema(self, hint: pa.Schema | None = None,
                      fields: dict[str, pa.DataType | None] | None = None) -> pa.Schema:
        """Schema for appending the pending records (state lock held): the
        engine's fields as they are, new ones with their inferred types. A field
        without a type yet is left out on an evolving bucket (the engine reads
        it as null); otherwise - or when no field has a type - it is written
        with the fallback type, which fixes it."""
        if fields is None and hint is None and self._fields is not None:
            # the common case, batch after batch: cached for the objects it is made of
            cached = self._write_schema_cache
            if cached[0] is self._fields and cached[1] is self._schema:
                return cached[2]
            schema = self._write_schema(hint, self._fields)
            self._write_schema_cache = (self._fields, self._schema, schema)
            return schema
        if fields is None:
            fields = self._fields or {}
        have = self._schema
        if have is not None and not self.evolve:
            return have
        resolved: dict[str, pa.Field | None] = {}
        for name, dtype in fields.items():
            if have is not None and name in have.names:
                field = have.field(name)
                resolved[name] = field if dtype is None or dtype == field.type else field.with_type(dtype)
                continue
            if dtype is None and hint is not None and name in hint.names:
                dtype = hint.field(name).type
            resolved[name] = None if dtype is None else pa.field(name, dtype, nullable=True)
        untyped = [name for name, field in resolved.items() if field is None]
        if untyped and (not self.evolve or len(untyped) == len(resolved)):
            logger.warning(
                "bucket %s: field(s) %s were None in every record so far; writing them as %s",
                self.storage_path, ", ".join(map(repr, untyped)), UNTYPED_FALLBACK,
            )
            for name in untyped:
                resolved[name] = pa.field(name, UNTYPED_FALLBACK, nullable=True)
        return pa.schema([f for f in resolved.values() if f is not None])

    def _merge_engine_schema(self, schema: pa.Schema | None) -> None:
        """Takes over the engine's schema (``_native.schema``, fetched without
        the state lock, which is held now); untyped fields it lacks stay."""
        if schema is None:
            return
        self._schema = schema
        fields = dict(self._fields or {})
        for f in schema:
            fields[f.name] = f.type
        self._fields = fields
        self._required = _required(schema)

    def _append_batch(self, batch: pa.RecordBatch | list[pa.RecordBatch]) -> None:
        """One engine call (engine lock held): ``persisting_append`` for a batch,
        ``persisting_append_stream`` for a list of them (one all-or-nothing unit)."""
        if isinstance(batch, list):
            rows = sum(b.num_rows for b in batch)
            first = batch[0]
            call = lambda: _native.append_stream(  # noqa: E731
                self._handle, pa.RecordBatchReader.from_batches(first.schema, batch))
        else:
            rows, first = batch.num_rows, batch
            call = lambda: _native.append(self._handle, batch)  # noqa: E731
        try:
            call()
        except BaseException as exc:
            # The engine keeps an appended batch (in its buffer and WAL) even
            # when the automatic flush that followed failed: then the rows are
            # stored, and putting them back for a retry would store them twice.
            if not self._engine_took(rows):
                raise
            logger.warning(
                "bucket %s: the engine stored %d records but then reported: %s "
                "(the next flush retries writing them to Lance)",
                self.storage_path, rows, exc,
            )
            with self._state_lock:
                self._unflushed += rows
        else:
            with self._state_lock:
                self._unflushed += rows
                if self._unflushed >= self.flush_threshold:  # the engine flushed in the call
                    self._unflushed = 0
        if self._schema is None or (self.evolve and not _same_fields(first.schema, self._schema)):
            schema = _native.schema(self._handle) or first.schema
            with self._state_lock:
                self._merge_engine_schema(schema)

    def _engine_took(self, rows: int) -> bool:
        """After a failed append: whether the engine holds the ``rows`` anyway."""
        try:
            total, _, _ = _native.count(self._handle)
        except BaseException:
            return False
        with self._state_lock:
            return total == self._committed + rows

    def _drain_locked(self, min_rows: int, force: bool, hint: pa.Schema | None = None,
                      whole_batches: bool = False) -> int:
        """Appends the pending records as one batch (engine lock held); returns rows.

        Write-through: the pending records and their group move to
        ``_inflight`` (a failure fails their puts). Batching: the records are a
        copy of the list's head, which stays in ``_pending`` (readers read them
        from there) until the engine took them; the list itself is only ever
        appended to and cut at its head, so the lock-free fast path of put may
        append to it at any time. A failure keeps them where they are.
        ``whole_batches``: only a multiple of ``batch_size`` records (the rest
        wait, as they would after puts that each appended a full batch).
        """
        with self._state_lock:
            if len(self._pending) < max(min_rows, 1):
                return 0
            if self._waiting_for_types() and not force and len(self._pending) < self.flush_threshold:
                return 0  # wait for a value that fixes the type
            if self.write_through:
                records, self._pending = self._pending, []
                group, self._group = self._group, _Group()
                self._inflight = records
            else:
                n = len(self._pending)
                if whole_batches and not self._waiting_for_types():
                    n -= n % self.batch_size
                records, group = self._pending[:n], None
            schema = self._write_schema(hint)
        try:
            if not (self.records_path and self._append_records_locked(records)):
                self._append_batch(_records_to_batch(records, schema))
        except BaseException as exc:
            with self._state_lock:
                self.last_error = exc
                if group is not None:  # their puts fail; nothing is retried behind them
                    self._inflight = []
                    group.error = exc
                    group.done = True
            raise
        with self._state_lock:
            self._committed += len(records)
            self.last_error = None
            if group is not None:
                self._inflight = []
                group.done = True
            else:
                del self._pending[:len(records)]
        return len(records)

    def _records_appended(self, records: list[dict]) -> bool:
        """One ``persisting_append_records`` call with ``records`` as marshal
        bytes (engine lock held). False when a value does not marshal or the
        engine answers ESCHEMA: nothing was appended and the Arrow path takes
        them. Other engine errors are raised."""
        try:
            payload = marshal.dumps(records, 4)
        except ValueError:
            return False
        try:
            _native.append_records(self._handle, payload)
        except SchemaError as exc:
            if exc.code == _native.ESCHEMA:
                return False
            raise
        return True

    def _append_records_locked(self, records: list[dict]) -> bool:
        """Write-through (engine lock held): ``records`` as one marshal payload
        (``persisting_append_records``), then the flush the thresholds ask for,
        as the Arrow append would have flushed. False when the engine answered
        ESCHEMA or a value does not marshal: nothing was appended, the Arrow
        path takes them (and evolves the schema or names the error)."""
        if self._schema is None or not self._records_appended(records):
            return False
        with self._state_lock:
            self._unflushed += len(records)
            due = self._flush_due_locked()
        if due:
            self._flush_after_records_locked()
        return True

    def commit(self, group: _Group) -> None:
        """Write-through: makes sure ``group`` went to the engine, appending every
        pending record in one call unless an earlier call took them already."""
        with self._engine():
            if group.done:
                return
            self._check_open()
            self._drain_locked(1, True)

    def drain(self, min_rows: int = 1, force: bool = False) -> int:
        with self._engine():
            self._check_open()
            return self._drain_locked(min_rows, force)

    def append_arrow(self, batches: list[pa.RecordBatch]) -> int:
        """Appends Arrow batches after the pending records, in that order."""
        with self._engine():
            self._check_open()
            claimed = False
            gate = None
            if self.evolve:  # pending records first: they fix the schema the data evolves
                self._drain_locked(1, True)
            with self._state_lock:
                if self.read_only is not None:
                    raise self._read_only_error()
                if self.evolve and self._schema is not None:
                    # the engine evolves the schema; records accepted meanwhile
                    # are checked against the result
                    target = None
                    if self._gate is None:
                        gate = self._gate = _Gate()
                elif self._schema is not None:
                    target = self._schema
                elif self._fields is not None:  # records wait in Python: they decide
                    target = self._write_schema(hint=batches[0].schema)
                else:  # a new bucket: the data's schema becomes the bucket's
                    target = batches[0].schema
                    self._required = _required(target)
                    bad = [n for n in target.names if not n or "." in n]
                    if bad:
                        raise SchemaError(
                            f"field name {bad[0]!r}: must be non-empty and without '.' "
                            "(Lance reads dots as nested paths)"
                        )
                    self._fields = {f.name: f.type for f in target}
                    claimed = True
            try:
                untyped: list[str] = []
                if target is None:
                    conformed = []
                    for b in batches:  # all checked first
                        batch, left_out = _conform_evolving(b, self._schema)
                        conformed.append(batch)
                        untyped += left_out
                    if not all(b.schema.equals(conformed[0].schema) for b in conformed):
                        raise SchemaError(
                            "put_arrow: the batches of one call must share one schema "
                            f"({conformed[0].schema} vs {conformed[-1].schema})")
                else:
                    conformed = [_conform(b, target) for b in batches]  # all checked first
                self._drain_locked(1, True, hint=target)
                rows = sum(b.num_rows for b in conformed)
                # one engine call: several batches go in as one unit (all or none)
                # one engine call (_append_batch asks for the engine's schema
                # only when the data's fields differ from the bucket's)
                self._append_batch(conformed[0] if len(conformed) == 1 else conformed)
                with self._state_lock:
                    self._committed += rows
                    for name in untyped:
                        self._fields.setdefault(name, None)
            except BaseException:
                with self._state_lock:
                    if claimed and self._schema is None and not self._pending:
                        self._fields = None
                        self._required = frozenset()
                raise
            finally:
                if gate is not None:
                    with self._state_lock:
                        self._open_gate(gate)
            return rows

    def flush(self) -> None:
        with self._engine():
            self._check_open()
            self._drain_locked(1, True)
            _native.flush(self._handle)
            self._note_flushed()

    def close(self) -> None:
        """Appends what is pending, flushes and frees the engine handle. Idempotent."""
        with self._engine():
            if self.closed:
                return
            error: BaseException | None = None
            try:
                self._drain_locked(1, True)
            except BaseException as exc:  # close anyway; report the loss
                error = exc
            with self._state_lock:
                self.closed = True
            if error is None:  # a put that slipped in before it saw the bucket closed
                try:
                    self._drain_locked(1, True)
                except BaseException as exc:
                    error = exc
            with self._state_lock:
                lost = len(self._pending)
                if self._gate is not None:
                    self._open_gate(self._gate)
                self._broadcast_locked()  # waiting puts see the bucket closed
            try:
                _native.close_bucket(self._handle)
            except BaseException as exc:
                error = error or exc
            if error is not None:
                if lost:
                    cls = type(error) if isinstance(error, StorageError) else StorageError
                    try:
                        raise cls(
                            f"bucket at {self.storage_path!r}: {lost} records could not be written "
                            f"before close: {error}", code=getattr(error, "code", None)
                        ) from error
                    except TypeError:
                        pass
                    raise StorageError(
                        f"bucket at {self.storage_path!r}: {lost} records could not be written "
                        f"before close: {error}"
                    ) from error
                raise error

    def close_quietly(self) -> None:
        """Finalizer: close unless this process cannot call the library any more."""
        if self.closed or not _native.loaded_in_this_process():
            return
        try:
            self.close()
        except BaseException:  # never raise from a finalizer or atexit
            logger.exception("persisting: closing bucket at %s failed", self.storage_path)

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError(f"bucket at {self.storage_path!r} is closed")

    # -- maintenance -------------------------------------------------------------------
    def handle(self) -> int:
        """The engine handle, for calls that need no Python-side state."""
        self._check_open()
        return self._handle

    def read_version(self, version: int, offset: int, limit: int | None) -> pa.Table:
        self.settle()
        handle = self.handle()
        try:
            return _native.read_version(handle, version, offset, -1 if limit is None else limit).read_all()
        except StorageError as exc:
            if isinstance(exc, ClosedError):
                raise
            try:
                known = [v["version"] for v in _native.versions(handle)]
            except StorageError:
                raise exc from None
            if version in known:
                raise
            raise InvalidArgumentError(
                f"bucket at {self.storage_path!r} has no version {version} "
                f"(committed versions: {_describe_versions(known)}; older ones may have been "
                "cleaned up)", code=_native.EINVALID_ARGUMENT) from exc

    # -- indices and lookups ------------------------------------------------------------
    def _check_column(self, column: str) -> None:
        """State lock held: ``column`` is a typed top-level field."""
        fields = self._fields or {}
        if column not in fields:
            raise SchemaError(f"no field {column!r} in the bucket at {self.storage_path!r} "
                              f"(fields: {', '.join(fields) or 'none yet'})")
        if fields[column] is None:
            raise SchemaError(f"field {column!r} has no type yet (it was None in every record "
                              "so far)")

    def create_index(self, column: str, kind: str) -> dict[str, Any]:
        """Hands pending records to the engine, then builds the index (the
        engine flushes its buffer first, so the index covers every record)."""
        with self._engine():
            self._check_open()
            with self._state_lock:
                self._check_column(column)
            self._drain_locked(1, True)
            info = _native.create_index(self._handle, column, kind)
            self._note_flushed()  # the engine flushed its buffer first
            return info

    def lookup(self, column: str, cond: dict[str, Any]) -> pa.Table:
        """Rows whose ``column`` satisfies ``cond``, in append order; records
        still held in Python are handed to the engine first."""
        with self._engine():
            self._check_open()
            with self._state_lock:
                if self._fields is None:
                    return pa.table({})
                self._check_column(column)
            self._drain_locked(1, True)
            table = _native.lookup(self._handle, column, cond).read_all()
            self._note_flushed()  # the engine flushed its buffer first
        _, _, schema = self._snapshot()
        if schema is not None:
            schema = _union_schema(table.schema, schema)
            table = _with_schema(table, schema)
        return table

    # -- reading -----------------------------------------------------------------------
    def total_count(self) -> int:
        with self._state_lock:
            return self._committed + len(self._inflight) + len(self._pending)

    def _snapshot(self) -> tuple[int, list[dict], pa.Schema | None]:
        """(rows the engine holds, records still in Python, the schema reads
        show: every accepted field, null-typed while untyped)."""
        with self._state_lock:
            self._check_open()
            if self._fields is None:
                return self._committed, [], self._schema
            have = {f.name: f for f in self._schema} if self._schema is not None else {}
            out = []
            for name, dtype in self._fields.items():
                field = have.get(name)  # by dict: a wide schema must not cost fields^2
                if field is not None:
                    out.append(field if dtype is None or dtype == field.type else field.with_type(dtype))
                else:
                    out.append(pa.field(name, dtype if dtype is not None else pa.null()))
            return self._committed, self._inflight + self._pending, pa.schema(out)

    def read_table(self, offset: int, limit: int | None) -> pa.Table:
        """Rows [offset, offset+limit) as a table: engine rows zero-copy, the
        records still held in Python converted with the bucket's schema."""
        committed, extra, schema = self._snapshot()
        total = committed + len(extra)
        end = total if limit is None else min(total, offset + limit)
        parts = []
        if offset < min(end, committed):
            n = min(end, committed) - offset
            parts.append(_native.read(self._handle, offset, n).read_all())
            schema = _union_schema(parts[0].schema, schema)
            parts[0] = _with_schema(parts[0], schema)
        if end > committed and end > offset:
            chunk = extra[max(offset - committed, 0) : end - committed]
            parts.append(pa.Table.from_pylist(chunk, schema=schema))
        if not parts:
            return schema.empty_table() if schema is not None else pa.table({})
        if len(parts) == 1:
            return parts[0]
        return pa.concat_tables(parts)

    def read_rows(self, offset: int, limit: int | None) -> list[dict]:
        return self.read_table(offset, limit).to_pylist()

    def needs_engine(self, offset: int) -> bool:
        """Whether reading from ``offset`` touches rows the engine holds."""
        with self._state_lock:
            return offset < self._committed

    def stats(self) -> dict[str, Any]:
        with self._engine():
            self._check_open()
            engine = _native.stats(self._handle)
            total, persisted, buffered = _native.count(self._handle)
            with self._state_lock:
                held = len(self._inflight) + len(self._pending)
        stats = dict(engine)
        stats.update(
            bucket_id=self.bucket_id,
            storage_path=self.storage_path,
            total_count=total + held,
            persisted_count=persisted,
            buffer_count=buffered + held,
            buffer_size=buffered + held,
            pending_count=held,
            batch_size=self.batch_size,
            flush_threshold=self.flush_threshold,
            read_only=self.read_only is not None,
        )
        stats.setdefault("dataset_path", os.path.join(self.storage_path, "data.lance"))
        return stats


def _required(schema: pa.Schema | None) -> frozenset[str]:
    if schema is None:
        return frozenset()
    return frozenset(f.name for f in schema if not f.nullable)


def _same_fields(a: pa.Schema, b: pa.Schema) -> bool:
    """Same field names and types in the same order (nullability aside)."""
    return a.names == b.names and all(x.type == y.type for x, y in zip(a, b))


def _union_schema(have: pa.Schema, want: pa.Schema | None) -> pa.Schema:
    """``have`` (what the engine returned) plus the fields of ``want`` it lacks,
    in ``want``'s order where possible."""
    if want is None:
        return have
    # dict and set lookups: one per field, so a wide schema costs fields, not fields^2
    have_by_name = {f.name: f for f in have}
    want_names = set(want.names)
    out = [have_by_name.get(field.name, field) for field in want]
    out.extend(f for f in have if f.name not in want_names)
    return pa.schema(out)


def _with_schema(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``: its own columns (not copied), nulls for the rest."""
    if table.schema.equals(schema):
        return table
    columns = []
    index = {name: i for i, name in enumerate(table.column_names)}
    for field in schema:
        i = index.get(field.name)
        if i is not None:
            column = table.column(i)
            if column.type != field.type:
                column = column.cast(field.type)
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _describe_versions(known: list[int]) -> str:
    if not known:
        return "none"
    if known == list(range(known[0], known[-1] + 1)) and len(known) > 2:
        return f"{known[0]}..{known[-1]}"
    return ", ".join(map(str, known))


def _widened(expected: pa.DataType, value: Any, kind: str) -> pa.DataType | None:
    """On an evolving bucket: the type a field of ``expected`` widens to so it
    can hold ``value`` without loss (None: it cannot). The engine widens the
    stored column to it, refusing when a stored value does not convert exactly."""
    if pa.types.is_integer(expected):
        if kind == "float":
            return pa.float64()
        if kind == "int" and expected.bit_width < 64 and _INT64_MIN <= int(value) <= _INT64_MAX:
            return pa.int64()
    return None


def _unstorable(name: str, value: Any) -> str:
    """The message for a value of a type a record cannot carry."""
    kind = type(value).__name__
    return (f"field {name!r}: cannot store a value of type {kind} "
            "(supported: int, float, bool, str, bytes, datetime, date, None, and dicts and lists of them)")


def _conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """``batch`` with ``target``'s field order and types.

    Columns are reused as they are (zero-copy) when their type matches; a column
    of the same family (int32 -> int64, float32 -> float64, large_string ->
    string) is cast, which copies it. Missing fields become null columns.
    """
    have = batch.schema
    unknown = [n for n in have.names if n not in target.names]
    if unknown:
        raise SchemaError(
            f"field {unknown[0]!r} is not in this bucket's schema (fields: {', '.join(target.names)})"
        )
    columns = []
    for field in target:
        if field.name not in have.names:
            if not field.nullable:
                raise SchemaError(f"field {field.name!r} is missing; it is not nullable")
            columns.append(pa.nulls(batch.num_rows, type=field.type))
            continue
        column = batch.column(have.get_field_index(field.name))
        if not field.nullable and column.null_count:
            raise SchemaError(
                f"field {field.name!r}: expected values (not nullable), found {column.null_count} nulls"
            )
        if column.type != field.type:
            if not _same_family(column.type, field.type):
                raise SchemaError(
                    f"field {field.name!r}: expected {field.type}, found {column.type}"
                )
            try:
                column = column.cast(field.type, safe=True)
            except (pa.ArrowException, ValueError) as exc:
                raise SchemaError(
                    f"field {field.name!r}: cannot convert {column.type} to {field.type}: {exc}"
                ) from exc
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=target)


def _conform_evolving(batch: pa.RecordBatch, schema: pa.Schema) -> tuple[pa.RecordBatch, list[str]]:
    """``batch`` for an evolving bucket of ``schema``, and the names of the
    columns left out because they hold only nulls of no type yet.

    The engine adds fields, fills missing ones with nulls and widens numbers
    itself (refusing, with field, expected and found type, what it cannot
    store). Here: names Lance cannot store and nulls in not-nullable fields are
    refused; a string or binary column of another layout (large_string,
    string_view) is cast to the field's, which copies it; a null-typed column
    becomes the field's type, or - for a new field - is left out (the engine
    adds the field once a value gives it a type; reads show it as null).
    """
    bad = [n for n in batch.schema.names if not n or "." in n]
    if bad:
        raise SchemaError(
            f"field name {bad[0]!r}: must be non-empty and without '.' "
            "(Lance reads dots as nested paths)"
        )
    have = batch.schema
    columns, fields, untyped = [], [], []
    changed = False
    for i, field in enumerate(have):
        column = batch.column(i)
        want = schema.field(field.name) if field.name in schema.names else None
        if want is not None and not want.nullable and column.null_count:
            raise SchemaError(
                f"field {field.name!r}: expected values (not nullable), found {column.null_count} nulls"
            )
        if pa.types.is_null(column.type):
            changed = True
            if want is None:
                untyped.append(field.name)
                continue
            column, field = pa.nulls(len(column), type=want.type), want
        elif want is not None and column.type != want.type and _same_family(column.type, want.type) \
                and not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            column, field, changed = column.cast(want.type, safe=True), field.with_type(want.type), True
        columns.append(column)
        fields.append(field)
    for want in schema:
        if not want.nullable and want.name not in have.names:
            raise SchemaError(f"field {want.name!r} is missing; it is not nullable")
    if not columns:  # only untyped columns: rows of nulls in a nullable field
        want = next((f for f in schema if f.nullable), None)
        if want is None:
            raise SchemaError(f"fields {untyped}: no values to store, and every field is required")
        columns, fields = [pa.nulls(batch.num_rows, type=want.type)], [want]
    if not changed:
        return batch, untyped
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields)), untyped


def _arrow_batches(data: Any) -> list[pa.RecordBatch]:
    """The record batches of ``data`` (zero-copy where pyarrow allows)."""
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
    return [b for b in batches if b.num_rows > 0]


# ---- the backends -----------------------------------------------------------------
def _check_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        raise TypeError(f"version must be an int, got {type(version).__name__}")
    if not 1 <= version < 2**64:
        raise ValueError(f"version must be >= 1 (versions are numbered from 1), got {version}")
    return int(version)


def _check_older_than(value: Any) -> float:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"older_than must be a timedelta or a number of seconds, got {type(value).__name__}")
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"older_than must be a finite, non-negative duration, got {value!r}")
    return seconds


_TIMESTAMP = re.compile(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _parse_timestamp(text: str) -> datetime:
    """An RFC 3339 time as the engine writes it (nanoseconds, ``Z``) as an
    aware ``datetime`` in UTC (microseconds; Python has no finer)."""
    m = _TIMESTAMP.match(text)
    if not m:
        raise StorageError(f"the engine reported a timestamp that is not RFC 3339: {text!r}")
    frac = (m.group(2) or "")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{zone}").astimezone(timezone.utc)


#: the scalar index kinds :meth:`create_index` builds
INDEX_KINDS = ("BTREE", "BITMAP")
_UNSET: Any = object()


def _check_column_name(column: Any) -> str:
    if not isinstance(column, str):
        raise TypeError(f"column must be a str, got {type(column).__name__}")
    if not column:
        raise ValueError("column must not be empty")
    return column


def _condition_value(name: str, value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
        return value
    raise TypeError(f"{name} must be an int, float, str or bool, got {_describe(value)}")


def _condition(eq: Any, lo: Any, hi: Any, lo_inclusive: Any, hi_inclusive: Any, is_null: Any
               ) -> dict[str, Any]:
    """The engine's condition (``persisting_lookup``'s cond_json) for get_where's arguments."""
    for name, flag in (("lo_inclusive", lo_inclusive), ("hi_inclusive", hi_inclusive),
                       ("is_null", is_null)):
        _check_bool(name, flag)
    given = [name for name, on in (("eq", eq is not _UNSET), ("lo/hi", lo is not None or hi is not None),
                                   ("is_null", is_null)) if on]
    if len(given) != 1:
        raise ValueError("get_where needs exactly one condition: eq=value, lo=/hi= bounds, or "
                         f"is_null=True (got {', '.join(given) or 'none'})")
    if is_null:
        return {"op": "is_null"}
    if eq is not _UNSET:
        if eq is None:
            raise ValueError("eq=None matches nothing: use is_null=True for null values")
        return {"op": "eq", "value": _condition_value("eq", eq)}
    return {"op": "range", "lo": None if lo is None else _condition_value("lo", lo),
            "hi": None if hi is None else _condition_value("hi", hi),
            "lo_inclusive": lo_inclusive, "hi_inclusive": hi_inclusive}


def _check_bucket_id(bucket_id: Any) -> int:
    if isinstance(bucket_id, bool) or not isinstance(bucket_id, numbers.Integral):
        raise TypeError(f"bucket_id must be an int, got {type(bucket_id).__name__}")
    if bucket_id < 0:
        raise ValueError(f"bucket_id must be >= 0, got {bucket_id}")
    return int(bucket_id)


def _check_storage_path(storage_path: Any) -> str:
    if not isinstance(storage_path, (str, os.PathLike)):
        raise TypeError(f"storage_path must be a str or path, got {type(storage_path).__name__}")
    path = os.fspath(storage_path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValueError("storage_path must not be empty")
    return path


class _QueueBackend:
    """What LanceBackend and PersistingBackend share: the protocol pulsing calls
    (``put``, ``put_batch``, ``get``, ``get_stream``, ``flush``, ``stats``,
    ``total_count``), the Arrow extras and closing. Subclasses validate their
    options and call :meth:`_open`."""

    backend_name = ""

    def _open(self, bucket_id: Any, storage_path: Any, batch_size: Any, flush_threshold: Any,
              options: dict[str, Any], engine_options: dict[str, Any] | None = None,
              write_through: bool = False, evolve: bool = False) -> None:
        """Validates the common arguments and opens the bucket (engine handle)."""
        self.bucket_id = _check_bucket_id(bucket_id)
        self.storage_path = _check_storage_path(storage_path)
        self.batch_size = _check_positive_int("batch_size", batch_size)
        self.flush_threshold = _check_positive_int("flush_threshold", flush_threshold)
        if options:
            logger.warning(
                "%s(bucket %s) ignores unknown options: %s",
                type(self).__name__, self.bucket_id, ", ".join(sorted(options)),
            )
        self.options = dict(options)
        self._bucket = _Bucket(self.storage_path, self.bucket_id, self.batch_size,
                               self.flush_threshold, engine_options, write_through, evolve)
        # Flush and close when collected or at interpreter exit (pulsing never
        # flushes on shutdown). The finalizer holds the bucket, not the backend.
        self._finalizer = weakref.finalize(self, _Bucket.close_quietly, self._bucket)
        #: the bucket's fast path of put (fixed when the bucket opens)
        self._put_fast = self._bucket.put_fast
        # asyncio primitives are made lazily, on the loop that first needs them.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cond: asyncio.Condition | None = None
        self._write_lock: asyncio.Lock | None = None
        #: readers waiting in get_stream for new records (a put wakes them only then)
        self._readers = 0

    def __repr__(self) -> str:
        state = "closed" if self._bucket.closed else f"{self.total_count()} records"
        return (f"{type(self).__name__}(bucket_id={self.bucket_id}, "
                f"storage_path={self.storage_path!r}, {state})")

    # -- asyncio plumbing -----------------------------------------------------------
    def _primitives(self) -> tuple[asyncio.Condition, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._cond = asyncio.Condition()
            self._write_lock = asyncio.Lock()
        return self._cond, self._write_lock

    async def _notify(self) -> None:
        cond, _ = self._primitives()
        async with cond:
            cond.notify_all()

    async def _commit(self, group: _Group) -> None:
        """Write-through: returns once ``group`` is in the engine; raises its failure.

        Appends are serialised by the write lock, so puts that arrive while one
        engine call runs queue up and go to the engine together in the next.
        """
        _, write_lock = self._primitives()
        async with write_lock:
            if not group.done:
                try:
                    await asyncio.to_thread(self._bucket.commit, group)
                except BaseException:
                    if group.error is None:  # not the group's own failure (closed, cancelled)
                        raise
        if group.error is not None:
            raise _again(group.error)

    async def _drain(self) -> None:
        """Hands full batches to the engine; a failure is kept for flush() to report."""
        _, write_lock = self._primitives()
        async with write_lock:
            if not self._bucket.should_drain():
                return
            try:
                await asyncio.to_thread(self._bucket.drain, self.batch_size)
            except ClosedError:
                raise
            except StorageError as exc:
                logger.warning(
                    "bucket %s: appending to the engine failed (records kept, retried on the "
                    "next batch or flush): %s", self.storage_path, exc,
                )

    @property
    def closed(self) -> bool:
        return self._bucket.closed

    # -- writing --------------------------------------------------------------------
    async def put(self, record: dict[str, Any]) -> None:
        """Appends one record.

        A batching backend keeps it in memory until ``batch_size`` records make
        one engine call; a write-through one (PersistingBackend with WAL) returns
        only once the record is in the engine's WAL.

        Raises TypeError (not a dict, a value of an unsupported type), ValueError
        (empty record), SchemaError (a field or type the bucket's schema does not
        have) or ClosedError; a refused record is not stored.
        """
        # The fast path (see _Bucket._put_fast_batching/_put_fast_records):
        # taken without leaving the event loop's thread, or None.
        taken = self._put_fast(record)
        if taken is None:
            await self._accept_and_write([record])
            return
        if self._readers:
            await self._notify()
        if taken is True:
            return
        if taken is False:  # many records wait for the background appends
            await asyncio.to_thread(self._bucket.settle)
        else:  # _FIRST_APPEND: as the full path does, so its outcome is the put's
            await self._drain()

    async def put_batch(self, records: Iterable[dict[str, Any]]) -> None:
        """Appends many records as one unit: all are accepted or none."""
        if isinstance(records, dict) or not isinstance(records, Iterable):
            raise TypeError(f"records must be a list of dicts, got {type(records).__name__}")
        records = list(records)
        if not records:
            return
        bucket = self._bucket
        if bucket.records_on_loop and bucket.append_records_fast(records):
            if self._readers:
                await self._notify()
            return
        await self._accept_and_write(records)

    async def _accept_and_write(self, records: list) -> None:
        """Accepts ``records`` (one unit) and writes them as their kind needs."""
        ticket = None
        while True:
            accepted = self._bucket.accept(records, ticket)
            if not isinstance(accepted, _Wait):
                break
            ticket = accepted.ticket  # a schema change is on its way, or earlier puts wait
            try:
                await accepted.gate.wait()
            except BaseException:
                self._bucket.abandon_ticket(ticket)
                raise
        if isinstance(accepted, _Change):
            await self._apply_change(accepted)
        else:
            await self._written(accepted)

    async def _apply_change(self, change: _Change) -> None:
        """Appends a schema-changing unit at once, on its own (see ``_Change``)."""
        try:
            _, write_lock = self._primitives()
            async with write_lock:
                await asyncio.to_thread(self._bucket.apply_change, change)
        finally:
            self._bucket.abandon_change(change)  # no-op once its append started
            await self._notify()

    async def _written(self, group: _Group) -> None:
        """After accepting records: hands them to the engine when due (at once
        when writing through), then wakes waiting readers."""
        if self._bucket.write_through:
            try:
                await self._commit(group)
            finally:
                await self._notify()
            return
        await self._notify()
        if self._bucket.should_drain():
            await self._drain()

    async def put_arrow(self, data: Any) -> int:
        """Appends Arrow data without copying its buffers; returns the rows appended.

        ``data``: a ``pyarrow.RecordBatch``, ``Table`` or ``RecordBatchReader``, or
        any object with ``__arrow_c_stream__``/``__arrow_c_array__`` (polars,
        nanoarrow, arrow-rs ...). Columns are matched by name; a column whose type
        differs within its family (int32 for int64) is cast, which copies it.
        All batches go to the engine in one call, as one unit (all or none);
        records from earlier ``put`` calls are appended first, so order is kept.
        """
        batches = _arrow_batches(data)
        if self._bucket.closed:
            raise ClosedError(f"bucket at {self.storage_path!r} is closed")
        if not batches:
            return 0
        _, write_lock = self._primitives()
        async with write_lock:
            # puts take the full path (under the state lock) while it may change the schema
            self._bucket.exclusive += 1
            try:
                rows = await asyncio.to_thread(self._bucket.append_arrow, batches)
            finally:
                self._bucket.exclusive -= 1
        await self._notify()
        return rows

    async def flush(self) -> None:
        """Writes everything held in memory as a new Lance dataset version."""
        _, write_lock = self._primitives()
        async with write_lock:
            await asyncio.to_thread(self._bucket.flush)

    # -- reading ---------------------------------------------------------------------
    async def _read(self, offset: int, limit: int | None) -> list[dict]:
        if self._bucket.needs_engine(offset):
            return await asyncio.to_thread(self._bucket.read_rows, offset, limit)
        return self._bucket.read_rows(offset, limit)

    async def get(self, limit: int | None = None, offset: int = 0, version: int | None = None
                  ) -> list[dict[str, Any]]:
        """Records [offset, offset+limit) in append order (``limit=None``: to the end).

        pulsing calls ``get(limit, offset)`` positionally; keywords work too.
        ``version``: read that committed Lance version instead (time travel, see
        :meth:`versions`); records not flushed yet belong to no version.
        """
        limit, offset = _check_range(limit, offset)
        if version is not None:
            return (await self.get_arrow(limit, offset, version=version)).to_pylist()
        if limit == 0:
            return []
        return await self._read(offset, limit)

    async def get_arrow(self, limit: int | None = None, offset: int = 0,
                        version: int | None = None) -> pa.Table:
        """Records [offset, offset+limit) as a ``pyarrow.Table``; rows the engine
        holds arrive without copying. ``version``: as for :meth:`get`."""
        limit, offset = _check_range(limit, offset)
        if version is not None:
            version = _check_version(version)
            return await asyncio.to_thread(self._bucket.read_version, version, offset, limit)
        return await asyncio.to_thread(self._bucket.read_table, offset, limit)

    async def get_by_indices(self, indexes: Iterable[int]) -> list[dict[str, Any]]:
        """Records at the given offsets, in the given order; offsets out of range
        are skipped (as pulsing's MemoryBackend does)."""
        wanted = [int(i) for i in indexes]
        total = self._bucket.total_count()
        valid = sorted({i for i in wanted if 0 <= i < total})
        if not valid:
            return []

        def fetch() -> dict[int, dict]:
            found: dict[int, dict] = {}
            start = prev = valid[0]
            for i in valid[1:] + [None]:
                if i is not None and i == prev + 1:
                    prev = i
                    continue
                for k, row in enumerate(self._bucket.read_rows(start, prev - start + 1)):
                    found[start + k] = row
                if i is not None:
                    start = prev = i
            return found

        found = await asyncio.to_thread(fetch)
        return [found[i] for i in wanted if i in found]

    async def get_stream(
        self,
        limit: int | None = None,
        offset: int = 0,
        wait: bool = False,
        timeout: float | None = None,
        *,
        block: bool | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yields lists of at most ``min(remaining, 100)`` records from ``offset``.

        ``wait=False`` stops when no more records exist. ``wait=True`` waits for
        new records until ``limit`` records were yielded; ``timeout`` is an idle
        timeout restarted after every wake-up, and ``None`` or ``0`` waits
        forever (as pulsing's MemoryBackend does). When it expires, or the
        backend is closed, the stream ends quietly. ``block`` is an alias of
        ``wait``.
        """
        if block is not None:
            wait = bool(block)
        limit, offset = _check_range(limit, offset)
        if self._bucket.closed:
            raise ClosedError(f"bucket at {self.storage_path!r} is closed")
        remaining = limit
        current = offset
        cond, _ = self._primitives()
        while remaining is None or remaining > 0:
            if self._bucket.closed:
                return  # closed while streaming
            if current >= self._bucket.total_count():
                if not wait:
                    return
                async with cond:
                    if current >= self._bucket.total_count() and not self._bucket.closed:
                        self._readers += 1
                        try:
                            if timeout:
                                await asyncio.wait_for(cond.wait(), timeout=timeout)
                            else:
                                await cond.wait()
                        except asyncio.TimeoutError:
                            return
                        finally:
                            self._readers -= 1
                continue
            want = _STREAM_READ if remaining is None else min(remaining, _STREAM_READ)
            rows = await self._read(current, want)
            if not rows:
                if not wait:
                    return
                await asyncio.sleep(0)
                continue
            for start in range(0, len(rows), STREAM_BATCH):
                chunk = rows[start : start + STREAM_BATCH]
                yield chunk
                current += len(chunk)
                if remaining is not None:
                    remaining -= len(chunk)

    # -- state -----------------------------------------------------------------------
    def total_count(self) -> int:
        """Records in the bucket, including those not yet flushed (synchronous, cheap)."""
        return self._bucket.total_count()

    async def stats(self) -> dict[str, Any]:
        """bucket_id, total_count, buffer_count (= buffer_size), persisted_count,
        storage_path, backend (the name it registers as), plus the engine's own
        figures."""
        stats = await asyncio.to_thread(self._bucket.stats)
        stats["backend"] = self.backend_name
        return stats

    # -- versions and maintenance ----------------------------------------------------
    async def versions(self) -> list[dict[str, Any]]:
        """The committed versions of the dataset, oldest first, as
        ``{"version": int, "timestamp": datetime (UTC)}``. Every flush (and
        compaction, and schema change) commits one; each stays readable with
        ``get(..., version=v)`` until :meth:`cleanup_old_versions` removes it."""
        self._bucket.handle()  # ClosedError here, on the caller's thread
        raw = await asyncio.to_thread(self._bucket.call, _native.versions)
        return [{"version": int(v["version"]), "timestamp": _parse_timestamp(v["timestamp"])}
                for v in raw]

    async def compact(self, target_rows: int | None = None) -> dict[str, Any]:
        """Merges small adjacent fragments of the dataset into fragments of up to
        ``target_rows`` rows (None: Lance's default, 1Mi) as one new version.

        Row order and so every offset stay the same; older versions stay
        readable until cleaned up; readers never see a half-done state. Records
        not flushed yet are not touched (call :meth:`flush` first to include
        them). Returns ``version_before``, ``version``, ``fragments_before``
        and ``fragments``. Runs off the event loop.
        """
        rows = 0 if target_rows is None else _check_positive_int("target_rows", target_rows)
        self._bucket.handle()  # ClosedError here, on the caller's thread
        return await asyncio.to_thread(self._bucket.call, _native.compact, rows)

    async def cleanup_old_versions(
        self, older_than: timedelta | float = timedelta(days=14)
    ) -> dict[str, Any]:
        """Removes the versions committed more than ``older_than`` ago (a
        ``timedelta`` or seconds; pylance's default, 14 days) and the files only
        they use. The newest version is always kept. Returns counts of what was
        removed (``old_versions``, ``data_files``, ``bytes_removed``, ...)."""
        seconds = _check_older_than(older_than)
        self._bucket.handle()  # ClosedError here, on the caller's thread
        return await asyncio.to_thread(self._bucket.call, _native.cleanup_old_versions, seconds)

    # -- scalar indices and lookups --------------------------------------------------
    async def create_index(self, column: str, kind: str = "BTREE") -> dict[str, Any]:
        """Builds a Lance scalar index on top-level field ``column``: ``"BTREE"``
        (ranges and equality on numbers, strings, ...) or ``"BITMAP"`` (equality
        on a field of few distinct values). pylance lists and uses it
        (``lance.dataset(p).list_indices()``); :meth:`get_where` answers from it.

        Records not yet flushed are flushed first, so the index covers them; it
        is committed as a new version and replaces an index of the same name.
        Records appended later are found by lookups too (scanned) until the
        index is built again. Returns the index's ``name``, ``type``,
        ``columns``, ``dataset_version`` and ``fragments``. Runs off the event loop.

        Raises ValueError (an unknown kind), SchemaError (no such field, or one
        with no type yet) and UnsupportedError (a column the index cannot hold,
        such as a struct or list).
        """
        column = _check_column_name(column)
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a str ('BTREE' or 'BITMAP'), got {type(kind).__name__}")
        if kind.upper() not in INDEX_KINDS:
            raise ValueError(f"unknown index kind {kind!r}: expected 'BTREE' or 'BITMAP'")
        _, write_lock = self._primitives()
        async with write_lock:
            return await asyncio.to_thread(self._bucket.create_index, column, kind.upper())

    async def indices(self) -> list[dict[str, Any]]:
        """The dataset's indices, as :meth:`create_index` describes them."""
        self._bucket.handle()  # ClosedError here, on the caller's thread
        return await asyncio.to_thread(self._bucket.call, _native.indices)

    async def get_where(
        self,
        column: str,
        *,
        eq: Any = _UNSET,
        lo: Any = None,
        hi: Any = None,
        lo_inclusive: bool = True,
        hi_inclusive: bool = False,
        is_null: bool = False,
        as_arrow: bool = False,
    ) -> list[dict[str, Any]] | pa.Table:
        """The records whose top-level field ``column`` satisfies one condition,
        in append order:

        - ``eq=v``: equal to ``v``;
        - ``lo=``/``hi=``: in the range from ``lo`` to ``hi`` (a bound left out
          is open; ``lo_inclusive=True`` and ``hi_inclusive=False`` by default,
          as a Python range);
        - ``is_null=True``: null.

        ``v``, ``lo`` and ``hi`` are int, float, str or bool values of the
        field's kind. Parts of the dataset an index of ``column`` covers
        (:meth:`create_index`) are answered from the index, the rest scanned.
        Records not yet flushed are found too: they are flushed first (a new
        version). ``as_arrow=True`` returns a ``pyarrow.Table``. Runs off the
        event loop.
        """
        column = _check_column_name(column)
        cond = _condition(eq, lo, hi, lo_inclusive, hi_inclusive, is_null)
        _, write_lock = self._primitives()
        async with write_lock:
            table = await asyncio.to_thread(self._bucket.lookup, column, cond)
        return table if as_arrow else table.to_pylist()

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
        _, write_lock = self._primitives()
        async with write_lock:
            self._bucket.exclusive += 1  # puts meanwhile take the full path, under the lock
            try:
                await asyncio.to_thread(self.close)
            finally:
                self._bucket.exclusive -= 1
                await self._notify()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _again(exc: BaseException) -> StorageError:
    """A fresh exception for one more caller whose records failed with ``exc``
    (one failed engine call fails every put of its group)."""
    if isinstance(exc, StorageError):
        try:
            new = type(exc)(str(exc), code=exc.code)
        except TypeError:
            new = StorageError(str(exc), code=exc.code)
    else:
        new = StorageError(f"append failed: {type(exc).__name__}: {exc}")
    new.__cause__ = exc
    return new


class LanceBackend(_QueueBackend):
    """A pulsing storage backend: one queue bucket as a Lance dataset.

    Args:
        bucket_id: the bucket's number (reported by ``stats``).
        storage_path: the bucket's directory (created when missing); the data
            lives in ``{storage_path}/data.lance``. Reopening a path recovers what
            was flushed there, and offsets continue.
        batch_size: records gathered in Python before they are handed to the
            engine in one call.
        flush_threshold: records held in memory before an automatic flush writes
            a new Lance version.
        **kwargs: other options (for other backends) are accepted and logged.

    Construction opens the dataset; it does no asyncio work, so it may run on
    any thread (pulsing builds backends on a worker thread). Call ``flush()``
    to make records durable; ``close()``/``aclose()`` flush and release the
    bucket, and every backend still open is flushed when the interpreter exits.

    Every flush commits a Lance version: :meth:`versions` lists them,
    ``get(..., version=v)`` reads one, :meth:`compact` merges small fragments
    and :meth:`cleanup_old_versions` removes old versions.
    """

    backend_name = "lance"

    def __init__(
        self,
        bucket_id: int,
        storage_path: str | os.PathLike,
        batch_size: int = 100,
        flush_threshold: int = 1000,
        **kwargs: Any,
    ):
        self._open(bucket_id, storage_path, batch_size, flush_threshold, kwargs)


#: the compression codecs Lance data files use (both read back by pylance).
_COMPRESSIONS = ("zstd", "lz4")


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def _check_compression(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"compression must be a str or None, got {type(value).__name__}")
    name = value.lower()
    if name in _COMPRESSIONS:
        return name
    if name == "snappy":
        raise ValueError("compression='snappy': the Lance file format has no snappy codec (it "
                         "compresses with zstd or lz4); use 'zstd', 'lz4' or None")
    raise ValueError(f"unknown compression {value!r}: expected 'zstd', 'lz4' or None")


def _check_storage_version(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"data_storage_version must be a str or None, got {type(value).__name__}")
    if value not in ("2.0", "2.1", "2.2"):
        raise ValueError(f"data_storage_version must be '2.0', '2.1' or '2.2', got {value!r}")
    return value


def _check_sync_interval(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"wal_sync_interval must be a number of seconds, got {type(value).__name__}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"wal_sync_interval must be a finite number of seconds >= 0, got {value}")
    return seconds


def _check_non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if value > 2**31 - 1:
        raise ValueError(f"{name} must be < 2**31, got {value}")
    return int(value)


def _check_metrics_address(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"metrics_address must be a str like '127.0.0.1:9464', got {type(value).__name__}")
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"metrics_address must be 'host:port' (e.g. '127.0.0.1:9464'), got {value!r}")
    return value


class PersistingBackend(_QueueBackend):
    """LanceBackend plus a write-ahead log and Prometheus metrics.

    Args:
        bucket_id, storage_path, batch_size, flush_threshold: as for
            :class:`LanceBackend` (``flush_threshold`` is a keyword option here).
        enable_wal: log every record in ``{storage_path}/wal`` before ``put``
            returns. Records are then not gathered in Python: each put goes to
            the engine at once, and puts that arrive while an engine call runs
            share the next call (group commit). Reopening the path replays what
            was acknowledged but not flushed, exactly once, at the same offsets.
            Without the WAL, records are batched (``batch_size``) as in
            LanceBackend and only ``flush()`` makes them durable.
        compression: "zstd" or "lz4" compresses the data files flushes write
            (pylance reads them back); None (default) writes them uncompressed.
            "snappy" is refused: the Lance format has no snappy codec.
        enable_metrics: record this bucket's metrics: ``stats()["metrics"]``,
            :meth:`get_metrics` and :func:`persisting.metrics_text`.
        wal_sync_interval: seconds; 0 fsyncs the WAL before each put returns
            (concurrent puts share the fsync), > 0 fsyncs at least that often.
        max_wal_size: bytes; when the WAL grows past it, the buffer is flushed
            to Lance, which empties the WAL: by that append, or by the next put
            when the record went to the engine as such (that call never
            flushes); the WAL stays within the limit plus one entry.
        metrics_address (keyword): "host:port"; serve every bucket's metrics at
            ``http://host:port/metrics`` (one server per address and process;
            implies ``enable_metrics``). Port 0 picks a free port; ``stats()``
            reports the real one as ``metrics_address``.
        schema_evolution (keyword): True (default) lets records add fields and
            widen int fields to float (see the module's schema rules); False
            keeps the first record's fields and types, as LanceBackend does.
        compaction_threshold (keyword): int >= 0; after a flush that leaves the
            dataset with at least this many fragments, the engine compacts it
            (0, the default: never on its own; :meth:`compact` any time).
        data_storage_version (keyword): the Lance data file version of a
            dataset this bucket creates, "2.0", "2.1" or "2.2" (None, the
            default: 2.2). 2.0 cannot store struct or list fields: a put that
            brings one raises UnsupportedError naming the field. An existing
            dataset keeps its own version.
        **kwargs: other options are accepted and logged.

    Bad values raise TypeError/ValueError when the backend is made.

    With the WAL, ``total_count()`` and reads include records whose put is
    still waiting for its engine call; should that call fail, its puts raise
    (``WALError`` for a WAL failure) and those records are gone, not retried.

    Besides LanceBackend's methods (versions, time travel, :meth:`compact`,
    :meth:`cleanup_old_versions`, :meth:`create_index`, :meth:`get_where`) it
    evolves its schema (see the module's schema rules) and reports metrics.
    """

    backend_name = "persisting"

    def __init__(
        self,
        bucket_id: int,
        storage_path: str | os.PathLike,
        batch_size: int = 100,
        enable_wal: bool = False,
        compression: str | None = None,
        enable_metrics: bool = False,
        wal_sync_interval: float = 1.0,
        max_wal_size: int = 100 * 1024 * 1024,
        *,
        flush_threshold: int = 1000,
        metrics_address: str | None = None,
        schema_evolution: bool = True,
        compaction_threshold: int = 0,
        data_storage_version: str | None = None,
        **kwargs: Any,
    ):
        self.enable_wal = _check_bool("enable_wal", enable_wal)
        self.data_storage_version = _check_storage_version(data_storage_version)
        self.schema_evolution = _check_bool("schema_evolution", schema_evolution)
        self.compaction_threshold = _check_non_negative_int("compaction_threshold", compaction_threshold)
        self.compression = _check_compression(compression)
        self.wal_sync_interval = _check_sync_interval(wal_sync_interval)
        self.max_wal_size = _check_positive_int("max_wal_size", max_wal_size)
        self.metrics_address = _check_metrics_address(metrics_address)
        self.enable_metrics = _check_bool("enable_metrics", enable_metrics) or bool(metrics_address)
        engine: dict[str, Any] = {
            "enable_wal": self.enable_wal,
            "wal_sync_interval": self.wal_sync_interval,
            "max_wal_size": self.max_wal_size,
            "enable_metrics": self.enable_metrics,
            "compaction_threshold": self.compaction_threshold,
        }
        if self.compression:
            engine["compression"] = self.compression
        if self.data_storage_version:
            engine["data_storage_version"] = self.data_storage_version
        if self.metrics_address:
            engine["metrics_address"] = self.metrics_address
        self._open(bucket_id, storage_path, batch_size, flush_threshold, kwargs,
                   engine_options=engine, write_through=self.enable_wal,
                   evolve=self.schema_evolution)

    async def stats(self) -> dict[str, Any]:
        """LanceBackend's stats plus ``wal_enabled``, ``wal_size`` (bytes),
        ``compression``, ``schema_evolution``, ``compaction_threshold``,
        ``metrics_address`` (where ``/metrics`` is served - the real port when
        port 0 was asked for - or None) and, with metrics on, ``metrics`` (as
        :meth:`get_metrics`)."""
        stats = await super().stats()
        stats["wal_enabled"] = self.enable_wal
        stats.setdefault("wal_size", 0)
        stats["compression"] = self.compression
        stats["schema_evolution"] = self.schema_evolution
        stats["compaction_threshold"] = self.compaction_threshold
        stats["metrics_address"] = stats.get("metrics_address") or None
        if self.enable_metrics:
            stats["metrics"] = stats.get("metrics") or {}
        else:
            stats.pop("metrics", None)
        return stats

    def get_metrics(self) -> dict[str, Any]:
        """This bucket's current metric values by name: counters and gauges as
        numbers, the flush-duration histogram as ``{"count", "sum"}``, failures
        as ``persisting_errors_total{op=...}``. Empty when metrics are off.

        Synchronous and cheap: the engine answers without waiting for a flush
        or compaction of this bucket that may be running.
        """
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
