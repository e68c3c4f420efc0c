"""pulsing's training-data API on both backends (docs/training.md).

``put_tensor``, ``get_meta``, ``get_data``, ``get_by_indices``,
``mark_consumed``, ``reset_consumption`` and ``clear``, with the shapes of
pulsing's ``BucketStorage``/``MemoryBackend``. The engine owns the state and
its rules: which indexes each task consumed, which were cleared, index ranges
and field names (``persisting_consumption_*``, ``persisting_clear``,
``persisting_live_indexes``), kept durable in the bucket's
``consumption.log``. This module converts shapes (numpy arrays, torch tensors,
TensorDicts <-> Arrow) and runs samplers, which are Python callables.

A record's *global index* is its offset in append order, as for ``get``.
"""

from __future__ import annotations

import operator
import threading
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from . import _native
from .errors import InvalidArgumentError

__all__ = ["TrainingMixin", "TensorPutResult"]

_INT64_MAX = 2**63 - 1


class TensorPutResult:
    """What ``put_tensor`` returns: the global indexes and field names of the
    rows it appended (pulsing's ``BucketStorage`` reads both)."""

    __slots__ = ("global_indexes", "field_names")

    def __init__(self, global_indexes: list[int], field_names: list[str]):
        self.global_indexes = global_indexes
        self.field_names = field_names

    @property
    def size(self) -> int:
        return len(self.global_indexes)

    def to_dict(self) -> dict[str, Any]:
        return {"global_indexes": list(self.global_indexes), "field_names": list(self.field_names),
                "size": self.size}

    def __repr__(self) -> str:
        return f"TensorPutResult(size={self.size}, field_names={self.field_names})"


# ---- shapes: Python values -> Arrow columns ----------------------------------------
def _as_ndarray(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array when it is a tensor-like (numpy array, torch
    tensor, anything with ``__dlpack__`` or ``__array__``); else None. Torch
    tensors go through ``.numpy()`` (detached, on the CPU): zero-copy."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__dlpack__") and hasattr(value, "numpy"):  # torch.Tensor and the like
        if hasattr(value, "detach"):
            value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        return np.asarray(value.numpy())
    if hasattr(value, "__dlpack__"):
        return np.from_dlpack(value)
    if hasattr(value, "__array__") and not isinstance(value, (pa.Array, pa.ChunkedArray)):
        return np.asarray(value)
    return None


def _tensor_column(name: str, arr: np.ndarray) -> pa.Array:
    """A numpy array with rows along its first dimension as an Arrow column:
    1-d -> a primitive column, n-d -> ``arrow.fixed_shape_tensor`` (the
    buffer is shared when the array is C-contiguous)."""
    if arr.ndim == 0:
        raise ValueError(f"field {name!r}: a 0-d array has no rows (the first dimension is the rows)")
    if arr.dtype == object:
        raise TypeError(f"field {name!r}: an array of Python objects is not a tensor; "
                        "pass numeric arrays or lists of plain values")
    try:
        if arr.ndim == 1:
            return pa.array(arr)
        return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise TypeError(f"field {name!r}: cannot store an array of dtype {arr.dtype}: {exc}") from None


def _column(name: Any, value: Any) -> pa.Array | pa.ChunkedArray:
    if not isinstance(name, str):
        raise TypeError(f"field names must be str, got {type(name).__name__} {name!r}")
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        return value
    arr = _as_ndarray(value)
    if arr is not None:
        return _tensor_column(name, arr)
    if isinstance(value, (list, tuple)):
        items = [_as_ndarray(v) for v in value]
        if value and all(a is not None for a in items):  # one tensor per row
            shapes = {a.shape for a in items}
            if len(shapes) > 1:
                raise ValueError(f"field {name!r}: the rows' tensors differ in shape: {sorted(shapes)}")
            return _tensor_column(name, np.stack(items))
        try:
            return pa.array(list(value))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise TypeError(f"field {name!r}: cannot store these values: {exc}") from None
    raise TypeError(f"field {name!r}: put_tensor takes a column as a list, a numpy array or a "
                    f"tensor (first dimension = rows), got {type(value).__name__}")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, bytes, np.generic))


