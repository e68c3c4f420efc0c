"""pulsing's training-data API on both backends, shaped as its ``MemoryBackend``
(docs/training.md). The engine owns the state and its rules (what each task
consumed, what was cleared; durable in ``consumption.log``); this module
converts shapes (numpy, torch, TensorDict <-> Arrow) and runs samplers.
A record's *global index* is its offset in append order.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import threading
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from . import _encode, _native, options as opt
from .errors import InvalidArgumentError

__all__ = ["BatchMeta", "TrainingMixin", "TensorPutResult"]

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


@dataclasses.dataclass
class TensorPutResult:
    """``put_tensor``'s result: the global indexes and field names of its rows."""

    global_indexes: list[int] = dataclasses.field(repr=False)  # may be long
    field_names: list[str]
    size = property(lambda self: len(self.global_indexes))
    to_dict = dataclasses.asdict

    def __getitem__(self, key: str) -> Any:  # result["size"], as MemoryBackend's {"size": n}
        return getattr(self, key) if key in ("size", "global_indexes", "field_names") else {}[key]


class BatchMeta(dict):
    """``get_meta``'s result: pulsing's dict (``samples``, ``global_indexes``) with upstream's BatchMeta attributes."""

    global_indexes = property(lambda self: self["global_indexes"])
    field_names = property(lambda self: list(self["samples"][0]["fields"]) if self["samples"] else [])
    size = property(lambda self: len(self["global_indexes"]))
    to_dict = dict.copy  # a plain dict: what pulsing's BucketStorage sends

    def __reduce__(self):  # pickled as a plain dict: readable where persisting is not installed
        return dict, (dict(self),)


