"""``python -m persisting``: the same command line as the ``persisting`` script."""

from .cli import run

run()
