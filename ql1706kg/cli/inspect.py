"""Commands that show the protocol and the patient graph: ``criteria``, ``schema``, ``lift``.

Each imports what it needs when it runs, so ``criteria`` starts without the pipeline.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date
from pathlib import Path

import click

from ..outputs.visible import visible
from .common import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    as_of_option,
    echo_note,
    output_option,
    protocol_option,
    refuse_clashes,
    window_option,
)
from .omop import database_files, database_options, inputs_with_database, paths_or_database


@click.command("criteria")
@protocol_option()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def criteria_command(fmt: str) -> None:
    """List the 28 atomic criteria with their ids and text, in protocol order."""
    from ..protocol.terminology import terminology

    table = terminology().criteria.values()
    if fmt == "json":
        import json

        click.echo(json.dumps([{"id": c["id"], "text": c["text"], "rule": c["rule"],
                                "iri": str(c["iri"])} for c in table], indent=2,
                              ensure_ascii=False))
        return
    for crit in table:
        click.echo(visible(f"{crit['id']:<11} {crit['text']}"))


@click.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the patient record (the format of examples/patients)."""

    from ..inputs.models import record_json_schema

    click.echo(json.dumps(record_json_schema(), indent=2, ensure_ascii=False))


@click.command("lift")
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
    from ..inputs.read import read_paths
    from ..outputs.files import open_output
    from ..pipeline.derive import derive
    from ..pipeline.lift import lift, patient_iri
    from ..protocol.namespaces import bind_prefixes

    report_file = None if report_path is None or str(report_path) == "-" else report_path
    inputs = inputs_with_database(paths)
    refuse_clashes((*paths, *database_files()),
                   {"'-o' / '--output'": output, "'--report'": report_file})
    graph, failed = bind_prefixes(Graph()), False
    assessment = assessment_for(as_of, window_days)
    report: list = []
    with contextlib.ExitStack() as stack:
        # Opened (so locked) before anything is read.
        out = stack.enter_context(open_output(output))
        table = stack.enter_context(open_output(report_file)) if report_file else None
        for item in read_paths(inputs, fhir_report=report,
                               on_note=lambda note: echo_note(str(note))):
            if isinstance(item, Exception):
                click.echo(f"error: {visible(item)}", err=True)
                failed = True
                continue
            patient = lift(item.record, item.source)
            if not no_derive:
                derive(patient, patient_iri(item.record.id), assessment)
            graph += patient
        out.write_text(graph.serialize(format="turtle"))
        changed = {}
        for line in report:
            if line.could_change and line.patient:
                changed.setdefault(line.patient, set()).update(line.could_change)
        for patient, ids in changed.items():
            echo_note(f"patient {patient}: an ignored resource could have changed "
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
    sys.exit(EXIT_INPUT_ERROR if failed else EXIT_OK)
