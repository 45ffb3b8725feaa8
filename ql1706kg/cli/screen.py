"""``ql1706kg screen``: screen patients and explain every criterion, as a document or streamed
one line per patient (with ``--resume`` after an interruption).

Every file output goes through :mod:`ql1706kg.outputs.files`: it is locked from the start of
the run (a second run on it stops at once), written to a temporary file and renamed when
complete; ``--format ndjson -o FILE`` is a checkpoint: an interrupted or failed run leaves the
whole lines written so far in FILE, which ``--resume`` continues.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import cast

import click
from rdflib import Graph

from ..api import Screening, ScreeningError, assessment_for, iter_screen, protocol_version
from ..outputs.files import Output, OutputFile, StandardOutput, open_output
from ..outputs.ndjson import (
    ResumeMismatch,
    RunKey,
    Screened,
    SourceResolver,
    error_key,
    screened_before,
    with_resolved_source,
)
from ..outputs.rdf_stream import ENCODERS, RdfDocumentWriter, rdf_run
from ..outputs.rdf_stream import FORMATS as RDF_FORMATS
from ..outputs.render import (
    RENDERERS,
    VERDICTS,
    JsonDocumentWriter,
    error_line,
    patient_json,
    patient_line,
    patient_text,
    text_footer,
    text_header,
)
from ..outputs.visible import visible
from ..pipeline.assessment import Assessment
from ..pipeline.results import PatientResult
from ..protocol.resources import protocol_hash
from .common import (
    EnvironmentProblem,
    ProgressTotal,
    as_of_option,
    echo_note,
    output_option,
    progress,
    protocol_option,
    refuse_clashes,
    window_option,
)
from .omop import database_files, database_options, inputs_with_database, paths_or_database
from .summary import RunSummary

FLUSH_SECONDS = 1.0  # --format ndjson -o FILE: the longest a written line waits in a buffer



def _scheduler_address(_ctx, _param, value: str | None) -> str | None:
    """A Dask scheduler address, checked as Dask reads it (usage error, exit 2). Not with
    ``--protocol`` (processed first): a cluster's workers screen under the protocol installed
    there, and verdicts must never claim a protocol they were not made under."""
    if value is None:
        return None
    from ..protocol.resources import protocol_root

    if protocol_root() is not None:
        raise click.BadParameter("cannot be combined with --protocol: the cluster's workers "
                                 "screen under the protocol installed with ql1706kg there")
    from ..errors import EnvironmentFailure
    from ..pipeline.parallel import DASK_EXTRA, probe_scheduler, scheduler_address

    try:
        _scheme, _host, port = scheduler_address(value)
    except ValueError as exc:
        raise click.BadParameter(visible(exc)) from None
    if port is not None and not 0 < port < 65536:
        raise click.BadParameter(f"port {port} is not between 1 and 65535")
    if importlib.util.find_spec("distributed") is None:
        raise EnvironmentProblem(DASK_EXTRA)
    try:
        probe_scheduler(value)  # at once, before any input is read (exit 3)
    except EnvironmentFailure as exc:
        raise EnvironmentProblem(str(exc)) from None
    return value


EXAMPLES = """\b
Examples:
  ql1706kg screen examples/patients --as-of 2026-11-20
  ql1706kg screen examples/patients/eligible-leiomyosarcoma.json --as-of 2026-11-20
  ql1706kg screen examples/patients --as-of 2026-11-20 --details -o screening.txt
  ql1706kg screen cohort.ndjson --as-of 2026-11-20 --format ndjson -o out.ndjson --resume
