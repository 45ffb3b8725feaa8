"""What every command shares: the options (paths, as-of date, window, output), the exit codes,
error lines on standard error, the progress bar and writing a result to a file or stdout.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click

from ..api import ScreeningError
from ..outputs.files import open_output
from ..outputs.render import error_text
from ..outputs.targets import InputFiles
from ..outputs.visible import visible
from ..pipeline.assessment import (
    DEFAULT_WINDOW_DAYS,
    EARLIEST_AS_OF,
    LATEST_AS_OF,
    MAX_WINDOW_DAYS,
)

# The exit codes the README documents: 0 every input screened; 1 some input unreadable (the
# others screened and reported); 2 usage; 3 output or environment failure (disk full, read-only,
# port in use, endpoint or scheduler unreachable); 70 an internal error (a bug: one line, no
# traceback); 130 interrupted (Ctrl-C, SIGTERM).
EXIT_OK, EXIT_INPUT_ERROR, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130

# The dates and windows a run accepts: far beyond any real screening, and far enough from the
# ends of the calendar that no date arithmetic of the pipeline can overflow.


class EnvironmentProblem(click.ClickException):
    """An output or environment failure, reported as ``Error: …`` with exit code 3."""

    exit_code = EXIT_ENVIRONMENT

    def format_message(self) -> str:
        return visible(self.message)


def parse_as_of(_ctx, _param, value: str | None) -> date:
    if value is None:
        day = date.today()
    else:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise click.BadParameter(f"'{visible(value)}' is not a date; use YYYY-MM-DD"
                                     ) from None
    if not EARLIEST_AS_OF <= day <= LATEST_AS_OF:
        raise click.BadParameter(f"{day.isoformat()} is outside the dates accepted, "
                                 f"{EARLIEST_AS_OF} to {LATEST_AS_OF}")
    return day


paths_argument = click.argument("paths", nargs=-1, required=True,
                                type=click.Path(path_type=Path))
as_of_option = click.option("--as-of", callback=parse_as_of, metavar="DATE",
                            help=f"Assessment date (YYYY-MM-DD, {EARLIEST_AS_OF} to "
                                 f"{LATEST_AS_OF}); default: today.")
window_option = click.option("--window-days", type=click.IntRange(0, MAX_WINDOW_DAYS),
                             default=DEFAULT_WINDOW_DAYS, show_default=True,
                             help=f"How old a screening result may be, in days (0 to "
                                  f"{MAX_WINDOW_DAYS}).")
output_option = click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
                             help="Write to this file instead of standard output.")


def echo_error(error: ScreeningError) -> None:
    """An unreadable input, one line on standard error (control characters made visible)."""
    click.echo(f"error: {error_text(error)}", err=True)


def echo_note(message: str) -> None:
    """A note on standard error, in one line (control characters made visible)."""
    click.echo(f"note: {visible(message)}", err=True)


def progress(items, quiet: bool):
    """A progress bar on a terminal (stderr); nothing when piped or with --quiet."""
    if quiet or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, unit=" patients", file=sys.stderr, desc="screening")


def refuse_clashes(paths, outputs: dict[str, Path | None]) -> None:
    """Usage error (exit 2) if an output (named by its option) would overwrite one of the
    inputs, or two outputs are the same file."""
    inputs, seen = InputFiles(paths), {}
    for option, target in outputs.items():
        if target is None:
            continue
        clash = inputs.clash(target)
        if clash is not None:
            named = "" if str(clash) == str(target) else f" ({visible(clash)})"
            raise click.BadParameter(
                f"{visible(target)} is one of the inputs{named}; it would be overwritten: "
                "choose another output", param_hint=option)
        key = os.path.realpath(target)
        if key in seen:
            raise click.BadParameter(f"{visible(target)} is also given to {seen[key]}",
                                     param_hint=option)
        seen[key] = option


def write_output(text: str, output: Path | None) -> None:
    """Write a whole output to a file (by the rules of :mod:`ql1706kg.outputs.files`: lock,
    temporary file, rename; exit 3 on failure) or to standard output."""
    if output is None:
        click.echo(text, nl=False)
        return
    with open_output(output) as out:
        out.write_text(text)
