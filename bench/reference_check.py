"""The engine against an independent reading of criteria.md, on thousands of fresh patients.

    python bench/reference_check.py [--n 5000] [--seed 24] [--jobs 2] [--window 28] [--fhir 500]
                                    [--compare 1000]

Patients: tests/reference_patients.py (values at every threshold, every histology class of the
reading, drugs of every class and unclassified ones, the screening window's edges) and a
quarter from ql1706kg/inputs/synthetic.py. Each is screened by the engine (as JSON records;
``--fhir N``: N of them again as their FHIR R4 twins, ql1706kg/inputs/fhir_write.py) and read
by tests/reference_reading.py, written from criteria.md without the engine's code. Checked:
all 28 outcomes, the verdict, valid_until (screening the record again day after day),
eligible_from and change_needed; ``--compare N``: ``ql1706kg compare`` against a protocol
folder with four limits amended (ANC 1.5 -> 2.0, ECOG 0-1 -> 0-2, LVEF 50 -> 55, IC5.2's rise
1.10 -> 1.20): the criteria that change must be those the reading changes with the same
limits. Prints the checks and every kind of disagreement with examples; exit 1 if any.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ql1706kg import screen
from ql1706kg.inputs.synthetic import patients as synthetic_patients
from tests.reference_compare import Tally, changed, compare_patient, fhir_carries, fhir_twin
from tests.reference_patients import AS_OF
from tests.reference_patients import patients as edge_patients

AMENDMENTS = [  # (shapes file, text as bundled, amended text, reading's limit, amended value)
    ("07-labs-haematology.ttl", "( ql:screeningANC ql:normalisedValue ) ; sh:minInclusive 1.5",
     "( ql:screeningANC ql:normalisedValue ) ; sh:minInclusive 2.0", "anc", "2.0"),
    ("05-performance.ttl", "( ql:screeningECOG ql:ordinalRank ) ; sh:maxInclusive 1 ;",
     "( ql:screeningECOG ql:ordinalRank ) ; sh:maxInclusive 2 ;", "ecog_max", "2"),
    ("11-cardiac.ttl", "( ql:screeningLVEF ql:normalisedValue ) ; sh:minInclusive 50",
     "( ql:screeningLVEF ql:normalisedValue ) ; sh:minInclusive 55", "lvef", "55"),
    ("03-prior-therapy.ttl", "sh:path ql:sumRatio ; sh:minCount 1 ; sh:minInclusive 1.10",
     "sh:path ql:sumRatio ; sh:minCount 1 ; sh:minInclusive 1.20", "progression", "1.20"),
]


def records(n: int, seed: int) -> list[dict]:
    quarter = n // 4
    out = list(edge_patients(n - quarter, seed))
    out += [{**r, "id": f"SYN-{i:06d}"} for i, r in enumerate(synthetic_patients(quarter, seed))]
    return out


def check_json(recs: list[dict], jobs: int, tally: Tally, window: int) -> None:
    result = screen(recs, as_of=AS_OF, window_days=window, jobs=jobs, keep_graphs=False)
    by_id = {r["id"]: r for r in recs}
    tally.check("input", not result.errors, [e.as_dict() for e in result.errors[:3]])
    for patient in result.patients:
        compare_patient(tally, by_id[patient.id], patient, AS_OF, window)


def check_fhir(recs: list[dict], jobs: int, tally: Tally) -> None:
    """The FHIR twins of the records whose every fact the writer carries."""
    recs = [rec for rec in recs if fhir_carries(rec, AS_OF)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for rec in recs:
            path = Path(tmp) / f"{rec['id']}.json"
            path.write_text(json.dumps(fhir_twin(rec)))
            paths.append(path)
        result = screen(paths, as_of=AS_OF, jobs=jobs, keep_graphs=False)
    by_id = {r["id"]: r for r in recs}
    tally.check("input", not result.errors, [e.as_dict() for e in result.errors[:3]])
    for patient in result.patients:
        compare_patient(tally, by_id[patient.id], patient, AS_OF, what_if=False)


def check_compare(recs: list[dict], jobs: int, tally: Tally) -> None:
    from ql1706kg.cli.compare import screen_both
    from ql1706kg.outputs.protocol_folder import export_protocol

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "amended"
        export_protocol(folder)
        for name, old, new, _key, _value in AMENDMENTS:
            path = folder / "shapes" / name
            text = path.read_text()
            assert text.count(old) == 1, (name, old)
            path.write_text(text.replace(old, new))
        data = Path(tmp) / "patients.json"
        data.write_text(json.dumps(recs))
        comparison = screen_both([data], AS_OF, 28, jobs, folder, None)
    engine = {c.id: {k.id: (k.before, k.after) for k in c.criteria} for c in comparison.changes}
    amended = {key: Fraction(value) for *_t, key, value in AMENDMENTS}
    for rec in recs:
        expected = changed(rec, AS_OF, {}, amended)
        tally.check("compare", engine.get(rec["id"], {}) == expected,
                    (rec["id"], engine.get(rec["id"]), expected))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--window", type=int, default=28, help="screening window in days")
    parser.add_argument("--fhir", type=int, default=500, help="patients screened as FHIR too")
    parser.add_argument("--compare", type=int, default=1000,
                        help="patients screened under an amended protocol too")
    args = parser.parse_args()
    recs = records(args.n, args.seed)
    tally = Tally()
    started = time.perf_counter()
    check_json(recs, args.jobs, tally, args.window)
    if args.fhir:
        check_fhir(recs[:args.fhir], args.jobs, tally_fhir := Tally())
    if args.compare:
        check_compare(recs[:args.compare], args.jobs, tally)
    print(f"{len(recs)} patients as of {AS_OF}, {args.window}-day window (seed {args.seed}), "
          f"{time.perf_counter() - started:.0f} s")
    print(tally.report())
    wrong = tally.total_wrong
    if args.fhir:
        carried = sum(fhir_carries(rec, AS_OF) for rec in recs[:args.fhir])
        print(f"\nFHIR twins of the first {args.fhir} whose facts the writer carries "
              f"({carried}; outcomes and verdicts):")
        print(tally_fhir.report())
        wrong += tally_fhir.total_wrong
    print(f"\n{wrong} disagreements")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
