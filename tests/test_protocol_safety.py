"""The safety property of protocol folders, tested on random mutations of the bundled one:
for every folder the check accepts, no patient whose data is missing becomes eligible.

Hypothesis (derandomised; 6 examples in the suite, ``QL1706KG_PROTOCOL_EXAMPLES`` for more;
``bench/protocol_fuzz.py`` runs the long campaign) draws a kind of mutation
(tests/protocol_mutations.py: counts, deactivation, targets, severities, outcomes, ids,
policies, logical wrappers, paths, numbers) and a seed; the folder is checked as ``--protocol``
checks it; when it is accepted, the example patients that are eligible under the bundled
protocol are screened under it with each element of their record removed in turn (a result,
a regimen, a field, a whole section): none may be eligible. These patients are not the check's
own probe patients, so the test does not grade the check by its own answers.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ql1706kg.api import screen
from ql1706kg.pipeline.protocol_check import ProtocolRefused, check_protocol
from ql1706kg.protocol.resources import protocol, use_protocol

from .conftest import AS_OF, EXAMPLES
from .protocol_mutations import KINDS, apply


@cache
def exported() -> Path:
    import tempfile

    from click.testing import CliRunner

    from ql1706kg.cli import main

    folder = Path(tempfile.mkdtemp(prefix="protocol-safety-")) / "bundled"
    assert CliRunner().invoke(main, ["protocol", "export", str(folder)]).exit_code == 0
    use_protocol(None)
    return folder


@cache
def missing_data_patients() -> tuple[dict, ...]:
    """Every eligible example with one element of its record removed (and bare), kept when
    the bundled protocol finds the patient incomplete: data it needs is missing (an element
    it can do without, such as one of two lesions, leaves the patient eligible)."""
    candidates = {record["id"]: record for record in _candidates()}
    screening = screen(list(candidates.values()), as_of=AS_OF)
    kept: dict[frozenset, dict] = {}  # one patient for each set of criteria left unknown
    for patient in screening.patients:
        if patient.verdict == "incomplete":
            unknown = frozenset(c.id for c in patient.criteria if c.outcome == "unknown")
            kept.setdefault(unknown, candidates[patient.id])
    return tuple(kept.values())


def _candidates() -> tuple[dict, ...]:
    out = []
    for path in sorted(EXAMPLES.glob("eligible-*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        out.append({k: record[k] for k in ("id", "sex", "birth_date")} | {
            "id": record["id"] + "-bare"})
        for key, value in record.items():
            if key in ("id", "sex", "birth_date"):
                continue
            out.append({**{k: v for k, v in record.items() if k != key},
                        "id": f"{record['id']}-no-{key}"})
            if isinstance(value, list):
                for index in range(len(value)):
                    out.append({**record, key: value[:index] + value[index + 1:],
                                "id": f"{record['id']}-no-{key}-{index}"})
    return tuple(out)


def test_the_patients_cover_every_criterion():
    """The baseline: between them, these patients leave every criterion unknown at least
    once under the bundled protocol (each criterion's missing data is tried)."""
    screening = screen(list(missing_data_patients()), as_of=AS_OF)
    assert len(screening.patients) > 20 and not screening.errors
    unknown = {c.id for p in screening.patients for c in p.criteria if c.outcome == "unknown"}
    assert len(unknown) >= 24, sorted(unknown)


@settings(max_examples=int(os.environ.get("QL1706KG_PROTOCOL_EXAMPLES", "6")),
          derandomize=True, deadline=None, database=None,
          phases=[Phase.generate],  # a failing folder is reported as drawn, not shrunk
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(sorted(KINDS)), seed=st.integers(0, 2**32 - 1))
def test_no_accepted_folder_makes_a_patient_with_missing_data_eligible(tmp_path_factory,
                                                                       kind, seed):
    folder = tmp_path_factory.mktemp("mutated") / "protocol"
    shutil.copytree(exported(), folder)
    what = apply(folder, random.Random(seed), kind)
    try:
        check_protocol(folder)
    except ProtocolRefused:
        return  # refused, with its reason: nothing screens under it
    try:
        with protocol(folder):
            screening = screen(list(missing_data_patients()), as_of=AS_OF)
    finally:
        use_protocol(None)
    eligible = [p.id for p in screening.patients if p.verdict == "eligible"]
    assert eligible == [], f"{what} (seed {seed}): accepted, and {eligible} eligible"

