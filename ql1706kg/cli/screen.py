"""``ql1706kg screen``: screen patients and explain every criterion, as a document or streamed
one line per patient (with ``--resume`` after an interruption).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import click
from rdflib import Graph

from ..api import Screening, ScreeningError, assessment_for, iter_screen, protocol_version
from ..outputs.render import (
    RENDERERS,
    JsonDocumentWriter,
    error_line,
    patient_json,
    patient_line,
)
from .common import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    as_of_option,
    echo_error,
    output_option,
    paths_argument,
    progress,
    window_option,
    write_output,
)

FLUSH_SECONDS = 1.0  # --format ndjson -o FILE: the longest a written line waits in a buffer


@click.command("screen")
@paths_argument
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice([*RENDERERS, "ndjson"]), default="text",
              show_default=True, help="Output format; ndjson streams one line per patient as "
                                      "it is screened (for large batches and --resume).")
@output_option
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes; 0 means one per CPU core. Inputs of a single batch "
                   "(50 patients) are screened in-process.")
@click.option("--shacl-report", "shacl_report", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write pySHACL's W3C validation report of every patient graph (Turtle).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Screen on a Dask distributed cluster (e.g. tcp://host:8786) instead of "
                   "local worker processes.")
@click.option("--resume", is_flag=True, help="With --format ndjson -o FILE: skip the patients "
                                             "FILE already holds and append the others.")
def screen_command(paths: tuple[Path, ...], as_of: date, window_days: int, fmt: str,
                   output: Path | None, jobs: int, shacl_report: Path | None, quiet: bool,
                   resume: bool, scheduler: str | None) -> None:
    """Screen the patient records in PATHS (files or folders) and explain every criterion."""
    workers = jobs or os.cpu_count() or 1
    if resume and fmt != "ndjson":
        raise click.UsageError("--resume needs --format ndjson and -o FILE")
    if fmt == "ndjson" or (fmt == "json" and shacl_report is None):
        failed = _screen_streaming(paths, fmt, as_of, window_days, output, workers, quiet,
                                   resume, scheduler)
        sys.exit(EXIT_INPUT_ERROR if failed else EXIT_OK)
    keep = fmt in ("turtle", "jsonld") or shacl_report is not None
    assessment = assessment_for(as_of, window_days)
    result = Screening(as_of=assessment.as_of, window_days=assessment.window_days,
                       protocol_version=protocol_version())
    items = iter_screen(paths, assessment, jobs=workers, keep_graphs=keep, scheduler=scheduler)
    for item in progress(items, quiet):
        (result.errors if isinstance(item, ScreeningError) else result.patients).append(item)
    write_output(RENDERERS[fmt](result), output)
    if shacl_report is not None:
        from ..pipeline.validate import report_graph

        data = Graph()
        for patient in result.patients:
            data += patient.graph
        write_output(report_graph(data).serialize(format="turtle"), shacl_report)
    for error in result.errors:
        echo_error(error)
    sys.exit(EXIT_INPUT_ERROR if result.errors else EXIT_OK)


def _screen_streaming(paths: tuple[Path, ...], fmt: str, as_of: date, window_days: int,
                      output: Path | None, jobs: int, quiet: bool, resume: bool,
                      scheduler: str | None) -> bool:
    """Write JSON (a document, or one line per patient) as patients are screened.

    Each worker encodes its own patients, so the parent only moves bytes; memory stays flat
    whatever the cohort size. A document written to a file appears only when complete.
    """
    if resume and output is None:
        raise click.UsageError("--resume needs -o FILE (the output of the interrupted run)")
    done = _screened_before(output) if resume else set()
    assessment = assessment_for(as_of, window_days)
    as_of_text = assessment.as_of.isoformat()
    skip = (lambda r: (r.source, r.id) in done) if done else None
    encode = (patient_json if fmt == "json" else
              functools.partial(patient_line, as_of=as_of_text))
    target = output.with_name(output.name + ".partial") if output and fmt == "json" else output
    errors: list[ScreeningError] = []
    try:
        handle = (target.open("ab" if resume else "wb") if target
                  else _binary_stdout())
    except OSError as exc:
        raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
    document = (JsonDocumentWriter(handle, Screening(as_of=assessment.as_of, window_days=
                                                     assessment.window_days,
                                                     protocol_version=protocol_version()))
                if fmt == "json" else None)
    flushed = time.monotonic()
    try:
        for item in progress(iter_screen(paths, assessment, jobs=jobs, keep_graphs=False,
                                          skip=skip, scheduler=scheduler, encode=encode),
                              quiet):
            if isinstance(item, ScreeningError):
                errors.append(item)
                echo_error(item)
                if document is None:
                    handle.write(error_line(item, as_of_text))
            elif document is not None:
                document.add(item.data)
            else:
                handle.write(item.data)
            if time.monotonic() - flushed > FLUSH_SECONDS:
                # Written through at least every second: an interruption loses at most the
                # lines of that second, and --resume screens those patients again.
                handle.flush()
                flushed = time.monotonic()
        if document is not None:
            document.close(errors)
    except BaseException:
        if target is not None and target != output:
            target.unlink(missing_ok=True)  # no half-written document is left behind
        raise
    finally:
        handle.flush()
        if target is not None:
            handle.close()
    if target != output:
        target.replace(output)
    return bool(errors)


def _binary_stdout():
    """Standard output as bytes (the text layer flushed first, so nothing is reordered)."""
    sys.stdout.flush()
    return sys.stdout.buffer


def _screened_before(output: Path) -> set[tuple[str, str]]:
    """(source, patient id) of every patient an earlier run already wrote to ``output``.

    Read line by line (a million-patient output is gigabytes); a last line cut short by the
    interruption is removed, and that patient is screened again.
    """
    done: set[tuple[str, str]] = set()
    if not output.exists():
        return done
    complete = 0  # bytes of whole lines
    with output.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                click.echo(f"note: {output}:{number} is incomplete and is screened again",
                           err=True)
                if line.endswith(b"\n"):
                    complete += len(line)
                continue
            if line.endswith(b"\n"):
                complete += len(line)
            if "id" in data:
                done.add((data.get("source", ""), data["id"]))
    with output.open("r+b") as handle:
        handle.truncate(complete)
    return done
