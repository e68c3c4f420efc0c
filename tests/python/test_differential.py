"""Randomized differential test: pulsing's MemoryBackend defines the answers.

The same seeded sequence of operations runs against pulsing's ``MemoryBackend``,
``LanceBackend`` and ``PersistingBackend`` (WAL off and on). Each of ours has a
MemoryBackend *shadow* that gets exactly the records ours accepted, and a model of
the bucket's schema (docs/schema-rules.md) that predicts whether ours accepts a put
and how a stored value reads back (the inherent differences of typed columns, listed
in docs/backends.md: a missing key reads as ``None``, an int in a float field reads
as a float, ...). Every answer - accepted or refused, records, stream chunks,
counts, stats - is compared exactly (NaN equals NaN, -0.0 keeps its sign).

A failure prints the seed and the shrunk op list. Longer runs:
``PERSISTING_DIFF_FIRST_SEED=1000 PERSISTING_DIFF_SEEDS=200 PERSISTING_DIFF_OPS=300 pytest
tests/python/test_differential.py`` (``PERSISTING_DIFF_ACTOR_SEEDS``: actor-system runs per pulsing version).
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import random
from pathlib import Path

import pytest

from helpers import PYTHON_SRC, SCRIPTS, child_env, explain, run_python
from scripts.exact import same

from persisting import SchemaError
from persisting.queue import LanceBackend, PersistingBackend

try:
    from pulsing.streaming.backend import MemoryBackend
except ImportError:  # pulsing 0.1.0
    from pulsing.queue.backend import MemoryBackend

FIRST_SEED = int(os.environ.get("PERSISTING_DIFF_FIRST_SEED", "0"))
SEEDS = range(FIRST_SEED, FIRST_SEED + int(os.environ.get("PERSISTING_DIFF_SEEDS", "16")))
OPS = int(os.environ.get("PERSISTING_DIFF_OPS", "60"))
INT64 = (-2**63, 2**63 - 1)

# ---- values ---------------------------------------------------------------------------
FLOATS = [0.0, -0.0, 1.5, -2.25, math.nan, math.inf, -math.inf, 1e308, 5e-324, 0.1]
STRINGS = ["", "a", "héllo", "日本語", "🙂 emoji", "tab\tnew\nline", "x" * 300]
BYTES = [b"", b"\x00", b"\xff\xfe", b"abc", bytes(range(256))]
INTS = [0, 1, -1, 7, INT64[0], INT64[1], 2**53, -(2**31)]
SMALL_INTS = [0, 3, -4, 2**53]  # into the float field: exactly representable


def value_for(rng: random.Random, field: str):
    """A value of ``field``'s kind (sometimes ``None``, sometimes a near kind)."""
    if rng.random() < 0.12:
        return None
    if field == "i":
        return rng.choice(INTS)
    if field == "x":  # ints among floats: "1 then 1.5"
        return rng.choice(SMALL_INTS) if rng.random() < 0.3 else rng.choice(FLOATS)
    if field == "s":
        return rng.choice(STRINGS)
    if field == "b":
        return rng.choice(BYTES)
    if field == "t":
        return rng.choice([True, False])
    if field == "n":
        return None
    if field == "l":
        return [rng.choice([None, *INTS[:4]]) for _ in range(rng.randrange(4))]
    if field == "lx":
        return [rng.choice(FLOATS + SMALL_INTS) for _ in range(rng.randrange(1, 4))]
    if field == "d":
        keys = [k for k in ("x", "y") if rng.random() < 0.8] or ["x"]
        return {k: (rng.choice(INTS[:4]) if k == "x" else rng.choice(STRINGS[:4])) for k in keys}
    if field == "dd":  # nested two deep
        return {"inner": {"v": rng.choice(FLOATS)}, "tags": [rng.choice(STRINGS[:4])]}
    raise AssertionError(field)


BASE = ["i", "x", "s", "b", "t", "n", "l", "lx", "d", "dd"]
EXTRA = ["e1", "ключ"]  # keys brought later: new fields


def record(rng: random.Random) -> dict:
    rec = {f: value_for(rng, f) for f in BASE if rng.random() < 0.75}
    if rng.random() < 0.1:
        rec[rng.choice(EXTRA)] = rng.choice([1, "one", None])
    return rec or {"i": 1}


