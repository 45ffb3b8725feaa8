"""The engine's results against the independent reading (tests/reference_reading.py): every
criterion outcome, the verdict and the what-if lines; shared by bench/reference_check.py
(thousands of patients) and tests/test_reference_reading.py (a sample).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from .reference_reading import (
    LIMITS,
    eligible_from,
    outcomes,
    valid_until,
    verdict_of,
)

# criteria with a numeric limit: not met, their change_needed states the value and the limit
NUMERIC = {"IC8.1", "IC8.2", "IC9.0", "IC9.1-ANC", "IC9.1-PLT", "IC9.1-HB", "IC9.2-AST",
           "IC9.2-ALT", "IC9.2-TBIL", "IC9.2-ALB", "IC9.3-CR", "IC9.4-APTT", "IC9.4-INR",
           "IC9.4-PT", "IC9.5-UPRO", "IC9.6-LVEF"}


@dataclass
class Tally:
    """Checks made and disagreements found, by kind, with a few examples of each."""

    checks: Counter = field(default_factory=Counter)
    wrong: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def check(self, kind: str, ok: bool, example: object) -> None:
        self.checks[kind.split(" ")[0]] += 1
        if not ok:
            self.wrong[kind] += 1
            self.examples.setdefault(kind, []).append(example)

    @property
    def total_wrong(self) -> int:
        return sum(self.wrong.values())

    def report(self, limit: int = 3) -> str:
        lines = [f"{kind}: {self.checks[kind]} checks" for kind in sorted(self.checks)]
        for kind, count in self.wrong.most_common():
            lines.append(f"  WRONG {kind}: {count}, e.g. {self.examples[kind][:limit]}")
        return "\n".join(lines)


def compare_patient(tally: Tally, rec: dict, result, as_of: dt.date, window: int = 28,
                    what_if: bool = True) -> None:
    """Check one engine result against the reading of its record."""
    expected = outcomes(rec, as_of, window)
    got = {c.id: c for c in result.criteria}
    for cid, outcome in expected.items():
        engine = got[cid].outcome
        tally.check(f"outcome {cid} engine={engine} reading={outcome}", engine == outcome,
                    rec["id"])
    tally.check("verdict", result.verdict == verdict_of(expected), rec["id"])
    if not what_if:
        return
    tally.check("valid_until", result.valid_until == valid_until(rec, as_of, window),
                (rec["id"], result.valid_until, valid_until(rec, as_of, window)))
    tally.check("eligible_from", result.eligible_from == eligible_from(rec, as_of, window),
                (rec["id"], result.eligible_from, eligible_from(rec, as_of, window)))
    for cid, crit in got.items():
        line = crit.change_needed
        if crit.outcome in ("met", "not_applicable"):
            ok = line is None
        elif crit.outcome == "unknown":
            ok = bool(line) and "to decide, collect" in line
        else:
            ok = cid not in NUMERIC or (bool(line) and "needs" in line)
        tally.check(f"change_needed {cid} {crit.outcome}", ok, (rec["id"], line))


def changed(rec: dict, as_of: dt.date, before: dict, after: dict,
            window: int = 28) -> dict[str, tuple[str, str]]:
    """The criteria whose outcome the reading gives differently under two sets of limits."""
    one = outcomes(rec, as_of, window, limits={**LIMITS, **before})
    two = outcomes(rec, as_of, window, limits={**LIMITS, **after})
    return {cid: (one[cid], two[cid]) for cid in one if one[cid] != two[cid]}


MCODE_STATEMENT = ("http://hl7.org/fhir/us/mcode/StructureDefinition/"
                   "mcode-cancer-related-medication-statement")


def fhir_twin(rec: dict) -> dict:
    """The record as a FHIR R4 Bundle (ql1706kg/inputs/fhir_write.py), its prior therapies
    marked as mCODE cancer-related medications: what the record's prior_therapies say (a FHIR
    record lists every medication, so an unidentified one counts as an anti-cancer drug only
    when the resource says it is given for the cancer)."""
    from ql1706kg.inputs.fhir_write import to_bundle

    bundle = to_bundle(rec, "relative")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "MedicationStatement":
            resource.setdefault("meta", {})["profile"] = [MCODE_STATEMENT]
    return bundle


def fhir_carries(rec: dict, as_of: dt.date) -> bool:
    """Whether the FHIR writer carries everything the reading reads: no second current cancer,
    not a fact other than a
    result dated after the as-of date (the writer dates conditions and estimates its own
    way), no support product but restricted ones, dated (an administration needs a date;
    FHIR cannot say "these and no others", so a list of products that are not restricted or
    not identified does not read as a list of support products)."""
    from .reference_reading import product_is

    def after(text) -> bool:
        return bool(text) and dt.date.fromisoformat(text) > as_of

    dated = [(rec.get("diagnosis") or {}).get("date"), (rec.get("consent") or {}).get(
        "icf_signed"), (rec.get("expected_survival") or {}).get("date"),
        *(m.get("date") for m in rec.get("metastases") or ()),
        *(t.get("start") for t in rec.get("prior_therapies") or ()),
        *(m.get("date") for m in rec.get("tumour_measurements") or ()),
        *(lesion.get("date") for lesion in rec.get("lesions") or ())]
    products = rec.get("supportive_care") or ()
    if (rec.get("diagnosis") or {}).get("other_active_histologies"):
        return False  # the writer does not write a second current cancer
    return not any(after(d) for d in dated) and all(
        p.get("date") and product_is(p["product"]) == "restricted" for p in products)


FORMS = ("json", "fhir")


def screened(rec: dict, form: str, folder, as_of: str = "2026-11-20", window: int = 28):
    """One record screened as the project's JSON record or as its FHIR twin (written in
    ``folder``): the criterion tables check both forms alike."""
    import json

    from ql1706kg import screen

    source: object = rec
    if form == "fhir":
        source = folder / f"{rec['id']}-{len(list(folder.iterdir()))}.json"
        source.write_text(json.dumps(fhir_twin(rec)))
    result = screen([source], as_of=as_of, window_days=window)
    assert not result.errors, [e.as_dict() for e in result.errors]
    (patient,) = result.patients
    return patient
