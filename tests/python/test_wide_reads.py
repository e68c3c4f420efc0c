"""Reads of wide records cost time linear in the fields (issue 17: one record
with 4,000 fields took 3.3 s to get(), 8,000 took 14 s, 100,000 never
returned, because every field was looked up by scanning the schema).

No timing here (bench/wide.py measures against pylance): the schema and the
table a read works on are wrapped in stand-ins that count every field they
hand out, and a read of 2n fields must touch about twice what n fields
touch, not four times."""

from __future__ import annotations

import pytest

from persisting import _native
from persisting.queue import LanceBackend, PersistingBackend


class Touches:
    """How many fields (or field names) the read was handed."""

    def __init__(self) -> None:
        self.count = 0


class CountingSchema:
    """A pyarrow Schema stand-in: iteration, names, lookups and comparison
    count the fields they hand out; everything else goes to the schema."""

    def __init__(self, schema, touches: Touches):
        self._schema = schema
        self._touches = touches

    def __iter__(self):
        for field in self._schema:
            self._touches.count += 1
            yield field

    def __len__(self):
        return len(self._schema)

    @property
    def names(self):
        self._touches.count += len(self._schema)
        return self._schema.names

    def field(self, key):
        self._touches.count += 1  # pyarrow finds a name through a hash map
        return self._schema.field(key)

    def equals(self, other, *args, **kwargs):
        self._touches.count += len(self._schema)
        other = other._schema if isinstance(other, CountingSchema) else other
        return self._schema.equals(other, *args, **kwargs)

    def __eq__(self, other):
        return self.equals(other)

    def __getattr__(self, name):
        return getattr(self._schema, name)


class CountingTable:
    """A pyarrow Table stand-in counting the columns it hands out."""

    def __init__(self, table, touches: Touches):
        self._table = table
        self._touches = touches

    @property
    def schema(self):
        return CountingSchema(self._table.schema, self._touches)

    @property
    def column_names(self):
        self._touches.count += self._table.num_columns
        return self._table.column_names

    def column(self, key):
        self._touches.count += 1
        return self._table.column(key)

    def __getattr__(self, name):
        return getattr(self._table, name)


class CountingReader:
    def __init__(self, reader, touches: Touches):
        self._reader = reader
        self._touches = touches

    def read_all(self):
        return CountingTable(self._reader.read_all(), self._touches)


async def touches_of_a_read(tmp_path, monkeypatch, backend_class, n: int) -> int:
    """Fields touched by get() of one flushed record of n fields."""
    path = str(tmp_path / f"{backend_class.__name__}-{n}")
    record = {f"f{i}": i for i in range(n)}
    backend = backend_class(bucket_id=0, storage_path=path)
    try:
        await backend.put(record)
        await backend.flush()
        touches = Touches()
        bucket = backend._bucket
        bucket._schema = CountingSchema(bucket._schema, touches)
        read = _native.read
        monkeypatch.setattr(_native, "read", lambda *a: CountingReader(read(*a), touches))
        rows = await backend.get()
        monkeypatch.setattr(_native, "read", read)
        bucket._schema = bucket._schema._schema
        assert rows == [record]
        return touches.count
    finally:
        backend.close()


@pytest.mark.parametrize("backend_class", [LanceBackend, PersistingBackend])
async def test_read_touches_each_field_a_bounded_number_of_times(tmp_path, monkeypatch, backend_class):
    n = 300
    small = await touches_of_a_read(tmp_path, monkeypatch, backend_class, n)
    large = await touches_of_a_read(tmp_path, monkeypatch, backend_class, 2 * n)
    assert small > 0, "the stand-ins were not used: the test no longer watches the read"
    assert large <= 2.2 * small, f"{n} fields: {small} touches, {2 * n} fields: {large} (quadratic?)"
    assert small <= 20 * n, f"{small} field touches for {n} fields"