# ---- shapes: Python values -> Arrow columns ----------------------------------------
def _as_ndarray(name: str, value: Any) -> np.ndarray | None:
    """A tensor-like (numpy, torch, ``__dlpack__``, ``__array__``) as a numpy array, or None."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__dlpack__") and hasattr(value, "numpy"):  # torch.Tensor and the like
        for step in ("detach", "cpu"):
            value = getattr(value, step)() if hasattr(value, step) else value
        try:
            return np.asarray(value.numpy())
        except TypeError as exc:  # torch.bfloat16: numpy has no such dtype
            raise TypeError(f"field {name!r}: no numpy array for this tensor ({exc}); convert it, e.g. .float()") from None
    if hasattr(value, "__dlpack__"):
        return np.from_dlpack(value)
    if hasattr(value, "__array__") and not isinstance(value, (pa.Array, pa.ChunkedArray)):
        return np.asarray(value)
    return None


def _tensor_column(name: str, arr: np.ndarray) -> pa.Array:
    """Rows along the first dimension: 1-d a primitive column, n-d an ``arrow.fixed_shape_tensor``."""
    if arr.ndim == 0:
        raise ValueError(f"field {name!r}: a 0-d array has no rows (the first dimension is the rows)")
    if arr.dtype == object:
        raise TypeError(f"field {name!r}: an array of Python objects is not a tensor; pass numbers or plain values")
    try:
        return pa.array(arr) if arr.ndim == 1 else pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr))
    except _ARROW_ERRORS as exc:
        raise TypeError(f"field {name!r}: cannot store an array of dtype {arr.dtype}: {exc}") from None


def _column(name: Any, value: Any) -> pa.Array | pa.ChunkedArray:
    if not isinstance(name, str):
        raise TypeError(f"field names must be str, got {type(name).__name__} {name!r}")
    if isinstance(value, (pa.Array, pa.ChunkedArray)):
        return value
    arr = _as_ndarray(name, value)
    if arr is not None:
        return _tensor_column(name, arr)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"field {name!r}: put_tensor takes a column as a list, a numpy array or a "
                        f"tensor (first dimension = rows), got {type(value).__name__}")
    items = [_as_ndarray(name, v) for v in value]
    if value and all(a is not None for a in items):  # one tensor per row
        shapes = {a.shape for a in items}
        if len(shapes) > 1:
            raise ValueError(f"field {name!r}: the rows' tensors differ in shape: {sorted(shapes)}")
        return _tensor_column(name, np.stack(items))
    try:
        return pa.array(list(value))
    except _ARROW_ERRORS as exc:
        raise TypeError(f"field {name!r}: cannot store these values: {exc}") from None


def _tensor_like(value: Any) -> bool:  # what _as_ndarray takes; numpy scalars too: they keep their dtype
    return hasattr(value, "__array__") or hasattr(value, "__dlpack__")


def tensor_data(data: Any) -> pa.Table | list[dict[str, Any]]:
    """``put_tensor``'s ``data`` as one table (columns, a TensorDict, rows holding a tensor), or,
    holding no tensor, as records for the engine's rules (rows; a dict holding no column: a row)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        return pa.table(data)
    if not isinstance(data, dict) and hasattr(data, "batch_size") and hasattr(data, "keys"):  # TensorDict
        if not len(data.batch_size):
            raise ValueError("put_tensor: a TensorDict with batch_size=[] has no rows; give it batch_size=[N]")
        data = data.flatten_keys("/") if hasattr(data, "flatten_keys") else data  # ("a", "b") -> "a/b"
        data = {k: data[k] for k in data.keys()}
    if isinstance(data, dict):
        if not data:
            raise ValueError("put_tensor: no fields")
        if not any(isinstance(v, (list, tuple, pa.Array, pa.ChunkedArray)) or _tensor_like(v) and
                   not isinstance(v, np.generic) for v in data.values()):  # no column: one row, as MemoryBackend
            data = [data]
        elif all(isinstance(v, (list, tuple)) and not any(map(_tensor_like, v)) for v in data.values()) and \
                len({len(v) for v in data.values()}) == 1:  # plain columns: rows, as records
            data = [dict(zip(data, row)) for row in zip(*data.values())]
        else:
            columns = {k: _column(k, v) for k, v in data.items()}
            lengths = {k: len(c) for k, c in columns.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"put_tensor: columns differ in rows (first dimension): {lengths}")
            return pa.table(columns)
    if not isinstance(data, (list, tuple)):
        raise TypeError(f"put_tensor expects a dict of columns, a list of dicts or a TensorDict, got {type(data).__name__}")
    if not data:
        raise ValueError("put_tensor: no rows")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise TypeError(f"put_tensor: row {i} must be a dict, got {type(row).__name__}")
        if set(row) != set(data[0]):
            raise ValueError(f"put_tensor: row {i} has fields {sorted(map(str, row))}, "
                             f"row 0 has {sorted(map(str, data[0]))}")
    if not data[0]:
        raise ValueError("put_tensor: no fields")
    if not any(_tensor_like(v) for row in data for v in row.values()):
        return list(data)
    return pa.table({k: _column(k, [row[k] for row in data]) for k in data[0]})


# ---- shapes: Arrow columns -> Python values ------------------------------------------
def field_description(field: pa.Field) -> dict[str, Any]:
    """pulsing's field metadata: name, dtype, a row's shape ([]: scalar, None: not fixed)."""
    t, tensor = field.type, isinstance(field.type, pa.FixedShapeTensorType)
    if tensor or pa.types.is_primitive(t):  # numpy's dtype (pyarrow's to_pandas_dtype may import pandas)
        values = pa.array([], t.value_type if tensor else t).to_numpy(zero_copy_only=False)
        dtype, shape = str(values.dtype), list(t.shape) if tensor else []
    else:
        dtype, shape = str(t), None
    return {"name": field.name, "dtype": dtype, "shape": shape, "production_status": "ready"}


