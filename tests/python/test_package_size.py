"""Issue #11's rule for the Python package: a thin shell over the engine, all of
``python/persisting/*.py`` under 1,500 lines, docstrings and comments included."""

from __future__ import annotations

from helpers import PYTHON_SRC

LIMIT = 1500


def package_lines() -> dict[str, int]:
    return {p.name: len(p.read_text(encoding="utf-8").splitlines())
            for p in sorted((PYTHON_SRC / "persisting").glob("*.py"))}


def test_the_package_stays_under_its_line_budget():
    lines = package_lines()
    assert "queue.py" in lines and "_native.py" in lines, f"not the package's sources: {sorted(lines)}"
    total = sum(lines.values())
    assert total < LIMIT, f"python/persisting/*.py hold {total} lines (limit {LIMIT}): {lines}"
