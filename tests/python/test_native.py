"""The ctypes layer: signatures match the header, lazy loading, errors, fork safety."""

from __future__ import annotations

import re
import textwrap
import threading

import pyarrow as pa
import pytest

from helpers import REPO, explain, run_python
from persisting import _native, errors
from persisting._encode import encode_record


def header_functions() -> dict[str, str]:
    text = (REPO / "include" / "persisting.h").read_text()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return {m.group(2): m.group(1) for m in re.finditer(r"^\s*([\w\s\*]+?)\s*\**\s*(persisting_\w+)\s*\(", text, re.M)}


def test_every_header_function_is_declared():
    declared = set(_native._SIGNATURES)
    in_header = set(header_functions())
    assert in_header, "no functions parsed from include/persisting.h"
    assert in_header == declared, (in_header - declared, declared - in_header)


def test_handles_are_uint64_and_statuses_int():
    import ctypes

    no_handle = {"persisting_error_release", "persisting_string_free", "persisting_version",
                 "persisting_open", "persisting_metrics_text", "persisting_inspect", "persisting_verify"}
    for name, (restype, argtypes) in _native._SIGNATURES.items():
        if name not in no_handle:
            assert argtypes[0] is ctypes.c_uint64, name
            assert restype is ctypes.c_int, name
    assert _native._SIGNATURES["persisting_read_version"][1][1] is ctypes.c_uint64
    assert _native._SIGNATURES["persisting_cleanup_old_versions"][1][1] is ctypes.c_double
    assert _native._SIGNATURES["persisting_open"][1][2]._type_ is ctypes.c_uint64


def test_status_codes_match_header():
    text = (REPO / "include" / "persisting.h").read_text()
    codes = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define (PERSISTING_E?\w+) (\d+)", text)}
    names = {name: code for code, name in _native.CODE_NAMES.items()}
    assert codes.items() <= names.items(), (codes, names)
    # mapped ahead of the header: EBUSY comes with the writer lock (issue 17)
    assert set(names) - set(codes) <= {"PERSISTING_EBUSY"}


def test_error_classes_by_code():
    assert _native.error_class(_native.ESCHEMA) is errors.SchemaError
    assert _native.error_class(_native.EWAL) is errors.WALError
    assert issubclass(_native.error_class(_native.EINVALID_ARGUMENT), ValueError)
    assert issubclass(_native.error_class(_native.EINVALID_ARGUMENT), errors.StorageError)
    assert _native.error_class(_native.EIO) is errors.StorageError
    assert _native.error_class(_native.EUNSUPPORTED) is errors.UnsupportedError
    assert issubclass(errors.WALError, errors.StorageError)
    assert issubclass(errors.SchemaError, errors.StorageError)
    assert _native.error_class(_native.ETYPE) is errors.UnstorableError
    assert issubclass(errors.UnstorableError, TypeError)
    assert issubclass(errors.UnstorableError, errors.StorageError)
    assert _native.error_class(_native.ENOT_FLUSHED) is errors.FlushError
    assert errors.FlushError("x").stored is True
    assert _native.error_class(_native.EBUSY) is errors.BusyError
    assert _native.error_class(99) is errors.StorageError  # a code this package does not know


