"""``ql1706kg generate``: write a seeded synthetic cohort, to try the screening at scale.

The patients are those of :mod:`ql1706kg.inputs.synthetic` (the benchmarks' and the engine
tests'): an eligible record with a few random changes each, dated for the assessment date
2026-11-20. The file is written as it is generated (constant memory for a million patients)
through the project's output writer: locked for the run, written to a temporary file and
renamed when complete, so an interrupted run leaves no partial file.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..inputs.synthetic import AS_OF, FORMATS, encode_cohort, patients
from ..outputs.files import open_output
from ..outputs.visible import visible
from .common import echo_note, progress

MAX_PATIENTS = 100_000_000
# The suffix by which ``screen`` reads each format (a folder search finds it too).
SUFFIX = {"json": ".json", "ndjson": ".ndjson", "fhir": ".ndjson"}


@click.command("generate", epilog="""\b
Examples:
  ql1706kg generate 10000 -o cohort.json
  ql1706kg generate 100000 --format ndjson -o cohort.ndjson --seed 7
  ql1706kg generate 1000 --format fhir -o bulk.ndjson
  ql1706kg screen cohort.json --as-of 2026-11-20 --format ndjson -o verdicts.ndjson
""")
@click.argument("n", type=click.IntRange(0, MAX_PATIENTS), metavar="N")
@click.option("-o", "--output", required=True,
              type=click.Path(path_type=Path, dir_okay=False),
              help="The file to write (.json for json, .ndjson for ndjson and fhir).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="json: the project's records as one JSON list; ndjson: one record per "
                   "line; fhir: an FHIR R4 bulk export in one NDJSON file (every resource, "
                   "one per line, references Patient/ID).")
@click.option("--seed", type=int, default=1706, show_default=True,
              help="The same seed gives the same patients.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def generate_command(n: int, output: Path, fmt: str, seed: int, quiet: bool) -> None:
    """Write N seeded synthetic patients to a file, to try screening at scale; screen them
    with --as-of 2026-11-20 (the date they are made for)."""
    if output.suffix.lower() != SUFFIX[fmt]:
        raise click.BadParameter(
            f"{visible(output)}: --format {fmt} is read by 'screen' from a file ending in "
            f"{SUFFIX[fmt]}", param_hint="'-o' / '--output'")
    with open_output(output) as out:  # locked; a temporary file renamed when complete
        for piece in encode_cohort(progress(patients(n, seed), quiet, total=n,
                                            desc="generating"), fmt):
            out.write(piece)
    echo_note(f"wrote {n:,} synthetic patients to {output}; screen them with "
              f"--as-of {AS_OF}, the date they are made for")
