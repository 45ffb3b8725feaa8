"""``ql1706kg screen``: screen patients and explain every criterion, as a document or streamed
one line per patient (with ``--resume`` after an interruption).

Every file output goes through :mod:`ql1706kg.outputs.files`: it is locked from the start of
the run (a second run on it stops at once), written to a temporary file and renamed when
complete; ``--format ndjson -o FILE`` is a checkpoint: an interrupted or failed run leaves the
whole lines written so far in FILE, which ``--resume`` continues.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from datetime import date
from pathlib import Path

import click
from rdflib import Graph

from ..api import Screening, ScreeningError, assessment_for, iter_screen, protocol_version
from ..outputs.files import OutputFile, StandardOutput, open_output
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
    JsonDocumentWriter,
    error_line,
    patient_json,
    patient_line,
)
from ..outputs.visible import visible
from ..pipeline.assessment import Assessment
from ..protocol.resources import protocol_hash
from .common import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    ProgressTotal,
    as_of_option,
    echo_error,
    echo_note,
    output_option,
    progress,
    protocol_option,
    refuse_clashes,
    window_option,
)
from .omop import database_files, database_options, inputs_with_database, paths_or_database

FLUSH_SECONDS = 1.0  # --format ndjson -o FILE: the longest a written line waits in a buffer

Output = OutputFile | StandardOutput


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
    try:
        from distributed.comm.addressing import get_address_host_port
    except ImportError:
        return value  # screening reports that distributed is missing (exit 3)
    try:
        _host, port = get_address_host_port(value)
    except ValueError as exc:
        raise click.BadParameter(visible(exc)) from None
    if not 0 < port < 65536:
        raise click.BadParameter(f"port {port} is not between 1 and 65535")
    return value


@click.command("screen")
@protocol_option()
@paths_or_database
@database_options
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice([*RENDERERS, "ndjson"]), default="text",
              show_default=True, help="Output format; json, ndjson, turtle, nquads (one named "
                                      "graph per assessment) and jsonld are written as "
                                      "patients are screened; ndjson for --resume.")
@output_option
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes; 0 means one per CPU core. Inputs of a single batch "
                   "(50 patients) are screened in-process.")
@click.option("--shacl-report", "shacl_report", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write pySHACL's W3C validation report of every patient graph (Turtle).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--scheduler", metavar="ADDRESS", callback=_scheduler_address,
              help="Screen on a Dask distributed cluster (e.g. tcp://host:8786) instead of "
                   "local worker processes.")
@click.option("--resume", is_flag=True, help="With --format ndjson -o FILE: skip the patients "
                                             "FILE already holds and append the others (same "
                                             "--as-of and --window-days only).")
def screen_command(paths: tuple[Path, ...], as_of: date, window_days: int, fmt: str,
                   output: Path | None, jobs: int, shacl_report: Path | None, quiet: bool,
                   resume: bool, scheduler: str | None) -> None:
    """Screen the patient records in PATHS (files or folders), or the OMOP CDM of --omop, and
    explain every criterion."""
    workers = jobs or os.cpu_count() or 1
    if resume and (fmt != "ndjson" or output is None):
        raise click.UsageError("--resume needs --format ndjson and -o FILE (the output of the "
                               "interrupted run)")
    inputs = inputs_with_database(paths)
    refuse_clashes((*paths, *database_files()),
                   {"'-o' / '--output'": output, "'--shacl-report'": shacl_report})
    assessment = assessment_for(as_of, window_days)
    people = ProgressTotal()  # the progress bar's total learns the FHIR people from the run
    run = functools.partial(iter_screen, inputs, assessment, jobs=workers, scheduler=scheduler,
                            on_note=lambda note: echo_note(str(note)), on_people=people.tell)
    run.people = people  # each output's loop hands it to its progress bar
    out: Output | None = None
    try:
        with contextlib.ExitStack() as stack:
            # Opened (so locked) before anything is read: a second run stops at once.
            out = stack.enter_context(open_output(output, checkpoint=fmt == "ndjson",
                                                  append=resume))
            report = stack.enter_context(open_output(shacl_report)) if shacl_report else None
            if fmt == "ndjson":
                failed = _screen_ndjson(run, assessment, out, output if resume else None, quiet)
            elif fmt == "json" and report is None:
                failed = _screen_json_document(run, assessment, out, quiet)
            elif fmt in RDF_FORMATS and report is None:
                failed = _screen_rdf(run, assessment, fmt, out, quiet)
            else:
                failed = _screen_whole(run, assessment, fmt, out, report, quiet)
    except BaseException:
        if out is not None and out.kept:
            echo_note(f"{output} keeps the patients screened so far; the same command with "
                      "--resume continues")
        raise
    sys.exit(EXIT_INPUT_ERROR if failed else EXIT_OK)


def _screen_whole(run, assessment: Assessment, fmt: str, out: Output, report: Output | None,
                  quiet: bool) -> bool:
    """Screen everything, then render (text, and any format with a SHACL report, which needs
    every graph)."""
    keep = fmt in RDF_FORMATS or report is not None
    result = _empty_screening(assessment)
    for item in progress(run(keep_graphs=keep), quiet, fhir_people=run.people):
        (result.errors if isinstance(item, ScreeningError) else result.patients).append(item)
    out.write_text(RENDERERS[fmt](result))
    if report is not None:
        from ..pipeline.validate import report_graph

        data = Graph()
        for patient in result.patients:
            data += patient.graph
        report.write_text(report_graph(data).serialize(format="turtle"))
    for error in result.errors:
        echo_error(error)
    return bool(result.errors)


def _empty_screening(assessment: Assessment) -> Screening:
    return Screening(as_of=assessment.as_of, window_days=assessment.window_days,
                     protocol_version=protocol_version())


def _screen_json_document(run, assessment: Assessment, out: Output, quiet: bool) -> bool:
    """The JSON document, written as patients are screened (each worker encodes its own
    patients, so the parent only moves bytes and memory stays flat)."""
    document = JsonDocumentWriter(out, _empty_screening(assessment))
    errors: list[ScreeningError] = []
    for item in progress(run(keep_graphs=False, encode=patient_json), quiet,
                         fhir_people=run.people):
        if isinstance(item, ScreeningError):
            errors.append(item)
            echo_error(item)
        else:
            document.add(item.data)
    document.close(errors)
    return bool(errors)


def _screen_rdf(run, assessment: Assessment, fmt: str, out: Output, quiet: bool) -> bool:
    """Turtle, N-Quads or JSON-LD, written as patients are screened: each worker encodes its
    own patients' triples (:mod:`ql1706kg.outputs.rdf_stream`), the parent only moves bytes,
    and no graph of the cohort is ever built."""
    document = RdfDocumentWriter(out, fmt)
    shared = rdf_run(assessment.as_of.isoformat(), protocol_version())
    errors: list[ScreeningError] = []
    for item in progress(run(keep_graphs=False,
                             encode=functools.partial(ENCODERS[fmt], run=shared)), quiet,
                         fhir_people=run.people):
        if isinstance(item, ScreeningError):
            errors.append(item)
            echo_error(item)
        else:
            document.add(item.data)
    document.close()
    return bool(errors)


def _screen_ndjson(run, assessment: Assessment, out: Output, resumed: Path | None,
                   quiet: bool) -> bool:
    """One line per patient (or unreadable input), written as patients are screened; with
    ``resumed``, the patients that file holds are skipped and the rest appended."""
    key = RunKey(assessment.as_of.isoformat(), assessment.window_days, protocol_version(),
                 protocol_hash())
    resolve = SourceResolver()
    before = _resume(resumed, key, out) if resumed is not None else Screened()
    skip = (lambda r: (resolve(r.source), r.id) in before.patients) if before.patients else None
    fields = key.fields()
    errors: list[ScreeningError] = []
    flushed = time.monotonic()
    for item in progress(run(keep_graphs=False, skip=skip,
                             encode=functools.partial(patient_line, run=fields)), quiet,
                         fhir_people=run.people):
        resolved = resolve(item.source)
        if isinstance(item, ScreeningError):
            errors.append(item)
            echo_error(item)
            if error_key(resolved, item.as_dict()) not in before.errors:
                out.write(with_resolved_source(error_line(item, fields), resolved))
        else:
            out.write(with_resolved_source(item.data, resolved))
        if time.monotonic() - flushed > FLUSH_SECONDS:
            # Written through at least every second: an interruption loses at most the
            # lines of that second, and --resume screens those patients again.
            out.flush()
            flushed = time.monotonic()
    return bool(errors)


def _resume(path: Path, key: RunKey, out: Output) -> Screened:
    """What ``path`` already holds; refuse it (usage error) if it was screened otherwise.
    A last line cut short is removed, and that patient screened again."""
    try:
        before = screened_before(path, key)
    except ResumeMismatch as exc:
        raise click.UsageError(visible(exc)) from None
    for number in before.cut:
        echo_note(f"{path}:{number} is incomplete and is screened again")
    out.truncate(before.complete)
    return before