def _ndarray(col: pa.ExtensionArray) -> np.ndarray | list[np.ndarray | None]:
    """A tensor column's rows: one array viewing the Arrow buffer (bool bits copied through uint8); with
    null rows, a list of its rows, None for those (their slots are read without the validity bitmap)."""
    t, s = col.type, col.storage
    s = pa.Array.from_buffers(s.type, len(s), [None], 0, s.offset, [s.values]) if col.null_count else s
    if (bits := t.value_type == pa.bool_()):
        t = pa.fixed_shape_tensor(pa.uint8(), t.shape, dim_names=t.dim_names, permutation=t.permutation)
        s = s.cast(t.storage_type)
    arr = pa.ExtensionArray.from_storage(t, s).to_numpy_ndarray()
    arr = arr.view(bool) if bits else arr
    return [a if ok else None for a, ok in zip(arr, col.is_valid().to_pylist())] if col.null_count else arr


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts; tensor values as numpy arrays (see _ndarray)."""
    if not any(isinstance(t, pa.FixedShapeTensorType) for t in table.schema.types):
        return table.to_pylist()  # pyarrow's own: faster
    columns = {name: _ndarray(col.combine_chunks()) if isinstance(col.type, pa.FixedShapeTensorType)
               and len(col) else col.to_pylist()  # combine_chunks fails on no chunks
               for name, col in zip(table.column_names, table.columns)}
    return [{name: values[i] for name, values in columns.items()} for i in range(table.num_rows)]


# ---- arguments --------------------------------------------------------------------------
def _indexes(values: Any, what: str) -> list[int]:
    if isinstance(values, (str, bytes, dict)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list of ints, got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, bool) or not hasattr(type(v), "__index__"):  # what operator.index takes
            raise TypeError(f"{what} must be ints, got {type(v).__name__} {v!r}")
        i = operator.index(v)
        if not -2**63 <= i < 2**63:
            raise InvalidArgumentError(f"{what}: index {i} is out of range", code=_native.EINVALID_ARGUMENT)
        out.append(i)
    return out


def _field_list(fields: Any) -> list[str] | None:
    if fields is None:
        return None
    if isinstance(fields, (str, bytes)) or not isinstance(fields, Iterable):
        raise TypeError(f"fields must be a list of field names, got {type(fields).__name__}")
    for f in (fields := list(fields)):
        if not isinstance(f, str):
            raise TypeError(f"fields must be str, got {type(f).__name__} {f!r}")
    return fields


def _sample(sampler: Any, ready: list[int], batch_size: int, kwargs: dict[str, Any]) -> tuple[list[int], list[int]]:
    """pulsing's ``sampler.sample(ready, batch_size, **kw)`` (or a callable) -> (sampled, marked) in ready."""
    fn = getattr(sampler, "sample", None) or sampler
    if not callable(fn):
        raise TypeError(f"sampler must have a sample() method or be callable, got {type(sampler).__name__}")
    result = fn(ready, batch_size, **kwargs)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"sampler must return (sampled, marked), got {type(result).__name__}")
    sampled, marked = _indexes(result[0], "sampler's sampled indexes"), _indexes(result[1], "sampler's marked indexes")
    if foreign := sorted(set(sampled + marked) - set(ready)):
        raise ValueError(f"sampler returned indexes that are not ready for this task: {foreign[:10]}")
    return sampled, marked


def batch_indexes(batch_meta: Any) -> list[int]:
    """The global indexes of a ``get_meta`` result (its dict, or an object with ``global_indexes``)."""
    if isinstance(batch_meta, dict):
        if "global_indexes" in batch_meta:
            return _indexes(batch_meta["global_indexes"], "global_indexes")
        if "samples" in batch_meta:
            return _indexes([s.get("global_index", -1) for s in batch_meta["samples"]], "global_indexes")
        raise ValueError("batch_meta has neither 'global_indexes' nor 'samples'")
    if hasattr(batch_meta, "global_indexes"):
        return _indexes(batch_meta.global_indexes, "global_indexes")
    raise TypeError(f"batch_meta must be get_meta's dict or have global_indexes, got {type(batch_meta).__name__}")


def _rows_at(handle: int, wanted: list[int]) -> list[dict[str, Any]]:
    """Rows at ``wanted`` in that order (one read per run); missing or cleared ones skipped, as MemoryBackend."""
    live, found = _native.live_indexes(handle, wanted) if wanted else [], {}
    for _, run in itertools.groupby(enumerate(sorted(set(live))), lambda pair: pair[1] - pair[0]):  # consecutive
        run = [i for _, i in run]
        found.update(zip(run, table_rows(_native.read(handle, run[0], len(run)).read_all())))
    return [found[i] for i in live if i in found]


