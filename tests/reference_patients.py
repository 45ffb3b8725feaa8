"""Random patients at the edges of every criterion, for checking the engine against the
independent reading of tests/reference_reading.py (bench/reference_check.py: thousands; the
test suite: a few dozen).

Each patient is the eligible base record (tests/data/base-eligible.json, as of 2026-11-20)
with a few of the changes below, each aimed at one criterion's boundaries: values exactly at a
limit and one step either side, in another unit, without an upper limit of normal, on the
window's first and last day and the day outside it, facts dated after the as-of date; every
histology class of the reading (the eight and their sub-types, others, histologies not
specified enough), drugs of every class and unclassified ones, regimens before and after
metastases, sums of diameters around a 10 % rise and 3 calendar months, products 13, 14 and
15 days before the labs. Seeded: the same seed gives the same patients.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from .reference_reading import (
    ANTHRACYCLINES,
    CODED_HISTOLOGY,
    EIGHT,
    NOT_RESTRICTED,
    NOT_SPECIFIED,
    OTHER,
    OTHER_DRUGS,
    PACLITAXEL,
    PD1,
    RESTRICTED,
    UNCLASSIFIED,
    UNCLASSIFIED_ANTIBODY,
    UNCLASSIFIED_KINASE,
)

AS_OF = dt.date(2026, 11, 20)
LAB_DAY = dt.date(2026, 11, 12)
BASE: dict = json.loads((Path(__file__).parent / "data" / "base-eligible.json").read_text())
HISTOLOGIES = [*EIGHT, *OTHER, *NOT_SPECIFIED, None,
               *({"system": s, "code": c} for s, c in CODED_HISTOLOGY)]
DRUG_POOLS = (ANTHRACYCLINES, PACLITAXEL, PD1, OTHER_DRUGS, UNCLASSIFIED,
              UNCLASSIFIED_KINASE, UNCLASSIFIED_ANTIBODY)
Change = Callable[[dict, random.Random], None]


def day(offset: int, start: dt.date = AS_OF) -> str:
    return (start + dt.timedelta(days=offset)).isoformat()


def years_before(on: dt.date, years: int, shift: int = 0) -> str:
    """The birth date of someone who turns ``years`` on ``on`` (+``shift`` days later)."""
    born = on.replace(year=on.year - years) if not (on.month == 2 and on.day == 29) else \
        on.replace(year=on.year - years, day=28)
    return (born + dt.timedelta(days=shift)).isoformat()


def set_obs(rec: dict, test: str, value, unit=None, uln=None, date: str | None = None,
            keep_old: bool = False) -> None:
    """Replace the result of a test, or add one beside it on another day (two results of a
    day are not ordered: which is the latest would be a guess)."""
    date = date or LAB_DAY.isoformat()
    taken = {o.get("date") for o in rec["observations"] if o["test"] == test}
    if not keep_old or date in taken:
        rec["observations"] = [o for o in rec["observations"] if o["test"] != test]
    rec["observations"].append({"test": test, "value": value, "date": date,
                                **({"unit": unit} if unit is not None else {}),
                                **({"uln": uln} if uln is not None else {})})


def drop_obs(rec: dict, test: str) -> None:
    rec["observations"] = [o for o in rec["observations"] if o["test"] != test]


# -- changes, one concern each ------------------------------------------------------------------
def sex(rec: dict, rng: random.Random) -> None:
    choice = rng.choice(["male", "female", "female", "other", "unknown", None])
    if choice is None:
        rec.pop("sex", None)
    else:
        rec["sex"] = choice


def consent_and_age(rec: dict, rng: random.Random) -> None:
    consent = rec.setdefault("consent", {})
    signed = rng.choice(["2026-11-10", AS_OF.isoformat(), day(1), None, "2026-10-01"])
    if signed is None:
        consent.pop("icf_signed", None)
    else:
        consent["icf_signed"] = signed
    consent["able_to_comply"] = rng.choice([True, True, False, None])
    on = dt.date.fromisoformat(signed) if signed and signed <= AS_OF.isoformat() else AS_OF
    years, shift = rng.choice([(18, 0), (18, 1), (75, 0), (76, 0), (76, 1), (45, 0)])
    rec["birth_date"] = years_before(on, years, shift)
    if rng.random() < 0.1:  # a leap-day birth: 18 on 1 March of a common year
        rec["birth_date"] = "2008-02-29"
        consent["icf_signed"] = rng.choice(["2026-02-28", "2026-03-01"])
    if rng.random() < 0.1:
        rec.pop("consent")
    if rng.random() < 0.05:
        rec.pop("birth_date")


def diagnosis(rec: dict, rng: random.Random, histologies: list | None = None) -> None:
    dx = rec.setdefault("diagnosis", {})
    histology = rng.choice(histologies or HISTOLOGIES)
    if histology is None:
        dx.pop("histology", None)
    else:
        dx["histology"] = histology
    dx["confirmed_at_this_institution"] = rng.choice([True, True, False, None])
    dx["extent"] = rng.choice(["metastatic", "locally_advanced", "localised", None])
    dx["resectable"] = rng.choice([True, False, None])
    for key in ("confirmed_at_this_institution", "extent", "resectable"):
        if dx[key] is None:
            del dx[key]
    if rng.random() < 0.05:
        dx["date"] = day(1)
    if rng.random() < 0.05:
        dx["other_active_histologies"] = [rng.choice(["melanoma", "adenocarcinoma"])]
    if rng.random() < 0.05:
        rec.pop("diagnosis")


def metastases(rec: dict, rng: random.Random) -> None:
    choice = rng.randrange(6)
    if choice == 0:
        rec.pop("metastases", None)
        return
    sites = ["lung", "liver", "liver segment VII", "bone"]
    dates = ["2025-02-01", "2025-06-01", "2026-06-01", None, day(2)]
    rec["metastases"] = [{"site": rng.choice(sites), "date": rng.choice(dates)}
                         for _ in range(rng.choice([0, 1, 1, 2]))]
    for met in rec["metastases"]:
        if met["date"] is None:
            del met["date"]


def regimen(rng: random.Random) -> dict:
    drugs = [rng.choice(rng.choice(DRUG_POOLS)) for _ in range(rng.choice([1, 1, 2]))]
    therapy: dict = {"drugs": drugs}
    start = rng.choice(["2025-03-01", "2025-05-31", "2026-01-15", "2026-06-01", None, day(3)])
    if start:
        therapy["start"] = start
    intolerance = rng.choice([True, False, False, None])
    if intolerance is not None:
        therapy["intolerance"] = intolerance
    return therapy


def therapies(rec: dict, rng: random.Random) -> None:
    count = rng.choice([None, 0, 1, 1, 2, 3])
    if count is None:
        rec.pop("prior_therapies", None)
    else:
        rec["prior_therapies"] = [regimen(rng) for _ in range(count)]


def measurements(rec: dict, rng: random.Random) -> None:
    first = rng.choice([dt.date(2026, 6, 1), dt.date(2025, 11, 30), dt.date(2026, 5, 31)])
    later = [first + dt.timedelta(days=rng.choice([30, 61])),
             dt.date.fromisoformat(_months(first, 3)),
             dt.date.fromisoformat(_months(first, 3)) + dt.timedelta(days=1)]
    base = rng.choice([50, 60, 0])
    second = rng.choice([1.10, 1.098, 1.2, 1.0, 0.9]) * (base or 50)
    rec["tumour_measurements"] = [{"date": first.isoformat(), "sum_of_diameters_mm": base},
                                  {"date": rng.choice(later).isoformat(),
                                   "sum_of_diameters_mm": round(second, 3)}]
    if rng.random() < 0.3:
        rec["tumour_measurements"] = rec["tumour_measurements"][:rng.choice([0, 1])]


def _months(start: dt.date, months: int) -> str:
    from .reference_reading import add_months

    return add_months(start, months).isoformat()


def lesions(rec: dict, rng: random.Random) -> None:
    rec["lesions"] = [rng.choice([
        {"kind": "non_nodal", "method": "CT", "longest_diameter_mm": rng.choice([9, 10, 11]),
         "slice_thickness_mm": rng.choice([5, 6, 3]), "date": "2026-11-05"},
        {"kind": "non_nodal", "method": "MRI", "longest_diameter_mm": 12, "date": "2026-11-05",
         "previously_irradiated": True},
        {"kind": "lymph_node", "method": "CT", "short_axis_mm": rng.choice([14, 15])},
        {"kind": "non_nodal", "method": "caliper", "longest_diameter_mm": rng.choice([9, 10])},
        {"kind": "non_nodal", "method": "chest_x_ray", "longest_diameter_mm": rng.choice([19, 20])},
        {"kind": "non_nodal", "method": "ultrasound", "longest_diameter_mm": 30},
        {"kind": "non_nodal", "method": "CT", "longest_diameter_mm": 30, "date": day(1)},
    ]) for _ in range(rng.choice([0, 1, 1, 2]))]
    choice = rng.randrange(4)
    if choice == 0:
        rec["recist"] = {"measurable_disease": rng.choice([True, False])}


def samples(rec: dict, rng: random.Random) -> None:
    rec["samples"] = {k: v for k, v in (("tumour_tissue", rng.choice([True, False, None])),
                                        ("blood", rng.choice([True, False, None])))
                      if v is not None}


def survival(rec: dict, rng: random.Random) -> None:
    rec["expected_survival"] = rng.choice([
        {"value": 11, "unit": "weeks"}, {"value": 12, "unit": "weeks"},
        {"value": 83, "unit": "days"}, {"value": 84, "unit": "days"},
        {"value": 24, "unit": "weeks", "date": day(1)}])
    if rng.random() < 0.2:
        rec.pop("expected_survival")


WINDOW_DAYS = (LAB_DAY, AS_OF - dt.timedelta(days=28), AS_OF - dt.timedelta(days=29), AS_OF,
               AS_OF + dt.timedelta(days=1))


def lab_date(rng: random.Random) -> str:
    """The labs' usual day, mostly; else the window's first day, the day before it, the
    as-of date or the day after."""
    return (LAB_DAY if rng.random() < 0.6 else rng.choice(WINDOW_DAYS)).isoformat()


# (test, values in the canonical unit around the limit, other unit and its factor, the ULN)
NUMERIC = [
    ("ANC", [1.4, 1.5, 1.6], "10*9/L", ("/uL", 1000)),
    ("platelets", [89, 90, 91], "10*9/L", ("10*3/uL", 1)),
    ("haemoglobin", [89, 90, 91], "g/L", ("g/dL", 0.1)),
    ("albumin", [29.9, 30, 30.1], "g/L", ("g/dL", 0.1)),
    ("LVEF", [49, 50, 51], "%", None),
    ("INR", [1.49, 1.5, 1.51], "{INR}", None),
]
RATIO = [("AST", 40, "U/L"), ("ALT", 40, "U/L"), ("total bilirubin", 21, "umol/L"),
         ("APTT", 40, "s"), ("PT", 14, "s"), ("creatinine", 110, "umol/L")]


def labs(rec: dict, rng: random.Random) -> None:
    for _ in range(rng.choice([1, 2, 3])):
        if rng.random() < 0.5:
            test, values, unit, other = rng.choice(NUMERIC)
            value = rng.choice(values)
            if other is not None and rng.random() < 0.4:
                unit, factor = other
                value = round(value * factor, 6)
            set_obs(rec, test, value, unit, date=lab_date(rng), keep_old=rng.random() < 0.2)
        else:
            test, uln, unit = rng.choice(RATIO)
            ratio = rng.choice([1.0, 1.49, 1.5, 1.51, 2.5, 2.51, 3.0, 5.0, 5.01])
            set_obs(rec, test, round(uln * ratio, 6), unit,
                    uln=None if rng.random() < 0.1 else uln, date=lab_date(rng))
        if rng.random() < 0.1:
            drop_obs(rec, rng.choice([t for t, *_ in NUMERIC + RATIO]))
        if rng.random() < 0.05:  # a unit that is not the test's: never compared raw
            test, unit = rng.choice([("ANC", "mg/dL"), ("platelets", "g/L"),
                                     ("albumin", "U/L"), ("AST", "g/L"), ("creatinine", "s")])
            set_obs(rec, test, 3, unit, uln=5 if test in ("AST", "creatinine") else None)



def ecog(rec: dict, rng: random.Random) -> None:
    set_obs(rec, "ECOG", rng.choice([0, 1, 1, 2, 3]), date=rng.choice(
        ["2026-11-16", day(-28), day(-29), day(1)]))
    if rng.random() < 0.1:
        drop_obs(rec, "ECOG")


def liver(rec: dict, rng: random.Random) -> None:
    rec.setdefault("metastases", []).append(
        {"site": rng.choice(["liver", "liver segment VII"]),
         "date": rng.choice(["2026-03-01", day(1)])})
    for test in ("AST", "ALT"):
        set_obs(rec, test, rng.choice([99, 100, 101, 199, 200, 201]), "U/L", uln=40)


def gilbert(rec: dict, rng: random.Random) -> None:
    if rng.random() < 0.6:
        rec["conditions"] = ["Gilbert syndrome"]
    set_obs(rec, "total bilirubin", rng.choice([31.5, 31.6, 62.9, 63, 63.1]), "umol/L", uln=21)


def kidney(rec: dict, rng: random.Random) -> None:
    """Creatinine above 1.5 × ULN with a Cockcroft-Gault clearance exactly at 50 mL/min (or a
    step off it): male 50 years, 72 kg, 1.8 mg/dL; female 60 years, 90 kg, 1.7 mg/dL."""
    female = rng.random() < 0.5
    rec["sex"] = "female" if female else "male"
    rec["birth_date"] = years_before(AS_OF, 60 if female else 50, rng.choice([0, 0, 1]))
    rec.setdefault("consent", {})["icf_signed"] = AS_OF.isoformat()
    set_obs(rec, "creatinine", 1.7 if female else 1.8, "mg/dL",
            uln=rng.choice([1.0, 1.2, None]))
    weight = (90 if female else 72) + rng.choice([0, 0, -0.1, 0.1])
    if rng.random() < 0.2:
        set_obs(rec, "creatinine clearance", rng.choice([49, 50, 51]), "mL/min",
                date=rng.choice(["2026-11-13", day(-29)]))
    if rng.random() < 0.2:
        drop_obs(rec, "weight")
    else:
        set_obs(rec, "weight", weight, "kg", date=rng.choice(["2026-11-16", day(-29)]))


def urine(rec: dict, rng: random.Random) -> None:
    set_obs(rec, "urine protein dipstick", rng.choice(["negative", "trace", "1+", "2+", "3+"]))
    if rng.random() < 0.6:
        value, unit = rng.choice([(0.99, "g/d"), (1.0, "g/d"), (990, "mg/(24.h)"),
                                  (1000, "mg/(24.h)")])
        set_obs(rec, "24-hour urine protein", value, unit, date="2026-11-13")
    if rng.random() < 0.15:
        drop_obs(rec, "urine protein dipstick")


def support(rec: dict, rng: random.Random) -> None:
    pools = (RESTRICTED, RESTRICTED, NOT_RESTRICTED, UNCLASSIFIED)
    rec["supportive_care"] = []
    for _ in range(rng.choice([0, 1, 1, 2])):
        item = {"product": rng.choice(rng.choice(pools))}
        when = rng.choice([13, 14, 15, 0, 30, None, -9])
        if when is not None:
            item["date"] = day(-when, LAB_DAY)
        rec["supportive_care"].append(item)
    if rng.random() < 0.1:
        rec.pop("supportive_care")


def reproductive(rec: dict, rng: random.Random) -> None:
    rec["sex"] = rng.choice(["female", "female", "other", "unknown"])
    repro = {k: v for k, v in (("lactating", rng.choice([False, False, True, None])),
                               ("childbearing_potential", rng.choice([True, False, None])),
                               ("contraception_agreed", rng.choice([True, False, None])))
             if v is not None}
    rec["reproductive"] = repro
    if rng.random() < 0.8:
        set_obs(rec, "pregnancy test", rng.choice(["negative", "negative", "positive"]),
                date=rng.choice(["2026-11-17", day(-29), day(1)]))


CHANGES: list[Change] = [
    sex, consent_and_age, diagnosis, diagnosis, metastases, therapies, therapies, therapies,
    measurements, lesions, samples, survival, labs, labs, labs, ecog, liver, gilbert, kidney,
    urine, support, support, reproductive, reproductive,
]
# IC4 and IC5 turn on histology, therapies, metastases and measurements together: a history
# is made for the histologies they apply to (or may) half of the time
FOCUS = ["angiosarcoma", "cutaneous angiosarcoma", "alveolar soft part sarcoma", "ASPS",
         "chordoma", "leiomyosarcoma", "liposarcoma", "sarcoma", "lymphangiosarcoma",
         "bone sarcoma", "myosarcoma", "synovial sarcoma", None]


def history(rec: dict, rng: random.Random) -> None:
    diagnosis(rec, rng, FOCUS if rng.random() < 0.5 else None)
    therapies(rec, rng)
    metastases(rec, rng)
    if rng.random() < 0.8:
        measurements(rec, rng)


def patient(index: int, rng: random.Random) -> dict:
    """One record: the base with 1-5 changes, or (a third of them) a new disease history."""
    rec = copy.deepcopy(BASE)
    rec["id"] = f"REF-{index:06d}"
    if rng.random() < 0.33:
        history(rec, rng)
    for change in rng.sample(CHANGES, rng.randint(1, 5)):
        change(rec, rng)
    return rec


def patients(n: int, seed: int = 24) -> Iterator[dict]:
    rng = random.Random(seed)
    for index in range(n):
        yield patient(index, rng)
