"""pulsing end to end, with a real actor system, for pulsing 0.1.0 and 0.1.2.

The two releases cannot share one environment (0.1.0 has ``pulsing.queue``,
0.1.1+ ``pulsing.streaming``), so each gets a venv, made once and cached under
``build/venvs/pulsing-<version>``, that sees this interpreter's packages
(pyarrow, pylance) behind its own: a ``.pth`` file, since ``--system-site-packages``
reaches only the base interpreter's when this one is itself a venv. The persisting wheel is built from this
checkout with ``pip wheel ./python`` - which compiles libpersisting.so with Go,
the way users install it - and installed into each venv; the scenario then runs
in a spawned interpreter of that venv, with no PYTHONPATH or PERSISTING_LIB, so
it uses the installed package and its bundled library.

A venv or wheel that cannot be made is a failure, never a skip.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from helpers import REPO, SCRIPTS, explain

VENVS = REPO / "build" / "venvs"
VERSIONS = ["0.1.0", "0.1.2"]
N = 60


def _run(cmd, timeout=600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PERSISTING_LIB", "PYTHONPATH")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


class _Lock:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(path, "w")

    def __enter__(self):
        fcntl.flock(self._f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self._f, fcntl.LOCK_UN)
        self._f.close()


def ensure_venv(version: str) -> Path:
    """The python of a cached venv with pulsing==version (made on first use)."""
    venv = VENVS / f"pulsing-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".pulsing-ready"
    with _Lock(VENVS / f".pulsing-{version}.lock"):
        if marker.is_file() and marker.read_text() == version + " pth" and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        proc = _run([sys.executable, "-m", "venv", str(venv)])
        assert proc.returncode == 0, "venv creation failed\n" + explain(proc)
        proc = _run([str(python), "-m", "pip", "install", "--quiet", f"pulsing=={version}"],
                    env=clean_env())
        assert proc.returncode == 0, f"pip install pulsing=={version} failed\n" + explain(proc)
        proc = _run([str(python), "-c",
                     "import importlib.metadata as m; print(m.version('pulsing'))"])
        assert proc.stdout.strip() == version, explain(proc)
        site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        ours = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
        # after pulsing's own install, behind the venv's site-packages: its pulsing and
        # persisting come first; pyarrow and pylance from this interpreter
        Path(site.stdout.strip(), "zz-test-interpreter.pth").write_text("\n".join(sorted(ours)) + "\n")
        marker.write_text(version + " pth")
    return python


@pytest.fixture(scope="session")
def persisting_wheel(tmp_path_factory) -> Path:
    """Builds the wheel as `pip install ./python` would: Go compiles the library."""
    out = tmp_path_factory.mktemp("wheel")
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                 str(REPO / "python")], env=clean_env(), timeout=900)
    assert proc.returncode == 0, "pip wheel ./python failed\n" + explain(proc)
    wheels = list(out.glob("persisting-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_is_an_abi3_platform_wheel_bundling_the_library_and_the_put_call(persisting_wheel):
    import sysconfig
    import zipfile

    name = persisting_wheel.name
    free_threaded = sysconfig.get_config_var("Py_GIL_DISABLED")  # no limited API: a wheel for this CPython
    assert ("-cp310-abi3-" in name or free_threaded) and not name.endswith("-any.whl"), name
    with zipfile.ZipFile(persisting_wheel) as z:
        names = z.namelist()
        wheel_meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert "persisting/libpersisting.so" in names
    assert "persisting/queue.py" in names and "persisting/_native.py" in names
    assert "Root-Is-Purelib: false" in wheel_meta
    extensions = [n for n in names if n.endswith((".so", ".pyd")) and n != "persisting/libpersisting.so"]
    assert extensions == ["persisting/_put" + (sysconfig.get_config_var("EXT_SUFFIX") if free_threaded else ".abi3.so")]


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"pulsing-{v}" for v in VERSIONS])
def pulsing_python(request, persisting_wheel) -> tuple[str, Path]:
    version = request.param
    python = ensure_venv(version)
    proc = _run([str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
                 str(persisting_wheel)], env=clean_env())
    assert proc.returncode == 0, "installing the persisting wheel failed\n" + explain(proc)
    return version, python


def run_scenario(python: Path, phase: str, path: Path, topic: str, cwd: Path) -> dict:
    proc = _run([str(python), str(SCRIPTS / "pulsing_scenario.py"), phase, str(path), topic, str(N)],
                env=clean_env(), cwd=cwd, timeout=180)
    assert proc.returncode == 0, f"{phase} scenario failed\n" + explain(proc)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, explain(proc)
    return json.loads(line[len("RESULT "):])


def by_seq(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: r["seq"])


def test_queue_roundtrip_and_restart(pulsing_python, tmp_path):
    version, python = pulsing_python
    storage = tmp_path / "queue"
    topic = f"events_{version.replace('.', '_')}"

    first = run_scenario(python, "write", storage, topic, tmp_path)
    assert first["pulsing_version"] == version
    assert first["api"] == ("pulsing.queue" if version == "0.1.0" else "pulsing.streaming")
    venv = python.parent.parent
    assert first["persisting_file"].startswith(str(venv)), first["persisting_file"]
    assert first["library"].startswith(str(venv)), first["library"]  # the bundled library
    assert first["registered"] == ["lance", "LanceBackend", "persisting", "PersistingBackend"]
    expected = first["expected"]
    assert len(first["records"]) == N
    assert by_seq(first["records"]) == expected
    assert first["extra"] == [] and first["waited"] >= 0.25
    assert first["live"] == expected[:5]  # a blocked reader saw records written later
    stats = first["bucket_stats"]
    assert sum(s["total_count"] for s in stats.values()) == N
    assert sum(s["persisted_count"] for s in stats.values()) == N
    assert all(s["backend"] == "lance" for s in stats.values())
    # real Lance datasets, one per bucket, with every record
    assert sum(v for v in first["on_disk"].values() if v) == N
    assert all(v for v in first["on_disk"].values()), first["on_disk"]

    second = run_scenario(python, "read", storage, topic, tmp_path)
    assert by_seq(second["records"]) == expected
    assert second["on_disk"] == first["on_disk"]


def test_quickstart_example(pulsing_python, tmp_path):
    version, python = pulsing_python
    target = tmp_path / "quickstart"
    for expected_total in (1000, 2000):  # a second run appends to the same datasets
        proc = _run([str(python), str(REPO / "examples" / "quickstart.py"), str(target)],
                    env=clean_env(), cwd=tmp_path, timeout=180)
        assert proc.returncode == 0, explain(proc)
        assert f"all {expected_total} records are in real Lance datasets" in proc.stdout, explain(proc)
        assert "pylance opened" in proc.stdout and "version" in proc.stdout


def test_wheel_bundles_a_prebuilt_library_from_PERSISTING_LIB(tmp_path):
    from helpers import LIBRARY
    import zipfile

    env = clean_env()
    env["PERSISTING_LIB"] = LIBRARY
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
                 str(REPO / "python")], env=env, timeout=600)
    assert proc.returncode == 0, explain(proc)
    (wheel,) = tmp_path.glob("persisting-*-cp310-abi3-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert z.read("persisting/libpersisting.so") == Path(LIBRARY).read_bytes()


def test_persisting_backend_with_wal_survives_sigkill(pulsing_python, tmp_path):
    """backend="persisting" with the WAL: a writer process killed with SIGKILL
    before any flush (pulsing never flushes on shutdown anyway) loses nothing:
    a new process reads every record back through read_queue."""
    import signal
    import time

    version, python = pulsing_python
    storage = tmp_path / "queue"
    topic = f"wal_{version.replace('.', '_')}"
    proc = subprocess.Popen(
        [str(python), str(SCRIPTS / "pulsing_scenario.py"), "wal-write", str(storage), topic, str(N)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 180
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or line.startswith("RESULT "):
                break
        assert line.startswith("RESULT "), f"no RESULT line (exit {proc.poll()}): {proc.stderr.read()}"
        first = json.loads(line[len("RESULT "):])
        assert proc.poll() is None, "the writer must still be running when it is killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert first["pulsing_version"] == version
    assert first["registered"] == ["lance", "LanceBackend", "persisting", "PersistingBackend"]
    stats = first["bucket_stats"]
    assert sum(s["total_count"] for s in stats.values()) == N
    assert all(s["backend"] == "persisting" and s["wal_enabled"] for s in stats.values()), stats
    assert sum(s["persisted_count"] for s in stats.values()) == 0  # nothing flushed
    assert all(s["wal_size"] > 0 and s["metrics"]["persisting_records_total"] > 0
               for s in stats.values()), stats
    assert first["on_disk"] == {"0": None, "1": None}  # no Lance dataset yet: all in the WAL

    second = run_scenario(python, "wal-read", storage, topic, tmp_path)
    assert by_seq(second["records"]) == first["expected"]
    stats = second["bucket_stats"]
    assert sum(s["total_count"] for s in stats.values()) == N
    assert sum(s["wal_replayed"] for s in stats.values()) >= 2  # one entry or more per bucket
    assert all(s["metrics"]["persisting_wal_replayed_records_total"] == s["total_count"]
               for s in stats.values()), stats
