"""The ``persisting`` command line (the console script and ``python -m persisting``).

The command line is a Go program, ``persisting``, installed beside the library
this package loads (``$PERSISTING_CLI`` names another); this module only runs
it in the Python process's place. Its manual is ``persisting --help`` and
docs/cli.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_CLI = "PERSISTING_CLI"
BINARY_NAME = "persisting"


def binary_path() -> str:
    """The program to run: ``$PERSISTING_CLI``, else ``persisting`` beside the library."""
    from ._native import library_path

    return os.environ.get(ENV_CLI) or str(Path(library_path()).with_name(BINARY_NAME))


def run() -> None:
    """The console script's entry point: replaces this process with the program."""
    try:
        path = binary_path()
    except Exception as exc:  # the library is not found either: say why
        print(f"persisting: cannot find the command line program: {exc}", file=sys.stderr)
        sys.exit(3)  # the documented status of a command that could not run
    if not os.access(path, os.X_OK):
        print(f"persisting: the command line program {path} is missing or not executable; build it with "
              f"`make lib` (or `go build -o {path} ./cmd/persisting`) or set {ENV_CLI}", file=sys.stderr)
        sys.exit(3)
    os.execv(path, [path, *sys.argv[1:]])
