"""put_tensor with the real torch (Debian's 1.13, CPU) and tensordict 0.1.2:
every tensor dtype numpy has, per-row shapes from scalars to 4-d, strided and
autograd tensors, mixed columns, rows of dicts, TensorDicts (nested keys
included), bad input, and a real pulsing 0.1.2 actor system. What comes back
(get_data, get_by_indices) and what pylance reads must equal the input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lance
import numpy as np
import pyarrow as pa
import pytest
import torch
from tensordict import TensorDict

from helpers import PYTHON_SRC, explain
from persisting.queue import LanceBackend, PersistingBackend

SCRIPTS = Path(__file__).resolve().parent / "scripts"
BACKENDS = {
    "lance": lambda path: LanceBackend(0, path),
    "persisting": lambda path: PersistingBackend(0, path, enable_wal=True),
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request, bucket_path):
    b = BACKENDS[request.param](bucket_path)
    yield b
    b.close()


def assert_value(got, want: np.ndarray) -> None:
    """One row's value: an n-d value is a numpy array of the same dtype and shape; a scalar a plain value."""
    if want.ndim:
        assert isinstance(got, np.ndarray), type(got)
        assert (got.dtype, got.shape) == (want.dtype, want.shape)
        np.testing.assert_array_equal(got, want)
    else:
        assert got == want.item() and not isinstance(got, np.ndarray)


async def assert_stored(backend, bucket_path: str, columns: dict[str, np.ndarray]) -> None:
    """``columns`` (name -> every row's values) come back from get_data before and
    after the flush and from get_by_indices, and pylance reads them as arrays."""
    n = len(next(iter(columns.values())))
    for flushed in (False, True):
        rows = await backend.get_data({"global_indexes": list(range(n))[::-1]}, list(columns))
        assert len(rows) == n and all(list(r) == list(columns) for r in rows)
        for name, want in columns.items():
            for row, k in zip(rows, reversed(range(n))):
                assert_value(row[name], want[k])
        if not flushed:
            await backend.flush()
    rows = await backend.get_by_indices(range(n))
    table = lance.dataset(os.path.join(bucket_path, "data.lance")).to_table()
    for name, want in columns.items():
        for row, k in zip(rows, range(n)):
            assert_value(row[name], want[k])
        col = table.column(name).combine_chunks()
        if want.ndim > 1:
            assert isinstance(col.type, pa.FixedShapeTensorType) and list(col.type.shape) == list(want.shape[1:])
            if want.dtype == bool:  # Arrow's bits: no to_numpy_ndarray; the items in row-major order
                got = col.storage.flatten().to_numpy(zero_copy_only=False).reshape(want.shape)
            else:
                got = col.to_numpy_ndarray()
        else:
            got = col.to_numpy(zero_copy_only=False)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


# ---- dtypes x per-row shapes -----------------------------------------------------------
DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.uint8, torch.bool]
ROW_SHAPES = [(), (3,), (2, 3), (2, 1, 3), (1, 2, 2, 3)]  # a scalar, then 1-d..4-d per row


@pytest.mark.parametrize("row_shape", ROW_SHAPES, ids=lambda s: f"{len(s)}d")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).removeprefix("torch."))
async def test_tensor_dtypes_and_row_shapes(backend, bucket_path, dtype, row_shape):
    n = 5
    x = (torch.arange(n * int(np.prod(row_shape, dtype=int))) % 7).reshape((n,) + row_shape).to(dtype)
    put = await backend.put_tensor({"x": x, "row": torch.arange(n)})
    assert put.global_indexes == list(range(n)) and put.field_names == ["x", "row"]
    meta = await backend.get_meta(["x"], n, "train")
    want_dtype = str(x.numpy().dtype)
    assert meta["samples"][0]["fields"]["x"] == {"name": "x", "dtype": want_dtype, "shape": list(row_shape),
                                                "production_status": "ready"}
    await assert_stored(backend, bucket_path, {"x": x.numpy(), "row": np.arange(n)})