def gen_ops(seed: int, n: int) -> list[tuple]:
    rng = random.Random(seed)
    ops: list[tuple] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.35:
            ops.append(("put", record(rng)))
        elif r < 0.5:
            ops.append(("put_batch", [record(rng) for _ in range(rng.choice([0, 1, 2, 5, 120]))]))
        elif r < 0.53:
            ops.append(("put_bad", rng.choice([{}, "not a dict", {"": 1}, {"a.b": 1}, {"s": "\ud800"}])))
        elif r < 0.7:
            ops.append(("get", rng.choice([0, 1, 3, 10, 150, 10**9, -1]), rng.choice([0, 1, 2, 5, 99, 10**9, -1])))
        elif r < 0.78:
            ops.append(("stream", rng.choice([0, 1, 7, 101, 250, 10**6]), rng.choice([0, 1, 3, 10**6])))
        elif r < 0.8:
            ops.append(("stream_wait", rng.randrange(1, 4), [record(rng) for _ in range(rng.randrange(1, 4))]))
        elif r < 0.82:
            ops.append(("stream_idle", rng.choice([1, 50, 10**6]), rng.choice([0, 2, 10**6])))
        elif r < 0.84:
            ops.append(("put_gather", [record(rng) for _ in range(rng.randrange(2, 8))]))
        elif r < 0.88:
            ops.append(("flush",))
        elif r < 0.94:
            ops.append(("stats",))
        else:
            ops.append(("reopen",))
    return ops


# ---- the schema model -------------------------------------------------------------------
# a type: None (untyped), "int", "float", "str", "bytes", "bool", ("list", t), ("struct", {name: t})
UNKNOWN = object()  # the model does not predict: ours must only agree among themselves


