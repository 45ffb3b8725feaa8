"""The ``ql1706kg`` command: a thin layer over the Python API.

Exit codes: 0 every input was screened; 1 some input could not be read (the rest are still
screened and reported); 2 usage error (Click's own, and bad option values).
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

from . import __version__
from .api import Screening, ScreeningError, assessment_for, iter_screen, protocol_version
from .outputs.render import (
    RENDERERS,
    JsonDocumentWriter,
    error_line,
    patient_json,
    patient_line,
)
from .pipeline.assessment import DEFAULT_WINDOW_DAYS

EXIT_OK, EXIT_INPUT_ERROR, EXIT_USAGE = 0, 1, 2
FLUSH_SECONDS = 1.0  # --format ndjson -o FILE: the longest a written line waits in a buffer


def _as_of(_ctx, _param, value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a date; use YYYY-MM-DD") from None


paths_argument = click.argument("paths", nargs=-1, required=True,
                                type=click.Path(path_type=Path))
as_of_option = click.option("--as-of", callback=_as_of, metavar="DATE",
                            help="Assessment date (YYYY-MM-DD); default: today.")
window_option = click.option("--window-days", type=click.IntRange(min=0),
                             default=DEFAULT_WINDOW_DAYS, show_default=True,
                             help="How old a screening result may be, in days.")
output_option = click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
                             help="Write to this file instead of standard output.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ql1706kg")
def main() -> None:
    """Screen patients against the QL1706 sarcoma protocol, criterion by criterion."""


@main.command("screen")
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
    for item in _progress(items, quiet):
        (result.errors if isinstance(item, ScreeningError) else result.patients).append(item)
    _write(RENDERERS[fmt](result), output)
    if shacl_report is not None:
        from .pipeline.validate import report_graph

        data = Graph()
        for patient in result.patients:
            data += patient.graph
        _write(report_graph(data).serialize(format="turtle"), shacl_report)
    for error in result.errors:
        _echo_error(error)
    sys.exit(EXIT_INPUT_ERROR if result.errors else EXIT_OK)


def _echo_error(error: ScreeningError) -> None:
    where = error.source + (f", record {error.record}" if error.record else "") + (
        f", field {error.field}" if error.field else "")
    click.echo(f"error: {where}: {error.message}", err=True)


def _progress(items, quiet: bool):
    """A progress bar on a terminal (stderr); nothing when piped or with --quiet."""
    if quiet or not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, unit=" patients", file=sys.stderr, desc="screening")


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
        for item in _progress(iter_screen(paths, assessment, jobs=jobs, keep_graphs=False,
                                          skip=skip, scheduler=scheduler, encode=encode),
                              quiet):
            if isinstance(item, ScreeningError):
                errors.append(item)
                _echo_error(item)
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


@main.command("criteria")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def criteria_command(fmt: str) -> None:
    """List the 28 atomic criteria with their ids and text, in protocol order."""
    from .protocol.terminology import terminology

    table = terminology().criteria.values()
    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": c["id"], "text": c["text"], "rule": c["rule"],
                                "iri": str(c["iri"])} for c in table], indent=2,
                              ensure_ascii=False))
        return
    for crit in table:
        click.echo(f"{crit['id']:<11} {crit['text']}")


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the patient record (the format of examples/patients)."""
    import json

    from .inputs.models import record_json_schema

    click.echo(json.dumps(record_json_schema(), indent=2, ensure_ascii=False))


@main.command("lift")
@paths_argument
@as_of_option
@window_option
@output_option
@click.option("--no-derive", is_flag=True, help="Write the lifted facts only, without the "
                                                "derived values validation reads.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write which FHIR resources were used and which ignored, and why "
                   "(TSV: source, resource, status, reason); '-' for standard error.")
def lift_command(paths: tuple[Path, ...], as_of: date, window_days: int, output: Path | None,
                 no_derive: bool, report_path: Path | None) -> None:
    """Write the patient graph(s) of PATHS as Turtle (with derived values by default)."""
    from rdflib import Graph

    from .inputs.read import read_paths
    from .pipeline.derive import derive
    from .pipeline.lift import lift, patient_iri
    from .protocol.namespaces import bind_prefixes

    graph, failed = bind_prefixes(Graph()), False
    assessment = assessment_for(as_of, window_days)
    report: list = []
    for item in read_paths(paths, fhir_report=report):
        if isinstance(item, Exception):
            click.echo(f"error: {item}", err=True)
            failed = True
            continue
        patient = lift(item.record, item.source)
        if not no_derive:
            derive(patient, patient_iri(item.record.id), assessment)
        graph += patient
    _write(graph.serialize(format="turtle"), output)
    if report_path is not None:
        lines = ["source\tresource\tstatus\treason"] + [
            "\t".join(line.as_dict().values()) for line in report]
        text = "\n".join(lines) + "\n"
        if str(report_path) == "-":
            click.echo(text, err=True, nl=False)
        else:
            _write(text, report_path)
    sys.exit(EXIT_INPUT_ERROR if failed else EXIT_OK)


