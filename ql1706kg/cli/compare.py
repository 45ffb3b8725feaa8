"""``ql1706kg compare PATH... --protocol DIR [--against DIR2]``: screen the same inputs under
two protocols and list what changes (:mod:`ql1706kg.outputs.compare`)."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click

from ..outputs.visible import visible
from .common import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    as_of_option,
    echo_error,
    echo_note,
    output_option,
    paths_argument,
    refuse_clashes,
    window_option,
    write_output,
)


def checked_protocol(folder: Path | None, option: str) -> Path | None:
    """A protocol folder checked as ``--protocol`` checks it (usage error when refused)."""
    from ..pipeline.protocol_check import ProtocolRefused, check_protocol

    if folder is None:
        return None
    try:
        notes = check_protocol(folder)
    except ProtocolRefused as exc:
        raise click.BadParameter(visible(exc), param_hint=option) from None
    for note in notes:
        echo_note(note)
    return folder


def screen_both(paths, as_of: date, window_days: int, jobs: int, after: Path | None,
                before: Path | None, keep_graphs: bool = False):
    """The screenings of ``paths`` under ``before`` and ``after`` (None: the bundled one),
    with the comparison; the process's protocol is as it was afterwards."""
    from ..api import screen
    from ..outputs.compare import compare
    from ..protocol.resources import protocol

    screenings = []
    for folder in (before, after):
        with protocol(folder):
            screenings.append(screen(paths, as_of=as_of, window_days=window_days, jobs=jobs,
                                     keep_graphs=keep_graphs))
    return compare(*screenings, before_name=str(before) if before else "bundled protocol",
                   after_name=str(after) if after else "bundled protocol")


@click.command("compare")
@paths_argument
@click.option("--protocol", "protocol_dir", required=True, metavar="DIR",
              type=click.Path(path_type=Path),
              help="The amended protocol (a folder as 'ql1706kg protocol export' writes it).")
@click.option("--against", "against", metavar="DIR", type=click.Path(path_type=Path),
              help="The protocol to compare with; default: the bundled one.")
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@output_option
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes; 0 means one per CPU core.")
def compare_command(paths: tuple[Path, ...], protocol_dir: Path, against: Path | None,
                    as_of: date, window_days: int, fmt: str, output: Path | None,
                    jobs: int) -> None:
    """Screen PATHS under two protocols and list the patients whose verdict or any criterion
    outcome changes, with the counts per verdict before and after."""
    from ..outputs.compare import comparison_json, comparison_text

    after = checked_protocol(protocol_dir, "'--protocol'")
    before = checked_protocol(against, "'--against'")
    refuse_clashes(paths, {"'-o' / '--output'": output})
    comparison = screen_both(paths, as_of, window_days, jobs or os.cpu_count() or 1, after,
                             before)
    render = comparison_json if fmt == "json" else comparison_text
    write_output(render(comparison), output)
    errors = comparison.after.errors
    for error in errors:
        echo_error(error)
    sys.exit(EXIT_INPUT_ERROR if errors else EXIT_OK)