# ---- memory layouts: strided, broadcast, autograd --------------------------------------
LAYOUTS = {
    "transposed": lambda: torch.arange(24, dtype=torch.float32).reshape(4, 6).t(),
    "every other column": lambda: torch.arange(24, dtype=torch.int64).reshape(4, 6)[:, ::2],
    "every other row, 1-d": lambda: torch.arange(12, dtype=torch.int32)[::2],
    "permuted 3-d": lambda: torch.arange(60, dtype=torch.float64).reshape(3, 4, 5).permute(2, 0, 1),
    "broadcast (stride 0)": lambda: torch.arange(3, dtype=torch.float16).expand(5, 3),
    "narrowed rows and columns": lambda: torch.arange(40, dtype=torch.uint8).reshape(8, 5).narrow(1, 1, 3)[2:],
    "requires_grad leaf": lambda: torch.linspace(0, 1, 12).reshape(4, 3).requires_grad_(),
    "requires_grad result": lambda: torch.ones(4, 2, 2, requires_grad=True) * 3,
    "bool mask, transposed": lambda: (torch.arange(24).reshape(4, 6) % 3 == 0).t(),
}
CONTIGUOUS = {"requires_grad leaf", "requires_grad result"}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
async def test_tensor_layouts(backend, bucket_path, layout):
    x = LAYOUTS[layout]()
    assert x.is_contiguous() == (layout in CONTIGUOUS)
    before = x.detach().clone()
    await backend.put_tensor({"x": x})
    assert torch.equal(x.detach(), before)  # the caller's tensor is untouched
    await assert_stored(backend, bucket_path, {"x": before.numpy()})


# ---- container shapes ------------------------------------------------------------------
async def test_dict_mixing_torch_numpy_and_lists(backend, bucket_path):
    n = 5
    per_row = [torch.full((3,), i, dtype=torch.int32) for i in range(n)]
    await backend.put_tensor({
        "t": torch.arange(n * 2, dtype=torch.float32).reshape(n, 2), "np": np.arange(n, dtype=np.int16) * 3,
        "np3d": np.arange(n * 4, dtype=np.float64).reshape(n, 2, 2), "per_row": per_row,
        "label": [f"s{i}" for i in range(n)], "score": [i / 2 for i in range(n)]})
    await assert_stored(backend, bucket_path, {
        "t": np.arange(n * 2, dtype=np.float32).reshape(n, 2), "np": np.arange(n, dtype=np.int16) * 3,
        "np3d": np.arange(n * 4, dtype=np.float64).reshape(n, 2, 2), "per_row": torch.stack(per_row).numpy(),
        "score": np.arange(n) / 2})
    rows = await backend.get_data({"global_indexes": [3]}, ["label"])
    assert rows == [{"label": "s3"}]


async def test_list_of_dicts_holding_tensors(backend, bucket_path):
    n = 4
    await backend.put_tensor([{"obs": torch.full((2, 2), float(i)), "reward": torch.tensor(i / 2),
                               "done": torch.tensor(i == n - 1), "id": i} for i in range(n)])
    await assert_stored(backend, bucket_path, {
        "obs": np.stack([np.full((2, 2), float(i), dtype=np.float32) for i in range(n)]),
        "reward": np.arange(n, dtype=np.float32) / 2,  # 0-d tensors per row: a column of scalars
        "done": np.arange(n) == n - 1, "id": np.arange(n)})


async def test_tensordict_with_nested_keys(backend, bucket_path):
    """A TensorDict's rows are its first batch dimension; a nested key ("next", "obs")
    is stored as the field "next/obs" ("." means a nested path to Lance)."""
    n = 6
    td = TensorDict({"obs": torch.arange(n * 6, dtype=torch.float32).reshape(n, 3, 2),
                     "action": torch.arange(n),
                     "next": {"obs": torch.arange(n * 6, dtype=torch.float32).reshape(n, 3, 2) + 1,
                              "reward": torch.arange(n, dtype=torch.float64).reshape(n, 1)}}, batch_size=[n])
    put = await backend.put_tensor(td)
    assert put.global_indexes == list(range(n))
    assert sorted(put.field_names) == ["action", "next/obs", "next/reward", "obs"]
    meta = await backend.get_meta(["next/obs", "next/reward"], 2, "train")
    assert meta["samples"][0]["fields"]["next/obs"]["shape"] == [3, 2]
    assert meta["samples"][0]["fields"]["next/reward"] == {"name": "next/reward", "dtype": "float64",
                                                           "shape": [1], "production_status": "ready"}
    rows = await backend.get_data(meta, ["next/obs"])
    np.testing.assert_array_equal(rows[1]["next/obs"], td["next", "obs"][1].numpy())
    await assert_stored(backend, bucket_path, {
        "obs": td["obs"].numpy(), "action": td["action"].numpy(),
        "next/obs": td["next", "obs"].numpy(), "next/reward": td["next", "reward"].numpy()})


