"""Write a patient record as an HL7 FHIR R4 collection Bundle (the inverse of ql1706kg.fhir).

Used to make FHIR twins of the examples and FHIR inputs for the benchmark; the mapping is the
one docs/fhir.md documents, so reading the Bundle back gives the same outcomes (tested for
every example). Codes come from the terminology: the first code of each system it knows.
"""

from __future__ import annotations

import json
import re
import uuid
from importlib import resources
from typing import Any

from ..protocol.namespaces import QL
from ..protocol.terminology import closure_graph, terminology

P = "https://w3id.org/ql1706kg/fhir/CodeSystem/screening"
UCUM = "http://unitsofmeasure.org"
SYS = {"LOINC": "http://loinc.org", "SNOMED-CT": "http://snomed.info/sct",
       "ATC": "http://www.whocc.no/atc", "RxNorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
       "ICD-O-3": "http://terminology.hl7.org/CodeSystem/icd-o-3"}
PROP = {"LOINC": QL.loincCode, "SNOMED-CT": QL.snomedCode, "ATC": QL.atcCode,
        "RxNorm": QL.rxnormCode, "ICD-O-3": QL.icdO3Morphology}


def codes(iri, *systems):
    g = closure_graph()
    out = []
    for system in systems:
        values = sorted(str(c) for c in g.objects(iri, PROP[system]))
        if values:
            out.append({"system": SYS[system], "code": values[0],
                        "display": terminology().label(iri)})
    return out


def concept(name, within, *systems):
    if isinstance(name, dict):
        return {"coding": [{"system": SYS.get(name["system"], name["system"]),
                            "code": name["code"], **({"display": name["display"]}
                                                     if name.get("display") else {})}]}
    hit = terminology().find(name, within)
    coding = codes(hit, *systems) if hit is not None else []
    out = {"text": name}
    if coding:
        out["coding"] = coding
    return out


_BOUND = re.compile(r"^\s*(<=|>=|=<|=>|≤|≥|<|>)\s*(?=\d)")


def instant(when: str) -> str:
    """A record's date as an effectiveDateTime: a day gets the examples' time of day; a
    partial date or a dateTime stays as written."""
    return when + "T09:00:00+08:00" if len(when) == 10 else when


def _clinical(code: str) -> dict:
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": code}]}


def _over(resolved: object) -> dict:
    """A record's ``resolved`` as a Condition says it: resolved, abated on that date."""
    if resolved is None or resolved is False:
        return {}
    out: dict[str, object] = {"clinicalStatus": _clinical("resolved")}
    if isinstance(resolved, str):
        out["abatementDateTime"] = resolved
    return out


def _course(name: str, item: dict, time: str = "") -> dict:
    """A record's ``date`` or course (``start``/``end``/``ongoing``) as ``name[x]`` (a day's
    date with ``time`` of day, as the examples write administrations)."""
    if item.get("date"):
        date = item["date"]
        return {f"{name}DateTime": date + time if len(date) == 10 else date}
    period = {k: item[k] for k in ("start", "end") if item.get(k)}
    return {f"{name}Period": period} if period else {}


def pcode(code, display=None):
    return {"coding": [{"system": P, "code": code, "display": display or code.replace("-", " ")}]}


