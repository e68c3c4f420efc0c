"""The put path's compiled call: ``persisting._put`` (``python/persisting/_put.c``).

``_native.append_records`` (``put``, ``put_batch``) calls the library's
``persisting_append_records`` through it, not through ctypes. These tests pin
down that it is the one used, that it calls the library ctypes loaded, that
every error reads as it did through ctypes, that 64-bit handles and lengths
cross whole, and that the GIL is released while the engine runs.
"""

from __future__ import annotations

import ctypes
import datetime
import importlib.machinery
import os
import sysconfig
import textwrap
import threading
from ctypes import CFUNCTYPE, byref, c_int, c_int64, c_size_t, c_uint64, c_void_p

import pytest

from helpers import PYTHON_SRC, explain, run_python
from persisting import _encode, _native, _put, errors
from persisting._encode import encode_record, encode_records
from persisting.queue import PersistingBackend


def address(name: str) -> int:
    return ctypes.cast(getattr(_native.lib(), name), c_void_p).value


def bind(append: int, on_error=None) -> None:
    """Binds the compiled call as ``_native.lib()`` does, with ``append`` in place of the library's."""
    _put.bind(append, address("persisting_error_release"), on_error or _native._append_failed,
              _encode.encode_record, _encode._PLAIN)


@pytest.fixture
def bound_to():
    """Binds the compiled call to another function (a ctypes callback or a C
    function) for one test; binds the library's own back afterwards."""
    real = address("persisting_append_records")
    kept = []

    def bind_to(fn) -> None:
        kept.append(fn)
        bind(fn if isinstance(fn, int) else ctypes.cast(fn, c_void_p).value)

    yield bind_to
    bind(real)


def test_the_compiled_module_is_the_put_call_and_uses_the_loaded_library():
    _native.lib()
    assert _native.append_records is _put.append and _native.put_record is _put.put
    assert type(_put.append).__name__ == "builtin_function_or_method"
    assert isinstance(_put.__loader__, importlib.machinery.ExtensionFileLoader)
    assert _put.__file__.startswith(str(PYTHON_SRC / "persisting")) or "site-packages" in _put.__file__
    # one build for every CPython >= 3.10 (limited API), except a free-threaded one
    suffix = sysconfig.get_config_var("EXT_SUFFIX") if sysconfig.get_config_var("Py_GIL_DISABLED") else ".abi3.so"
    assert _put.__file__.endswith(suffix), _put.__file__


async def test_put_goes_through_the_compiled_call(bucket_path, bound_to):
    """With the compiled call bound to a recorder, put and put_batch reach it
    (and nothing else appends): the backend calls no ctypes append."""
    seen = []

    @CFUNCTYPE(c_int, c_uint64, c_void_p, c_size_t, c_void_p, c_void_p)
    def recorder(handle, data, length, first, err):
        seen.append((handle, ctypes.string_at(data, length)))
        c_int64.from_address(first).value = 7
        return 0

    b = PersistingBackend(0, bucket_path)
    try:
        bound_to(recorder)
        await b.put({"a": 1})
        await b.put_batch([{"a": 2}, {"a": 3}])
        assert seen == [(b._handle, encode_record({"a": 1})), (b._handle, encode_records([{"a": 2}, {"a": 3}]))]
        assert b.total_count() == 0  # the recorder stored nothing
    finally:
        b.close()


def via_ctypes(handle: int, data: bytes) -> int:
    """persisting_append_records as the package called it before: through ctypes."""
    err, first = _native.PersistingError(), c_int64()
    rc = _native.lib().persisting_append_records(c_uint64(handle), data, c_size_t(len(data)), byref(first), byref(err))
    if rc:
        _native._raise(rc, err, "append", first)
    return first.value


# (name, record): each refused by the engine, once its schema is {"a": int64}
REFUSED = [
    ("ESCHEMA", {"a": "text"}, errors.SchemaError),
    ("ETYPE", {"a": 1, "t": datetime.time(12, tzinfo=datetime.timezone.utc)}, errors.UnstorableError),
    ("EINVALID_ARGUMENT", {"a": 1, "t": datetime.timedelta.max}, errors.InvalidArgumentError),
]