async def test_tensordict_with_two_batch_dimensions(backend, bucket_path):
    """batch_size=[3, 2]: 3 rows, each a (2, ...) tensor."""
    x = torch.arange(24, dtype=torch.int64).reshape(3, 2, 4)
    await backend.put_tensor(TensorDict({"x": x}, batch_size=[3, 2]))
    await assert_stored(backend, bucket_path, {"x": x.numpy()})


BAD_PUTS = {
    "first dimensions disagree": ({"x": torch.ones(3, 2), "y": torch.ones(4)}, ValueError,
                                  r"columns differ in rows \(first dimension\): \{'x': 3, 'y': 4\}"),
    "0-d tensor": ({"x": torch.tensor(1.0)}, ValueError, "field 'x': a 0-d array has no rows"),
    "0-d tensor beside a column": ({"x": torch.ones(2), "y": torch.tensor(2)}, ValueError, "field 'y': a 0-d"),
    "bfloat16 column": ({"x": torch.ones(3, 2, dtype=torch.bfloat16)}, TypeError,
                        r"field 'x': no numpy array for this tensor \(.*BFloat16\); convert it, e\.g\. \.float\(\)"),
    "bfloat16 per row": ([{"x": torch.ones(2, dtype=torch.bfloat16)}], TypeError, "field 'x': no numpy array"),
    "per-row tensors of two shapes": ([{"x": torch.ones(2)}, {"x": torch.ones(3)}], ValueError, "differ in shape"),
    "TensorDict without a batch dimension": (TensorDict({"x": torch.ones(3)}, batch_size=[]), ValueError,
                                             r"batch_size=\[\] has no rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_PUTS))
async def test_bad_input_stores_nothing(backend, case):
    data, exc, words = BAD_PUTS[case]
    with pytest.raises(exc, match=words):
        await backend.put_tensor(data)
    assert backend.total_count() == 0
    assert (await backend.put_tensor({"x": torch.ones(2, 2)})).global_indexes == [0, 1]


# ---- through a real pulsing 0.1.2 actor system --------------------------------------
@pytest.mark.parametrize("backend_name", ["persisting", "lance"])
def test_pulsing_actor_with_torch_tensors(tmp_path, backend_name):
    sys.path.insert(0, str(SCRIPTS))
    from torch_pulsing import ROWS, inputs

    path = str(tmp_path / "q")
    env = {**os.environ, "PYTHONPATH": str(PYTHON_SRC)}
    proc = subprocess.run([sys.executable, "-X", "faulthandler", str(SCRIPTS / "torch_pulsing.py"), path, backend_name],
                          capture_output=True, text=True, timeout=300, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert proc.returncode == 0 and line, explain(proc)
    out = json.loads(line[len("RESULT "):])

    first, second = inputs()
    want = {k: np.concatenate([first[k].detach().numpy(), second[k].detach().numpy()]) for k in first}
    assert out["puts"] == [{"status": "ok"}] * 2
    assert out["train"] == list(range(2 * ROWS - 1)) and out["rest"] == [2 * ROWS - 1]
    assert out["fields"]["obs"] == {"name": "obs", "dtype": "float16", "shape": [2, 3], "production_status": "ready"}
    assert out["fields"]["logp"]["dtype"] == "float32" and out["fields"]["logp"]["shape"] == [3]
    for k, row in zip(out["train"], out["data"]):
        for name in ("obs", "logp"):
            assert row[name] == {"type": "ndarray", "dtype": str(want[name].dtype),
                                 "shape": list(want[name].shape[1:]), "value": want[name][k].tolist()}
        assert row["action"] == {"type": "int", "value": int(want["action"][k])}
    table = lance.dataset(os.path.join(path, "bucket_0", "data.lance")).to_table()
    for name, values in want.items():
        col = table.column(name).combine_chunks()
        got = col.to_numpy_ndarray() if values.ndim > 1 else col.to_numpy()
        assert got.dtype == values.dtype
        np.testing.assert_array_equal(got, values)