class Writer:
    def __init__(self, rec, style):
        self.rec, self.style, self.entries = rec, style, []
        self.pid = rec["id"]
        self.n = 0

    def ref(self, rtype, rid):
        if self.style == "uuid":
            return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self.pid + rtype + rid)}"
        return f"{rtype}/{rid}"

    def add(self, resource):
        self.n += 1
        rid = resource.setdefault("id", f"{self.pid.lower()}-{resource['resourceType'].lower()}"
                                         f"-{self.n}")
        entry = {"resource": resource}
        if self.style == "uuid":
            entry["fullUrl"] = self.ref(resource["resourceType"], rid)
        else:
            entry["fullUrl"] = f"https://hospital.example.org/fhir/{resource['resourceType']}/{rid}"
        self.entries.append(entry)

    @property
    def subject(self):
        return {"reference": self.ref("Patient", self.pid)}

    def obs(self, code, when=None, **value):
        res = {"resourceType": "Observation", "status": "final", "code": code,
               "subject": self.subject, **value}
        if when:
            res["effectiveDateTime"] = instant(when)
        self.add(res)

    def pobs(self, code, value, when=None):
        if isinstance(value, bool):
            v = {"valueBoolean": value}
        elif isinstance(value, str):
            v = {"valueCodeableConcept": pcode(value.replace("_", "-"))}
        else:
            v = {"valueQuantity": value}
        self.obs(pcode(code), when, **v)

    def nil(self, code):
        self.add({"resourceType": "List", "status": "current", "mode": "snapshot",
                  "code": pcode(code), "subject": self.subject,
                  "emptyReason": {"coding": [{
                      "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                      "code": "nilknown", "display": "Nil Known"}]}})

    def write(self):
        r = self.rec
        _write_person(self, r)
        _write_disease(self, r)
        _write_therapies(self, r)
        _write_measurements(self, r)
        _write_results(self, r)
        _write_reproductive(self, r)
        _write_set_aside(self, r)
        return {"resourceType": "Bundle", "id": f"{self.pid.lower()}-screening",
                "type": "collection", "entry": self.entries}

    def observation(self, o):
        hit = terminology().find(o["test"]) if isinstance(o["test"], str) else None
        code = concept(o["test"], QL.Test, "LOINC")
        value, comparator = o["value"], o.get("comparator")
        bound = _BOUND.match(value) if isinstance(value, str) else None
        if bound:  # '<1.0' as written: the number with its comparator
            comparator, value = bound.group(1), float(value[bound.end(1):].strip())
        extra = {}
        if hit == QL.ECOGPerformanceStatus and not isinstance(value, str):
            extra["valueInteger"] = int(value)
        elif isinstance(value, str):
            grade = (terminology().find(value, QL.DipstickGrade)
                     if hit == QL.UrineProteinDipstick else None)
            if grade is not None:
                extra["valueCodeableConcept"] = {"coding": codes(grade, "SNOMED-CT"),
                                                 "text": value}
            else:
                extra["valueCodeableConcept"] = {"text": value.capitalize()}
        else:
            q = {"value": value}
            if comparator:  # a bound: Quantity.comparator
                q["comparator"] = {"≤": "<=", "≥": ">=", "=<": "<=", "=>": ">="}.get(
                    comparator, comparator)
            if o.get("unit"):
                q.update({"unit": o["unit"], "system": UCUM, "code": o["unit"]})
            extra["valueQuantity"] = q
            rng = {}
            for key, k2 in (("uln", "high"), ("lln", "low")):
                if o.get(key) is not None:
                    rng[k2] = {"value": o[key], **({"unit": o["unit"], "system": UCUM,
                                                    "code": o["unit"]} if o.get("unit") else {})}
            if rng:
                extra["referenceRange"] = [rng]
        self.obs(code, o["date"], **extra)


def _write_person(w: Writer, r: dict) -> None:
    """The Patient, the study's Consent and ability to comply."""
    patient = {"resourceType": "Patient", "id": w.pid,
               "identifier": [{"system": "https://hospital.example.org/screening-id",
                               "value": w.pid}]}
    if r.get("sex"):
        patient["gender"] = r["sex"]
    if r.get("birth_date"):
        patient["birthDate"] = r["birth_date"]
    w.add(patient)
    c = r.get("consent") or {}
    if c.get("icf_signed"):
        w.add({"resourceType": "Consent", "status": "active",
                  "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                        "consentscope", "code": "research"}]},
                  "category": [{"text": f"{terminology().trial_name} study informed consent form"}],
                  "patient": w.subject, "dateTime": c["icf_signed"] + "T10:30:00+08:00"})
    if c.get("able_to_comply") is not None:
        w.pobs("able-to-comply", c["able_to_comply"], c.get("icf_signed"))


def _write_disease(w: Writer, r: dict) -> None:
    """The diagnosis with its histology, metastases and other conditions."""
    dx = r.get("diagnosis") or {}
    if dx.get("histology"):
        cond = {"resourceType": "Condition",
                "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/"
                                               "CodeSystem/condition-clinical",
                                               "code": "active"}]},
                "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/"
                                                   "CodeSystem/condition-ver-status",
                                                   "code": "confirmed"}]},
                "code": concept(dx["histology"], QL.Neoplasm, "ICD-O-3", "SNOMED-CT"),
                "subject": w.subject}
        if dx.get("date"):
            cond["onsetDateTime"] = dx["date"]
        w.add(cond)
        for other in dx.get("other_active_histologies") or []:  # another current primary
            w.add({key: value for key, value in cond.items()
                   if key not in ("id", "onsetDateTime", "code")}
                  | {"code": concept(other, QL.Neoplasm, "ICD-O-3", "SNOMED-CT")})
    for key, code in (("confirmed_at_this_institution", "histology-confirmed-here"),
                      ("extent", "disease-extent"), ("resectable", "resectable")):
        if dx.get(key) is not None:
            w.pobs(code, dx[key])
    if r.get("metastases") == []:
        w.nil("metastases")
    for m in r.get("metastases") or []:
        res = {"resourceType": "Condition",
               "code": {"coding": [{"system": SYS["SNOMED-CT"], "code": "128462008",
                                    "display": "Secondary malignant neoplastic disease"}]},
               "bodySite": [{"text": m["site"]}], "subject": w.subject}
        if m.get("date"):
            res["onsetDateTime"] = m["date"]
        res.update(_over(m.get("resolved")))
        w.add(res)
    for cnd in r.get("conditions") or []:
        item = cnd if isinstance(cnd, dict) and "condition" in cnd else {"condition": cnd}
        res = {"resourceType": "Condition", "subject": w.subject,
               "code": concept(item["condition"], QL.ClinicalCondition)}
        if item.get("date"):
            res["onsetDateTime"] = item["date"]
        res.update(_over(item.get("resolved")))
        w.add(res)


