"""The CLI tests run ``python -m persisting`` as a subprocess, with this
checkout's package and library (found as tests/python does), on buckets
written by the backend (in a subprocess) and datasets written by pylance."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from helpers import LIBRARY, PYTHON_SRC, child_env, explain, run_python  # noqa: E402

from cli_run import SCRIPTS  # noqa: E402


def pytest_report_header(config):
    return f"persisting source: {PYTHON_SRC}; libpersisting: {LIBRARY or 'NOT FOUND'}"


def pytest_sessionstart(session):
    if LIBRARY is None:
        raise pytest.UsageError("libpersisting.so not found: run `make lib` or set PERSISTING_LIB")


def make_bucket(path: Path, *args: str) -> Path:
    proc = run_python(SCRIPTS / "make_bucket.py", str(path), *args, env=child_env())
    assert proc.returncode == 0, explain(proc)
    return path


@pytest.fixture(scope="session")
def backend_bucket_master(tmp_path_factory) -> Path:
    """3 versions of 4 records, a BTREE index (version 4), 1 record only in the WAL."""
    return make_bucket(tmp_path_factory.mktemp("backend") / "bucket_0", "--index", "--pending")


@pytest.fixture
def backend_bucket(backend_bucket_master, tmp_path) -> Path:
    """A copy the test may change or damage."""
    return Path(shutil.copytree(backend_bucket_master, tmp_path / "bucket_0"))


@pytest.fixture(scope="session")
def plain_bucket_master(tmp_path_factory) -> Path:
    """3 versions of 4 records, no index, 1 record only in the WAL."""
    return make_bucket(tmp_path_factory.mktemp("plain") / "bucket_0", "--pending")


@pytest.fixture
def plain_bucket(plain_bucket_master, tmp_path) -> Path:
    return Path(shutil.copytree(plain_bucket_master, tmp_path / "bucket_0"))


@pytest.fixture(scope="session")
def pylance_bucket_master(tmp_path_factory) -> Path:
    """A bucket whose data.lance pylance wrote with its defaults (2 versions)."""
    import lance
    import pyarrow as pa

    bucket = tmp_path_factory.mktemp("pylance") / "bucket_7"
    uri = str(bucket / "data.lance")
    lance.write_dataset(pa.table({"name": ["a", "b", "c"], "n": [1, 2, 3], "v": [[1.0, 2.0], None, [3.5]]}), uri)
    lance.write_dataset(pa.table({"name": ["d"], "n": [4], "v": [[4.0]]}), uri, mode="append")
    return bucket


@pytest.fixture
def pylance_bucket(pylance_bucket_master, tmp_path) -> Path:
    return Path(shutil.copytree(pylance_bucket_master, tmp_path / "bucket_7"))