"""


@click.command("screen", epilog=EXAMPLES)
@protocol_option()
@paths_or_database
@database_options
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice([*RENDERERS, "ndjson"]), default="text",
              show_default=True, help="Output format; text and ndjson are written patient by "
                                      "patient, json, turtle, nquads (one named graph per "
                                      "assessment) and jsonld as patients are screened; "
                                      "ndjson for --resume.")
@click.option("--details/--brief", "details", default=None,
              help="Text output: every criterion of every patient explained (--details), or "
                   "one line per patient: id, verdict and the criteria that decide it "
                   "(--brief). Default: the details for a single patient, one line each for "
                   "several.")
@output_option
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes; 0 means one per CPU core. Inputs of a single batch "
                   "(50 patients) are screened in-process.")
@click.option("--shacl-report", "shacl_report", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write pySHACL's W3C validation report of every patient graph (Turtle).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line "
                                                  "(errors and warnings are still shown).")
@click.option("--scheduler", metavar="ADDRESS", callback=_scheduler_address,
              help="Screen on a Dask distributed cluster (e.g. tcp://host:8786) instead of "
                   "local worker processes (needs the [dask] extra).")
@click.option("--resume", is_flag=True, help="With --format ndjson -o FILE: skip the patients "
                                             "FILE already holds and append the others (same "
                                             "--as-of and --window-days only).")
def screen_command(paths: tuple[Path, ...], as_of: date, window_days: int, fmt: str,
                   details: bool | None, output: Path | None, jobs: int,
                   shacl_report: Path | None, quiet: bool, resume: bool,
                   scheduler: str | None) -> None:
    """Screen the patient records in PATHS (files or folders), or the OMOP CDM of --omop, and
    explain every criterion.

    A folder is searched for *.json, *.ndjson, *.csv and *.xlsx (the project's JSON records,
    FHIR R4 Bundles, resources and bulk exports, tables). Standard error gets each input
    error, warnings and, at the end, one summary line.
    """
    workers = jobs or os.cpu_count() or 1
    if resume and (fmt != "ndjson" or output is None):
        raise click.UsageError("--resume needs --format ndjson and -o FILE (the output of the "
                               "interrupted run)")
    inputs = inputs_with_database(paths)
    refuse_clashes((*paths, *database_files()),
                   {"'-o' / '--output'": output, "'--shacl-report'": shacl_report})
    assessment = assessment_for(as_of, window_days)
    summary = RunSummary.of_command(assessment.as_of, assessment.window_days, quiet)
    people = ProgressTotal()  # the progress bar's total learns the FHIR people from the run

    def run(**options) -> Iterator:
        """The results, counted and their errors said by the summary; an input with no
        record at all is refused before anything is written."""
        return summary.watch(iter_screen(inputs, assessment, jobs=workers, scheduler=scheduler,
                                         on_note=lambda note: echo_note(str(note)),
                                         on_people=people.tell, **options), paths,
                             fhir_read=lambda: people.people is not None)

    run.people = people  # type: ignore[attr-defined]  # each loop hands it to its progress bar
    run.summary = summary  # type: ignore[attr-defined]
    out: Output | None = None
    try:
        with contextlib.ExitStack() as stack:
            # Opened (so locked) before anything is read: a second run stops at once.
            out = cast(Output, stack.enter_context(open_output(
                output, checkpoint=fmt == "ndjson", append=resume)))
            report = (cast(Output, stack.enter_context(open_output(shacl_report)))
                      if shacl_report else None)
            if fmt == "ndjson":
                _screen_ndjson(run, assessment, out, output if resume else None, quiet)
            elif fmt == "text":
                _screen_text(run, assessment, out, report, quiet, details)
            elif fmt == "json" and report is None:
                _screen_json_document(run, assessment, out, quiet)
            elif fmt in RDF_FORMATS and report is None:
                _screen_rdf(run, assessment, fmt, out, quiet)
            else:
                _screen_whole(run, assessment, fmt, out, report, quiet)
    except BaseException:
        if out is not None and out.kept:
            echo_note(f"{output} keeps the patients screened so far; the same command with "
                      "--resume continues")
        raise
    summary.wrote(output, fmt)
    summary.wrote(shacl_report, "SHACL validation report")
    # A text document on the terminal ends with the same counts: no second summary there.
    summary.finish(summary=not (fmt == "text" and output is None and sys.stdout.isatty()))
    sys.exit(summary.exit_code)


def _screen_text(run, assessment: Assessment, out: Output, report: Output | None, quiet: bool,
                 details: bool | None) -> None:
    """The text output, written patient by patient (flushed to standard output as each is
    screened). Without --details/--brief the first patient is held until a second one shows
    whether this is a batch (one line each) or a single patient (explained in full)."""
    items = run(keep_graphs=report is not None)
    out.write_text(text_header(assessment.as_of, assessment.window_days, protocol_version()))
    data = Graph() if report is not None else None
    held: PatientResult | None = None
    patients = 0
    for item in progress(items, quiet, fhir_people=run.people):
        if isinstance(item, ScreeningError):
            continue
        patients += 1
        graph = item.graph
        if data is not None and graph is not None:
            data += graph
            item = dataclasses.replace(item, graph=None)
        if details is None:
            if held is None and patients == 1:
                held = item
                continue
            details = False
            if held is not None:
                out.write_text(patient_text(held, assessment.window_days, details))
                held = None
        out.write_text(patient_text(item, assessment.window_days, details))
        if isinstance(out, StandardOutput):
            out.flush()
    if held is not None:
        out.write_text(patient_text(held, assessment.window_days, True))
    counts = {v: run.summary.verdicts[v] for v in VERDICTS}
    out.write_text(text_footer(counts, run.summary.error_lines(), len(run.summary.errors),
                               blank=details is False and patients > 0))
    if report is not None and data is not None:
        from ..pipeline.validate import report_graph

        report.write_text(report_graph(data).serialize(format="turtle"))


def _screen_whole(run, assessment: Assessment, fmt: str, out: Output, report: Output | None,
                  quiet: bool) -> None:
    """Screen everything, then render (an RDF format with a SHACL report, which needs every
    graph)."""
    items = run(keep_graphs=True)
    result = _empty_screening(assessment)
    for item in progress(items, quiet, fhir_people=run.people):
        (result.errors if isinstance(item, ScreeningError) else result.patients).append(item)
    out.write_text(RENDERERS[fmt](result))
    if report is not None:
        from ..pipeline.validate import report_graph

        data = Graph()
        for patient in result.patients:
            if patient.graph is not None:  # kept (keep_graphs=True)
                data += patient.graph
        report.write_text(report_graph(data).serialize(format="turtle"))


def _empty_screening(assessment: Assessment) -> Screening:
    return Screening(as_of=assessment.as_of, window_days=assessment.window_days,
                     protocol_version=protocol_version())


def _screen_json_document(run, assessment: Assessment, out: Output, quiet: bool) -> None:
    """The JSON document, written as patients are screened (each worker encodes its own
    patients, so the parent only moves bytes and memory stays flat)."""
    items = run(keep_graphs=False, encode=patient_json)
    document = JsonDocumentWriter(out, _empty_screening(assessment))
    errors: list[ScreeningError] = []
    for item in progress(items, quiet, fhir_people=run.people):
        if isinstance(item, ScreeningError):
            errors.append(item)
        else:
            document.add(item.data)
    document.close(errors)


def _screen_rdf(run, assessment: Assessment, fmt: str, out: Output, quiet: bool) -> None:
    """Turtle, N-Quads or JSON-LD, written as patients are screened: each worker encodes its
    own patients' triples (:mod:`ql1706kg.outputs.rdf_stream`), the parent only moves bytes,
    and no graph of the cohort is ever built."""
    shared = rdf_run(assessment.as_of.isoformat(), protocol_version())
    items = run(keep_graphs=False, encode=functools.partial(ENCODERS[fmt], run=shared))
    document = RdfDocumentWriter(out, fmt)
    for item in progress(items, quiet, fhir_people=run.people):
        if not isinstance(item, ScreeningError):
            document.add(item.data)
    document.close()


def _screen_ndjson(run, assessment: Assessment, out: Output, resumed: Path | None,
                   quiet: bool) -> None:
    """One line per patient (or unreadable input), written as patients are screened; with
    ``resumed``, the patients that file holds are skipped and the rest appended."""
    key = RunKey(assessment.as_of.isoformat(), assessment.window_days, protocol_version(),
                 protocol_hash())
    resolve = SourceResolver()
    before = _resume(resumed, key, out) if resumed is not None else Screened()
    skip = None
    if before.patients:
        def skip(record) -> bool:
            done = (resolve(record.source), record.id) in before.patients
            run.summary.skipped += done
            return done

    fields = key.fields()
    flushed = time.monotonic()
    items = run(keep_graphs=False, skip=skip, encode=functools.partial(patient_line,
                                                                          run=fields))
    for item in progress(items, quiet, fhir_people=run.people):
        resolved = resolve(item.source)
        if isinstance(item, ScreeningError):
            if error_key(resolved, item.as_dict()) not in before.errors:
                out.write(with_resolved_source(error_line(item, fields), resolved))
        else:
            out.write(with_resolved_source(item.data, resolved))
        if time.monotonic() - flushed > FLUSH_SECONDS:
            # Written through at least every second: an interruption loses at most the
            # lines of that second, and --resume screens those patients again.
            out.flush()
            flushed = time.monotonic()


def _resume(path: Path, key: RunKey, out: Output) -> Screened:
    """What ``path`` already holds; refuse it (usage error) if it was screened otherwise.
    A last line cut short is removed, and that patient screened again."""
    try:
        before = screened_before(path, key)
    except ResumeMismatch as exc:
        raise click.UsageError(visible(exc)) from None
    for number in before.cut:
        echo_note(f"{path}:{number} is incomplete and is screened again")
    assert isinstance(out, OutputFile)  # --resume needs -o FILE
    out.truncate(before.complete)
    return before
