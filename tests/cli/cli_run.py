"""Running the CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from helpers import child_env, explain  # noqa: E402

SCRIPTS = Path(__file__).resolve().parent / "scripts"
CLI = [sys.executable, "-m", "persisting"]


def cli(*args: Any, check: int | None = 0, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess:
    """Runs ``persisting ARGS``; checks the exit status unless check is None."""
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=child_env(), stdin=subprocess.DEVNULL, **kw)
    if check is not None:
        assert proc.returncode == check, explain(proc)
    return proc


def cli_json(*args: Any, check: int = 0) -> Any:
    return json.loads(cli(*args, "--json", check=check).stdout)


def tree(path: Path) -> dict[str, bytes]:
    """Every file under path with its contents (to prove nothing changed)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}