# ---- the mixin ----------------------------------------------------------------------
class TrainingMixin:
    """The backends' training-data methods (using ``_engine``, ``_append``, ``_put_arrow``)."""

    _sampling: threading.Lock  # per backend: one sampler at a time (ready -> sample -> mark is one step)

    async def put_tensor(self, data: Any, partition_id: str = "default", **kwargs: Any) -> TensorPutResult:
        """Appends columns (first dimension = rows), rows or a TensorDict (docs/training.md)."""
        data = tensor_data(data)  # the engine says where the rows went: never a count taken before
        if isinstance(data, list):  # no tensor: records, as put_batch takes them
            first = await self._append(_native.append_records, _encode.encode_records(data), self._puts_off_loop)
            return TensorPutResult(list(range(first, first + len(data))), list(data[0]))
        rows, first = await self._put_arrow(data)
        return TensorPutResult(list(range(first, first + rows)), list(data.column_names))

    async def get_meta(self, fields: list[str], batch_size: int, task_name: str = "default",
                       sampler: Any = None, **sampling_kwargs: Any) -> BatchMeta:
        """Hands ``task_name`` up to ``batch_size`` unconsumed records (the lowest, or the sampler's), marked."""
        fields, task = _field_list(fields), opt.check_str("task_name", task_name)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if sampler is None:
            sampled = await self._engine(_native.consumption_take, task, fields, batch_size)
        else:
            def sample_and_mark(handle: int) -> list[int]:
                with self._sampling:
                    ready = [i for lo, hi in _native.consumption_ready(handle, task, fields) for i in range(lo, hi)]
                    sampled, marked = _sample(sampler, ready, batch_size, sampling_kwargs)
                    if marked:
                        _native.consumption_mark(handle, task, marked)
                    return sampled
            sampled = await self._engine(sample_and_mark)
        schema = _native.schema(self._bucket.handle()) if sampled else None  # none before the first record
        described = {f: field_description(schema.field(f)) for f in fields or ()} if sampled else {}
        partition = sampling_kwargs.get("partition_id", "default")
        return BatchMeta(samples=[{"partition_id": partition, "global_index": i,
                                   "fields": {f: dict(d) for f, d in described.items()}} for i in sampled],
                         global_indexes=list(sampled))

    async def get_by_indices(self, indexes: Iterable[int]) -> list[dict[str, Any]]:
        """Records at the indexes, in that order; negative, past-the-end and cleared ones skipped."""
        return await self._engine(_rows_at, _indexes(indexes, "indexes"))

    async def get_data(self, batch_meta: Any, fields: list[str] | None = None) -> list[dict[str, Any]]:
        """The rows of a ``get_meta`` result, restricted to ``fields`` (None or []: all)."""
        fields, wanted = _field_list(fields), batch_indexes(batch_meta)
        if fields:
            await self._engine(_native.check_fields, fields)
        rows = await self._engine(_rows_at, wanted)
        return [{k: row[k] for k in fields} for row in rows] if fields else rows

    async def mark_consumed(self, task_name: str, global_indexes: Iterable[int]) -> None:
        """Marks indexes consumed by ``task_name`` (one outside the bucket: none)."""
        task, indexes = opt.check_str("task_name", task_name), _indexes(global_indexes, "global_indexes")
        await self._engine(_native.consumption_mark, task, indexes)

    async def reset_consumption(self, task_name: str) -> None:
        """Forgets what ``task_name`` consumed (cleared records stay cleared)."""
        await self._engine(_native.consumption_reset, opt.check_str("task_name", task_name))

    async def clear(self, global_indexes: Iterable[int]) -> None:
        """Deletes records (Lance deletion files), for every reader; no other index changes (docs/training.md)."""
        await self._engine(_native.clear, _indexes(global_indexes, "global_indexes"))