def test_engine_errors_are_raised_with_code_and_released(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"))
    try:
        _native.append(handle, pa.RecordBatch.from_pylist([{"a": 1}]))
        with pytest.raises(errors.SchemaError) as info:
            _native.append(handle, pa.RecordBatch.from_pylist([{"a": "text"}]))
        assert info.value.code == _native.ESCHEMA
        assert str(info.value)
        with pytest.raises(errors.InvalidArgumentError):
            _native.open_bucket(str(tmp_path / "c"), {"no_such_option": 1})
        for _ in range(200):  # errors are released: no growth, no crash
            with pytest.raises(errors.SchemaError):
                _native.append(handle, pa.RecordBatch.from_pylist([{"a": "text"}]))
        assert _native.read(handle, 0, -1).read_all().to_pylist() == [{"a": 1}]
    finally:
        _native.close_bucket(handle)
    with pytest.raises(errors.ClosedError):
        _native.flush(handle)
    with pytest.raises(errors.ClosedError):
        _native.count(handle)


def test_put_path_errors_are_per_thread(tmp_path):
    """append_records and count reuse one error struct per thread: threads
    refused at the same time each get their own message, and nothing else
    goes missing."""
    handle = _native.open_bucket(str(tmp_path / "b"), {"flush_threshold": 10**9})
    threads, rounds, start = 8, 1000, threading.Barrier(8)
    got: dict[int, list[str]] = {}

    def work(t: int) -> None:
        start.wait()
        for i in range(rounds):
            _native.append_records(handle, encode_record({"a": i}))
            try:
                _native.append_records(handle, encode_record({"a": f"thread-{t}"}))
            except errors.SchemaError as exc:
                got.setdefault(t, []).append(str(exc))
            _native.count(handle)

    try:
        _native.append_records(handle, encode_record({"a": -1}))  # the schema: a is int64
        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        assert _native.count(handle)[0] == 1 + threads * rounds
    finally:
        _native.close_bucket(handle)
    assert sorted(got) == list(range(threads))
    for t, messages in got.items():
        assert len(messages) == rounds and all(f"'thread-{t}'" in m for m in messages), messages[:3]


def test_native_read_write_roundtrip(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"), {"bucket_id": 9, "flush_threshold": 1000})
    try:
        assert _native.schema(handle) is None
        batch = pa.RecordBatch.from_pylist([{"x": i, "s": str(i)} for i in range(10)])
        _native.append(handle, batch)
        assert _native.count(handle) == (10, 0, 10)
        _native.flush(handle)
        assert _native.count(handle) == (10, 10, 0)
        assert _native.schema(handle).names == ["x", "s"]
        table = _native.read(handle, 3, 4).read_all()
        assert table.column("x").to_pylist() == [3, 4, 5, 6]
        assert _native.read(handle, 20, 5).read_all().num_rows == 0
        stats = _native.stats(handle)
        assert stats["bucket_id"] == 9 and stats["total_count"] == 10
    finally:
        _native.close_bucket(handle)


def test_append_stream_is_one_unit(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"), {"enable_wal": True, "wal_sync_interval": 0})
    try:
        schema = pa.schema([("x", pa.int64())])
        batches = [pa.record_batch([pa.array([i, i + 1], pa.int64())], schema=schema) for i in (0, 2, 4)]
        _native.append_stream(handle, pa.RecordBatchReader.from_batches(schema, batches))
        assert _native.count(handle) == (6, 0, 6)
        wrong = pa.schema([("x", pa.string())])
        with pytest.raises(errors.SchemaError):
            _native.append_stream(handle, pa.RecordBatchReader.from_batches(
                wrong, [pa.record_batch([pa.array(["a"])], schema=wrong)]))
        assert _native.count(handle) == (6, 0, 6)  # nothing of the refused stream
        assert _native.stats(handle)["wal_size"] > 0
    finally:
        _native.close_bucket(handle)
    handle = _native.open_bucket(str(tmp_path / "b"))
    try:
        assert _native.read(handle, 0, -1).read_all().column("x").to_pylist() == list(range(6))
    finally:
        _native.close_bucket(handle)


def test_metrics_text_is_a_string(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"), {"enable_metrics": True, "bucket_id": 4})
    try:
        _native.append(handle, pa.RecordBatch.from_pylist([{"x": 1}]))
        text = _native.metrics_text()
        assert "# TYPE persisting_records_total counter" in text
        assert f'persisting_records_total{{bucket="4",path="{tmp_path / "b"}"}} 1' in text
    finally:
        _native.close_bucket(handle)


def test_version():
    assert _native.version()


def test_import_does_not_load_the_library():
    proc = run_python(textwrap.dedent("""
        import persisting, persisting.queue, persisting._native as n
        maps = open("/proc/self/maps").read()
        assert not n.is_loaded()
        assert "libpersisting" not in maps, "loaded at import"
        b = persisting.queue.LanceBackend(0, __import__("tempfile").mkdtemp())
        assert n.is_loaded() and "libpersisting" in open("/proc/self/maps").read()
        b.close()
        print("ok")
    """))
    assert proc.returncode == 0 and "ok" in proc.stdout, explain(proc)


def test_missing_library_is_a_clear_error(tmp_path):
    proc = run_python(textwrap.dedent("""
        import persisting
        from persisting import StorageError
        from persisting.queue import LanceBackend
        try:
            LanceBackend(0, "/tmp/never-created")
        except StorageError as e:
            print("ERR", e)
    """), env=__import__("helpers").child_env(PERSISTING_LIB=str(tmp_path / "nope.so")))
    assert proc.returncode == 0 and "ERR" in proc.stdout and "PERSISTING_LIB" in proc.stdout, explain(proc)


def test_use_after_fork_raises_instead_of_hanging(tmp_path):
    """A forked child must not enter the Go runtime; finalizers at its exit must not either."""
    proc = run_python(textwrap.dedent(f"""
        import asyncio, os, sys
        from persisting import ForkError
        from persisting.queue import LanceBackend
        b = LanceBackend(0, {str(tmp_path / 'b')!r}, batch_size=1)
        asyncio.run(b.put({{"a": 1}}))
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(b.flush())
            except ForkError as e:
                print("child: ForkError", e, flush=True)
                sys.exit(0)   # normal exit: atexit finalizers run and must not call Go
            print("child: no error", flush=True)
            sys.exit(3)
        _, status = os.waitpid(pid, 0)
        print("child status", os.waitstatus_to_exitcode(status), flush=True)
        asyncio.run(b.flush())
        b.close()
        print("parent ok", flush=True)
    """), timeout=60)
    assert proc.returncode == 0, explain(proc)
    assert "child: ForkError" in proc.stdout and "fork" in proc.stdout.lower()
    assert "child status 0" in proc.stdout and "parent ok" in proc.stdout, explain(proc)


def test_open_backends_are_flushed_at_exit(tmp_path):
    path = str(tmp_path / "b")
    proc = run_python(textwrap.dedent(f"""
        import asyncio
        from persisting.queue import LanceBackend
        b = LanceBackend(0, {path!r}, batch_size=100)
        async def main():
            for i in range(5):
                await b.put({{"i": i}})
        asyncio.run(main())
        print("exiting without flush")
    """))
    assert proc.returncode == 0, explain(proc)
    proc = run_python(textwrap.dedent(f"""
        import asyncio
        from persisting.queue import LanceBackend
        b = LanceBackend(0, {path!r})
        print(asyncio.run(b.stats())["persisted_count"], asyncio.run(b.get()))
    """))
    assert proc.returncode == 0, explain(proc)
    assert proc.stdout.strip() == "5 [{'i': 0}, {'i': 1}, {'i': 2}, {'i': 3}, {'i': 4}]"


def test_versions_compaction_and_time_travel_calls(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"), {"flush_threshold": 1000})
    try:
        assert _native.versions(handle) == []
        for i in range(3):
            _native.append(handle, pa.RecordBatch.from_pylist([{"x": i}]))
            _native.flush(handle)
        versions = _native.versions(handle)
        assert [v["version"] for v in versions] == [1, 2, 3]
        assert all(isinstance(v["timestamp"], str) and v["timestamp"].endswith("Z") for v in versions)
        assert _native.read_version(handle, 2, 0, -1).read_all().column("x").to_pylist() == [0, 1]
        assert _native.read_version(handle, 3, 1, 1).read_all().column("x").to_pylist() == [1]
        with pytest.raises(errors.InvalidArgumentError) as info:  # the header says so
            _native.read_version(handle, 42, 0, -1)
        assert "42" in str(info.value) and info.value.code == _native.EINVALID_ARGUMENT
        result = _native.compact(handle, 0)
        assert result == {"version_before": 3, "version": 4, "fragments_before": 3, "fragments": 1}
        removed = _native.cleanup_old_versions(handle, 0.0)
        assert removed["old_versions"] == 3
        assert [v["version"] for v in _native.versions(handle)] == [4]
        with pytest.raises(errors.InvalidArgumentError):
            _native.cleanup_old_versions(handle, -1.0)
        with pytest.raises(errors.InvalidArgumentError):
            _native.compact(handle, -1)
        assert _native.bucket_metrics(handle) == {}  # metrics off
    finally:
        _native.close_bucket(handle)
    with pytest.raises(errors.ClosedError):
        _native.versions(handle)


def test_bucket_metrics_and_stats_address(tmp_path):
    handle = _native.open_bucket(str(tmp_path / "b"), {"metrics_address": "127.0.0.1:0"})
    try:
        _native.append(handle, pa.RecordBatch.from_pylist([{"x": 1}, {"x": 2}]))
        metrics = _native.bucket_metrics(handle)
        assert metrics["persisting_records_total"] == 2 and metrics["persisting_buffer_size"] == 2
        address = _native.stats(handle)["metrics_address"]
        assert address.startswith("127.0.0.1:") and not address.endswith(":0"), address
    finally:
        _native.close_bucket(handle)
