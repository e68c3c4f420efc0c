"""The record encoding of ``persisting_append_records``, version 1: CPython
marshal (version 4) data of one dict or a list of dicts, specified in
``include/persisting.h`` and ``docs/api-c.md``. This module only encodes:
plain values and dict/list containers go as they are (tuples as lists);
``datetime``, ``date``, ``time``, ``timedelta``, ``Decimal``, ``UUID`` and numpy's and pandas'
times become tagged values ``(Ellipsis, tag, payload)``, an empty 1-d numpy array ``(..., "empty", a zero of
its dtype)``; other numpy values and subclasses of plain types become plain values; anything else is tagged
"unsupported" and refused by the engine, which owns every rule about what may be stored where.
"""

from __future__ import annotations

import marshal
import numbers
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import numpy as np

__all__ = ["encode_record", "encode_records"]

_PLAIN = frozenset({type(None), bool, int, float, str, bytes})
_EPOCH = datetime(1970, 1, 1)
_EPOCH_DAY, _MICRO = date(1970, 1, 1).toordinal(), timedelta(microseconds=1)
_DEEPEST = 200  # containers deeper are cut (the engine's limit is far lower, and it names it)
_CASTS = ((numbers.Integral, int), (float, float), (str, str), ((bytes, bytearray, memoryview), bytes))


def _value(v: Any, depth: int = 0) -> Any:  # ``v`` in the encoding (see above)
    t = type(v)
    if t in _PLAIN:
        return v
    if depth > _DEEPEST:
        return (..., "unsupported", t.__name__)
    if t is dict or (t is not list and t is not tuple and isinstance(v, Mapping)):
        return {_key(k): _value(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x, depth + 1) for x in v]
    if isinstance(v, datetime):  # before date: a datetime is a date too
        if v != v or getattr(v, "unit", "") == "ns":  # pandas' NaT (None), a Timestamp of unit ns
            return None if v != v else (..., "M8[ns]" if v.utcoffset() is None else "M8[ns], UTC", v.value)
        off = v.utcoffset()  # subtracted from the difference: no overflow near datetime.min/max
        micros = (v.replace(tzinfo=None) - _EPOCH - (off or timedelta(0))) // _MICRO
        return (..., "timestamp" if off is None else "timestamp_tz", micros)
    if isinstance(v, date):
        return (..., "date", v.toordinal() - _EPOCH_DAY)
    if isinstance(v, Decimal):
        return (..., "decimal", str(v))
    if isinstance(v, UUID):
        return (..., "uuid", v.bytes)
    if isinstance(v, time):  # micros since midnight; an aware time is refused
        micros = ((v.hour * 60 + v.minute) * 60 + v.second) * 10**6 + v.microsecond
        return (..., "time", micros) if v.tzinfo is None else (..., "unsupported", "time with tzinfo")
    if isinstance(v, timedelta):  # a pandas Timedelta of unit ns keeps it
        return (..., "m8[ns]", v.value) if getattr(v, "unit", "") == "ns" else (..., "duration", v // _MICRO)
    if hasattr(v, "dtype") and hasattr(v, "tolist"):  # numpy scalars and arrays
        if isinstance(v, np.ndarray) and v.ndim == 1 and not v.size and v.dtype.kind != "O":
            return (..., "empty", _value(np.zeros(1, v.dtype)[0], depth + 1))  # a zero of its dtype types its items
        if v.dtype.kind in "mM":  # datetime64, timedelta64: ticks of their unit tagged by dtype ("M8[ns]")
            ticks = None if v.ndim or v != v else (..., v.dtype.str[1:], int(v.astype("i8")))  # NaT: None
            return [_value(x, depth + 1) for x in v] if v.ndim else ticks
        item = v.tolist() if v.dtype.kind != "V" else v  # a structured dtype's tuples lose its names: refused
        return (..., "unsupported", f"{t.__name__} {v.dtype}") if type(item) is t else _value(item, depth)
    cast = next((cast for kinds, cast in _CASTS if isinstance(v, kinds)), None)
    return cast(v) if cast else (..., "unsupported", t.__name__)


def _key(k: Any) -> Any:  # as it is, unless marshal cannot write it: then its kind, tagged
    return k if type(k) in _PLAIN or type(k) is tuple else (..., "unsupported", type(k).__name__)


def encode_record(record: Any) -> bytes:
    """One record as ``persisting_append_records`` takes it; never raises for a value."""
    if type(record) is not dict:
        return encode_records([record])
    if _PLAIN.issuperset(map(type, record.values())):
        try:  # not contextlib.suppress: it costs a third of this call
            return marshal.dumps(record, 4)
        except ValueError:  # a key marshal cannot write: encoded below
            pass
    return marshal.dumps({_key(k): _value(x) for k, x in record.items()}, 4)


def encode_records(records: list) -> bytes:
    """A list of records as the bytes ``persisting_append_records`` takes."""
    if all(type(r) is dict and _PLAIN.issuperset(map(type, r.values())) for r in records):
        try:
            return marshal.dumps(records, 4)
        except ValueError:  # a key marshal cannot write: encoded below
            pass
    return marshal.dumps([_value(r) for r in records], 4)