def _write_therapies(w: Writer, r: dict) -> None:
    """Each drug of each prior regimen as a MedicationStatement."""
    if r.get("prior_therapies") == []:
        w.nil("prior-systemic-therapy")
    for t in r.get("prior_therapies") or []:
        for drug in t["drugs"]:
            med = concept(drug, QL.Drug, "ATC", "RxNorm")
            res = {"resourceType": "MedicationStatement",
                   "status": "active" if t.get("ongoing") else "completed",
                   "subject": w.subject}
            if w.style == "uuid":
                res["contained"] = [{"resourceType": "Medication", "id": "med",
                                     "code": med}]
                res["medicationReference"] = {"reference": "#med"}
            else:
                res["medicationCodeableConcept"] = med
            period = {k2: t[k] for k, k2 in (("start", "start"), ("end", "end")) if t.get(k)}
            if period:
                res["effectivePeriod"] = period
            if t.get("intolerance"):
                res["statusReason"] = [pcode("stopped-for-intolerance")]
            intent = _intent(t.get("setting"))
            if intent:
                res["extension"] = [intent]
            w.add(res)


def _intent(setting: str | None) -> dict | None:
    """A setting as mCODE's treatment-intent extension, by the ontology's code for it (a
    setting with no code is not written: read back, it is undetermined, as it would be)."""
    term = terminology()
    iri = term.settings.by_key.get((setting or "").strip().casefold())
    code = next((c for c, s in sorted(term.settings.by_code.items()) if s == iri), None)
    if iri is None or code is None:
        return None
    return {"url": "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-treatment-intent",
            "valueCodeableConcept": {"coding": [{"system": code[0], "code": code[1],
                                                 "display": term.label(iri)}]}}


def _write_measurements(w: Writer, r: dict) -> None:
    """Sums of diameters, lesions, RECIST, samples and expected survival."""
    for tm in r.get("tumour_measurements") or []:
        w.pobs("sum-of-longest-diameters", {"value": tm["sum_of_diameters_mm"],
                                               "unit": "mm", "system": UCUM, "code": "mm"},
                  tm["date"])
    for les in r.get("lesions") or []:
        comps = [{"code": pcode("lesion-kind"),
                  "valueCodeableConcept": pcode(les["kind"].replace("_", "-"))}]
        for key, code in (("longest_diameter_mm", "longest-diameter"),
                          ("short_axis_mm", "short-axis"),
                          ("slice_thickness_mm", "slice-thickness")):
            if les.get(key) is not None:
                comps.append({"code": pcode(code), "valueQuantity": {
                    "value": les[key], "unit": "mm", "system": UCUM, "code": "mm"}})
        if les.get("previously_irradiated"):
            comps.append({"code": pcode("previously-irradiated"), "valueBoolean": True})
        res = {"resourceType": "Observation", "status": "final",
               "code": pcode("lesion-measurement"), "subject": w.subject,
               "method": {"text": les["method"]}, "component": comps}
        if les.get("site"):
            res["bodySite"] = {"text": les["site"]}
        if les.get("date"):
            res["effectiveDateTime"] = les["date"]
        w.add(res)
    if r.get("recist"):
        w.pobs("recist-measurable-disease", r["recist"]["measurable_disease"],
                  r["recist"].get("date"))
    for key, code in (("tumour_tissue", "tumour-tissue-available"),
                      ("blood", "blood-sample-available")):
        if (r.get("samples") or {}).get(key) is not None:
            w.pobs(code, r["samples"][key])
    es = r.get("expected_survival")
    if es:
        unit = {"days": "d", "weeks": "wk", "months": "mo"}[es.get("unit", "weeks")]
        w.pobs("expected-survival", {"value": es["value"], "unit": unit,
                                        "system": UCUM, "code": unit}, es.get("date"))


