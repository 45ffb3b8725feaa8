"""What every command shares: the options (paths, as-of date, window, output), the exit codes,
error lines on standard error, the progress bar and writing a result to a file or stdout.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from datetime import date
from pathlib import Path

import click

from ..outputs.files import open_output
from ..outputs.render import error_text
from ..outputs.targets import InputFiles
from ..outputs.visible import visible
from ..pipeline.assessment import (
    EARLIEST_AS_OF,
    LATEST_AS_OF,
    MAX_WINDOW_DAYS,
)
from ..pipeline.results import ScreeningError

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
                             default=None,
                             help=f"How old a screening result may be, in days (0 to "
                                  f"{MAX_WINDOW_DAYS}); default: the protocol's screening "
                                  "window (ql:ScreeningWindowDays, 28 days as bundled).")
output_option = click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
                             help="Write to this file instead of standard output.")


def _use_protocol(ctx: click.Context, param: click.Parameter, value: Path | None):
    """``--protocol DIR``: check the folder and make it the current protocol (usage error,
    exit 2, naming the file and shape, when it is refused); without it, the bundled one."""
    if value is None:
        from ..protocol.resources import use_protocol

        use_protocol(None)
        return None
    from ..pipeline.protocol_check import ProtocolRefused, load_protocol

    try:
        notes = load_protocol(value)
    except ProtocolRefused as exc:
        raise click.BadParameter(visible(exc), ctx=ctx, param=param) from None
    for note in notes:
        echo_note(note)
    return value


def protocol_option(expose: bool = False):
    """``--protocol DIR`` (processed first, so every other option already sees it)."""
    return click.option("--protocol", "protocol", type=click.Path(path_type=Path),
                        callback=_use_protocol, is_eager=True, expose_value=expose,
                        metavar="DIR", help="Use the protocol in DIR (as 'ql1706kg protocol "
                                            "export' writes it) instead of the bundled one.")


def echo_error(error: ScreeningError) -> None:
    """An unreadable input, one line on standard error (control characters made visible)."""
    click.echo(f"error: {error_text(error)}", err=True)


def echo_note(message: str) -> None:
    """A note on standard error, in one line (control characters made visible)."""
    click.echo(f"note: {visible(message)}", err=True)


def progress(items, quiet: bool, total: int | None = None, desc: str = "screening",
             fhir_people: ProgressTotal | None = None):
    """A progress bar on a terminal (stderr); nothing when piped or with --quiet.

    It shows the count, the rate and, when the total is known, the time left. For ``screen``
    the total is counted from the command's PATHS in a background thread while the first
    patients are screened (only on a terminal): a JSON list's items and an NDJSON file's lines
    are counted without decoding them (:func:`count_records`); FHIR people are added once the
    input is grouped (``fhir_people``, which the screening tells); tables leave it unknown, and
    so does ``--resume`` (the output's patients are skipped).
    """
    if quiet or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    bar = tqdm(items, total=total, unit=" patients", file=sys.stderr, desc=desc)
    params = getattr(click.get_current_context(silent=True), "params", None) or {}
    if total is None and params.get("paths") and not params.get("resume"):
        def count() -> None:
            found = count_records(params["paths"], fhir_counts_zero=True)
            if found is not None and fhir_people is not None:
                fhir_people.show_on(bar, *found)
            elif found is not None and not found[1] and not bar.disable:
                bar.total = found[0]
                bar.refresh()

        threading.Thread(target=count, name="count-inputs", daemon=True).start()
    return bar


class ProgressTotal:
    """A bar's total when the input holds FHIR: the records counted in the files plus the
    people the FHIR input groups into, whichever of the two is known last sets it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.people: int | None = None
        self._bar, self._records, self._fhir = None, 0, False

    def tell(self, people: int) -> None:
        """The screening's ``on_people``: the FHIR input is grouped."""
        with self._lock:
            self.people = people
            self._update()

    def show_on(self, bar, records: int, fhir: bool) -> None:
        with self._lock:
            self._bar, self._records, self._fhir = bar, records, fhir
            self._update()

    def _update(self) -> None:
        bar = self._bar
        if bar is None or bar.disable or (self._fhir and self.people is None):
            return
        bar.total = self._records + (self.people or 0)
        bar.refresh()


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


# -- counting the records of the inputs, for the progress bar's total -----------------------
_STRUCTURE = bytes(range(256)).translate(None, b'"[]{},')  # deleted: all but these
_ESCAPE = re.compile(rb"\\.", re.DOTALL)  # a backslash and the character it escapes
_BLANK_LINE = re.compile(rb"^[ \t\r\f\v]*\n", re.MULTILINE)
_WHOLE_FILE_LIMIT = 8 << 20  # a single JSON document larger than this: count unknown


def count_records(paths, fhir_counts_zero: bool = False):
    """How many results screening ``paths`` gives (patients and unreadable inputs), counted
    without decoding records; None when it cannot be known cheaply (FHIR, whose patients are
    joined across resources, tables, a large single document). With ``fhir_counts_zero``, FHIR
    files count 0 and the answer is (count, whether there was FHIR), or None."""
    from ..inputs.read import expand_paths

    total, fhir = 0, False
    try:
        for path in expand_paths(paths):
            found = 1 if isinstance(path, Exception) else _count_file(path)
            if found is _FHIR:
                fhir = True
                continue
            if found is None:
                return None
            total += found
    except (OSError, ValueError):
        return None
    if fhir_counts_zero:
        return total, fhir
    return None if fhir else total


_FHIR = object()  # _count_file: a file of FHIR resources (its people are known after grouping)


def _count_file(path: Path) -> int | object | None:
    suffix = path.suffix.lower()
    if suffix == ".ndjson":
        return _count_lines(path)
    if suffix != ".json":
        return None
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
    if head[:1] == b"[":
        return count_list_items(path)
    if path.stat().st_size > _WHOLE_FILE_LIMIT:
        return None
    try:
        data = json.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    except ValueError:  # not JSON, not UTF-8: one error
        return 1
    if isinstance(data, dict) and "resourceType" in data:
        return _FHIR
    from ..inputs.read import is_json_schema

    return 0 if is_json_schema(data) else 1


def _count_lines(path: Path) -> int | object | None:
    """Non-blank lines of a file of records; :data:`_FHIR` for a FHIR bulk export."""
    count, rest, first = 0, b"", True
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            if first and block.strip():
                line = block.lstrip().split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf")
                if b'"resourceType"' in line:
                    return _FHIR
                first = False
            count += block.count(b"\n") - len(_BLANK_LINE.findall(block))
    if rest.strip():
        if first and b'"resourceType"' in rest:
            return _FHIR
        count += 1
    return count


def count_list_items(path: Path, chunk: int = 1 << 20) -> int:
    """The items of the JSON list in ``path``, counted without decoding them (~3× faster than
    decoding): escapes are dropped, then every byte but quotes, brackets and commas; what lies
    inside strings is dropped; the commas at the list's own depth are counted. For a progress
    bar: a malformed file gives a count, not an error."""
    commas, depth, in_string, backslash = 0, 0, False, b""
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
        if re.match(rb"\[\s*(?:\]|$)", head):
            return 0 if head.rstrip().endswith(b"]") or len(head) < 4096 else 1
        handle.seek(0)
        while block := handle.read(chunk):
            block = backslash + block
            odd = (len(block) - len(block.rstrip(b"\\"))) % 2
            block, backslash = (block[:-1], b"\\") if odd else (block, b"")
            # Two quotes side by side close and open a string (their colon deleted) or hold
            # nothing: dropping them changes nothing outside strings.
            text = _ESCAPE.sub(b"", block).translate(None, _STRUCTURE).replace(b'""', b"")
            if b'"' in text:
                parts = text.split(b'"')
                text = b"".join(parts[1::2] if in_string else parts[0::2])
                in_string ^= len(parts) % 2 == 0
            elif in_string:
                continue
            for char in text:
                if char == 44:  # ,
                    if depth == 1:
                        commas += 1
                elif char in b"[{":
                    depth += 1
                else:
                    depth -= 1
                    if depth <= 0:  # the list is closed: what follows is not an item
                        return commas + 1
    return commas + 1
