"""persisting - durable storage for pulsing queues, kept as Lance datasets.

The storage engine is a Go library (``libpersisting.so``) bundled with this
package and loaded on first use (see ``persisting._native``). The queue
backends live in :mod:`persisting.queue`::

    from persisting.queue import LanceBackend, register
    register()   # registers "lance" and "LanceBackend" with pulsing
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ClosedError,
    ForkError,
    InvalidArgumentError,
    SchemaError,
    StorageError,
    UnsupportedError,
    WALError,
)
from .queue import LanceBackend, register  # noqa: E402


def native_version() -> str:
    """Version of the loaded ``libpersisting.so`` (loads it)."""
    from . import _native

    return _native.version()


__all__ = [
    "__version__",
    "ClosedError",
    "ForkError",
    "InvalidArgumentError",
    "LanceBackend",
    "SchemaError",
    "StorageError",
    "UnsupportedError",
    "WALError",
    "native_version",
    "register",
]
