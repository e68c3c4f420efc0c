"""persisting - durable storage for pulsing queues, kept as Lance datasets.

The storage engine is a Go library (``libpersisting.so``) bundled with this
package and loaded on first use (see ``persisting._native``). The queue
backends live in :mod:`persisting.queue`::

    from persisting.queue import LanceBackend, PersistingBackend, register
    register()   # registers "lance", "LanceBackend", "persisting", "PersistingBackend"

``persisting.metrics_text()`` renders the metrics of every bucket opened with
``enable_metrics=True`` in the Prometheus text format.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (BusyError, ClosedError, FlushError, ForkError,  # noqa: E402
                     InvalidArgumentError, SchemaError, StorageError, UnstorableError,
                     UnsupportedError, WALError)
from .queue import LanceBackend, PersistingBackend, register  # noqa: E402


def native_version() -> str:
    """Version of the loaded ``libpersisting.so`` (loads it)."""
    from . import _native

    return _native.version()


def metrics_text() -> str:
    """Metrics of every bucket opened with metrics on (in this process), in the
    Prometheus text exposition format, as ``/metrics`` serves them."""
    from . import _native

    return _native.metrics_text()


__all__ = ["__version__", "BusyError", "ClosedError", "FlushError", "ForkError",
           "InvalidArgumentError", "LanceBackend", "PersistingBackend", "SchemaError",
           "StorageError", "UnstorableError", "UnsupportedError", "WALError", "metrics_text",
           "native_version", "register"]
