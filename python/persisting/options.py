"""The backends' own arguments (``batch_size``, the methods' ``limit``, ``offset``,
``version``, ``column``, ``kind``, ``older_than``, lookup conditions), checked
here; the engine's open options go to the engine, their one authority, as given.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from datetime import timedelta
from typing import Any

#: the keyword options PersistingBackend takes itself (LanceBackend ignores them)
PERSISTING_OPTIONS = frozenset({
    "enable_wal", "compression", "enable_metrics", "wal_sync_interval", "max_wal_size",
    "metrics_address", "schema_evolution", "compaction_threshold", "data_storage_version"})
UNSET: Any = object()  # "not given", for an argument whose None means something (get_where's eq)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _json_number(name: str, value: Any) -> Any:
    """A number as JSON carries it: an int, or a float (a non-finite one refused); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def check_int(name: str, value: Any, lo: int = 1) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    return int(value)


def check_storage_path(value: Any) -> str:
    """A local directory or an object-store URL (the engine refuses an empty one)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"storage_path must be a str or path, got {type(value).__name__}")
    return os.fsdecode(value)  # a bytes path decoded as the OS decodes file names


def engine_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as the engine's open options, values as given (the engine
    checks them; None is a value, not "default"); only what JSON cannot carry
    is refused here: a non-finite number."""
    given = {k: _json_number(k, v) for k, v in options.items()}
    # other values only matter to options the engine ignores: their repr will do
    return json.loads(json.dumps({**given, "ignore_unknown": True, "null_is_default": False}, default=repr))


def check_range(limit: Any, offset: Any) -> tuple[int | None, int]:  # limit None: to the end
    return None if limit is None else check_int("limit", limit, 0), check_int("offset", offset, 0)


def check_version(value: Any) -> int:
    if _is_int(value) and not 1 <= value < 2**64:
        raise ValueError(f"version must be >= 1 (versions are numbered from 1), got {value}")
    return check_int("version", value)


def check_older_than(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, timedelta)):
        raise TypeError(f"older_than must be a timedelta or a number of seconds, got {type(value).__name__}")
    return value.total_seconds() if isinstance(value, timedelta) else float(value)  # the engine checks the value


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def check_column(value: Any) -> str:
    if not check_str("column", value):
        raise ValueError("column must not be empty")
    return value


def _bound(name: str, value: Any) -> Any:
    """A lookup value as JSON carries it; the engine checks it against the column."""
    if not isinstance(value, (str, numbers.Real)):  # a bool is an int
        raise TypeError(f"{name} must be an int, float, str or bool, got {type(value).__name__}")
    return _json_number(name, value)


def condition(eq: Any, lo: Any, hi: Any, lo_inclusive: Any, hi_inclusive: Any, is_null: Any) -> dict[str, Any]:
    """``get_where``'s keywords as the engine's condition (``persisting_lookup``)."""
    for name, flag in (("lo_inclusive", lo_inclusive), ("hi_inclusive", hi_inclusive), ("is_null", is_null)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
    given = [name for name, on in (("eq", eq is not UNSET), ("lo/hi", lo is not None or hi is not None),
                                   ("is_null", is_null)) if on]
    if len(given) != 1:
        raise ValueError("get_where needs exactly one condition: eq=value, lo=/hi= bounds, or "
                         f"is_null=True (got {', '.join(given) or 'none'})")
    if is_null:
        return {"op": "is_null"}
    if eq is not UNSET:
        if eq is None:
            raise ValueError("eq=None matches nothing: use is_null=True for null values")
        return {"op": "eq", "value": _bound("eq", eq)}
    return {"op": "range", "lo": None if lo is None else _bound("lo", lo),
            "hi": None if hi is None else _bound("hi", hi),
            "lo_inclusive": lo_inclusive, "hi_inclusive": hi_inclusive}
