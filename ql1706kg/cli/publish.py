"""Commands that publish the protocol and the cohort: ``export``, ``docs``, ``publish``,
``report``.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from datetime import date
from pathlib import Path

import click

from ..outputs.folder import OutputFolder
from ..outputs.targets import InputFiles
from ..outputs.visible import visible
from .common import (
    EnvironmentProblem,
    as_of_option,
    output_option,
    protocol_option,
    refuse_clashes,
    window_option,
    write_output,
)
from .omop import database_files, database_options, inputs_with_database, paths_or_database
from .pseudonymise import pseudonymise_option, read_key_option
from .summary import RunSummary, no_records, say_wrote


@click.command("export", epilog="""\b
Examples:
  ql1706kg export --what all --format ttl -o ql1706kg.ttl
  ql1706kg export --what shapes --format jsonld -o shapes.jsonld
  ql1706kg export --what verdicts examples/patients --as-of 2026-11-20 -o verdicts.nq
  ql1706kg export --what verdicts examples/patients --as-of 2026-11-20 \\
      --pseudonymise site.key -o shared.nq
""")
@protocol_option()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--what", type=click.Choice(["ontology", "shapes", "all", "verdicts"]),
              default="ontology", show_default=True,
              help="verdicts: screen PATHS (or read verdict graphs) and write the dataset "
                   "push sends (ontology, shapes, one graph per assessment) as N-Quads.")
@click.option("--format", "fmt", type=click.Choice(["ttl", "jsonld", "xml", "nt", "nq"]),
              help="Turtle, JSON-LD (context inline), RDF/XML, N-Triples or N-Quads (each "
                   "part in its named graph). Default ttl; nq for verdicts.")
@as_of_option
@window_option
@pseudonymise_option
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes screening patient inputs; 0 means one per CPU core.")
@output_option
def export_command(paths: tuple[Path, ...], what: str, fmt: str | None, as_of: date,
                   window_days: int, key_file: Path | None, jobs: int,
                   output: Path | None) -> None:
    """Write the ontology, the shapes or both for a registry or a triple store; or, with
    --what verdicts, the verdicts of PATHS with them (--pseudonymise: no identity)."""
    key = read_key_option(key_file)
    if what != "verdicts":
        if paths or key is not None:
            raise click.UsageError("PATHS and --pseudonymise go with --what verdicts")
        if fmt == "nq":
            from ..semweb.push import PROTOCOL_GRAPHS, protocol_graphs

            wanted = {"ontology": PROTOCOL_GRAPHS[:1], "shapes": PROTOCOL_GRAPHS[1:]}.get(
                what, PROTOCOL_GRAPHS)
            write_output(b"".join(body for name, body in protocol_graphs("nquads")
                                  if name in wanted).decode("utf-8"), output)
        else:
            from ..semweb.publish import export

            write_output(export(what, fmt or "ttl"), output)
        say_wrote(output, f"{what}, {fmt or 'ttl'}")
        return
    if fmt not in (None, "nq"):
        raise click.UsageError("verdicts are exported as N-Quads (--format nq): one named "
                               "graph per assessment")
    if not paths:
        raise click.UsageError("--what verdicts needs PATHS (patient inputs or verdict files)")
    _export_verdicts(paths, as_of, window_days, key, jobs, output)


def _export_verdicts(paths: tuple[Path, ...], as_of: date, window_days: int,
                     key: bytes | None, jobs: int, output: Path | None) -> None:
    from ..outputs.files import open_output
    from ..semweb.push import PROTOCOL_GRAPHS, cohort_graphs, protocol_graphs

    refuse_clashes(paths, {"'-o' / '--output'": output})
    summary = RunSummary.of_command()
    graphs = 0
    with open_output(output) as out:
        for name, body in itertools.chain(protocol_graphs("nquads"), cohort_graphs(
                paths, as_of, window_days, jobs, on_error=summary.error, key=key,
                fmt="nquads")):
            out.write(body)
            graphs += name not in PROTOCOL_GRAPHS
        if not graphs and not summary.errors:
            raise no_records(paths)
    summary.counted = (f"{graphs} assessment graph(s) with the ontology and shapes"
                       + (" (pseudonymised)" if key else ""))
    summary.wrote(output, "N-Quads")
    summary.finish()
    sys.exit(summary.exit_code)


@click.command("docs", epilog="""\b
Examples:
  ql1706kg docs -o ontology-docs        (then open ontology-docs/index.html)
