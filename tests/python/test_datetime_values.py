"""datetime and date values (issue #5's mapping: datetime -> timestamp,
date -> date32) stored through put() on both backends, read back exactly by
get() after a flush and a reopen, and by pylance with the same Arrow types."""

from __future__ import annotations

import datetime as dt
import os

import lance
import pyarrow as pa
import pytest

from persisting import SchemaError
from persisting.queue import LanceBackend, PersistingBackend

BACKENDS = {
    "lance": lambda p: LanceBackend(0, p, batch_size=3),
    "persisting-wal": lambda p: PersistingBackend(0, p, enable_wal=True, wal_sync_interval=0),
}

UTC = dt.timezone.utc
PLUS2 = dt.timezone(dt.timedelta(hours=2))


def rec(i: int) -> dict:
    return {
        "id": i,
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, 123456) + dt.timedelta(minutes=i),
        "at_utc": dt.datetime(2026, 5, 6, 7, 8, 9, tzinfo=PLUS2) + dt.timedelta(seconds=i),
        "day": None if i % 3 == 0 else dt.date(2026, 11, 25) - dt.timedelta(days=i),
    }


def expected(i: int) -> dict:
    r = rec(i)
    r["at_utc"] = r["at_utc"].astimezone(UTC)  # an aware value is stored as UTC
    return r


@pytest.mark.parametrize("make", list(BACKENDS.values()), ids=list(BACKENDS))
async def test_datetime_and_date_round_trip(make, bucket_path):
    b = make(bucket_path)
    await b.put_batch([rec(i) for i in range(5)])
    await b.flush()
    await b.put(rec(5))  # buffered
    want = [expected(i) for i in range(6)]
    assert await b.get() == want
    b.close()

    b = make(bucket_path)
    try:
        assert await b.get() == want
        table = lance.dataset(os.path.join(bucket_path, "data.lance")).to_table()
        assert table.schema.field("at").type == pa.timestamp("us")
        assert table.schema.field("at_utc").type == pa.timestamp("us", tz="UTC")
        assert table.schema.field("day").type == pa.date32()
        assert table.to_pylist() == want
    finally:
        b.close()


async def test_naive_and_aware_values_do_not_mix(bucket_path):
    b = LanceBackend(0, bucket_path)
    try:
        await b.put({"id": 1, "at": dt.datetime(2026, 1, 1)})
        with pytest.raises(SchemaError, match="'at'"):
            await b.put({"id": 2, "at": dt.datetime(2026, 1, 1, tzinfo=UTC)})
        with pytest.raises(SchemaError, match="'at'"):
            await b.put({"id": 3, "at": dt.date(2026, 1, 1)})
        assert await b.get() == [{"id": 1, "at": dt.datetime(2026, 1, 1)}]
    finally:
        b.close()