def kind_of(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    return {float: "float", str: "str", bytes: "bytes"}.get(type(v))


def infer(values: list, top_mix: bool = True):
    """The type a unit's values give a new field (None: still untyped); ints among floats
    make floats, except top-level ones in a strict bucket (``top_mix`` False): the first value's."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    first = values[0]
    if isinstance(first, list):
        items = [e for v in values for e in v]
        return ("list", infer(items))  # None: a part only None or [] keeps the type null until a value types it
    if isinstance(first, dict):
        keys: dict = {}
        for v in values:
            for k in v:
                keys.setdefault(k, []).append(v[k])
        return ("struct", {k: infer(vs) for k, vs in keys.items()})
    kinds = {kind_of(v) for v in values}
    return "float" if kinds == {"int", "float"} and top_mix else kind_of(first)


def fills_null_part(t, v) -> bool:
    """Whether value ``v`` gives a type to a part of nested type ``t`` that has none yet."""
    if v is None or not isinstance(t, tuple):
        return False
    if t[0] == "list":
        return isinstance(v, list) and any(e is not None and (t[1] is None or fills_null_part(t[1], e)) for e in v)
    return isinstance(v, dict) and any(v.get(k) is not None and (ct is None or fills_null_part(ct, v.get(k)))
                                       for k, ct in t[1].items())


def merge(t, u):
    """Type ``t`` after an accepted unit whose values infer ``u``: its null parts typed."""
    if t is None:
        return u
    if not isinstance(t, tuple) or u is None:
        return t
    if t[0] == "list":
        return ("list", merge(t[1], u[1]))
    return ("struct", {k: merge(ct, u[1].get(k)) for k, ct in t[1].items()})


def fits(v, t) -> bool:
    if v is None:
        return True
    if t is None:  # untyped: any value types it (checked by merge)
        return True
    if t == "int":
        return kind_of(v) == "int" and INT64[0] <= v <= INT64[1]
    if t == "float":
        return kind_of(v) == "float" or (kind_of(v) == "int" and abs(v) <= 2**53)
    if isinstance(t, tuple) and t[0] == "list":
        return isinstance(v, list) and all(fits(e, t[1]) for e in v)
    if isinstance(t, tuple) and t[0] == "struct":
        return isinstance(v, dict) and set(v) <= set(t[1]) and all(fits(v[k], t[1][k]) for k in v)
    return kind_of(v) == t


class Model:
    """What a bucket's schema is, after the units it accepted."""

    def __init__(self, evolving: bool):
        self.evolving = evolving
        self.fields: dict = {}

    def accepts(self, unit: list[dict]):
        """True/False: the unit is accepted/refused; UNKNOWN: the model does not say."""
        new = {}
        for rec in unit:
            for k in rec:
                if k not in self.fields:
                    new.setdefault(k, []).append(rec[k])
        if new and self.fields and not self.evolving:
            return False
        for k, vs in new.items():
            if any(isinstance(v, dict) and not v for v in vs):
                return UNKNOWN
        if any(fills_null_part(self.fields.get(k), v) for rec in unit for k, v in rec.items()):
            return UNKNOWN  # typing null parts: ours must agree among themselves
        merged = dict(self.fields)
        for k, vs in new.items():
            merged[k] = infer(vs, self.evolving)
        for rec in unit:
            for k, v in rec.items():
                t = merged[k]
                if t is None and v is not None:
                    merged[k] = t = infer([v])
                if fits(v, t):
                    continue
                if self.evolving and t == "int" and kind_of(v) == "float":
                    merged[k] = "float"
                    continue
                return False  # nested types never widen, structs never gain keys: also when evolving
        return True

    def accept(self, unit: list[dict]) -> None:
        new: dict = {}
        for rec in unit:
            for k, v in rec.items():
                if k not in self.fields:
                    new.setdefault(k, []).append(v)
        for k, vs in new.items():
            self.fields[k] = infer(vs, self.evolving)
        for k, t in list(self.fields.items()):
            if isinstance(t, tuple) and k not in new:
                self.fields[k] = merge(t, infer([rec.get(k) for rec in unit]))
        for rec in unit:
            for k, v in rec.items():
                t = self.fields[k]
                if t is None and v is not None:
                    self.fields[k] = infer([v])
                elif t == "int" and kind_of(v) == "float":
                    self.fields[k] = "float"

    def expect(self, rec: dict) -> dict:
        return {k: read_as(rec.get(k), t) for k, t in self.fields.items()}


def read_as(v, t):
    """How value ``v`` stored in a field of type ``t`` reads back."""
    if v is None:
        return None
    if t == "float":
        return float(v)
    if isinstance(t, tuple) and t[0] == "list":
        return [read_as(e, t[1]) for e in v]
    if isinstance(t, tuple) and t[0] == "struct":
        return {k: read_as(v.get(k), ct) for k, ct in t[1].items()}
    return v


# ---- running a sequence --------------------------------------------------------------
KINDS = {
    "lance": (LanceBackend, {}),
    "persisting": (PersistingBackend, {}),
    "wal": (PersistingBackend, {"enable_wal": True}),
}


class Ours:
    def __init__(self, kind: str, path: str):
        self.kind, self.path = kind, path
        self.cls, self.opts = KINDS[kind]
        self.model = Model(evolving=self.cls is PersistingBackend)
        self.shadow = MemoryBackend(0)
        self.backend = self.open()

    def open(self):
        return self.cls(0, self.path, flush_threshold=9, **self.opts)

    async def expected(self, limit, offset):
        return [self.model.expect(r) for r in await self.shadow.get(limit, offset)]


def all_accepted(model: Model, unit: list[dict]) -> bool:
    """Whether the model accepts each record of ``unit``, put one after the other."""
    trial = copy.deepcopy(model)
    for r in unit:
        if trial.accepts([r]) is not True:
            return False
        trial.accept([r])
    return True


async def stream(backend, limit, offset, wait=False, timeout=None):
    return [chunk async for chunk in backend.get_stream(limit, offset, wait, timeout)]


def differ(what, got, want) -> str | None:
    return None if same(got, want, missing_is_none=True) else f"{what}:\n  got  {got!r}\n  want {want!r}"


async def run_ops(ops: list[tuple], base: str) -> str | None:
    """Runs ``ops``; the first difference as a message, or None."""
    memory = MemoryBackend(0)
    ours = [Ours(kind, os.path.join(base, kind)) for kind in KINDS]
    try:
        for step, op in enumerate(ops):
            msg = await run_op(op, memory, ours)
            if msg:
                return f"op {step} {op[0]}: {msg}"
        return None
    finally:
        for o in ours:
            o.backend.close()


async def run_op(op, memory, ours) -> str | None:
    name = op[0]
    if name in ("put", "put_batch"):
        unit = [op[1]] if name == "put" else op[1]
        await (memory.put(op[1]) if name == "put" else memory.put_batch(op[1]))
        for o in ours:
            predicted = o.model.accepts(unit) if unit else True
            try:
                await (o.backend.put(op[1]) if name == "put" else o.backend.put_batch(op[1]))
                accepted, error = True, None
            except (TypeError, ValueError, SchemaError) as exc:
                accepted, error = False, exc
            if predicted is not UNKNOWN and accepted != predicted:
                return f"{o.kind} {'accepted' if accepted else 'refused'} {unit!r}: {error!r}"
            if accepted:
                o.model.accept(unit)
                await o.shadow.put_batch(unit)
        answers = {o.kind: o.backend.total_count() for o in ours}
        if answers["persisting"] != answers["wal"]:
            return f"persisting and wal disagree after {unit!r}: {answers}"
        return None
    if name == "put_bad":
        await memory.put(op[1])  # MemoryBackend takes anything
        for o in ours:
            before = o.backend.total_count()
            try:
                await o.backend.put(op[1])
                return f"{o.kind} accepted {op[1]!r}"
            except (TypeError, ValueError, SchemaError):
                pass
            if o.backend.total_count() != before:
                return f"{o.kind}: a refused put changed the count"
        return None
    if name == "get":
        limit, offset = op[1], op[2]
        for o in ours:
            if limit < 0 or offset < 0:  # documented: ValueError, MemoryBackend slices
                try:
                    await o.backend.get(limit, offset)
                    return f"{o.kind} get({limit}, {offset}) did not raise ValueError"
                except ValueError:
                    continue
            msg = differ(f"{o.kind} get({limit}, {offset})", await o.backend.get(limit, offset),
                         await o.expected(limit, offset))
            if msg:
                return msg
        return None
    if name == "stream":
        limit, offset = op[1], op[2]
        for o in ours:
            want = [[o.model.expect(r) for r in chunk] for chunk in await stream(o.shadow, limit, offset)]
            msg = differ(f"{o.kind} get_stream({limit}, {offset})", await stream(o.backend, limit, offset), want)
            if msg:
                return msg
        return None
    if name == "stream_wait":
        more, unit = op[1], op[2]
        for o in ours:
            if not all_accepted(o.model, unit):
                continue  # only records ours take, one after the other
            start = o.backend.total_count()
            limit = min(more, len(unit))
            task = asyncio.ensure_future(stream(o.backend, limit, start, True))
            shadow_task = asyncio.ensure_future(stream(o.shadow, limit, start, True))
            await asyncio.sleep(0)  # let both start waiting (not needed for the answer)
            for r in unit:
                await o.backend.put(r)
                await o.shadow.put(r)
                o.model.accept([r])
            got, want = await asyncio.wait_for(asyncio.gather(task, shadow_task), 60)
            got_rows = [r for chunk in got for r in chunk]
            want_rows = [o.model.expect(r) for chunk in want for r in chunk]
            msg = differ(f"{o.kind} get_stream(wait=True) of {limit} new", got_rows, want_rows)
            if msg:
                return msg
        return None
    if name == "stream_idle":  # wait=True with nothing put meanwhile: what there is, then the timeout ends it
        limit, offset = op[1], op[2]
        for o in ours:
            want = [[o.model.expect(r) for r in chunk] for chunk in await stream(o.shadow, limit, offset, True, 0.01)]
            got = await stream(o.backend, limit, offset, True, 0.01)
            msg = differ(f"{o.kind} get_stream({limit}, {offset}, wait=True, timeout=0.01)", got, want)
            if msg:
                return msg
        return None
    if name == "put_gather":  # concurrent puts from one task: stored in call order
        for o in ours:
            results = await asyncio.gather(*[o.backend.put(r) for r in op[1]], return_exceptions=True)
            trial = copy.deepcopy(o.model)
            for r, result in zip(op[1], results):
                predicted = trial.accepts([r])
                if predicted is not UNKNOWN and predicted != (result is None):
                    return f"{o.kind} {'refused' if result is not None else 'accepted'} {r!r} in a gather: {result!r}"
                if result is None:
                    trial.accept([r])
                    await o.shadow.put(r)
            o.model = trial
        return None
    if name == "flush":
        await memory.flush()
        for o in ours:
            await o.backend.flush()
        return None
    if name == "stats":
        for o in ours:
            mine, theirs = await o.backend.stats(), await o.shadow.stats()
            if mine["total_count"] != theirs["total_count"] or mine["bucket_id"] != theirs["bucket_id"]:
                return f"{o.kind} stats {mine} vs {theirs}"
            if mine["persisted_count"] + mine["buffer_size"] != mine["total_count"]:
                return f"{o.kind} stats do not add up: {mine}"
            if set(theirs) - set(mine):
                return f"{o.kind} stats lack {set(theirs) - set(mine)}"
            if o.backend.total_count() != o.shadow.total_count():
                return f"{o.kind} total_count {o.backend.total_count()} vs {o.shadow.total_count()}"
        return None
    if name == "reopen":
        for o in ours:
            o.backend.close()
            o.backend = o.open()
            # an evolving bucket forgets fields that were never typed (schema-rules.md)
            if o.model.evolving:
                o.model.fields = {k: t for k, t in o.model.fields.items() if t is not None}
            msg = differ(f"{o.kind} after reopen", await o.backend.get(None, 0), await o.expected(10**9, 0))
            if msg:
                return msg
        return None
    raise AssertionError(name)


def shrink(ops: list[tuple], fails) -> list[tuple]:
    """The smallest sublist (by removing chunks, then single ops) for which ``fails`` holds."""
    chunk = max(1, len(ops) // 2)
    while chunk >= 1:
        i = 0
        while i < len(ops):
            candidate = ops[:i] + ops[i + chunk:]
            if candidate and fails(candidate):
                ops = candidate
            else:
                i += chunk
        chunk //= 2
    return ops


def check_seed(seed: int, n: int, tmp_path) -> None:
    ops = gen_ops(seed, n)
    runs = iter(range(10**6))

    def fails(candidate) -> str | None:
        base = tmp_path / f"run{next(runs)}"
        base.mkdir()
        return asyncio.run(run_ops(candidate, str(base)))

    msg = fails(ops)
    if msg:
        small = shrink(ops, fails)
        lines = "\n".join(f"  {op!r}," for op in small)
        pytest.fail(f"seed {seed} ({n} ops): {msg}\nshrunk to {len(small)} ops: {fails(small)}\n[\n{lines}\n]")


@pytest.mark.parametrize("seed", SEEDS)
def test_differential(seed, tmp_path):
    check_seed(seed, OPS, tmp_path)


# ---- through a real actor system ------------------------------------------------------
ACTOR_SEEDS = range(int(os.environ.get("PERSISTING_DIFF_ACTOR_SEEDS", "3")))


@pytest.mark.parametrize("version", ["0.1.0", "0.1.2"])
def test_differential_through_pulsing_actors(version, tmp_path):
    """Shorter sequences through write_queue/read_queue (3 buckets; readers of all buckets, of
    bucket_id, bucket_ids, rank/world_size): memory, lance, persisting and persisting+WAL answer alike."""
    from test_pulsing_e2e import ensure_venv

    python = ensure_venv(version)
    deps = tmp_path / "deps"  # this interpreter's pyarrow and numpy, not its pulsing
    deps.mkdir()
    import numpy
    import pyarrow

    for module in (numpy, pyarrow):
        src = Path(module.__file__).parent
        for path in (src, src.parent / f"{src.name}.libs"):
            if path.exists():
                (deps / path.name).symlink_to(path)
    env = child_env(PYTHONPATH=os.pathsep.join([str(PYTHON_SRC), str(deps)]))
    for seed in ACTOR_SEEDS:
        proc = run_python(SCRIPTS / "pulsing_differential.py", str(tmp_path / f"seed{seed}"), str(seed), "30",
                          python=str(python), env=env, timeout=300)
        assert proc.returncode == 0 and "RESULT ok" in proc.stdout, explain(proc)


# ---- pulsing 0.1.2's training-data calls ---------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
async def test_training_calls_answer_as_memory_backend(kind, tmp_path):
    """put_tensor's result reads as MemoryBackend's {"size": n}; get_data answers alike."""
    cls, opts = KINDS[kind]
    ours, memory = cls(0, str(tmp_path), **opts), MemoryBackend(0)
    try:
        for data in ({"a": 1, "s": "x"}, [{"a": 2, "s": "y"}, {"a": 3, "s": "日本"}]):
            got, want = await ours.put_tensor(data), await memory.put_tensor(data)
            assert got["size"] == want["size"] == got.size
        assert got["global_indexes"] == [1, 2] and got["field_names"] == ["a", "s"]
        with pytest.raises(KeyError):
            got["status"]
        for meta in ({"global_indexes": [2, 0, 7, -1]}, {"global_indexes": []}):
            for fields in (None, ["a"]):
                assert await ours.get_data(meta, fields) == await memory.get_data(meta, fields)
    finally:
        ours.close()
