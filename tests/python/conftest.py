"""Shared setup of the Python tests.

The tests exercise the package in this checkout (``python/persisting``) against
a real ``libpersisting.so``, found in this order:

1. ``PERSISTING_LIB`` (e.g. ``PERSISTING_LIB=build/libpersisting.so``);
2. ``build/libpersisting.so`` (``make lib``);
3. the library bundled in an installed ``persisting`` wheel (``pip install ./python``).

The path is exported as ``PERSISTING_LIB`` so subprocesses use the same one.
The library is loaded lazily, after pytest enabled faulthandler, and no test
forks once it is loaded (subprocesses are spawned).
"""

from __future__ import annotations

import pytest

from helpers import LIBRARY, PYTHON_SRC


def pytest_report_header(config):
    return f"persisting source: {PYTHON_SRC}; libpersisting: {LIBRARY or 'NOT FOUND'}"


def pytest_sessionstart(session):
    if LIBRARY is None:
        raise pytest.UsageError(
            "libpersisting.so not found: run `make lib`, `pip install ./python`, "
            "or set PERSISTING_LIB=/path/to/libpersisting.so"
        )
    if not any((PYTHON_SRC / "persisting").glob("_put.*so")):  # the put call, compiled in place by build.sh
        raise pytest.UsageError(f"{PYTHON_SRC}/persisting/_put.c is not built: run `make lib` (needs Python's "
                                "C headers; Debian: python3-dev)")


@pytest.fixture
def lib_path() -> str:
    return LIBRARY


@pytest.fixture
def bucket_path(tmp_path) -> str:
    return str(tmp_path / "bucket_0")
