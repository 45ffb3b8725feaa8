"""``python -m ql1706kg``: the same program as the ``ql1706kg`` command."""

from .cli import run

if __name__ == "__main__":
    run()
