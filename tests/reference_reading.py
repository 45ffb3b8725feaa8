"""An independent reading of the QL1706 criteria, to check the engine against.

Written from ``shared/protocol/criteria.md`` (the outcome model, the 28 criteria and the
reading notes) and ``shared/reference/clinical-rules.md`` (units, Cockcroft-Gault, RECIST),
not from the engine: no shape, query, ontology file or module of ``ql1706kg`` is read here.
It reads the project's JSON record as ``tests/reference_patients.py`` generates it, within
what that generator writes (canonical test names, the units of clinical-rules.md, the drug and
histology names listed below). Where criteria.md leaves a choice, the project's documented
reading is taken, and named where it is used:

- every dated fact after the as-of date is set aside (a list whose every item is set aside is
  no longer recorded); a result older than the window or after as-of is ignored;
- IC10 applies to every subject not recorded as male (sex other, unknown or missing);
- a histology that may still be one a criterion applies to leaves it undecided: IC4 unknown,
  IC5.1 and IC5.2 met when their rule is met, else unknown; a histology that can be none of
  them makes it not applicable (a liposarcoma, whatever its sub-type, is never a chordoma);
- IC5.2's progression needs two dated sums: with fewer, progression is undecided;
- a drug or product the terminology cannot classify may be of any class that its INN stem does
  not rule out (-tinib: a kinase inhibitor; -mab: an antibody, maybe an anti-PD-1);
- Gilbert syndrome and liver metastases count when they are on record.

The what-if lines are read the same way: ``valid_until`` by screening the same record again
on later dates (facts after the first as-of date set aside, ages kept), ``eligible_from`` as
the latest restricted (or possibly restricted) product's date + the lookback + 1.
"""

from __future__ import annotations

import calendar
import datetime as dt
from fractions import Fraction as F

LIMITS: dict[str, F] = {
    "age_min": F(18), "age_max": F(75), "ecog_max": F(1), "survival_days": F(84),
    "anc": F("1.5"), "plt": F(90), "hb": F(90), "alb": F(30),
    "ast": F("2.5"), "ast_liver": F(5), "alt": F("2.5"), "alt_liver": F(5),
    "tbil": F("1.5"), "tbil_gilbert": F(3), "cr": F("1.5"), "crcl": F(50),
    "aptt": F("1.5"), "inr": F("1.5"), "pt": F("1.5"), "dipstick": F(1), "urine24": F(1),
    "lvef": F(50), "support_days": F(14), "progression": F("1.10"), "progression_months": F(3),
}
CRITERIA = ("IC1", "IC2", "IC3.1", "IC3.2", "IC3.3", "IC4", "IC5.1", "IC5.2", "IC6", "IC7",
            "IC8.1", "IC8.2", "IC9.0", "IC9.1-ANC", "IC9.1-PLT", "IC9.1-HB", "IC9.2-AST",
            "IC9.2-ALT", "IC9.2-TBIL", "IC9.2-ALB", "IC9.3-CR", "IC9.4-APTT", "IC9.4-INR",
            "IC9.4-PT", "IC9.5-UPRO", "IC9.6-LVEF", "IC10", "IC11")

# -- histologies: what each name is, or may still be -----------------------------------------
# families: "std" (IC5.1's subtypes with standard therapy), "chordoma", "asps", "angio"
ALL = frozenset({"std", "chordoma", "asps", "angio"})
EIGHT = {
    "undifferentiated sarcoma": "std", "undifferentiated spindle cell sarcoma": "std",
    "undifferentiated round cell sarcoma": "std", "leiomyosarcoma": "std",
    "uterine leiomyosarcoma": "std", "epithelioid leiomyosarcoma": "std",
    "myxofibrosarcoma": "std", "undifferentiated pleomorphic sarcoma": "std", "UPS": "std",
    "dedifferentiated liposarcoma": "std", "DDLPS": "std",
    "chordoma": "chordoma", "chondroid chordoma": "chordoma",
    "dedifferentiated chordoma": "chordoma",
    "alveolar soft part sarcoma": "asps", "ASPS": "asps",
    "angiosarcoma": "angio", "cutaneous angiosarcoma": "angio", "hepatic angiosarcoma": "angio",
    "breast angiosarcoma": "angio",
}
OTHER = ("synovial sarcoma", "well-differentiated liposarcoma", "myxoid liposarcoma",
         "pleomorphic liposarcoma", "osteosarcoma", "Ewing sarcoma", "chondrosarcoma",
         "rhabdomyosarcoma", "Kaposi sarcoma", "epithelioid sarcoma", "GIST", "melanoma",
         "adenocarcinoma", "hepatocellular carcinoma", "epithelioid haemangioendothelioma")