@pytest.mark.parametrize("name, record, exc", REFUSED, ids=[r[0] for r in REFUSED])
def test_engine_errors_read_as_they_did_through_ctypes(tmp_path, name, record, exc):
    handle = _native.open_bucket(str(tmp_path / "b"))
    try:
        assert _native.append_records(handle, encode_record({"a": 1})) == 0
        data = encode_record(record)
        with pytest.raises(exc) as compiled:
            _native.append_records(handle, data)
        with pytest.raises(exc) as old:
            via_ctypes(handle, data)
        assert compiled.value.code == old.value.code == getattr(_native, name)
        assert str(compiled.value) == str(old.value) and str(compiled.value).startswith("append: ")
        assert _native.append_records(handle, encode_record({"a": 2})) == 1  # nothing stored, nothing leaked
    finally:
        _native.close_bucket(handle)
    for call in (_native.append_records, via_ctypes):  # EINVALID_HANDLE after close
        with pytest.raises(errors.ClosedError, match="^append: persisting: invalid or closed handle$") as info:
            call(handle, encode_record({"a": 3}))
        assert info.value.code == _native.EINVALID_HANDLE


@pytest.mark.parametrize("handle", [2**31, 2**32 + 5, 2**63, 2**64 - 1])
def test_a_handle_past_2_to_the_31_reaches_the_engine_whole(handle):
    with pytest.raises(errors.ClosedError, match="^append: persisting: invalid or closed handle$"):
        _native.append_records(handle, encode_record({"a": 1}))


@pytest.mark.parametrize("handle, bad", [(-1, OverflowError), (2**64, OverflowError), ("1", TypeError)])
def test_a_handle_outside_uint64_is_refused_before_the_call(handle, bad):
    with pytest.raises(bad):
        _native.append_records(handle, encode_record({"a": 1}))


def test_64_bit_handles_and_lengths_cross_whole(bound_to):
    """A handle >= 2**31 and data >= 2**31 bytes (calloc'd, never touched) reach
    the C function unchanged: no int or ssize_t truncation on the way."""
    seen = []

    @CFUNCTYPE(c_int, c_uint64, c_void_p, c_size_t, c_void_p, c_void_p)
    def recorder(handle, data, length, first, err):
        seen.append((handle, length))
        c_int64.from_address(first).value = 2**40 + 1
        return 0

    bound_to(recorder)
    big = bytes(2**31 + 3)
    assert _native.append_records(2**64 - 1, big) == 2**40 + 1
    assert _native.append_records(2**31, b"x" * 5) == 2**40 + 1
    assert seen == [(2**64 - 1, 2**31 + 3), (2**31, 5)]


@pytest.mark.parametrize("code, exc, first", [
    (_native.ENOT_FLUSHED, errors.FlushError, 41),   # stored: the offset of its first row comes along
    (_native.EWAL, errors.WALError, None),
    (_native.ETYPE, errors.UnstorableError, None),
])
def test_status_codes_map_to_their_exceptions(bound_to, code, exc, first):
    """A failing call's status, error struct and first cell, as the engine
    leaves them (no message: the text names the code)."""
    @CFUNCTYPE(c_int, c_uint64, c_void_p, c_size_t, c_void_p, c_void_p)
    def failing(handle, data, length, first_cell, err):
        c_int64.from_address(first_cell).value = 41
        c_int.from_address(err).value = code
        return code

    bound_to(failing)
    with pytest.raises(exc) as info:
        _native.append_records(1, b"x")
    assert info.value.code == code and info.value.first_offset == first
    assert str(info.value) == f"append failed ({_native.CODE_NAMES[code]})"


GIL_RELEASED = textwrap.dedent("""
    import ctypes, os, threading
    from persisting import _native, _put
    _native.lib()
    # read(fd, buf, count) takes the first three arguments of persisting_append_records
    from persisting import _encode
    lib = _native.lib()
    release = ctypes.cast(lib.persisting_error_release, ctypes.c_void_p).value
    # read()'s status (the bytes read) comes back through on_error
    _put.bind(ctypes.cast(ctypes.CDLL(None).read, ctypes.c_void_p).value, release, lambda rc, *_: rc,
              _encode.encode_record, _encode._PLAIN)
    r, w = os.pipe()
    entered, got = threading.Event(), []

    def reader():
        entered.set()
        got.append(_put.append(r, b"\\0" * 4))  # blocks in read() on the empty pipe (the test writes into it)

    thread = threading.Thread(target=reader)
    thread.start()
    entered.wait()
    os.write(w, b"ping")  # runs only if the reader's call released the GIL
    thread.join()
    print("read", got)
""")


def test_the_gil_is_released_during_the_call():
    """Bound to libc's read(), a call blocks in C on an empty pipe until
    another thread writes to it: with the GIL held there, that thread never
    runs again (the timeout ends the hang)."""
    proc = run_python(GIL_RELEASED, timeout=60)
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.strip() == "read [4]", explain(proc)


