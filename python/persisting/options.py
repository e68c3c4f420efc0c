"""The backends' arguments. Those Python defines itself (``batch_size``, the
methods' ``limit``/``offset``/``version``/``column`` ...) are checked here
(``TypeError``/``ValueError`` naming the argument); the engine's options are
not: they go to the engine as given (``engine_options``), which is the one
authority on them and refuses a bad one before anything is created. Other
keyword options go along with ``"ignore_unknown": true``; the engine lists
those it does not know and the backend logs them.
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
    "metrics_address", "schema_evolution", "compaction_threshold", "data_storage_version",
})
#: the scalar index kinds ``create_index`` builds
INDEX_KINDS = ("BTREE", "BITMAP")
#: "not given" for an argument whose None means something (get_where's eq)
UNSET: Any = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def check_int(name: str, value: Any, lo: int = 1, hi: int | None = None) -> int:
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be >= {lo}{f' and <= {hi}' if hi else ''}, got {value}")
    return int(value)


def check_storage_path(value: Any) -> str:
    """A local directory or an object-store URL (passed on unchanged)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"storage_path must be a str or path, got {type(value).__name__}")
    path = os.fspath(value)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path  # the engine refuses an empty one


def engine_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as the engine's open options (JSON-ready), values as given: the
    engine checks them (wrong type: ``UnstorableError``, a TypeError; bad
    value: ``InvalidArgumentError``, a ValueError) and treats None as a value
    ("null_is_default": false), not as "use the default". Only what JSON
    cannot carry is refused here: a non-finite number."""
    def value(name: str, v: Any) -> Any:
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, numbers.Integral):
            return int(v)
        if isinstance(v, numbers.Real):
            if not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v}")
            return float(v)
        return v
    given = {k: value(k, v) for k, v in options.items()}
    # JSON carries what it can; other values only matter to options the engine ignores
    return json.loads(json.dumps({**given, "ignore_unknown": True, "null_is_default": False},
                                 default=repr))


def check_range(limit: Any, offset: Any) -> tuple[int | None, int]:
    if limit is not None:
        if not _is_int(limit):
            raise TypeError(f"limit must be an int or None, got {type(limit).__name__}")
        if limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {limit}")
        limit = int(limit)
    if not _is_int(offset):
        raise TypeError(f"offset must be an int, got {type(offset).__name__}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    return limit, int(offset)


def check_version(value: Any) -> int:
    if not _is_int(value):
        raise TypeError(f"version must be an int, got {type(value).__name__}")
    if not 1 <= value < 2**64:
        raise ValueError(f"version must be >= 1 (versions are numbered from 1), got {value}")
    return int(value)


def check_older_than(value: Any) -> float:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"older_than must be a timedelta or a number of seconds, got {type(value).__name__}")
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"older_than must be a finite, non-negative duration, got {value!r}")
    return seconds


def check_column(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"column must be a str, got {type(value).__name__}")
    if not value:
        raise ValueError("column must not be empty")
    return value


def check_index_kind(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"kind must be a str ('BTREE' or 'BITMAP'), got {type(value).__name__}")
    if value.upper() not in INDEX_KINDS:
        raise ValueError(f"unknown index kind {value!r}: expected 'BTREE' or 'BITMAP'")
    return value.upper()


def _bound(name: str, value: Any) -> Any:
    """A lookup value as JSON carries it; the engine checks it against the column."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
        return value
    raise TypeError(f"{name} must be an int, float, str or bool, got {type(value).__name__}")


def condition(eq: Any, lo: Any, hi: Any, lo_inclusive: Any, hi_inclusive: Any,
              is_null: Any) -> dict[str, Any]:
    """``get_where``'s keywords as the engine's condition (``persisting_lookup``)."""
    for name, flag in (("lo_inclusive", lo_inclusive), ("hi_inclusive", hi_inclusive),
                       ("is_null", is_null)):
        check_bool(name, flag)
    given = [name for name, on in (("eq", eq is not UNSET),
                                   ("lo/hi", lo is not None or hi is not None),
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
