"""Exceptions raised by persisting.

Every failure of the storage engine is a :class:`StorageError`. The subclasses
say what went wrong so callers can react without parsing messages:

- :class:`SchemaError` - a record or batch does not match the bucket's schema.
- :class:`WALError` - the write-ahead log failed (``PersistingBackend``).
- :class:`InvalidArgumentError` - the engine refused an argument; it is also a
  :class:`ValueError`, so ``except ValueError`` keeps working.
- :class:`UnsupportedError` - the dataset uses a Lance feature (e.g. a newer
  file version) this engine cannot handle.
- :class:`ClosedError` - the backend (or its engine handle) was closed.
- :class:`BusyError` - the bucket is open for writing by another backend of
  this process or by another process (one writer per bucket).
- :class:`ForkError` - the engine is used in a process forked after it was
  loaded; a Go runtime does not survive ``fork()``.

``code`` carries the C status (``PERSISTING_E*`` in ``include/persisting.h``),
or ``None`` when the error was raised on the Python side.
"""

from __future__ import annotations

__all__ = [
    "StorageError",
    "SchemaError",
    "WALError",
    "InvalidArgumentError",
    "UnsupportedError",
    "ClosedError",
    "BusyError",
    "ForkError",
]


class StorageError(Exception):
    """A storage operation failed."""

    def __init__(self, message: str = "", code: int | None = None):
        super().__init__(message)
        self.code = code


class SchemaError(StorageError):
    """Data does not match the bucket's schema (field, expected and found type)."""


class WALError(StorageError):
    """The write-ahead log failed."""


class InvalidArgumentError(StorageError, ValueError):
    """The engine refused an argument (bad option, bad range, NULL pointer)."""


class UnsupportedError(StorageError):
    """The dataset uses a Lance feature this engine cannot handle."""


class ClosedError(StorageError):
    """The backend was closed; it cannot be used again."""


class BusyError(StorageError):
    """The bucket is open for writing elsewhere; the message names the path
    and the holder (pid, host). Close the other writer, or open read-only."""


class ForkError(StorageError):
    """The native library was loaded in a parent process before fork()."""
