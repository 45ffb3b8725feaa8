"""Commands that show the protocol and the patient graph: ``criteria``, ``schema``, ``lift``.

Each imports what it needs when it runs, so ``criteria`` starts without the pipeline.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date
from pathlib import Path
from typing import cast

import click

from ..outputs.visible import visible
from .common import (
    as_of_option,
    echo_note,
    output_option,
    protocol_option,
    refuse_clashes,
    window_option,
)
from .omop import database_files, database_options, inputs_with_database, paths_or_database
from .summary import RunSummary, no_records


@click.command("criteria", epilog="""\b
Examples:
  ql1706kg criteria
  ql1706kg criteria --format json
  ql1706kg criteria --protocol amended
""")
@protocol_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="One line per criterion (id and protocol text), or JSON "
                                      "with the name, the rule as read and the IRI.")
def criteria_command(fmt: str) -> None:
    """List the 28 atomic criteria with their ids and text, in protocol order."""
    from ..protocol.terminology import terminology

    table = terminology().criteria.values()
    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": c["id"], "name": c.get("name", c["id"]),
                                "text": c["text"], "rule": c["rule"],
                                "iri": str(c["iri"])} for c in table], indent=2,
                              ensure_ascii=False))
        return
    for crit in table:
        click.echo(visible(f"{crit['id']:<11} {crit['text']}"))


@click.command("schema", epilog="""\b
Examples:
  ql1706kg schema > patient-record.schema.json
""")
def schema_command() -> None:
    """Print the JSON Schema of the patient record (the format of examples/patients)."""

    from ..inputs.models import record_json_schema

    click.echo(json.dumps(record_json_schema(), indent=2, ensure_ascii=False))


@click.command("lift", epilog="""\b
Examples:
  ql1706kg lift examples/patients/eligible-leiomyosarcoma.json --as-of 2026-11-20
  ql1706kg lift examples/fhir --as-of 2026-11-20 -o patients.ttl --report used.tsv
  ql1706kg lift examples/fhir-bulk --no-derive --report -
""")
@protocol_option()
@paths_or_database
@database_options
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
    """Write the patient graph(s) of PATHS (or of the OMOP CDM of --omop) as Turtle (with
    derived values by default)."""

    from rdflib import Graph

    from ..api import assessment_for
    from ..errors import InputError
    from ..inputs.read import SourcedRecord, read_paths
    from ..outputs.files import Output, open_output
    from ..pipeline.derive import derive
    from ..pipeline.lift import lift, patient_iri
    from ..pipeline.results import ScreeningError
    from ..protocol.namespaces import bind_prefixes

    report_file = None if report_path is None or str(report_path) == "-" else report_path
    inputs = inputs_with_database(paths)
    refuse_clashes((*paths, *database_files()),
                   {"'-o' / '--output'": output, "'--report'": report_file})
    graph = bind_prefixes(Graph())
    assessment = assessment_for(as_of, window_days)
    summary = RunSummary.of_command()
    lifted = 0
    report: list = []
    with contextlib.ExitStack() as stack:
        # Opened (so locked) before anything is read.
        out = cast(Output, stack.enter_context(open_output(output)))
        table = (cast(Output, stack.enter_context(open_output(report_file)))
                 if report_file else None)
        for item in read_paths(inputs, fhir_report=report,
                               on_note=lambda note: echo_note(str(note))):
            if isinstance(item, InputError):
                summary.error(ScreeningError(item.source, item.detail, item.record,
                                             item.field))
                continue
            if isinstance(item, Exception):
                click.echo(f"error: {visible(item)}", err=True)
                summary.errors.append(ScreeningError(str(paths), str(item)))
                continue
            assert isinstance(item, SourcedRecord)  # read_paths validates, no workspace
            patient = lift(item.record, item.source)
            if not no_derive:
                derive(patient, patient_iri(item.record.id), assessment)
            graph += patient
            lifted += 1
        if not lifted and not summary.errors and not report:
            raise no_records(paths)  # (FHIR resources without a patient are --report's)
        out.write_text(graph.serialize(format="turtle"))
        changed: dict[str, set[str]] = {}
        for line in report:
            if line.could_change and line.patient:
                changed.setdefault(line.patient, set()).update(line.could_change)
        for person, ids in changed.items():
            echo_note(f"patient {person}: an ignored resource could have changed "
                      f"{', '.join(sorted(ids))} (see --report)")
        if report_path is not None:
            lines = ["source\tresource\tstatus\treason\tpatient\tcould change"] + [
                "\t".join(visible(value) for value in line.as_dict().values())
                for line in report]
            text = "\n".join(lines) + "\n"
            if table is None:
                click.echo(text, err=True, nl=False)
            else:
                table.write_text(text)
    summary.counted = f"{lifted} patient graph(s) lifted" + ("" if no_derive else
                                                            " with their derived values")
    summary.wrote(output, "Turtle")
    summary.wrote(report_file, "FHIR resources used and ignored, TSV")
    summary.finish()
    sys.exit(summary.exit_code)
