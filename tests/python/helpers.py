"""Helpers shared by the Python tests (imported by conftest and the tests)."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON_SRC = REPO / "python"
SCRIPTS = Path(__file__).resolve().parent / "scripts"

if str(PYTHON_SRC) not in sys.path:
    sys.path.insert(0, str(PYTHON_SRC))


def find_library() -> str | None:
    env = os.environ.get("PERSISTING_LIB")
    if env:
        return str(Path(env).resolve())
    built = REPO / "build" / "libpersisting.so"
    if built.is_file():
        return str(built)
    dirs = [sysconfig.get_paths()["platlib"], sysconfig.get_paths()["purelib"]]
    dirs += site.getsitepackages() + [site.getusersitepackages()]
    for d in dirs:
        candidate = Path(d) / "persisting" / "libpersisting.so"
        if candidate.is_file():
            return str(candidate)
    return None


LIBRARY = find_library()
if LIBRARY is not None:
    os.environ["PERSISTING_LIB"] = LIBRARY


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a spawned Python that imports this checkout's persisting."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PYTHON_SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env["PERSISTING_LIB"] = LIBRARY or ""
    env.update(extra)
    return env


def run_python(code_or_script, *args: str, timeout: float = 120, env=None,
               python: str = sys.executable, cwd=None) -> subprocess.CompletedProcess:
    """Runs Python code (a string) or a script (a Path) in a fresh (spawned) process."""
    if isinstance(code_or_script, Path):
        cmd = [python, str(code_or_script), *args]
    else:
        cmd = [python, "-c", code_or_script, *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout,
        env=env if env is not None else child_env(), cwd=cwd,
    )


def explain(proc: subprocess.CompletedProcess) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


async def eventually(check, timeout: float = 60.0, what: str = "condition"):
    """Awaits until ``await check()`` is truthy and returns it: for what the
    engine does in the background (a flush at flush_threshold). ``timeout`` only
    guards against a hang; the test waits for the condition, not for a time."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last: {result!r})")
        await asyncio.sleep(0.005)


MINIO_SCRIPT = REPO / "tests" / "s3" / "minio.sh"


def minio_server(directory: Path, bucket: str):
    """Starts a MinIO on 127.0.0.1 serving ``directory`` with ``bucket``
    (tests/s3/minio.sh builds it the first time; a server that cannot be built
    or started fails the test) and yields storage options in pylance's
    vocabulary; stops it after. Use as a pytest fixture's body."""
    proc = subprocess.run([str(MINIO_SCRIPT), "start", str(directory), bucket],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"minio.sh start failed:\n{proc.stdout}\n{proc.stderr}"
    endpoint = next(ln.split("=", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("endpoint="))
    try:
        yield {"aws_endpoint": endpoint, "aws_region": "us-east-1", "aws_access_key_id": "persisting",
               "aws_secret_access_key": "persisting-secret", "allow_http": "true"}
    finally:
        subprocess.run([str(MINIO_SCRIPT), "stop", str(directory)], timeout=60)
