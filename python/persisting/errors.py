"""Exceptions raised by persisting: every failure is a :class:`StorageError`,
whose subclass says what went wrong. The engine chooses the status code (``code``:
``PERSISTING_E*`` of ``include/persisting.h``; None when raised in Python) and
writes the message; this package maps the code to a class.
"""

from __future__ import annotations

__all__ = ["StorageError", "SchemaError", "WALError", "InvalidArgumentError", "UnstorableError",
           "UnsupportedError", "FlushError", "BusyError", "ClosedError", "ForkError"]


class StorageError(Exception):
    """A storage operation failed."""

    def __init__(self, message: str = "", code: int | None = None, first_offset: int | None = None):
        super().__init__(message)  # first_offset: a FlushError's, the offset its stored rows start at
        self.code, self.first_offset = code, first_offset


class SchemaError(StorageError):
    """A record or batch does not fit the bucket's schema (field, expected and found type)."""


class WALError(StorageError):
    """The write-ahead log failed (``PersistingBackend``)."""


class InvalidArgumentError(StorageError, ValueError):
    """A bad argument or value: an option out of range, a bad field name, an int beyond int64."""


class UnstorableError(StorageError, TypeError):
    """A value of a kind no column can hold, or an option of the wrong type."""


class UnsupportedError(StorageError):
    """The dataset uses a Lance feature this engine cannot handle, or is read-only."""


class FlushError(StorageError):
    """The call's records *were* stored (buffer, and WAL when on), but a flush it
    waited for failed: do not send them again; the next flush retries them."""

    stored = True


class BusyError(StorageError):
    """Another process or handle writes to the bucket."""


class ClosedError(StorageError):
    """The backend (or its engine handle) was closed; it cannot be used again."""


class ForkError(StorageError):
    """The library was loaded in a parent process before ``fork()``: a Go runtime does not survive it."""
