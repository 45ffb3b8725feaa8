"""What every command shares: the options (paths, as-of date, window, output), the exit codes,
error lines on standard error, the progress bar and writing a result to a file or stdout.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from ..api import ScreeningError
from ..pipeline.assessment import DEFAULT_WINDOW_DAYS

# The exit codes the README documents: 0 every input screened; 1 some input unreadable (the
# others screened and reported); 2 usage; 3 output or environment failure (disk full, read-only,
# port in use, endpoint or scheduler unreachable); 70 an internal error (a bug: one line, no
# traceback); 130 interrupted (Ctrl-C, SIGTERM).
EXIT_OK, EXIT_INPUT_ERROR, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130


class EnvironmentProblem(click.ClickException):
    """An output or environment failure, reported as ``Error: …`` with exit code 3."""

    exit_code = EXIT_ENVIRONMENT


def parse_as_of(_ctx, _param, value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; use YYYY-MM-DD") from None


paths_argument = click.argument("paths", nargs=-1, required=True,
                                type=click.Path(path_type=Path))
as_of_option = click.option("--as-of", callback=parse_as_of, metavar="DATE",
                            help="Assessment date (YYYY-MM-DD); default: today.")
window_option = click.option("--window-days", type=click.IntRange(min=0),
                             default=DEFAULT_WINDOW_DAYS, show_default=True,
                             help="How old a screening result may be, in days.")
output_option = click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
                             help="Write to this file instead of standard output.")


def echo_error(error: ScreeningError) -> None:
    where = error.source + (f", record {error.record}" if error.record else "") + (
        f", field {error.field}" if error.field else "")
    click.echo(f"error: {where}: {error.message}", err=True)


def progress(items, quiet: bool):
    """A progress bar on a terminal (stderr); nothing when piped or with --quiet."""
    if quiet or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, unit=" patients", file=sys.stderr, desc="screening")


def write_output(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write {output}: {exc.strerror}") from None