""")
@protocol_option()
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The folder to write (made if missing); needs the [docs] extra (pyLODE).")
def docs_command(out_dir: Path) -> None:
    """Write browsable HTML documentation of the ontology (pyLODE, offline) into a folder."""
    from ..semweb.publish import docs

    with OutputFolder(out_dir) as folder, tempfile.TemporaryDirectory() as scratch:
        # pyLODE's page is made in a scratch folder, then written by the output rules.
        try:
            made = docs(Path(scratch))
        except RuntimeError as exc:  # pyLODE missing, or its cache not writable
            raise EnvironmentProblem(str(exc)) from None
        for file in sorted(Path(scratch).rglob("*")):
            if file.is_file():
                folder.write_bytes(file.relative_to(scratch).as_posix(), file.read_bytes())
        index = out_dir / made.relative_to(scratch)
    say_wrote(index, "the ontology's HTML documentation")


_STUDY_STATUS = ["active", "administratively-completed", "approved", "closed-to-accrual",
                 "closed-to-accrual-and-intervention", "completed", "disapproved", "in-review",
                 "temporarily-closed-to-accrual",
                 "temporarily-closed-to-accrual-and-intervention", "withdrawn"]


@click.command("publish", epilog="""\b
Examples:
  ql1706kg publish --as medical-trial -o trial.jsonld
  ql1706kg publish --as research-study --status closed-to-accrual
  ql1706kg publish --as dcat --files-url https://data.example.net/ql1706kg/ \\
      --endpoint-url https://data.example.net/ql1706kg/sparql -o catalog.ttl
  ql1706kg publish --as w3id --files-url https://you.github.io/ql1706kg/ -o .htaccess
""")
@protocol_option()
@click.option("--as", "kind", type=click.Choice(["medical-trial", "research-study", "dcat",
                                                  "w3id"]),
              required=True, help="schema.org MedicalTrial (JSON-LD), FHIR R4 ResearchStudy, a "
                                  "DCAT 3 catalogue (Turtle) or the w3id.org .htaccess.")
@click.option("--status", type=click.Choice(_STUDY_STATUS), default="active", show_default=True,
              help="ResearchStudy.status (the ontology records no recruitment status).")
@click.option("--endpoint-url", default="https://example.org/ql1706kg/sparql",
              show_default=True, help="dcat: the verdict endpoint's dcat:endpointURL.")
@click.option("--files-url", default="https://example.org/ql1706kg/", show_default=True,
              help="dcat, w3id: where the exported files (ontology.ttl, shapes.jsonld, …) and "
                   "docs/ are published.")
@output_option
def publish_command(kind: str, status: str, endpoint_url: str, files_url: str,
                    output: Path | None) -> None:
    """Write the study, generated from the ontology, as a registry record."""
    from ..semweb.publish import medical_trial_jsonld, research_study_fhir, to_json

    if kind in ("dcat", "w3id"):
        from ..semweb.publish.catalog import check_url, dcat_turtle, w3id_htaccess

        for option, url in (("--endpoint-url", endpoint_url), ("--files-url", files_url)):
            if not check_url(url):
                raise click.BadParameter(f"'{visible(url)}' is not an http(s) URL",
                                         param_hint=f"'{option}'")
        _warn_placeholders((("--endpoint-url", endpoint_url), ("--files-url", files_url))
                           if kind == "dcat" else (("--files-url", files_url),))
        write_output(dcat_turtle(endpoint_url, files_url) if kind == "dcat" else
                     w3id_htaccess(files_url), output)
    else:
        record = (medical_trial_jsonld() if kind == "medical-trial" else
                  research_study_fhir(status))
        write_output(to_json(record), output)
    say_wrote(output, kind)


def _warn_placeholders(urls) -> None:
    """A URL under a host reserved for examples (the defaults are) is published as it is,
    with a warning: the record would point nowhere."""
    from ..semweb.publish.catalog import placeholder_host

    for option, url in urls:
        host = placeholder_host(url)
        if host is not None:
            click.echo(f"warning: {option} {visible(url)} is a placeholder ({host} is reserved "
                       f"for examples): the record points nowhere until you give {option} "
                       "the URL where it is really published", err=True)



@click.command("report", epilog="""\b
Examples:
  ql1706kg report examples/patients --as-of 2026-11-20 -o report
  ql1706kg report examples/patients --as-of 2026-11-20 --protocol amended \\
      --against bundled-copy -o report-amendment