# not specified enough to say which of the eight it is: what it may still be
NOT_SPECIFIED: dict[str, frozenset[str]] = {
    "sarcoma": ALL,
    "soft tissue sarcoma": frozenset({"std", "asps", "angio"}),
    # WHO 2020 bone tumours include angiosarcoma, leiomyosarcoma and UPS of bone
    "bone sarcoma": frozenset({"chordoma", "std", "angio"}),
    "liposarcoma": frozenset({"std"}),           # dedifferentiated, or not one of the eight
    "myosarcoma": frozenset({"std"}),            # leiomyosarcoma or rhabdomyosarcoma
    "angiomyosarcoma": frozenset({"std"}),       # perhaps read as a leiomyosarcoma
    "lymphangiosarcoma": frozenset({"angio"}),   # Stewart-Treves: often an angiosarcoma
    "breast cancer": ALL, "cancer": ALL, "lung cancer": ALL,
    "spindly thing": ALL,                        # not a histology the terminology knows
}
APPLIES = {"IC4": {"chordoma", "asps"}, "IC5.1": {"std"}, "IC5.2": {"angio"}}

# -- drugs and products ---------------------------------------------------------------------
ANTHRACYCLINES = ("doxorubicin", "epirubicin", "pirarubicin", "daunorubicin", "idarubicin",
                  "aclarubicin", "valrubicin", "amrubicin", "pegylated liposomal doxorubicin")
PACLITAXEL = ("paclitaxel", "nab-paclitaxel", "liposomal paclitaxel")
PD1 = ("toripalimab", "sintilimab", "camrelizumab", "tislelizumab", "penpulimab",
       "serplulimab", "zimberelimab", "envafolimab", "sugemalimab", "adebrelimab",
       "pembrolizumab", "nivolumab", "atezolizumab", "durvalumab", "QL1706", "cadonilimab",
       "ivonescimab")
OTHER_DRUGS = ("ifosfamide", "cyclophosphamide", "gemcitabine", "docetaxel", "dacarbazine",
               "temozolomide", "trabectedin", "eribulin", "pazopanib", "anlotinib", "apatinib",
               "regorafenib", "imatinib", "sunitinib", "axitinib", "cabozantinib",
               "mitoxantrone", "pixantrone", "ipilimumab")
UNCLASSIFIED = ("mystery-agent", "drug-x-123", "zorblax")  # may be anything
UNCLASSIFIED_KINASE = ("novotinib",)  # -tinib: a kinase inhibitor, none of the three classes
UNCLASSIFIED_ANTIBODY = ("novelimab",)  # -mab: may be an anti-PD-1, not a cytotoxic
RESTRICTED = ("filgrastim", "pegfilgrastim", "red blood cell transfusion",
              "platelet transfusion", "rhTPO", "romiplostim", "iron sucrose", "epoetin alfa",
              "folic acid")
NOT_RESTRICTED = ("dexamethasone", "novotinib")

LAB_TESTS = ("ANC", "platelets", "haemoglobin", "AST", "ALT", "total bilirubin", "albumin",
             "creatinine", "creatinine clearance", "APTT", "INR", "PT",
             "urine protein dipstick", "24-hour urine protein")
DIPSTICK = {"negative": F(0), "trace": F(1, 2), "1+": F(1), "2+": F(2), "3+": F(3),
            "4+": F(4)}
