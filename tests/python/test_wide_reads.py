"""Reads of wide records cost work linear in the fields (issue 17: one record
with 4,000 fields took 3.3 s to get(), 8,000 took 14 s, 100,000 never
returned, because every field was looked up by scanning the schema).

Nothing here is timed (bench/wide.py measures get() against pylance). Two
counts that grow with the work of a read are taken for one record of n and of
2n fields; 2n must cost about twice what n costs, not four times:

- in the shell: the fields and columns get() asks of the Arrow data the
  engine hands it (stand-ins around ``_native.read``'s result count them);
- in the engine and its C export: the Go heap objects and bytes get()
  allocates (stats ``boundary.go_heap_allocs``/``go_heap_alloc_bytes`` of the
  test build - bytes catch a copy of the field list per field, which is one
  object each time; a process loads one Go
  library, so that part runs in a spawned Python with
  ``build/testhooks/libpersisting.so``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import REPO, child_env, explain, run_python
from persisting import _native
from persisting.queue import LanceBackend, PersistingBackend

FIELDS = 500
BACKENDS = [LanceBackend, PersistingBackend]


class Touches:
    """How many reads the stand-ins saw, and how many fields, field names or
    columns those reads were handed."""

    def __init__(self) -> None:
        self.reads = 0
        self.fields = 0


class CountingSchema:
    """A pyarrow Schema stand-in counting the fields it hands out."""

    def __init__(self, schema, touches: Touches):
        self._schema, self._touches = schema, touches

    def __iter__(self):
        for field in self._schema:
            self._touches.fields += 1
            yield field

    def __len__(self):
        return len(self._schema)

    @property
    def names(self):
        self._touches.fields += len(self._schema)
        return self._schema.names

    def field(self, key):
        self._touches.fields += 1  # pyarrow finds a name through a hash map
        return self._schema.field(key)

    def get_field_index(self, name):
        self._touches.fields += 1
        return self._schema.get_field_index(name)

    def equals(self, other, *args, **kwargs):
        self._touches.fields += len(self._schema)
        other = other._schema if isinstance(other, CountingSchema) else other
        return self._schema.equals(other, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._schema, name)


class CountingData:
    """A pyarrow Table or RecordBatch stand-in counting the columns it hands out."""

    def __init__(self, data, touches: Touches):
        self._data, self._touches = data, touches

    @property
    def schema(self):
        return CountingSchema(self._data.schema, self._touches)

    @property
    def column_names(self):
        self._touches.fields += self._data.num_columns
        return self._data.column_names

    @property
    def columns(self):
        self._touches.fields += self._data.num_columns
        return self._data.columns

    def column(self, key):
        self._touches.fields += 1
        return self._data.column(key)

    def __getattr__(self, name):
        return getattr(self._data, name)


class CountingReader:
    """A pyarrow RecordBatchReader stand-in: what it reads is counted."""

    def __init__(self, reader, touches: Touches):
        self._reader, self._touches = reader, touches
        touches.reads += 1

    @property
    def schema(self):
        return CountingSchema(self._reader.schema, self._touches)

    def read_all(self):
        return CountingData(self._reader.read_all(), self._touches)

    def read_next_batch(self):
        return CountingData(self._reader.read_next_batch(), self._touches)

    def __iter__(self):
        for batch in self._reader:
            yield CountingData(batch, self._touches)

    def __getattr__(self, name):
        return getattr(self._reader, name)


async def shell_touches(tmp_path, monkeypatch, backend_class, n: int) -> Touches:
    """What get() of one flushed record of n fields asks of the Arrow data."""
    record = {f"f{i}": i for i in range(n)}
    backend = backend_class(bucket_id=0, storage_path=str(tmp_path / f"{backend_class.__name__}-{n}"))
    try:
        await backend.put(record)
        await backend.flush()
        touches = Touches()
        read = _native.read
        with monkeypatch.context() as patch:
            patch.setattr(_native, "read", lambda *args: CountingReader(read(*args), touches))
            rows = await backend.get()
        assert rows == [record]
        return touches
    finally:
        backend.close()


@pytest.mark.parametrize("backend_class", BACKENDS)
async def test_the_shell_touches_each_field_a_bounded_number_of_times(tmp_path, monkeypatch, backend_class):
    small = await shell_touches(tmp_path, monkeypatch, backend_class, FIELDS)
    large = await shell_touches(tmp_path, monkeypatch, backend_class, 2 * FIELDS)
    assert small.reads >= 1 and large.reads >= 1, "get() did not read through _native.read: the test no longer watches it"
    assert large.fields <= 2.2 * small.fields + 10, (
        f"{FIELDS} fields: {small.fields} touches, {2 * FIELDS} fields: {large.fields} (quadratic?)")
    assert small.fields <= 20 * FIELDS, f"{small.fields} field touches for {FIELDS} fields"


# Prints, per backend and width, the Go heap objects and bytes allocated by the
# first get() of a freshly opened bucket holding one flushed record of that width.
ENGINE_ALLOCS = r"""
import asyncio, json, sys
from persisting.queue import LanceBackend, PersistingBackend

async def allocs(cls, path, n):
    record = {f"f{i}": i for i in range(n)}
    # no background work (auto flush, maintenance): the counters are the
    # process's, so only the read may allocate between the two stats
    quiet = {"maintenance": False, "max_flush_delay_sec": 0}
    backend = cls(bucket_id=0, storage_path=path, **quiet)
    await backend.put(record)
    backend.close()
    backend = cls(bucket_id=0, storage_path=path, **quiet)  # a fresh open: nothing cached
    try:
        before = (await backend.stats())["boundary"]
        rows = await backend.get()
        after = (await backend.stats())["boundary"]
        assert rows == [record], "the read returned something else"
        return {k: after[k] - before[k] for k in ("go_heap_allocs", "go_heap_alloc_bytes")}
    finally:
        backend.close()

async def main(base, n):
    out = {}
    for cls in (LanceBackend, PersistingBackend):
        out[cls.__name__] = [await allocs(cls, f"{base}/{cls.__name__}-{w}", w) for w in (n, 4 * n)]
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_the_engine_allocates_linearly_in_fields(tmp_path):
    lib = Path(os.environ.get("PERSISTING_TESTHOOKS_LIB") or REPO / "build" / "testhooks" / "libpersisting.so")
    if not lib.is_file():
        pytest.fail(f"{lib} is missing: build it with `./build.sh testhooks`", pytrace=False)
    proc = run_python(ENGINE_ALLOCS, str(tmp_path), str(FIELDS), env=child_env(PERSISTING_LIB=str(lib)))
    assert proc.returncode == 0, explain(proc)
    for backend, (small, large) in json.loads(proc.stdout.splitlines()[-1]).items():
        assert small["go_heap_allocs"] > FIELDS, f"{backend}: {small}: the counters do not count"
        for count in ("go_heap_allocs", "go_heap_alloc_bytes"):
            # 4x the fields: linear is 4x, quadratic 16x; the margin absorbs
            # the runtime's own allocations, which the process-wide counters see
            assert large[count] <= 5.5 * small[count], (
                f"{backend}: get() of {FIELDS} fields: {count} {small[count]}, "
                f"of {4 * FIELDS} fields: {large[count]} (quadratic?)")
