"""datetime and date values (issue #5's mapping: datetime -> timestamp,
date -> date32) stored through put() on both backends, read back exactly by
get() after a flush and a reopen, and by pylance with the same Arrow types."""

from __future__ import annotations

import datetime as dt
import os
import re

import lance
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from persisting import SchemaError, UnstorableError
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


# ---- numpy's datetime64/timedelta64 and pandas' Timestamp/Timedelta keep their unit

NS = pd.Timestamp("2020-01-01 00:00:00.000000001")
PARIS_NS = pd.Timestamp("2020-01-01 00:00:00.000000001", tz="Europe/Paris")
EPOCH = dt.datetime(1970, 1, 1)

# field: (value, Arrow type stored, get()'s value, pyarrow infers the same type)
UNIT_CASES = {
    "dt_s": (np.datetime64("2020-01-01T00:00:01", "s"), pa.timestamp("s"), dt.datetime(2020, 1, 1, 0, 0, 1), True),
    "dt_ms": (np.datetime64("2020-01-01T00:00:01.5", "ms"), pa.timestamp("ms"), dt.datetime(2020, 1, 1, 0, 0, 1, 500000), True),
    "dt_us": (np.datetime64("1969-12-31T23:59:59.999999", "us"), pa.timestamp("us"), EPOCH - dt.timedelta(microseconds=1), True),
    "dt_ns": (np.datetime64("2020-01-01T00:00:00.000000001", "ns"), pa.timestamp("ns"), NS, True),
    "dt_D": (np.array(["2020-01-02"], "M8[D]")[0], pa.date32(), dt.date(2020, 1, 2), False),  # pyarrow: D arrays only
    "dt_h": (np.datetime64("2020-01-02T03", "h"), pa.timestamp("s"), dt.datetime(2020, 1, 2, 3), False),  # pyarrow refuses h
    "td_s": (np.timedelta64(-5, "s"), pa.duration("s"), dt.timedelta(seconds=-5), True),
    "td_ns": (np.timedelta64(5, "ns"), pa.duration("ns"), pd.Timedelta(5), True),
    "td_D": (np.datetime64("2020-03-01") - np.datetime64("2020-02-01"), pa.duration("s"), dt.timedelta(days=29), False),
    "td_0d": (np.array(np.timedelta64(3, "ms")), pa.duration("ms"), dt.timedelta(milliseconds=3), False),
    "list_ns": (np.array(["2020-01-01T00:00:00.000000001", "NaT"], "M8[ns]"), pa.list_(pa.timestamp("ns")), [NS, None], True),
    "list_2d": (np.array([[1, 2], [3, 4]], "m8[us]"), pa.list_(pa.list_(pa.duration("us"))),
                [[dt.timedelta(microseconds=i), dt.timedelta(microseconds=i + 1)] for i in (1, 3)], False),
    "strided": (np.array([0, 1, 2, 3], "M8[ms]")[::2], pa.list_(pa.timestamp("ms")),
                [EPOCH, EPOCH + dt.timedelta(milliseconds=2)], True),
    "masked": (np.ma.array(np.array([0, 1, 2], "M8[s]"), mask=[0, 1, 0]), pa.list_(pa.timestamp("s")),
               [EPOCH, None, EPOCH + dt.timedelta(seconds=2)], True),
    "pd_ns": (NS, pa.timestamp("ns"), NS, False),  # pyarrow: timestamp[us], the nanosecond dropped
    "pd_tz_ns": (PARIS_NS, pa.timestamp("ns", tz="UTC"), PARIS_NS.tz_convert("UTC"), False),
    "pd_us": (pd.Timestamp("2020-01-01 00:00:00.5").as_unit("us"), pa.timestamp("us"), dt.datetime(2020, 1, 1, 0, 0, 0, 500000), True),
    "pd_td_ns": (pd.Timedelta(1), pa.duration("ns"), pd.Timedelta(1), False),  # pyarrow: duration[us], 0
    # a pandas value of unit ns (a datetime64[ns] frame's, row by row) is stored in ns even without a nanosecond
    "pd_unit_ns": (pd.Timestamp("2020-01-01").as_unit("ns"), pa.timestamp("ns"), pd.Timestamp("2020-01-01"), False),
    "pd_td_unit_ns": (pd.Timedelta(seconds=2).as_unit("ns"), pa.duration("ns"), pd.Timedelta(seconds=2), False),
    "pd_td_us": (pd.Timedelta(seconds=2).as_unit("us"), pa.duration("us"), dt.timedelta(seconds=2), True),
    "pd_nat": ([pd.NaT, dt.datetime(2020, 1, 1)], pa.list_(pa.timestamp("us")), [None, dt.datetime(2020, 1, 1)], False),
}


@pytest.mark.parametrize("make", list(BACKENDS.values()), ids=list(BACKENDS))
async def test_numpy_and_pandas_times_keep_their_unit(make, bucket_path):
    for name, (value, typ, _, agrees) in UNIT_CASES.items():
        if agrees:
            assert pa.Table.from_pylist([{name: value}]).schema.field(name).type == typ, name
    record = {name: case[0] for name, case in UNIT_CASES.items()}
    want = {name: case[2] for name, case in UNIT_CASES.items()}
    b = make(bucket_path)
    await b.put(record)
    assert await b.get() == [want]
    await b.flush()
    b.close()
    b = make(bucket_path)
    try:
        assert await b.get() == [want]
        table = lance.dataset(os.path.join(bucket_path, "data.lance")).to_table()
        assert {f.name: f.type for f in table.schema} == {name: case[1] for name, case in UNIT_CASES.items()}
    finally:
        b.close()


async def test_times_into_columns_of_another_unit(bucket_path):
    b = LanceBackend(0, bucket_path)
    try:
        await b.put({"us": dt.datetime(2020, 1, 1), "ns": NS, "d": dt.timedelta(0)})
        await b.put({"us": np.datetime64("2020-01-01T00:00:00.000001000", "ns"), "ns": dt.datetime(2020, 1, 2),
                     "d": np.timedelta64(2, "s")})  # each held exactly by the column's unit
        await b.put({"us": pd.Timestamp("2020-01-02").as_unit("ns")})  # a whole microsecond
        for bad in [{"us": np.datetime64("2020-01-01T00:00:00.000000001", "ns")}, {"us": NS},
                    {"d": np.timedelta64(1, "ns")}, {"d": pd.Timedelta(1)}, {"ns": np.datetime64("2020-01-01", "D")}]:
            with pytest.raises(SchemaError, match=f"field '{next(iter(bad))}': expected"):
                await b.put(bad)
        assert [r["us"] for r in await b.get()] == [dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 1, 0, 0, 0, 1),
                                                    dt.datetime(2020, 1, 2)]
        assert [r["d"] for r in await b.get()] == [dt.timedelta(0), dt.timedelta(seconds=2), None]
    finally:
        b.close()


@pytest.mark.parametrize("value, name", [
    (np.datetime64("2020", "Y"), "datetime64[Y]"), (np.timedelta64(1, "M"), "timedelta64[M]"),
    (np.timedelta64(1, "ps"), "timedelta64[ps]"), (np.datetime64(1, "25ns"), "datetime64[25ns]"),
    (np.array([1], "M8[as]"), "datetime64[as]")])
async def test_time_units_no_column_holds_are_refused(bucket_path, value, name):
    b = LanceBackend(0, bucket_path)
    try:
        with pytest.raises(UnstorableError, match=rf"field 'v(\[\])?': cannot store a numpy {re.escape(name)}"):
            await b.put({"id": 1, "v": value})
        assert await b.get() == []
    finally:
        b.close()
