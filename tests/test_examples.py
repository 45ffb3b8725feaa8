"""The bundled examples screen to the verdicts examples/README.md promises (as_of 2026-11-20).

The table is written from the README by hand, so a change of behaviour that breaks the
documented examples fails here rather than in a coordinator's hands.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ql1706kg.api import screen

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "patients"
NA_HISTOLOGY = {"IC4", "IC5.2"}
UNKNOWN_IN_SKELETON = [
    "IC1", "IC5.1", "IC6", "IC7", "IC8.1", "IC8.2", "IC9.0", "IC9.1-ANC", "IC9.1-PLT",
    "IC9.1-HB", "IC9.2-AST", "IC9.2-ALT", "IC9.2-TBIL", "IC9.2-ALB", "IC9.3-CR", "IC9.4-APTT",
    "IC9.4-INR", "IC9.4-PT", "IC9.5-UPRO", "IC9.6-LVEF", "IC11"]

# patient id -> (verdict, {criterion: outcome} for every criterion that is not met)
EXPECTED = {
    "QL-LMS-001": ("eligible", {"IC4": "not_applicable", "IC5.2": "not_applicable",
                                "IC10": "not_applicable"}),
    "QL-UPS-002": ("eligible", dict.fromkeys(NA_HISTOLOGY, "not_applicable")),
    "QL-DDL-003": ("eligible", dict.fromkeys(NA_HISTOLOGY | {"IC10", "IC11"}, "not_applicable")),
    "QL-MFS-004": ("ineligible", {"IC9.2-AST": "not_met", "IC4": "not_applicable",
                                  "IC5.2": "not_applicable", "IC10": "not_applicable"}),
    "QL-US-005": ("eligible", dict.fromkeys(NA_HISTOLOGY | {"IC10"}, "not_applicable")),
    "QL-LMS-006": ("eligible", dict.fromkeys(NA_HISTOLOGY, "not_applicable")),
    "QL-USC-007": ("eligible", dict.fromkeys(NA_HISTOLOGY | {"IC10"}, "not_applicable")),
    "QL-MFS-008": ("incomplete", {"IC9.5-UPRO": "unknown"}),
    "QL-AS-009": ("eligible", dict.fromkeys({"IC4", "IC5.1", "IC10", "IC11"},
                                            "not_applicable")),
    "QL-ASPS-010": ("ineligible", {"IC4": "not_met"}),
    "QL-ASPS-011": ("eligible", {"IC5.1": "not_applicable", "IC5.2": "not_applicable"}),
    "QL-CHD-012": ("eligible", dict.fromkeys({"IC5.1", "IC5.2", "IC10", "IC11"},
                                             "not_applicable")),
    "QL-LMS-013": ("incomplete", {"IC9.6-LVEF": "unknown", "IC10": "unknown"}),
    "QL-UPS-014": ("ineligible", {"IC9.0": "not_met"}),
    "QL-SS-015": ("ineligible", {"IC3.3": "not_met", "IC4": "not_applicable",
                                 "IC5.1": "not_applicable", "IC5.2": "not_applicable"}),
    "QL-LMS-016": ("ineligible", {"IC2": "not_met"}),
    "QL-COH-01": ("ineligible", {"IC3.1": "not_met", "IC11": "not_applicable"}),
    "QL-COH-02": ("incomplete", {
        **dict.fromkeys(UNKNOWN_IN_SKELETON, "unknown"),
        **dict.fromkeys(("IC4", "IC5.2", "IC10"), "not_applicable")}),
    "QL-COH-03": ("ineligible", {"IC5.1": "not_met", "IC2": "met"}),
}


@pytest.fixture(scope="module")
def results():
    screening = screen([EXAMPLES], as_of="2026-11-20")
    assert not screening.errors
    return {p.id: p for p in screening.patients}


def test_every_example_is_in_the_table(results):
    assert set(results) == set(EXPECTED)


@pytest.mark.parametrize("patient_id", sorted(EXPECTED))
def test_example_verdict_and_outcomes(results, patient_id):
    verdict, outcomes = EXPECTED[patient_id]
    patient = results[patient_id]
    assert patient.verdict == verdict
    got = {c.id: c.outcome for c in patient.criteria}
    assert {cid: got[cid] for cid in outcomes} == outcomes
    if verdict != "ineligible":
        # Nothing outside the table is other than met or not applicable.
        rest = {cid for cid, o in got.items() if o in ("not_met", "unknown")}
        assert rest <= set(outcomes)


def test_worker_processes_give_the_same_results_in_the_same_order(results):
    """--jobs 2 screens batches in workers (a repeated id starts a new batch): outcomes and
    order must not change."""
    parallel = screen([EXAMPLES, EXAMPLES], as_of="2026-11-20", jobs=2, keep_graphs=False)
    serial = list(results.values())
    assert [p.id for p in parallel.patients] == [p.id for p in serial] * 2
    for mine, theirs in zip(parallel.patients, serial * 2, strict=True):
        assert mine.criteria == theirs.criteria
