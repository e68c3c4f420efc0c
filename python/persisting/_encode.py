"""The record encoding of ``persisting_append_records``, version 1.

Records cross the C ABI as ``marshal.dumps(list_of_records, 4)`` (see
``include/persisting.h`` and ``docs/api-c.md``). This module only *encodes*:
it turns Python values marshal cannot carry, or would carry with another
meaning, into values the engine decodes. Every rule about what may be stored
where (inference, checks, evolution, error messages) is the engine's.

- plain values (None, bool, int, float, str, bytes) and dict/list/tuple
  containers go as they are; keys are passed unchanged;
- ``datetime``, ``date`` and ``Decimal`` become tagged values, a tuple
  ``(..., tag, payload)`` starting with ``Ellipsis`` (no user value is one):
  ``("timestamp", micros)`` for a naive datetime, ``("timestamp_tz", micros
  since the epoch in UTC)`` for an aware one, ``("date", days)``,
  ``("decimal", str(d))``;
- numpy scalars and arrays become their Python values (``.tolist()``),
  subclasses of int/float/str/bytes (IntEnum, ``np.float64``, ``np.str_``)
  their base type, ``bytearray``/``memoryview`` bytes, any Mapping a dict;
- anything else becomes ``("unsupported", type name)``, which the engine
  refuses with its standard message, naming the field.
"""

from __future__ import annotations

import marshal
import numbers
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

__all__ = ["ENCODING_VERSION", "encode_records"]

#: the version of the record encoding this module writes
ENCODING_VERSION = 1

_PLAIN = frozenset({type(None), bool, int, float, str, bytes})
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MICRO = timedelta(microseconds=1)
#: containers nested deeper than this are not encoded (marshal's own limit is 2000)
_DEEPEST = 200


def _tag(tag: str, payload: Any) -> tuple:
    return (..., tag, payload)


def _value(v: Any, depth: int = 0) -> Any:
    """``v`` in the encoding (see the module's docstring). Containers deeper
    than any column can be (the engine's limit is far lower, and names it) are
    cut, so a deep value costs no recursion error."""
    t = type(v)
    if t in _PLAIN:
        return v
    if depth > _DEEPEST:
        return _tag("unsupported", t.__name__)
    if t is dict:
        return {_key(k): _value(x, depth + 1) for k, x in v.items()}
    if t is list or t is tuple:
        return [_value(x, depth + 1) for x in v]
    if isinstance(v, datetime):  # before date: a datetime is a date too
        if v.tzinfo is None or v.utcoffset() is None:
            return _tag("timestamp", (v - _EPOCH) // _MICRO)
        return _tag("timestamp_tz", (v - _EPOCH_UTC) // _MICRO)
    if isinstance(v, date):
        return _tag("date", v.toordinal() - _EPOCH_DAY)
    if isinstance(v, Decimal):
        return _tag("decimal", str(v))
    if hasattr(v, "dtype") and hasattr(v, "tolist"):  # numpy scalars and arrays
        item = v.tolist()
        return _tag("unsupported", t.__name__) if type(item) is t else _value(item, depth)
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, Mapping):
        return {_key(k): _value(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_value(x, depth + 1) for x in v]
    return _tag("unsupported", t.__name__)


def _key(k: Any) -> Any:
    """A key as it is, unless marshal cannot write it: then its kind, tagged."""
    return k if type(k) in _PLAIN or type(k) is tuple else _tag("unsupported", type(k).__name__)


def encode_records(records: list) -> bytes:
    """``records`` (a list) as the bytes ``persisting_append_records`` takes.
    Never raises for a value: what cannot be encoded is tagged "unsupported"
    and refused by the engine, which names the field."""
    for r in records:  # loops, not all(...): this runs once per put
        if type(r) is not dict:
            break
        for v in r.values():
            if type(v) not in _PLAIN:
                break
        else:
            continue
        break
    else:  # dicts of plain values only: marshal as they are
        try:
            return marshal.dumps(records, 4)
        except ValueError:  # a key marshal cannot write
            pass
    return marshal.dumps([_value(r) if type(r) is not dict else
                          {_key(k): _value(x) for k, x in r.items()} for r in records], 4)
