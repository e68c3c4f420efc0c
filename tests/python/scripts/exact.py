"""Exact comparison of answers, shared by the differential test and its pulsing child script."""

from __future__ import annotations

import math


def same(a, b, missing_is_none: bool = False) -> bool:
    """Exact equality: NaN equals NaN, 0.0 and -0.0 differ; with ``missing_is_none`` a key
    missing from one dict equals None in the other (else the key sets must match)."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if not missing_is_none and set(a) != set(b):
            return False
        return all(same(a.get(k), b.get(k), missing_is_none) for k in set(a) | set(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y, missing_is_none) for x, y in zip(a, b))
    return a == b
