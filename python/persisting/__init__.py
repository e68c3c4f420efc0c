"""persisting - durable storage for pulsing queues, kept as Lance datasets by a
Go engine (``libpersisting.so``, loaded on first use). The backends are in
:mod:`persisting.queue`; ``register()`` makes them pulsing backends.
"""

from __future__ import annotations

from . import _native
from ._version import __version__  # the one source of the version
from .errors import (BusyError, ClosedError, FlushError, ForkError, InvalidArgumentError, SchemaError,
                     StorageError, UnstorableError, UnsupportedError, WALError)
from .queue import LanceBackend, PersistingBackend, register


def native_version() -> str:
    """Version of the loaded ``libpersisting.so`` (loads it)."""
    return _native.version()


def metrics_text() -> str:
    """Metrics of every bucket opened with metrics on in this process, in the
    Prometheus text format, as ``/metrics`` serves them."""
    return _native.metrics_text()


__all__ = ["__version__", "BusyError", "ClosedError", "FlushError", "ForkError", "InvalidArgumentError",
           "LanceBackend", "PersistingBackend", "SchemaError", "StorageError", "UnstorableError",
           "UnsupportedError", "WALError", "metrics_text", "native_version", "register"]