""")
@protocol_option()
@paths_or_database
@database_options
@as_of_option
@window_option
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(path_type=Path, file_okay=False),
              help="The folder to write: index.html and patients/*.html (made if missing).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes; 0 means one per CPU core.")
@click.option("--against", metavar="DIR", type=click.Path(path_type=Path),
              help="Also screen under this protocol folder: a section lists the patients "
                   "that change from it to the report's protocol (--protocol, else the "
                   "bundled one) and the verdict counts before and after.")
def report_command(paths: tuple[Path, ...], as_of: date, window_days: int, out_dir: Path,
                   jobs: int, against: Path | None) -> None:
    """Screen PATHS (or the OMOP CDM of --omop) and write the HTML report into a folder:
    counts per verdict, the patient table (deciding criteria, what to collect or what would
    change the verdict), the screening funnel, the outcomes per criterion, the data to
    collect, one page per patient. It opens offline."""
    from ..api import screen
    from ..outputs.compare import comparison_html
    from ..outputs.report import require_charts, write_report
    from ..protocol.resources import protocol_root
    from .compare import checked_protocol, screen_both

    require_charts()  # the 'report' extra, before anything is screened
    before = checked_protocol(against, "'--against'")
    inputs = inputs_with_database(paths)
    _refuse_report_clashes((*paths, *database_files()), out_dir)
    workers = jobs or os.cpu_count() or 1
    # Opened (so locked) before screening; every page is put in place only when all are done.
    sections: tuple[str, ...]
    with OutputFolder(out_dir) as folder:
        if against is None:
            result, sections = screen(inputs, as_of=as_of, window_days=window_days,
                                      jobs=workers, keep_graphs=False), ()
        else:
            comparison = screen_both(inputs, as_of, window_days, workers, protocol_root(),
                                     before)
            result, sections = comparison.after, (comparison_html(comparison),)
        if not result.patients and not result.errors:
            raise no_records(paths)
        index = write_report(result, folder, sections)
    summary = RunSummary.of_command(result.as_of, result.window_days)
    for item in (*result.patients, *result.errors):
        summary.add(item)
    summary.wrote(index, f"HTML report, {len(result.patients) + 1} pages")
    summary.finish()
    sys.exit(summary.exit_code)


def _refuse_report_clashes(paths: tuple[Path, ...], out_dir: Path) -> None:
    """Usage error if the report folder is an input, or would overwrite one."""
    inputs = InputFiles(paths)
    clash = (inputs.clash(out_dir) or inputs.clash(out_dir / "index.html")
             or inputs.inside(out_dir / "patients"))
    if clash is not None:
        raise click.BadParameter(f"{visible(out_dir)} is, or would overwrite, one of the "
                                 f"inputs ({visible(clash)}): choose another folder",
                                 param_hint="'-o' / '--output'")