def tensor_table(data: Any) -> pa.Table:
    """``put_tensor``'s ``data`` as one Arrow table: a dict of columns, a
    TensorDict (anything with ``batch_size`` and ``keys()``), a list of dicts
    (rows), or one dict of plain values (one row, as MemoryBackend takes it)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return pa.table(data)
    if not isinstance(data, dict) and hasattr(data, "batch_size") and hasattr(data, "keys"):
        data = {k: data[k] for k in data.keys()}  # TensorDict: its tensors share rows
    if isinstance(data, dict):
        if not data:
            raise ValueError("put_tensor: no fields")
        if all(_is_scalar(v) for v in data.values()):
            data = [data]
        else:
            columns = {k: _column(k, v) for k, v in data.items()}
            lengths = {k: len(c) for k, c in columns.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"put_tensor: columns differ in rows (first dimension): {lengths}")
            return pa.table(columns)
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("put_tensor: no rows")
        names: list[str] = []
        for i, row in enumerate(data):
            if not isinstance(row, dict):
                raise TypeError(f"put_tensor: row {i} must be a dict, got {type(row).__name__}")
            if i == 0:
                names = list(row)
            elif set(row) != set(names):
                raise ValueError(f"put_tensor: row {i} has fields {sorted(map(str, row))}, "
                                 f"row 0 has {sorted(map(str, names))}")
        if not names:
            raise ValueError("put_tensor: no fields")
        return pa.table({k: _column(k, [row[k] for row in data]) for k in names})
    raise TypeError("put_tensor expects a dict of columns, a list of dicts or a TensorDict, "
                    f"got {type(data).__name__}")


# ---- shapes: Arrow columns -> Python values ------------------------------------------
def _is_tensor_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.FixedShapeTensorType)


def field_description(field: pa.Field) -> dict[str, Any]:
    """pulsing's per-field metadata of a sample: name, dtype, shape (of one
    row's value; [] for a scalar, None when not fixed), production_status."""
    t = field.type
    if _is_tensor_type(t):
        dtype, shape = str(t.value_type.to_pandas_dtype().__name__), list(t.shape)
    elif pa.types.is_primitive(t):
        dtype, shape = str(np.dtype(t.to_pandas_dtype())), []
    else:
        dtype, shape = str(t), None
    return {"name": field.name, "dtype": dtype, "shape": shape, "production_status": "ready"}


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of ``table`` as dicts; tensor columns as numpy arrays of their
    dtype and shape (views of the Arrow buffer: zero-copy when the column has
    one chunk and no nulls), other columns as Python values."""
    columns: dict[str, Any] = {}
    for name, col in zip(table.column_names, table.columns):
        if _is_tensor_type(col.type) and col.null_count == 0:
            columns[name] = col.combine_chunks().to_numpy_ndarray()
        else:
            columns[name] = col.to_pylist()
    return [{name: values[i] for name, values in columns.items()} for i in range(table.num_rows)]


def _indexes(values: Any, what: str) -> list[int]:
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list of ints, got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, bool):
            raise TypeError(f"{what} must be ints, got bool {v!r}")
        try:
            i = operator.index(v)
        except TypeError:
            raise TypeError(f"{what} must be ints, got {type(v).__name__} {v!r}") from None
        if not -_INT64_MAX - 1 <= i <= _INT64_MAX:
            raise InvalidArgumentError(f"{what}: index {i} is out of range", code=_native.EINVALID_ARGUMENT)
        out.append(i)
    return out


def _task(task_name: Any) -> str:
    if not isinstance(task_name, str):
        raise TypeError(f"task_name must be a str, got {type(task_name).__name__}")
    return task_name


def _field_list(fields: Any) -> list[str] | None:
    if fields is None:
        return None
    if isinstance(fields, (str, bytes)) or not isinstance(fields, Iterable):
        raise TypeError(f"fields must be a list of field names, got {type(fields).__name__}")
    fields = list(fields)
    for f in fields:
        if not isinstance(f, str):
            raise TypeError(f"fields must be str, got {type(f).__name__} {f!r}")
    return fields


def _sample(sampler: Any, ready: list[int], batch_size: int, kwargs: dict[str, Any]
            ) -> tuple[list[int], list[int]]:
    """pulsing's sampler protocol: ``sampler.sample(ready, batch_size, **kw)``
    (or a plain callable) -> (sampled, marked)."""
    fn = getattr(sampler, "sample", None) or sampler
    if not callable(fn):
        raise TypeError(f"sampler must have a sample() method or be callable, got {type(sampler).__name__}")
    result = fn(ready, batch_size, **kwargs)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"sampler must return (sampled, marked), got {type(result).__name__}")
    sampled = _indexes(result[0], "sampler's sampled indexes")
    marked = _indexes(result[1], "sampler's marked indexes")
    allowed = set(ready)
    foreign = sorted({i for i in sampled + marked if i not in allowed})
    if foreign:
        raise ValueError(f"sampler returned indexes that are not ready for this task: {foreign[:10]}")
    return sampled, marked


def batch_indexes(batch_meta: Any) -> list[int]:
    """The global indexes of a ``get_meta`` result: its dict, or any object
    with ``global_indexes``."""
    if isinstance(batch_meta, dict):
        if "global_indexes" in batch_meta:
            return _indexes(batch_meta["global_indexes"], "global_indexes")
        if "samples" in batch_meta:
            return _indexes([s.get("global_index", -1) for s in batch_meta["samples"]], "global_indexes")
        raise ValueError("batch_meta has neither 'global_indexes' nor 'samples'")
    if hasattr(batch_meta, "global_indexes"):
        return _indexes(batch_meta.global_indexes, "global_indexes")
    raise TypeError(f"batch_meta must be get_meta's dict or have global_indexes, got {type(batch_meta).__name__}")


# ---- the mixin ----------------------------------------------------------------------
class TrainingMixin:
    """The training-data methods of LanceBackend and PersistingBackend. Uses
    the backend's ``_bucket`` (engine handle), ``put_arrow`` and ``total_count``."""

    _bucket: Any

    def _sampling_lock(self) -> threading.Lock:
        # one sampler at a time per backend: ready -> sample -> mark is one step
        lock = self.__dict__.get("_training_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_training_lock", threading.Lock())
        return lock

    async def _engine(self, fn: Any, *args: Any) -> Any:
        from .queue import _off_loop  # queue imports this module

        return await _off_loop(fn, self._bucket.handle(), *args)

    async def put_tensor(self, data: Any, partition_id: str = "default", **kwargs: Any) -> TensorPutResult:
        """Appends rows given as a dict of columns (lists, numpy arrays, torch
        tensors; first dimension = rows), a list of dicts, or a TensorDict, in
        one Arrow call. Tensors of more than one dimension per row are stored
        as ``arrow.fixed_shape_tensor`` columns. ``partition_id`` is accepted
        for pulsing (samples report the one ``get_meta`` is given). The
        returned indexes assume no concurrent append to this bucket."""
        table = tensor_table(data)
        before = self.total_count()
        rows = await self.put_arrow(table)
        return TensorPutResult(list(range(before, before + rows)), list(table.column_names))

    async def get_meta(self, fields: list[str], batch_size: int, task_name: str = "default",
                       sampler: Any = None, **sampling_kwargs: Any) -> dict[str, Any]:
        """Hands ``task_name`` a batch of records it has not consumed (and
        nobody cleared) and marks them consumed (durably: docs/training.md).

        Without a sampler: the lowest ``batch_size`` such indexes, O(batch).
        With one: ``sampler.sample(ready, batch_size, **sampling_kwargs)``
        returns (sampled, marked); ``marked`` become consumed. A sampler that
        raises marks nothing. Returns pulsing's shape: ``{"samples": [...],
        "global_indexes": [...]}``."""
        fields = _field_list(fields)
        task = _task(task_name)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if sampler is None:
            sampled = await self._engine(_native.consumption_take, task, fields, batch_size)
        else:
            def sample_and_mark(handle: int) -> list[int]:
                with self._sampling_lock():
                    ranges = _native.consumption_ready(handle, task, fields)
                    ready = [i for lo, hi in ranges for i in range(lo, hi)]
                    sampled, marked = _sample(sampler, ready, batch_size, sampling_kwargs)
                    if marked:
                        _native.consumption_mark(handle, task, marked)
                    return sampled
            sampled = await self._engine(sample_and_mark)
        schema = _native.schema(self._bucket.handle())
        described = {f: field_description(schema.field(f)) for f in fields or ()}
        partition = sampling_kwargs.get("partition_id", "default")
        return {
            "samples": [{"partition_id": partition, "global_index": i,
                         "fields": {f: dict(d) for f, d in described.items()}} for i in sampled],
            "global_indexes": list(sampled),
        }

    async def _rows_at(self, wanted: list[int]) -> list[dict[str, Any]]:
        """Rows at ``wanted``, in that order; indexes that name no stored, not
        cleared record are skipped (as MemoryBackend skips what it lacks)."""
        if not wanted:
            return []

        def fetch(handle: int) -> list[dict[str, Any]]:
            live = _native.live_indexes(handle, wanted)
            order = sorted(set(live))
            found: dict[int, dict] = {}
            k = 0
            while k < len(order):
                start = end = order[k]
                while k + 1 < len(order) and order[k + 1] == end + 1:
                    k, end = k + 1, end + 1
                table = _native.read(handle, start, end - start + 1).read_all()
                for j, row in enumerate(table_rows(table)):
                    found[start + j] = row
                k += 1
            return [found[i] for i in live if i in found]

        return await self._engine(fetch)

    async def get_by_indices(self, indexes: Iterable[int]) -> list[dict[str, Any]]:
        """Records at the given indexes, in the given order; negative,
        past-the-end and cleared indexes are skipped (pulsing's MemoryBackend
        skips indexes it does not hold)."""
        return await self._rows_at(_indexes(indexes, "indexes"))

    async def get_data(self, batch_meta: Any, fields: list[str] | None = None) -> list[dict[str, Any]]:
        """The rows of a ``get_meta`` result (its dict, or an object with
        ``global_indexes``), restricted to ``fields`` (None or []: all).
        Tensor fields come back as numpy arrays of their dtype and shape."""
        fields = _field_list(fields)
        wanted = batch_indexes(batch_meta)
        if fields:
            await self._engine(_native.check_fields, fields)
        rows = await self._rows_at(wanted)
        if not fields:
            return rows
        return [{k: row[k] for k in fields} for row in rows]

    async def mark_consumed(self, task_name: str, global_indexes: Iterable[int]) -> None:
        """Marks indexes consumed by ``task_name``; an index outside the
        bucket refuses the call (InvalidArgumentError) and marks nothing."""
        await self._engine(_native.consumption_mark, _task(task_name),
                           _indexes(global_indexes, "global_indexes"))

    async def reset_consumption(self, task_name: str) -> None:
        """Forgets what ``task_name`` consumed (cleared records stay cleared)."""
        await self._engine(_native.consumption_reset, _task(task_name))

    async def clear(self, global_indexes: Iterable[int]) -> None:
        """Deletes records (Lance deletion files): ``get_meta`` never hands
        them out again, ``get_data``/``get_by_indices``/``get``/``get_stream``
        skip them, pylance no longer sees them; no other record's index
        changes (docs/training.md)."""
        await self._engine(_native.clear, _indexes(global_indexes, "global_indexes"))