# unit -> factor to the canonical unit (clinical-rules.md §2)
UNITS = {
    "ANC": {"10*9/L": F(1), "10*3/uL": F(1), "/uL": F(1, 1000)},
    "platelets": {"10*9/L": F(1), "10*3/uL": F(1)},
    "haemoglobin": {"g/L": F(1), "g/dL": F(10)},
    "albumin": {"g/L": F(1), "g/dL": F(10)},
    "creatinine": {"umol/L": F(1), "mg/dL": F("88.4")},
    "24-hour urine protein": {"g/d": F(1), "mg/(24.h)": F(1, 1000)},
    "weight": {"kg": F(1)}, "LVEF": {"%": F(1)}, "INR": {"{INR}": F(1), None: F(1)},
    "creatinine clearance": {"mL/min": F(1)}, "ECOG": {None: F(1)},
}


RATIO_UNITS = {"AST": ("U/L",), "ALT": ("U/L",), "total bilirubin": ("umol/L", "mg/dL"),
               "APTT": ("s",), "PT": ("s",), "creatinine": ("umol/L", "mg/dL")}


def drug_may(name: str) -> tuple[set[str], set[str]]:
    """(classes a drug is, classes it may be) among 'anthracycline', 'paclitaxel', 'pd1'."""
    if name in ANTHRACYCLINES:
        return {"anthracycline"}, set()
    if name in PACLITAXEL:
        return {"paclitaxel"}, set()
    if name in PD1:
        return {"pd1"}, set()
    if name in OTHER_DRUGS or name in UNCLASSIFIED_KINASE:
        return set(), set()
    if name in UNCLASSIFIED_ANTIBODY:
        return set(), {"pd1"}
    return set(), {"anthracycline", "paclitaxel", "pd1"}


def product_is(name: str) -> str:
    """'restricted', 'no' or 'maybe' (an IC9.0 product, not one, or unclassified)."""
    if name in RESTRICTED:
        return "restricted"
    return "no" if name in NOT_RESTRICTED else "maybe"