def _write_results(w: Writer, r: dict) -> None:
    """Observations, then supportive care (transfusions as Procedures)."""
    for o in r.get("observations") or []:
        w.observation(o)
    if r.get("supportive_care") == []:
        w.nil("supportive-care")
    for sc in r.get("supportive_care") or []:
        product = sc["product"]
        hit = terminology().find(product, QL.Drug) if isinstance(product, str) else None
        if hit is not None and terminology().is_a(hit, QL.BloodComponentTransfusion):
            res = {"resourceType": "Procedure", "status": "completed",
                   "code": concept(sc["product"], QL.Drug, "SNOMED-CT"),
                   "subject": w.subject}
            res.update(_course("performed", sc))
        else:
            res = {"resourceType": "MedicationAdministration",
                   "status": "in-progress" if sc.get("ongoing") else "completed",
                   "medicationCodeableConcept": concept(sc["product"], QL.Drug, "ATC"),
                   "subject": w.subject, **_course("effective", sc, "T08:00:00+08:00")}
        w.add(res)


def _write_reproductive(w: Writer, r: dict) -> None:
    """Lactation, childbearing potential and contraception."""
    for key, code in (("lactating", "lactating"),
                      ("childbearing_potential", "childbearing-potential"),
                      ("contraception_agreed", "contraception-agreed")):
        if (r.get("reproductive") or {}).get(key) is not None:
            w.pobs(code, r["reproductive"][key])
    for pregnancy in (r.get("reproductive") or {}).get("pregnancies") or []:
        res = {"resourceType": "Condition", "subject": w.subject,
               "code": {"coding": [{"system": SYS["SNOMED-CT"], "code": "77386006",
                                    "display": "Pregnant"}]},
               "clinicalStatus": _clinical("resolved" if pregnancy.get("end") else "active")}
        if pregnancy.get("start") or pregnancy.get("date"):
            res["onsetDateTime"] = pregnancy.get("start") or pregnancy["date"]
        if pregnancy.get("end"):
            res["abatementDateTime"] = pregnancy["end"]
        w.add(res)


def _set_aside_drug(section: str) -> str:
    """The drug a set-aside fact of ``section`` is written with: a name of the bundled
    protocol's terminology, from its data (the synthetic cohort's vocabulary)."""
    data = resources.files("ql1706kg.protocol") / "data" / "synthetic-vocabulary.json"
    return json.loads(data.read_text("utf-8"))["set_aside_drugs"][section]


def _write_set_aside(w: Writer, r: dict) -> None:
    """A fact set aside, as FHIR says one: a resource of that section with a modifier
    extension no reader understands (the reader sets it aside again)."""
    modifier = [{"url": "https://w3id.org/ql1706kg/fhir/StructureDefinition/not-understood",
                 "valueBoolean": True}]
    for item in r.get("set_aside") or []:
        section, test = item["section"], item.get("test")
        if section == "observations":
            w.obs(concept(test or "haemoglobin", QL.Test, "LOINC"), "2026-11-12",
                  valueQuantity={"value": 1}, modifierExtension=modifier)
        elif section in ("prior_therapies", "supportive_care"):
            drug = _set_aside_drug(section)
            w.add({"resourceType": "MedicationStatement", "status": "completed",
                   "subject": w.subject, "modifierExtension": modifier,
                   "medicationCodeableConcept": concept(drug, QL.Drug, "ATC"),
                   "effectiveDateTime": "2025-01-01"})
        else:
            raise ValueError(f"no FHIR resource is written for a set-aside {section}")


def to_bundle(record: dict[str, Any], style: str = "relative") -> dict[str, Any]:
    """A collection Bundle for one record; ``style`` 'uuid' uses urn:uuid references and
    contained Medications, 'relative' uses Patient/id references."""
    return Writer(record, style).write()