@main.command("query")
@click.argument("name", required=False)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--list", "list_queries", is_flag=True, help="List the named queries and why "
                                                           "each exists.")
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@output_option
def query_command(name: str | None, paths: tuple[Path, ...], list_queries: bool, as_of: date,
                  window_days: int, fmt: str, output: Path | None) -> None:
    """Run a named SPARQL query (or a .rq file) over PATHS: patient inputs, which are screened
    first, or verdict graphs (.ttl, .jsonld, .nt). The ontology and shapes are always there."""
    from .semweb.query import QueryError, format_rows, named_queries, query_graph, query_text, run

    if list_queries or name is None:
        for query in named_queries().values():
            click.echo(f"{query.name:<22} {query.purpose}")
        return
    try:
        text = query_text(name)
        graph, errors = query_graph(paths, as_of=as_of, window_days=window_days)
        names, rows = run(text, graph)
    except QueryError as exc:
        raise click.UsageError(str(exc)) from None
    _write(format_rows(names, rows, fmt), output)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_INPUT_ERROR if errors else EXIT_OK)


@main.command("serve")
@paths_argument
@as_of_option
@window_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; loopback unless told otherwise.")
@click.option("--port", type=click.IntRange(1, 65535), default=7878, show_default=True)
@click.option("--store", "store", type=click.Path(path_type=Path, file_okay=False),
              help="Keep the Oxigraph store in this folder (default: a temporary one).")
def serve_command(paths: tuple[Path, ...], as_of: date, window_days: int, host: str,
                  port: int, store: Path | None) -> None:
    """Screen PATHS and serve ontology, shapes and verdicts read-only over SPARQL 1.1.

    Queries go to http://HOST:PORT/query; each assessment is a named graph (its IRI), the
    ontology is <https://w3id.org/ql1706kg>, the shapes <https://w3id.org/ql1706kg/shapes>,
    and the default graph is their union.
    """
    import subprocess
    import tempfile

    from .semweb.serve import ServeError, build_store, serve_command_line, verdicts_for

    verdicts, errors = verdicts_for(paths, as_of, window_days)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    with tempfile.TemporaryDirectory() as tmp:
        location = store or Path(tmp) / "store"
        try:
            build_store(verdicts, location)
            command = serve_command_line(location, host, port)
        except ServeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"SPARQL endpoint (read-only): http://{host}:{port}/query", err=True)
        try:
            sys.exit(subprocess.run(command, check=False).returncode)
        except KeyboardInterrupt:
            sys.exit(EXIT_OK)


@main.command("push")
@paths_argument
@as_of_option
@window_option
@click.option("--endpoint", required=True, metavar="URL",
              help="SPARQL 1.1 Graph Store Protocol endpoint, e.g. http://host:7878/store.")
def push_command(paths: tuple[Path, ...], as_of: date, window_days: int, endpoint: str) -> None:
    """Screen PATHS (or read verdict graphs) and PUT one named graph per assessment."""
    from .semweb.serve import ServeError, push, verdicts_for

    verdicts, errors = verdicts_for(paths, as_of, window_days)
    try:
        pushed = push(verdicts, endpoint)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(pushed)} assessment graph(s) stored at {endpoint}")
    for error in errors:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_INPUT_ERROR if errors else EXIT_OK)


@main.command("export")
@click.option("--what", type=click.Choice(["ontology", "shapes", "all"]), default="ontology",
              show_default=True)
@click.option("--format", "fmt", type=click.Choice(["ttl", "jsonld", "xml", "nt"]),
              default="ttl", show_default=True)
@output_option
def export_command(what: str, fmt: str, output: Path | None) -> None:
    """Write the ontology, the shapes or both for a registry or a triple store."""
    from .semweb.publish import export

    _write(export(what, fmt), output)


@main.command("docs")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False))
def docs_command(out_dir: Path) -> None:
    """Write browsable HTML documentation of the ontology (pyLODE, offline) into a folder."""
    from .semweb.publish import docs

    try:
        index = docs(out_dir)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {index}")


_STUDY_STATUS = ["active", "administratively-completed", "approved", "closed-to-accrual",
                 "closed-to-accrual-and-intervention", "completed", "disapproved", "in-review",
                 "temporarily-closed-to-accrual",
                 "temporarily-closed-to-accrual-and-intervention", "withdrawn"]


@main.command("publish")
@click.option("--as", "kind", type=click.Choice(["medical-trial", "research-study"]),
              required=True, help="schema.org MedicalTrial (JSON-LD) or FHIR R4 ResearchStudy.")
@click.option("--status", type=click.Choice(_STUDY_STATUS), default="active", show_default=True,
              help="ResearchStudy.status (the ontology records no recruitment status).")
@output_option
def publish_command(kind: str, status: str, output: Path | None) -> None:
    """Write the study, generated from the ontology, as a registry record."""
    from .semweb.publish import medical_trial_jsonld, research_study_fhir, to_json

    record = medical_trial_jsonld() if kind == "medical-trial" else research_study_fhir(status)
    _write(to_json(record), output)


@main.command("report")
@paths_argument
@as_of_option
@window_option
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False))
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0)
def report_command(paths: tuple[Path, ...], as_of: date, window_days: int, out_dir: Path,
                   jobs: int) -> None:
    """Screen PATHS and write the HTML attrition report (funnel, outcomes, worklist, one page
    per patient) into a folder; it opens offline."""
    from .api import screen
    from .outputs.report import write_report

    result = screen(paths, as_of=as_of, window_days=window_days,
                    jobs=jobs or os.cpu_count() or 1, keep_graphs=False)
    index = write_report(result, out_dir)
    click.echo(f"wrote {index}")
    for error in result.errors:
        _echo_error(error)
    sys.exit(EXIT_INPUT_ERROR if result.errors else EXIT_OK)


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None


if __name__ == "__main__":  # pragma: no cover
    main()
