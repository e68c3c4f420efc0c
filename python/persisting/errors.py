"""Exceptions raised by persisting.

Every failure of the storage engine is a :class:`StorageError`; the subclass
says what went wrong, so callers can react without parsing messages. The
engine chooses the status code and writes the message; this package only maps
the code (``PERSISTING_E*`` in ``include/persisting.h``) to a class:

- :class:`InvalidArgumentError` - a bad argument or value (an option out of
  range, a bad field name, an int beyond int64); also a :class:`ValueError`.
- :class:`UnstorableError` - a value of a kind no column can hold, or an
  option of the wrong type; also a :class:`TypeError`.
- :class:`SchemaError` - a record or batch does not fit the bucket's schema.
- :class:`WALError` - the write-ahead log failed (``PersistingBackend``).
- :class:`FlushError` - the call's records *were* stored (buffer, and WAL when
  on), but a flush it had to wait for failed; the next flush retries them.
- :class:`UnsupportedError` - the dataset uses a Lance feature this engine
  cannot handle, or cannot be appended to (read-only).
- :class:`BusyError` - another process or handle writes to the bucket.
- :class:`ClosedError` - the backend (or its engine handle) was closed.
- :class:`ForkError` - the engine is used in a process forked after it was
  loaded; a Go runtime does not survive ``fork()``.

``code`` carries the C status, or ``None`` when the error was raised on the
Python side.
"""

from __future__ import annotations

__all__ = ["StorageError", "SchemaError", "WALError", "InvalidArgumentError", "UnstorableError",
           "UnsupportedError", "FlushError", "BusyError", "ClosedError", "ForkError"]


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
    """The engine refused an argument or value (bad option, key, range, int)."""


class UnstorableError(StorageError, TypeError):
    """A value of a kind no column can hold, or an option of the wrong type."""


class UnsupportedError(StorageError):
    """The dataset uses a Lance feature this engine cannot handle, or is read-only."""


class FlushError(StorageError):
    """The records were stored, but a flush the call waited for failed.

    ``stored`` is True: do not send them again; the next flush retries them.
    """

    stored = True


class BusyError(StorageError):
    """The bucket is open for writing by another process or handle."""


class ClosedError(StorageError):
    """The backend was closed; it cannot be used again."""


class ForkError(StorageError):
    """The native library was loaded in a parent process before fork()."""
