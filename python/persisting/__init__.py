"""persisting - durable storage for pulsing queues, kept as Lance datasets by a
Go engine (``libpersisting.so``, loaded on first use). The backends are in
:mod:`persisting.queue`; ``register()`` makes them pulsing backends.
"""

from __future__ import annotations

from ._native import metrics_text, version as native_version
from ._version import __version__  # the one source of the version
from .errors import (BusyError, ClosedError, FlushError, ForkError, InvalidArgumentError, SchemaError,
                     StorageError, UnstorableError, UnsupportedError, WALError)
from .queue import LanceBackend, PersistingBackend, register

__all__ = ["__version__", "BusyError", "ClosedError", "FlushError", "ForkError", "InvalidArgumentError",
           "LanceBackend", "PersistingBackend", "SchemaError", "StorageError", "UnstorableError",
           "UnsupportedError", "WALError", "metrics_text", "native_version", "register"]
