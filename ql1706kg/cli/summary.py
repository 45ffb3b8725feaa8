"""What a run says on standard error besides its output: each input error as it is found,
the records refused for repeating a patient id once and grouped, a warning when the results do
not fit the screening window (with an ``--as-of`` that would), and one summary line at the end.

Why here and not in each command: a new user reads standard error to learn what happened
(how many patients, which verdicts, what was written); every command that screens says it the
same way. ``--quiet`` drops the summary line (never an error or a warning).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import click

from ..outputs.render import error_text
from ..outputs.visible import visible
from ..pipeline.results import ScreeningError, WindowFit
from .common import EXIT_INPUT_ERROR, EXIT_OK, echo_error

VERDICTS = ("eligible", "ineligible", "incomplete")
SHOWN_EXAMPLES = 3  # ids named in the grouped line of repeated ids
# The message pipeline/batch.py gives a record whose id an earlier, different record uses.
_REPEATED_ID = re.compile(r"the patient id '(?P<id>.*)' is already used by a different record "
                          r"\((?P<first>.*)\); one id must name one person", re.DOTALL)
SEARCHED = "*.json, *.ndjson, *.csv and *.xlsx"


class NoRecords(click.ClickException):
    """The inputs hold no patient record at all (an empty folder, an empty list): exit 1."""

    exit_code = EXIT_INPUT_ERROR

    def format_message(self) -> str:
        return visible(self.message)


def no_records(paths: Iterable[Path]) -> NoRecords:
    named = ", ".join(str(p) for p in paths) or "the inputs"
    return NoRecords(f"no patient records found in {named} (a folder is searched for "
                     f"{SEARCHED} files; a file may hold a record, a list of records, FHIR "
                     "resources or table rows)")


def say_wrote(output: Path | None, what: str) -> None:
    """The summary line of a command that writes one file: what it wrote (nothing when the
    output went to standard output, where it was seen)."""
    if output is not None:
        click.echo(f"summary: wrote {visible(output)} ({what})", err=True)


def repeated_id(error: ScreeningError) -> tuple[str, str] | None:
    """(id, first source) when ``error`` refuses a record for repeating a patient id."""
    if error.field != "id":
        return None
    found = _REPEATED_ID.fullmatch(error.message)
    return (found["id"], found["first"]) if found else None


def _where(source: str) -> str:
    """The file of a source (``a.json[3]``, ``b.ndjson:7``, ``c.csv#P-1`` name a record in it)."""
    return re.split(r"\[\d+\]$|:\d+$|#", source, maxsplit=1)[0]


class RepeatedIds:
    """Records refused because a different record of the run already used their patient id,
    said once: how many, from which folders, repeating which, and a few ids."""

    def __init__(self) -> None:
        self.count = 0
        self.pairs: Counter = Counter()
        self.files: dict[tuple[str, str], tuple[str, str]] = {}
        self.ids: list[str] = []

    def add(self, error: ScreeningError, first: str, patient: str) -> None:
        self.count += 1
        later, earlier = _where(error.source), _where(first)
        key = (str(Path(later).parent), str(Path(earlier).parent))
        self.pairs[key] += 1
        self.files.setdefault(key, (later, earlier))
        if len(self.ids) <= SHOWN_EXAMPLES:
            self.ids.append(patient)

    def line(self) -> str | None:
        if not self.count:
            return None
        groups = []
        for (later, earlier), n in self.pairs.most_common():
            if n == 1:
                later, earlier = self.files[(later, earlier)]
            groups.append(f"{n} in {later} repeat {earlier}")
        shown = ", ".join(self.ids[:SHOWN_EXAMPLES]) + (", …" if self.count > SHOWN_EXAMPLES
                                                          else "")
        return visible(
            f"{self.count} record(s) not screened: their patient ids were already used by "
            f"different records ({'; '.join(groups)}; ids {shown}). One id names one person, "
            "and the first record of each id was screened: give each patient once (the "
            "examples hold each patient in several formats: screen one folder of them), or "
            "give different people different ids")


@dataclass
class FitTally:
    """What the window warning needs of the patients' :class:`WindowFit` (those with dated
    results), summed as they pass: memory stays flat over a run of any size."""

    patients: int = 0
    inside_patients: int = 0  # patients with a result inside the window
    outside_patients: int = 0  # patients with a result outside it
    outside_results: int = 0
    earliest: date | None = None
    latest: date | None = None

    def add(self, fit: WindowFit) -> None:
        self.patients += 1
        self.inside_patients += bool(fit.inside)
        self.outside_patients += bool(fit.outside)
        self.outside_results += fit.outside
        if fit.earliest is not None and (self.earliest is None or fit.earliest < self.earliest):
            self.earliest = fit.earliest
        if fit.latest is not None and (self.latest is None or fit.latest > self.latest):
            self.latest = fit.latest


class RunSummary:
    """The standard-error side of a run (see the module): fed every result as it passes."""

    def __init__(self, as_of: date | None = None, window_days: int | None = None,
                 as_of_given: bool = True, quiet: bool = False) -> None:
        self.as_of, self.window_days, self.as_of_given = as_of, window_days, as_of_given
        self.quiet = quiet
        self.counted: str | None = None  # what the line opens with instead of the verdicts
        self.verdicts: Counter = Counter()
        self.errors: list[ScreeningError] = []
        self.repeated = RepeatedIds()
        self.skipped = 0
        self.written: list[str] = []
        self.fits = FitTally()  # a compact summary, not one entry a patient

    @classmethod
    def of_command(cls, as_of: date | None = None, window_days: int | None = None,
                   quiet: bool = False) -> RunSummary:
        """The summary of the running command; ``--as-of`` counts as given unless it took
        its default (today)."""
        ctx = click.get_current_context(silent=True)
        given = True
        if ctx is not None and "as_of" in ctx.params:
            source = ctx.get_parameter_source("as_of")
            given = source is not None and source.name != "DEFAULT"
        return cls(as_of, window_days, given, quiet)

    # -- what passes -------------------------------------------------------------------
    def watch(self, items: Iterable, paths: Iterable[Path] = (),
              fhir_read: Callable[[], bool] = lambda: False) -> Iterator:
        """Pass ``items`` on, counting each; the first is read at once, so an input with no
        record at all is :class:`NoRecords` before any output is written. FHIR resources
        without a patient (``fhir_read``) are read, not nothing: a warning says so."""
        iterator = iter(items)
        first = next(iterator, None)
        if first is None and not self.skipped:
            if not fhir_read():
                raise no_records(paths)
            click.echo("warning: the FHIR resources read hold no patient (no Patient, and "
                       "nothing that refers to one): nothing to screen", err=True)
        return self._passing(first, iterator)

    def _passing(self, first, iterator: Iterator) -> Iterator:
        if first is None:
            return
        self.add(first)
        yield first
        for item in iterator:
            self.add(item)
            yield item

    def add(self, item) -> None:
        """Count a result (a patient's, encoded or not) or say an error."""
        if isinstance(item, ScreeningError):
            self.error(item)
            return
        self.verdicts[item.verdict] += 1
        fit = getattr(item, "window_fit", None)
        if fit is not None and (fit.inside or fit.outside):
            self.fits.add(fit)

    def error(self, error: ScreeningError) -> None:
        """An input error: said now, one line; a repeated patient id is held and grouped."""
        self.errors.append(error)
        repeated = repeated_id(error)
        if repeated is not None:
            self.repeated.add(error, repeated[1], repeated[0])
        else:
            echo_error(error)

    def wrote(self, target: Path | str | None, what: str = "") -> None:
        if target is not None:
            self.written.append(visible(target) + (f" ({what})" if what else ""))

    @property
    def exit_code(self) -> int:
        return EXIT_INPUT_ERROR if self.errors else EXIT_OK

    # -- the end -------------------------------------------------------------------------
    def error_lines(self) -> list[str]:
        """Every error in one line each, repeated ids grouped in one (for a text report)."""
        lines = [error_text(e) for e in self.errors if repeated_id(e) is None]
        grouped = self.repeated.line()
        return lines + ([grouped] if grouped else [])

    def finish(self, summary: bool = True) -> None:
        """Say the grouped errors and the window warning, then (unless quiet) the summary."""
        grouped = self.repeated.line()
        if grouped:
            click.echo(f"error: {grouped}", err=True)
        warning = self.window_warning()
        if warning:
            click.echo(f"warning: {warning}", err=True)
        if summary and not self.quiet:
            click.echo(f"summary: {self.line()}", err=True)

    def line(self) -> str:
        screened = sum(self.verdicts.values())
        parts = [self.counted] if self.counted is not None else []
        if screened or self.counted is None:
            parts.append(f"{screened} patient(s) screened: "
                         + ", ".join(f"{self.verdicts[v]} {v}" for v in VERDICTS))
        if self.errors:
            parts.append(f"{len(self.errors)} input error(s)")
        if self.skipped:
            parts.append(f"{self.skipped} already in the output (skipped)")
        if self.written:
            parts.append("wrote " + ", ".join(self.written))
        return "; ".join(parts) or "nothing to do"

    def window_warning(self) -> str | None:
        """Why so many results are unknown, when the date is the likely cause: every dated
        result of the run lies outside the window, or ``--as-of`` took today's date and some
        patients' results lie outside it."""
        fits = self.fits
        if not fits.patients or self.as_of is None or self.window_days is None:
            return None
        if not fits.outside_patients:
            return None
        assert fits.earliest is not None and fits.latest is not None  # (dated results)
        window = f"the {self.window_days}-day window"
        if not fits.inside_patients:
            said = (f"every screening result ({fits.outside_results} dated "
                    f"results of {fits.patients} patient(s)) lies outside {window} as of "
                    f"{self.as_of}")
        elif not self.as_of_given:
            said = (f"--as-of was not given, so the screening is as of today ({self.as_of}); "
                    f"{fits.outside_patients} of {fits.patients} patient(s) have screening "
                    f"results outside {window} (those criteria are unknown)")
        else:
            return None
        return f"{said}. {self._fitting(fits.earliest, fits.latest)}"

    def _fitting(self, earliest: date, latest: date) -> str:
        """Which --as-of would put the results in the window."""
        dated = f"Their results are dated {earliest} to {latest}"
        assert self.window_days is not None  # (window_warning checks it)
        last = earliest + timedelta(days=self.window_days)
        if latest <= last:
            return (f"{dated}: any --as-of from {latest} to {last} puts all of them in the "
                    f"window (e.g. --as-of {latest}, the latest result's date)")
        return (f"{dated}, more than {self.window_days} days apart: --as-of {latest} (the "
                "latest result's date) keeps the most recent ones in the window")
