"""Seeded synthetic patients for benchmarks and engine-equivalence tests.

Each patient starts from an eligible record (as of 2026-11-20) and receives a few random
perturbations, each chosen to push one criterion to another outcome (missing data, a value
across a limit, another unit, a stale date, a condition that changes a limit). About 40 % stay
eligible; every criterion is exercised. Nothing here is used to screen real patients.

:func:`encode_cohort` writes a cohort piece by piece (``ql1706kg generate``, the benchmarks):
as the project's JSON list, as NDJSON, or as a FHIR R4 bulk export in one NDJSON file.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import Any

import orjson

AS_OF = "2026-11-20"

# The names the cohort is made of (an eligible base record, the histologies, regimens and
# support products its perturbations choose from) are the bundled protocol's data.
VOCABULARY: dict[str, Any] = orjson.loads(
    (resources.files("ql1706kg.protocol") / "data" / "synthetic-vocabulary.json").read_bytes())
BASE: dict[str, Any] = VOCABULARY["base"]

Change = Callable[[dict[str, Any], random.Random], None]
_BASE_JSON = orjson.dumps(BASE)  # a fresh copy of BASE is orjson.loads(_BASE_JSON): ~5x deepcopy
FORMATS = ("json", "ndjson", "fhir")


def _obs(rec: dict[str, Any], test: str) -> dict[str, Any]:
    """The result of a test, or a detached dict when an earlier change dropped it."""
    return next((o for o in rec["observations"] if o["test"] == test), {})


def _set(test: str, *values: Any) -> Change:
    def change(rec: dict[str, Any], rng: random.Random) -> None:
        _obs(rec, test)["value"] = rng.choice(values)
    return change


def _drop(*keys: str) -> Change:
    def change(rec: dict[str, Any], rng: random.Random) -> None:
        rec.pop(rng.choice(keys), None)
    return change


def _drop_test(*tests: str) -> Change:
    def change(rec: dict[str, Any], rng: random.Random) -> None:
        gone = rng.choice(tests)
        rec["observations"] = [o for o in rec["observations"] if o["test"] != gone]
    return change


def _histology(rec: dict[str, Any], rng: random.Random) -> None:
    name = rng.choice(VOCABULARY["histologies"])
    rec.setdefault("diagnosis", {})["histology"] = name


def _therapy(rec: dict[str, Any], rng: random.Random) -> None:
    stopped = rng.random() < .5  # drawn before the choice, as the seeded cohorts always did
    chosen = orjson.loads(orjson.dumps(rng.choice(VOCABULARY["therapies"])))
    for therapy in chosen:
        if "intolerance" in therapy:  # null in the data: a coin decides
            therapy["intolerance"] = stopped
    rec["prior_therapies"] = chosen
    if rng.random() < 0.3:
        rec["tumour_measurements"] = [{"date": "2026-08-26", "sum_of_diameters_mm": 60},
                                      {"date": "2026-10-26",
                                       "sum_of_diameters_mm": rng.choice([64, 66, 70])}]


def _female(rec: dict[str, Any], rng: random.Random) -> None:
    rec["sex"] = "female"
    rec.setdefault("reproductive", {})["lactating"] = rng.random() < 0.1
    if rng.random() < 0.8:
        rec["observations"].append({"test": "pregnancy test", "date": "2026-11-17",
                                    "value": rng.choice(["negative", "negative", "positive"])})


def _liver(rec: dict[str, Any], rng: random.Random) -> None:
    rec.setdefault("metastases", []).append({"site": rng.choice(["liver", "liver segment VII"]),
                              "date": "2026-03-01"})
    _obs(rec, "AST")["value"] = rng.choice([90, 150, 200, 210])


def _gilbert(rec: dict[str, Any], rng: random.Random) -> None:
    if rng.random() < 0.6:
        rec["conditions"] = ["Gilbert syndrome"]
    _obs(rec, "total bilirubin")["value"] = rng.choice([31.5, 40, 62, 63])


def _units(rec: dict[str, Any], rng: random.Random) -> None:
    hb = _obs(rec, "haemoglobin")
    hb.update(value=rng.choice([8.9, 9.0, 12.8]), unit="g/dL")
    anc = _obs(rec, "ANC")
    anc.update(value=rng.choice([1400, 1500, 3200]), unit="/uL")
    cr = _obs(rec, "creatinine")
    cr.update(value=rng.choice([0.9, 1.9, 2.6]), unit="mg/dL", uln=1.2)


def _urine(rec: dict[str, Any], rng: random.Random) -> None:
    _obs(rec, "urine protein dipstick")["value"] = rng.choice(["trace", "1+", "2+", "3+"])
    if rng.random() < 0.6:
        value, unit = rng.choice([(0.5, "g/d"), (0.99, "g/d"), (1.0, "g/d"), (1.5, "g/d"),
                                  (500, "mg/(24.h)"), (990, "mg/(24.h)"), (1000, "mg/(24.h)"),
                                  (1500, "mg/(24.h)")])
        rec["observations"].append({"test": "24-hour urine protein", "date": "2026-11-13",
                                    "value": value, "unit": unit})


def _support(rec: dict[str, Any], rng: random.Random) -> None:
    rec["supportive_care"] = [{"product": rng.choice(VOCABULARY["support_products"]),
                               "date": rng.choice(["2026-10-28", "2026-10-29", "2026-11-05"])}]


def _stale(rec: dict[str, Any], rng: random.Random) -> None:
    rng.choice(rec["observations"])["date"] = rng.choice(["2026-10-22", "2026-10-23",
                                                          "2026-11-21"])


def _age(rec: dict[str, Any], rng: random.Random) -> None:
    rec["birth_date"] = rng.choice(["1951-11-10", "1951-11-11", "2008-11-10", "2008-11-11"])


def _flags(rec: dict[str, Any], rng: random.Random) -> None:
    """A judgement or status that decides a criterion by itself."""
    choice = rng.randrange(7)
    if choice == 0:
        rec.setdefault("consent", {})["able_to_comply"] = False
    elif choice == 1:
        rec.setdefault("diagnosis", {}).update(extent=rng.choice(["localised", "locally_advanced"]),
                                resectable=rng.random() < 0.5)
        rec["metastases"] = []
    elif choice == 2:
        for lesion in rec.get("lesions", []):
            lesion["longest_diameter_mm"] = rng.choice([9, 10])
    elif choice == 3:
        rec.setdefault("samples", {})[rng.choice(["tumour_tissue", "blood"])] = False
    elif choice == 4:
        rec["expected_survival"] = {"value": rng.choice([11, 12]), "unit": "weeks"}
    elif choice == 5:
        rec["reproductive"] = rng.choice([{"childbearing_potential": False},
                                          {"childbearing_potential": True,
                                           "contraception_agreed": False}])
    else:
        rec.setdefault("diagnosis", {})["confirmed_at_this_institution"] = False


CHANGES: list[Change] = [
    _flags, _flags, _histology, _therapy, _female, _liver, _gilbert, _units, _urine, _support,
    _stale, _age,
    _set("ECOG", 0, 2, "ECOG 1"), _set("platelets", 89, 90), _set("albumin", 29.9, 30),
    _set("APTT", 60, 61), _set("INR", 1.5, 1.51), _set("PT", 21, 21.1), _set("LVEF", 49, 50),
    _set("ALT", 100, 101),
    _drop("consent", "diagnosis", "samples", "expected_survival", "birth_date",
                                 "reproductive", "supportive_care", "metastases", "lesions"),
    _drop_test("AST", "creatinine", "LVEF", "ECOG", "weight", "INR", "total bilirubin", "ALT",
               "albumin", "APTT", "PT", "platelets", "haemoglobin", "ANC"),
]


def patient(index: int, rng: random.Random) -> dict[str, Any]:
    """One synthetic record: the eligible base with 0-3 random changes (none for 25 %; some
    changes keep it eligible, so about 40 % are eligible)."""
    rec = orjson.loads(_BASE_JSON)
    rec["id"] = f"SYN-{index:07d}"
    if rng.random() >= 0.25:
        for change in rng.sample(CHANGES, rng.randint(1, 3)):
            change(rec, rng)
    return rec


def patients(n: int, seed: int = 1706) -> Iterator[dict[str, Any]]:
    """``n`` synthetic records, the same for the same seed."""
    rng = random.Random(seed)
    for index in range(n):
        yield patient(index, rng)


def encode_cohort(records: Iterable[dict[str, Any]], fmt: str = "json") -> Iterator[bytes]:
    """The records as the bytes of one file, a piece per record (and the list's brackets), so
    a cohort of any size is written in constant memory:

    * ``json``: a JSON list, one record per line (read item by item by ``screen``);
    * ``ndjson``: one record per line;
    * ``fhir``: an HL7 FHIR R4 bulk export in one NDJSON file: every resource of every patient
      (from :func:`ql1706kg.inputs.fhir_write.to_bundle`), one per line, the patient's first,
      references relative (``Patient/ID``) as an export writes them.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if fmt == "fhir":
        from .fhir_write import to_bundle

        for record in records:
            yield b"".join(orjson.dumps(entry["resource"]) + b"\n"
                           for entry in to_bundle(record, "relative")["entry"])
        return
    if fmt == "ndjson":
        for record in records:
            yield orjson.dumps(record) + b"\n"
        return
    separator = b"[\n"
    for record in records:
        yield separator + orjson.dumps(record)
        separator = b",\n"
    yield b"[]\n" if separator == b"[\n" else b"\n]\n"