def test_put_from_many_threads_at_once(tmp_path):
    """Eight threads put through the compiled call at once (the GIL released in
    each): every record stored once, offsets unique."""
    handle = _native.open_bucket(str(tmp_path / "b"), {"flush_threshold": 500})
    threads, rounds, start = 8, 500, threading.Barrier(8)
    offsets: list[int] = []

    def work(t: int) -> None:
        start.wait()
        mine = [_native.append_records(handle, encode_record({"t": t, "i": i})) for i in range(rounds)]
        offsets.extend(mine)

    try:
        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        assert sorted(offsets) == list(range(threads * rounds))
        rows = _native.read(handle, 0, -1).read_all().to_pylist()
        assert sorted((r["t"], r["i"]) for r in rows) == [(t, i) for t in range(threads) for i in range(rounds)]
    finally:
        _native.close_bucket(handle)


def test_a_missing_compiled_module_is_a_clear_error_at_load(tmp_path):
    proc = run_python(textwrap.dedent("""
        import sys
        sys.modules["persisting._put"] = None  # as if it was never built
        from persisting import StorageError, _native
        try:
            _native.lib()
        except StorageError as exc:
            print("StorageError", exc)
    """))
    assert proc.returncode == 0, explain(proc)
    out = proc.stdout
    assert out.startswith("StorageError persisting's compiled put call is missing"), out
    assert "make lib" in out and "python3-dev" in out, out


def test_bind_refuses_what_is_not_an_address():
    with pytest.raises(TypeError):
        _put.bind("0x1", 1, print, print, frozenset())
    with pytest.raises(ValueError):
        _put.bind(0, 0, print, print, frozenset())
    with pytest.raises(TypeError):
        _put.bind(1)
    with pytest.raises(TypeError):
        _put.append(1, b"x", 8)
    with pytest.raises(TypeError):
        _put.put(1)


class Odd(dict):
    """A dict subclass: marshal cannot write it, so put encodes it in Python."""


# put(handle, record) encodes as encode_record does: marshal as it is for a dict of plain
# values, _encode for anything else (tagged values, a key marshal cannot write, not a dict)
ENCODED = [
    ("plain", {"a": 1, "s": "x", "f": 0.5, "b": b"\x00", "n": None, "ok": True}),
    ("datetime", {"a": 1, "t": datetime.datetime(2020, 1, 2, 3, 4, 5)}),
    ("nested", {"a": 1, "l": [1, 2], "d": {"k": (1, 2)}}),
    ("odd key", {"a": 1, object(): 2}),
    ("dict subclass", Odd(a=1)),
    ("not a dict", [{"a": 1}]),
]


@pytest.mark.parametrize("name, record", ENCODED, ids=[e[0] for e in ENCODED])
def test_put_sends_what_encode_record_makes(bound_to, name, record):
    seen = []

    @CFUNCTYPE(c_int, c_uint64, c_void_p, c_size_t, c_void_p, c_void_p)
    def recorder(handle, data, length, first, err):
        seen.append(ctypes.string_at(data, length))
        return 0

    bound_to(recorder)
    assert _put.put(3, record) == 0
    assert seen == [encode_record(record)]


def test_put_refuses_what_the_engine_refuses(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"))
    try:
        assert _native.put_record(handle, {"a": 1}) == 0
        for record, exc, text in [({"a": "x"}, errors.SchemaError, "expected int64"),
                                  ({"a": 1, object(): 2}, errors.UnstorableError, "field names must be str"),
                                  ([{"a": 1}], errors.UnstorableError, "a record must be a dict"),
                                  ({"a": {1, 2}}, errors.UnstorableError, "cannot store a set"),
                                  ({}, errors.InvalidArgumentError, "must not be empty")]:
            with pytest.raises(exc, match=text):
                _native.put_record(handle, record)
        assert _native.put_record(handle, Odd(a=2)) == 1
        assert _native.read(handle, 0, -1).read_all().to_pylist() == [{"a": 1}, {"a": 2}]
    finally:
        _native.close_bucket(handle)
    with pytest.raises(errors.ClosedError, match="^append: persisting: invalid or closed handle$"):
        _native.put_record(handle, {"a": 3})


def test_the_put_calls_work_before_the_library_is_loaded_and_after_being_put_back(tmp_path):
    """Before the first load, _native's put calls are Python functions that load the library;
    a test (monkeypatch) can put them back after the load has replaced them: they still work."""
    proc = run_python(textwrap.dedent(f"""
        from persisting import _native
        put, append = _native.put_record, _native.append_records  # before the load
        try:
            put(1, {{"a": 1}})
        except Exception as exc:
            print(type(exc).__name__)
        assert _native.put_record is not put  # the load bound the compiled call
        _native.put_record, _native.append_records = put, append  # as monkeypatch's undo does
        h = _native.open_bucket({str(tmp_path / "b")!r})
        print(_native.put_record(h, {{"a": 1}}), _native.append_records(h, __import__("marshal").dumps({{"a": 2}}, 4)))
    """))
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.split() == ["ClosedError", "0", "1"], explain(proc)
