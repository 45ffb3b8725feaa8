"""``python -m ql1706kg.cli``."""

from . import run

run()
