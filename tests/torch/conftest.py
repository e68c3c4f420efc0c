"""tests/torch: the training-data API with the real torch and tensordict.

``make torchtest`` runs them in ``.venv-torch`` (Debian's ``python3-torch``,
CPU-only, plus the pinned tensordict in ``requirements-torch.txt``) with this
checkout's ``python/`` and ``build/libpersisting.so`` (found as tests/python
finds it). Without torch or tensordict the session fails; it never skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from helpers import LIBRARY, PYTHON_SRC  # noqa: E402  (puts this checkout's python/ first)


def pytest_report_header(config):
    return f"persisting source: {PYTHON_SRC}; libpersisting: {LIBRARY or 'NOT FOUND'}"


def pytest_sessionstart(session):
    if LIBRARY is None:
        raise pytest.UsageError("libpersisting.so not found: run `make lib` (or set PERSISTING_LIB)")
    try:
        import tensordict  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise pytest.UsageError(f"tests/torch need torch and tensordict ({exc}): run them with "
                                "`make torchtest` (Debian: apt-get install python3-torch python3-venv)") from None


@pytest.fixture
def bucket_path(tmp_path) -> str:
    return str(tmp_path / "bucket_0")