def _date(text) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def completed_years(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def add_months(start: dt.date, months: int) -> dt.date:
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def verdict_of(outcomes: dict[str, str]) -> str:
    values = outcomes.values()
    return ("ineligible" if "not_met" in values else
            "incomplete" if "unknown" in values else "eligible")


class Reading:
    """One record read on one date: ``as_of`` moves the window; ``cut`` (the first as-of date
    of a what-if) sets aside what was recorded after it; ``age_on`` is the date ages taken
    on the as-of date are taken on."""

    def __init__(self, rec: dict, as_of: dt.date, window: int = 28,
                 limits: dict[str, F] | None = None, cut: dt.date | None = None,
                 age_on: dt.date | None = None) -> None:
        self.r, self.as_of, self.window = rec, as_of, window
        self.lim = limits or LIMITS
        self.cut = cut or as_of
        self.age_on = age_on or as_of

    # -- facts as known on the cut date ---------------------------------------------------
    def kept(self, items, key: str):
        """A dated list without the items dated after the cut; None when not recorded (or
        when every item was set aside)."""
        if items is None:
            return None
        kept = [i for i in items if not (_date(i.get(key)) and _date(i.get(key)) > self.cut)]
        return None if items and not kept else kept

    def diagnosis(self) -> dict | None:
        dx = self.r.get("diagnosis")
        if dx is None or (_date(dx.get("date")) and _date(dx["date"]) > self.cut):
            return None
        return dx

    def metastases(self):
        return self.kept(self.r.get("metastases"), "date")

    def therapies(self):
        return self.kept(self.r.get("prior_therapies"), "start")

    def signed(self) -> dt.date | None:
        icf = _date((self.r.get("consent") or {}).get("icf_signed"))
        return icf if icf is not None and icf <= self.cut else None

    def screening(self, test: str) -> dict | None:
        """The most recent result of a test in the window (none after the cut)."""
        start = self.as_of - dt.timedelta(days=self.window)
        found = [o for o in self.r.get("observations", []) if o["test"] == test
                 and _date(o.get("date")) and start <= _date(o["date"]) <= min(self.as_of,
                                                                                self.cut)]
        return max(found, key=lambda o: o["date"]) if found else None

    def value(self, test: str) -> F | None:
        """The screening value in the test's canonical unit."""
        obs = self.screening(test)
        if obs is None:
            return None
        if isinstance(obs["value"], str):  # a grade written with its scale: "ECOG 1"
            words = obs["value"].split()
            return F(words[-1]) if words and words[-1].isdigit() else None
        factor = UNITS[test].get(obs.get("unit"))  # None: a unit that cannot be converted
        return None if factor is None else F(str(obs["value"])) * factor

    def ratio(self, test: str) -> F | None:
        """The screening value over its upper limit of normal (same unit); none when the
        unit is not one of the test's."""
        obs = self.screening(test)
        if obs is None or obs.get("uln") in (None, 0) or obs.get("unit") not in RATIO_UNITS[
                test]:
            return None
        return F(str(obs["value"])) / F(str(obs["uln"]))

    def histology(self) -> tuple[str, frozenset[str] | str]:
        """('eight', family) | ('other', '') | ('unknown', families it may be)."""
        dx = self.diagnosis()
        name = dx.get("histology") if dx else None
        if isinstance(name, dict):
            name = CODED_HISTOLOGY[(name["system"], name["code"])]
        if name in EIGHT:
            return "eight", EIGHT[name]
        if name in OTHER:
            return "other", ""
        return "unknown", NOT_SPECIFIED.get(name, ALL)

    def scope(self, criterion: str) -> str:
        kind, what = self.histology()
        if kind == "eight":
            return "in" if what in APPLIES[criterion] else "out"
        if kind == "other":
            return "out"
        return "possibly" if set(what) & APPLIES[criterion] else "out"


CODED_HISTOLOGY = {("ICD-O-3", "8890/3"): "leiomyosarcoma", ("ICD-O-3", "9120/3"): "angiosarcoma",
                   ("ICD-O-3", "9370/3"): "chordoma", ("ICD-O-3", "9040/3"): "synovial sarcoma",
                   ("ICD-O-3", "8800/3"): "sarcoma"}


# -- the criteria ------------------------------------------------------------------------------
def ic1(x: Reading) -> str:
    comply = (x.r.get("consent") or {}).get("able_to_comply")
    if comply is False:
        return "not_met"
    return "met" if comply is True and x.signed() is not None else "unknown"


def ic2(x: Reading) -> str:
    born = _date(x.r.get("birth_date"))
    if born is None:
        return "unknown"
    age = completed_years(born, x.signed() or x.age_on)
    return "met" if x.lim["age_min"] <= age <= x.lim["age_max"] else "not_met"


def ic3_1(x: Reading) -> str:
    confirmed = (x.diagnosis() or {}).get("confirmed_at_this_institution")
    return {True: "met", False: "not_met"}.get(confirmed, "unknown")


def ic3_2(x: Reading) -> str:
    dx = x.diagnosis() or {}
    extent, resectable = dx.get("extent"), dx.get("resectable")
    if x.metastases() or extent == "metastatic":
        return "met"
    if extent == "locally_advanced" and resectable is False:
        return "met"
    if extent == "localised" or (extent is not None and resectable is True):
        return "not_met"
    return "unknown"


def ic3_3(x: Reading) -> str:
    """One of the eight; another current primary cancer leaves it unknown until the one under
    study is confirmed (a reading of the project: which one is meant decides IC3.3)."""
    kind, _ = x.histology()
    if kind == "other":
        return "not_met"
    return "met" if kind == "eight" and not (x.diagnosis() or {}).get(
        "other_active_histologies") else "unknown"


def _classes(therapy: dict) -> tuple[set[str], set[str]]:
    known, may = set(), set()
    for drug in therapy["drugs"]:
        is_, maybe = drug_may(drug)
        known |= is_
        may |= maybe
    return known, may - known


def ic4(x: Reading) -> str:
    scope = x.scope("IC4")
    if scope != "in":
        return "not_applicable" if scope == "out" else "unknown"
    if x.histology()[1] == "chordoma":
        return "met"
    therapies = x.therapies()
    if any("pd1" in _classes(t)[0] for t in therapies or ()):
        return "not_met"
    if therapies is None or any("pd1" in _classes(t)[1] for t in therapies):
        return "unknown"
    return "met"


def ic5_1(x: Reading) -> str:
    scope = x.scope("IC5.1")
    if scope == "out":
        return "not_applicable"
    therapies = x.therapies()
    if any("anthracycline" in _classes(t)[0] for t in therapies or ()):
        return "met"
    if therapies is None or scope == "possibly" or any(
            "anthracycline" in _classes(t)[1] for t in therapies):
        return "unknown"
    return "not_met"


def _qualifies(therapy: dict) -> bool | None:
    """Whether a regimen is paclitaxel- or anthracycline-based (None: it may be)."""
    known, may = _classes(therapy)
    if known & {"anthracycline", "paclitaxel"}:
        return True
    return None if may & {"anthracycline", "paclitaxel"} else False


def _metastasis_after(x: Reading, therapy: dict) -> bool | None:
    metastases, start = x.metastases(), _date(therapy.get("start"))
    if metastases is None or start is None:
        return None
    dates = [_date(m.get("date")) for m in metastases]
    if any(d is not None and d >= start for d in dates):
        return True
    return False if all(d is not None for d in dates) else None


def _progression(x: Reading) -> bool | None:
    """A ≥10 % rise of the sum of diameters within 3 calendar months (None: fewer than two
    dated sums, so it cannot be told)."""
    sums = sorted((_date(m["date"]), F(str(m["sum_of_diameters_mm"])))
                  for m in x.kept(x.r.get("tumour_measurements") or [], "date") or ())
    pairs = [(a, b) for i, a in enumerate(sums) for b in sums[i + 1:]
             if b[0] > a[0] and a[1] != 0]
    if not pairs:
        return None
    return any(b[1] / a[1] >= x.lim["progression"]
               and b[0] <= add_months(a[0], int(x.lim["progression_months"]))
               for a, b in pairs)


def _or(*values: bool | None) -> bool | None:
    return True if True in values else (None if None in values else False)


def ic5_2(x: Reading) -> str:
    scope = x.scope("IC5.2")
    if scope == "out":
        return "not_applicable"
    therapies, progression = x.therapies(), _progression(x)
    events = [(_qualifies(t), _or(_metastasis_after(x, t), t.get("intolerance"), progression))
              for t in therapies or ()]
    if any(q is True and e is True for q, e in events):
        return "met"
    if therapies is None or scope == "possibly":
        return "unknown"
    return "not_met" if all(q is False or e is False for q, e in events) else "unknown"


def _measurable(lesion: dict) -> bool:
    if lesion.get("previously_irradiated"):
        return False
    longest, short = lesion.get("longest_diameter_mm"), lesion.get("short_axis_mm")
    method, thickness = lesion["method"], lesion.get("slice_thickness_mm")
    if lesion["kind"] == "lymph_node":
        return method in ("CT", "MRI") and short is not None and short >= 15
    if longest is None:
        return False
    if method in ("CT", "MRI"):
        return longest >= 10 and (thickness is None or 2 * thickness <= longest)
    return (method == "caliper" and longest >= 10) or (method == "chest_x_ray" and longest >= 20)


def ic6(x: Reading) -> str:
    investigator = (x.r.get("recist") or {}).get("measurable_disease")
    if investigator is not None:
        return "met" if investigator else "not_met"
    lesions = x.kept(x.r.get("lesions"), "date") or []
    if any(_measurable(lesion) for lesion in lesions):
        return "met"
    return "not_met" if lesions else "unknown"


def ic7(x: Reading) -> str:
    samples = x.r.get("samples") or {}
    both = (samples.get("tumour_tissue"), samples.get("blood"))
    if False in both:
        return "not_met"
    return "unknown" if None in both else "met"


def ic8_1(x: Reading) -> str:
    ecog = x.value("ECOG")
    return "unknown" if ecog is None else "met" if ecog <= x.lim["ecog_max"] else "not_met"


def ic8_2(x: Reading) -> str:
    survival = x.r.get("expected_survival")
    if survival is None or (_date(survival.get("date")) and _date(survival["date"]) > x.cut):
        return "unknown"
    days = F(str(survival["value"])) * (7 if survival.get("unit", "weeks") == "weeks" else 1)
    return "met" if days >= x.lim["survival_days"] else "not_met"


def ic9_0(x: Reading) -> str:
    products = x.kept(x.r.get("supportive_care"), "date")
    labs = sorted(_date(o["date"]) for t in LAB_TESTS if (o := x.screening(t)) is not None)
    found = []
    for item in products or ():
        kind, given = product_is(item["product"]), _date(item.get("date"))
        after = [lab for lab in labs if given is not None and lab >= given]
        gap = (after[0] - given).days if after else None
        found.append((kind, given, gap))
    if any(kind == "restricted" and gap is not None and gap <= x.lim["support_days"]
           for kind, _g, gap in found):
        return "not_met"
    if products is None or not labs or any(
            kind != "no" and (given is None or (gap is not None and kind == "maybe"
                                                and gap <= x.lim["support_days"]))
            for kind, given, gap in found):
        return "unknown"
    return "met"


def _at_least(value: F | None, limit: F) -> str:
    return "unknown" if value is None else "met" if value >= limit else "not_met"


def _at_most(value: F | None, limit: F) -> str:
    return "unknown" if value is None else "met" if value <= limit else "not_met"


def _liver(x: Reading) -> bool:
    return any("liver" in m["site"] for m in x.metastases() or ())


def ic9_2_tbil(x: Reading) -> str:
    ratio = x.ratio("total bilirubin")
    if "Gilbert syndrome" not in (x.r.get("conditions") or ()):
        return _at_most(ratio, x.lim["tbil"])
    return "unknown" if ratio is None else "met" if ratio < x.lim["tbil_gilbert"] else "not_met"


def clearance(x: Reading) -> F | None:
    """A measured clearance, else Cockcroft-Gault (clinical-rules.md §3) from the age on the
    as-of date, the weight and the creatinine in mg/dL."""
    measured = x.value("creatinine clearance")
    if measured is not None:
        return measured
    creatinine, weight = x.screening("creatinine"), x.value("weight")
    born, sex = _date(x.r.get("birth_date")), x.r.get("sex")
    if creatinine is None or weight is None or born is None or sex not in ("male", "female"):
        return None
    if creatinine.get("unit") not in RATIO_UNITS["creatinine"]:
        return None
    scr = F(str(creatinine["value"]))
    if creatinine.get("unit") != "mg/dL":
        scr /= UNITS["creatinine"]["mg/dL"]
    if scr <= 0:
        return None
    crcl = (140 - completed_years(born, x.age_on)) * weight / (72 * scr)
    return crcl * F("0.85") if sex == "female" else crcl


def ic9_3(x: Reading) -> str:
    ratio, crcl = x.ratio("creatinine"), clearance(x)
    if (ratio is not None and ratio <= x.lim["cr"]) or (crcl is not None
                                                        and crcl >= x.lim["crcl"]):
        return "met"
    return "not_met" if ratio is not None and crcl is not None else "unknown"


def ic9_5(x: Reading) -> str:
    dip = x.screening("urine protein dipstick")
    grade = DIPSTICK.get(dip["value"]) if dip else None
    protein = x.value("24-hour urine protein")
    if (grade is not None and grade <= x.lim["dipstick"]) or (
            protein is not None and protein < x.lim["urine24"]):
        return "met"
    return "not_met" if grade is not None and protein is not None else "unknown"


def ic10(x: Reading) -> str:
    sex = x.r.get("sex")
    if sex == "male":
        return "not_applicable"
    lactating = (x.r.get("reproductive") or {}).get("lactating")
    test = x.screening("pregnancy test")
    if lactating is True or (test is not None and test["value"] == "positive"):
        return "not_met"
    return "unknown" if sex is None or lactating is None or test is None else "met"


def ic11(x: Reading) -> str:
    reproductive = x.r.get("reproductive") or {}
    potential = reproductive.get("childbearing_potential")
    if potential is False:
        return "not_applicable"
    agreed = reproductive.get("contraception_agreed")
    if potential is None:
        return "unknown"
    return {True: "met", False: "not_met"}.get(agreed, "unknown")


RULES = {
    "IC1": ic1, "IC2": ic2, "IC3.1": ic3_1, "IC3.2": ic3_2, "IC3.3": ic3_3, "IC4": ic4,
    "IC5.1": ic5_1, "IC5.2": ic5_2, "IC6": ic6, "IC7": ic7, "IC8.1": ic8_1, "IC8.2": ic8_2,
    "IC9.0": ic9_0,
    "IC9.1-ANC": lambda x: _at_least(x.value("ANC"), x.lim["anc"]),
    "IC9.1-PLT": lambda x: _at_least(x.value("platelets"), x.lim["plt"]),
    "IC9.1-HB": lambda x: _at_least(x.value("haemoglobin"), x.lim["hb"]),
    "IC9.2-AST": lambda x: _at_most(x.ratio("AST"), x.lim["ast_liver" if _liver(x) else "ast"]),
    "IC9.2-ALT": lambda x: _at_most(x.ratio("ALT"), x.lim["alt_liver" if _liver(x) else "alt"]),
    "IC9.2-TBIL": ic9_2_tbil,
    "IC9.2-ALB": lambda x: _at_least(x.value("albumin"), x.lim["alb"]),
    "IC9.3-CR": ic9_3,
    "IC9.4-APTT": lambda x: _at_most(x.ratio("APTT"), x.lim["aptt"]),
    "IC9.4-INR": lambda x: _at_most(x.value("INR"), x.lim["inr"]),
    "IC9.4-PT": lambda x: _at_most(x.ratio("PT"), x.lim["pt"]),
    "IC9.5-UPRO": ic9_5,
    "IC9.6-LVEF": lambda x: _at_least(x.value("LVEF"), x.lim["lvef"]),
    "IC10": ic10, "IC11": ic11,
}
assert tuple(RULES) == CRITERIA


def outcomes(rec: dict, as_of: dt.date, window: int = 28, limits: dict | None = None,
             cut: dt.date | None = None, age_on: dt.date | None = None) -> dict[str, str]:
    """The 28 outcomes of a record on a date, as criteria.md reads them."""
    reading = Reading(rec, as_of, window, limits, cut, age_on)
    return {cid: rule(reading) for cid, rule in RULES.items()}


def valid_until(rec: dict, as_of: dt.date, window: int = 28) -> dt.date | None:
    """The last as-of date with the same verdict on the record as it is (none for an
    incomplete verdict, nor when it never changes): screened again day after day."""
    verdict = verdict_of(outcomes(rec, as_of, window))
    if verdict == "incomplete":
        return None
    for days in range(1, window + 2):
        later = as_of + dt.timedelta(days=days)
        if verdict_of(outcomes(rec, later, window, cut=as_of, age_on=as_of)) != verdict:
            return later - dt.timedelta(days=1)
    return None


def eligible_from(rec: dict, as_of: dt.date, window: int = 28) -> dt.date | None:
    """When IC9.0 not met is the only obstacle: the first day new labs keep clear of every
    (possibly) restricted product."""
    found = outcomes(rec, as_of, window)
    if {c: o for c, o in found.items() if o not in ("met", "not_applicable")} != {
            "IC9.0": "not_met"}:
        return None
    x = Reading(rec, as_of, window)
    dates = [_date(p.get("date")) for p in x.kept(rec.get("supportive_care"), "date") or ()
             if product_is(p["product"]) != "no" and p.get("date")]
    return max(dates) + dt.timedelta(days=int(LIMITS["support_days"]) + 1) if dates else None
