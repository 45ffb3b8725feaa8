"""The ``ql1706kg`` command: a thin layer over the Python API.

Exit codes (README): 0 every input was screened; 1 some input could not be read (the rest are
still screened and reported); 2 usage error (Click's own, and bad option values); 3 output or
environment failure; 70 internal error; 130 interrupted. No command ends in a traceback.
"""

from __future__ import annotations

import errno
import importlib
import logging
import signal
import sys
from typing import Any, cast

import click

from ..errors import EnvironmentFailure, InputError, ShapesError
from ..outputs.visible import visible
from ..version import __version__
from .common import (
    EXIT_ENVIRONMENT,
    EXIT_INPUT_ERROR,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EnvironmentProblem,
)

# Each command's module, imported only when that command runs (or help lists them): `criteria`
# need not import the readers, the pipeline or pySHACL (issue 13's cold start). name: (module
# of this package, the click command in it).
COMMANDS = {
    "screen": ("screen", "screen_command"),
    "criteria": ("inspect", "criteria_command"),
    "schema": ("inspect", "schema_command"),
    "lift": ("inspect", "lift_command"),
    "query": ("semweb", "query_command"),
    "serve": ("semweb", "serve_command"),
    "push": ("semweb", "push_command"),
    "export": ("publish", "export_command"),
    "docs": ("publish", "docs_command"),
    "publish": ("publish", "publish_command"),
    "report": ("publish", "report_command"),
    "generate": ("generate", "generate_command"),
    "protocol": ("protocol", "protocol_group"),
    "compare": ("compare", "compare_command"),
}


class _Commands(click.Group):
    """The command group: every way a command can end maps to a documented exit code; the
    commands of :data:`COMMANDS` are loaded when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMANDS:
            module, attribute = COMMANDS[name]
            self.add_command(getattr(importlib.import_module(f"{__name__}.{module}"),
                                     attribute), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except (EnvironmentFailure, ShapesError) as exc:  # the machine or the installation
            raise EnvironmentProblem(str(exc)) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                # The reader of our output went away (`| head`): the output could not be
                # written, quietly, and Python's own flush at exit must not complain either.
                # (deprecated in click 8.3, kept until 9: a module __getattr__ to mypy)
                sys.stdout = cast(Any, click.utils).PacifyFlushWrapper(sys.stdout)
                ctx.exit(EXIT_ENVIRONMENT)
            where = f" ({exc.filename})" if exc.filename else ""
            raise EnvironmentProblem(f"{exc.strerror or exc}{where}") from None
        except InputError as exc:
            raise _InputProblem(str(exc)) from None
        except Exception as exc:  # a bug: one line, no traceback, and its own exit code
            click.echo(visible(f"internal error: {type(exc).__name__}: {exc} (please report "
                               "it with the input that caused it)"), err=True)
            ctx.exit(EXIT_INTERNAL)


class _InputProblem(click.ClickException):
    """An input that cannot be read and ends a command that reads only it (exit 1)."""

    exit_code = EXIT_INPUT_ERROR

    def format_message(self) -> str:
        return visible(self.message)


def _terminate_as_interrupt(_signum, _frame) -> None:
    """SIGTERM and SIGHUP end a run as Ctrl-C does: partial outputs are removed, children
    stopped (their ``finally`` blocks run), and the exit code is 130."""
    raise KeyboardInterrupt


EPILOG = """\b
Start here:
  ql1706kg screen examples/patients --as-of 2026-11-20
  ql1706kg report examples/patients --as-of 2026-11-20 -o report
  ql1706kg query eligible-patients examples/patients --as-of 2026-11-20
  ql1706kg COMMAND --help        (each command's options and examples)

\b
Environment:
  QL1706KG_CACHE          folder of the on-disk caches (default $XDG_CACHE_HOME/ql1706kg,
                          else ~/.cache/ql1706kg)
  QL1706KG_SHACL_ENGINE   'compiled' (default) or 'pyshacl' (the reference engine)
  QL1706KG_PUSH_TOKEN     push: a bearer token (or QL1706KG_PUSH_USER and
                          QL1706KG_PUSH_PASSWORD), when no --credentials-file is given
  TMPDIR                  where temporary stores and the FHIR index are made

\b
Shell completion (bash; zsh and fish alike):
  eval "$(_QL1706KG_COMPLETE=bash_source ql1706kg)"

\b
Exit codes: 0 every input screened; 1 some input could not be read (the rest were);
2 usage error; 3 output or environment failure; 70 internal error; 130 interrupted.
"""


@click.group(cls=_Commands, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="ql1706kg",
                      message="%(prog)s %(version)s")
def main() -> None:
    """Screen patients against a sarcoma trial's protocol, criterion by criterion: each atomic
    criterion met, not met, unknown (with what to collect) or not applicable, explained in
    words."""
    _notes_to_stderr()


class _NoteLine(logging.Handler):
    """What the library logs as worth knowing (a note, not an error) as one stderr line."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"note: {visible(record.getMessage())}", err=True)


def _notes_to_stderr() -> None:
    logger = logging.getLogger("ql1706kg")
    if not any(isinstance(handler, _NoteLine) for handler in logger.handlers):
        logger.addHandler(_NoteLine())
    logger.propagate = False


def run() -> None:
    """The ``ql1706kg`` program: the command group, with SIGTERM and SIGHUP ending a run as
    Ctrl-C does (installed here, not in :func:`main`, so that calling the group in-process,
    as tests do, leaves the caller's signal handlers alone)."""
    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        signal.signal(signal.SIGHUP, _terminate_as_interrupt)
    main()
