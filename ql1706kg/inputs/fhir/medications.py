"""Medication and Procedure resources of one patient: prior systemic therapies and support.

MedicationStatement, MedicationAdministration, MedicationRequest (an order being given counts:
active, on hold, completed or stopped), MedicationDispense (handed over) and Procedure all say
that a drug or product was given; whether it is a prior systemic anticancer therapy
or haematologic support is one resource family's reading, mixed into
:class:`~.builder.RecordBuilder` as :class:`MedicationReader`.

The drug is read by :mod:`ql1706kg.protocol.drugs`, the same reader lifting uses for a
record's names and codes: RxNorm clinical and branded drugs, NDC and SNOMED CT products,
displays and texts with strengths, salts and regimens, a Medication's ``ingredient[]``. A drug
the terminology does not identify is kept, as a drug of unknown class, when it is cancer-related
(an mCODE cancer-related medication profile, a reason that is the cancer, an ATC code under
L01-L04, or an INN stem that keeps it); any other is ignored and named in ``lift --report``.
Dates after the assessment date are set aside by the pipeline, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...protocol.drugs import DrugIndex, DrugReading, drug_index, intolerance_of
from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .codes import SYSTEMS, _codings, _concept_text, lookup
from .elements import element_table
from .entries import Entry
from .pool import Pool
from .semantics import Reading
from .timing import Span, record_date

# ATC groups whose drugs are kept even when the terminology does not know them, so that an
# unclassified antineoplastic or haematologic product is never assumed harmless.
KEPT_ATC_PREFIXES = ("L01", "L02", "L03", "L04", "B03", "B02BX")
SUPPORT_ATC_PREFIXES = ("B03", "B02BX", "L03AA")
CANCER_PROFILE = "cancer-related-medication"  # mCODE's MedicationRequest/Administration/Statement
TERMINATION_REASON = ("http://hl7.org/fhir/us/mcode/StructureDefinition/"
                      "mcode-treatment-termination-reason")
# mCODE's treatment intent (MedicationRequest/Administration/Statement; STU1 Procedure's
# procedure intent): SNOMED CT codes the protocol's ontology maps to settings (ql:TherapySetting)
INTENT_URLS = tuple(f"http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-{name}-intent"
                    for name in ("treatment", "procedure"))
CANCER_WORDS = re.compile(r"cancer|carcinom|sarcom|neoplas|tumou?r|malignan|leuka?emi|lymphom|"
                          r"myelom|melanom|metasta|blastoma|oncolog", re.IGNORECASE)
REQUEST_NOTES = {"active": "requested, active", "on-hold": "requested, on hold",
                 "completed": "requested, completed", "stopped": "requested, stopped",
                 "unknown": "requested, status unknown"}
DISPENSE_NOTES = {"completed": "dispensed", "in-progress": "being dispensed",
                  "stopped": "dispensing stopped", "on-hold": "dispensing on hold",
                  "unknown": "dispensed, status unknown"}


@dataclass
class DrugItem:
    """One drug of a medication resource: its record form and what it was read as."""

    value: dict | str
    reading: DrugReading
    atc: tuple[str, ...] = ()


class MedicationReader:
    """The Medication and Procedure part of :class:`~.builder.RecordBuilder` (whose state it
    uses)."""

    pool: Pool
    term: Terminology
    rec: dict[str, Any]
    could_change: dict[str, tuple[str, ...]]
    therapies: list[dict]
    unidentified: list[str]
    reading: Reading
    aside_fact: Any

    def take_MedicationStatement(self, entry: Entry) -> tuple[bool, str]:
        return self.medication(entry, self.reading.span, None)

    def take_MedicationAdministration(self, entry: Entry) -> tuple[bool, str]:
        return self.medication(entry, self.reading.span, None)

    def take_MedicationRequest(self, entry: Entry) -> tuple[bool, str]:
        """An order being given (active, on hold) or given (completed, stopped): the statuses,
        intents and doNotPerform that say otherwise are the semantics layer's."""
        reading = self.reading
        span = reading.span
        if span is None or span.start is None:  # dated by its authoring, else not at all
            span = Span(reading.recorded, span.end if span else None,
                        span.ongoing if span else False)
        status = str(entry.data.get("status") or "")
        return self.medication(entry, span, REQUEST_NOTES.get(status, f"requested, {status}"))

    def take_MedicationDispense(self, entry: Entry) -> tuple[bool, str]:
        reading = self.reading
        span = reading.span
        if span is None or span.start is None:
            span = Span(reading.recorded, span.end if span else None)
        status = str(entry.data.get("status") or "")
        return self.medication(entry, span, DISPENSE_NOTES.get(status, "dispensed"))

    def take_Procedure(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        code = data.get("code") or {}
        if lookup(self.term, code, QL.HaematologicSupportProduct) is None:
            # its drugs could be any: no prior-therapy criterion can be met
            if _therapy_procedure(code):
                self.aside_fact(entry, "prior_therapies", None, "Procedure.code",
                                "a systemic therapy given as a procedure, naming no drug")
                return False, "set aside: a systemic therapy procedure that names no drug"
            return False, "not a transfusion or procedure the protocol uses"
        item: dict[str, Any] = {"product": drug_item(drug_index(self.term), code).value}
        item.update(course(self.reading.span))
        self.rec.setdefault("supportive_care", []).append(item)
        return True, "a transfusion"

    def medication(self, entry: Entry, span: Span | None, note: str | None
                   ) -> tuple[bool, str]:
        """A drug given: a support product, a prior systemic therapy, or
        neither (ignored, named). Its time is the course the semantics layer read: a course
        still running is ``ongoing``, never dated by its start alone."""
        index = drug_index(self.term)
        items = self.drug_items(entry, index)
        if not items:
            self.could_change[entry.key] = _bearing(index, None)
            self.unidentified.append(entry.key)
            return False, "no medication code, name or ingredient"
        related = self.cancer_related(entry, items)
        therapy_items: list[DrugItem] = []
        support_items: list[DrugItem] = []
        others: list[DrugItem] = []
        for item in items:
            kind = _kind(index, item, related)
            {"therapy": therapy_items, "support": support_items}.get(kind, others).append(item)
        if support_items and not therapy_items:
            for item in support_items:
                care: dict[str, Any] = {"product": item.value, **course(span)}
                self.rec.setdefault("supportive_care", []).append(care)
            return True, f"a {index.term.label(QL.HaematologicSupportProduct)}"
        if not therapy_items:
            could = _bearing(index, others)
            if could:
                self.could_change[entry.key] = could
                self.unidentified.append(entry.key)
            named = "; ".join(_describe(index, item) for item in others)
            return False, (f"not an anticancer or haematologic support drug: {named} (add it "
                           "to ontology/terminology-drugs.ttl if it is one)")
        therapy: dict[str, Any] = {"drugs": [i.value for i in therapy_items + support_items]}
        name = _medication_text(self.medication_concept(entry)) or " + ".join(
            i.reading.written for i in therapy_items)
        therapy["name"] = f"{name} ({note})" if note else name
        therapy.update(course(span, point=False))
        intolerance = course_intolerance(index, entry)
        if intolerance is not None:
            therapy["intolerance"] = intolerance
        setting = course_setting(self.term, entry)
        if setting is not None:
            therapy["setting"] = setting
        self.therapies.append(therapy)
        return True, "a prior systemic therapy" + (f", {note}" if note else "")

    def drug_items(self, entry: Entry, index: DrugIndex) -> list[DrugItem]:
        """The drugs of a medication resource: its code, else its Medication's code, else the
        Medication's ingredients when the code names no drug the terminology knows."""
        data = entry.data
        concept = _dict(data.get("medicationCodeableConcept"))
        if concept:
            return [drug_item(index, concept)]
        ref = _dict(data.get("medicationReference")).get("reference")
        medication = self.pool.resolve(ref if isinstance(ref, str) else None, entry) or {}
        items: list[DrugItem] = []
        code = _dict(medication.get("code"))
        if _codings(code) or _concept_text(code):
            items.append(drug_item(index, code))
        if items and items[0].reading.known:
            return items
        contained = {c.get("id"): c for c in medication.get("contained") or []
                     if isinstance(c, dict)}
        for ingredient in medication.get("ingredient") or []:
            ingredient = _dict(ingredient)
            part = _dict(ingredient.get("itemCodeableConcept"))
            if not part:
                target = _dict(ingredient.get("itemReference")).get("reference")
                found = (contained.get(target[1:]) if isinstance(target, str)
                         and target.startswith("#") else self.pool.resolve(target, entry))
                part = _dict((found or {}).get("code"))
            if _codings(part) or _concept_text(part):
                items.append(drug_item(index, part))
        if len(items) > 1 and not items[0].reading.known:
            items = items[1:]  # the ingredients say more than a code nobody knows
        if not items and isinstance(_dict(data.get("medicationReference")).get("display"), str):
            items.append(drug_item(index, {"text": data["medicationReference"]["display"]}))
        return items

    def medication_concept(self, entry: Entry) -> dict:
        data = entry.data
        if data.get("medicationCodeableConcept"):
            return _dict(data["medicationCodeableConcept"])
        ref = _dict(data.get("medicationReference")).get("reference")
        medication = self.pool.resolve(ref if isinstance(ref, str) else None, entry)
        return _dict((medication or {}).get("code"))

    def cancer_related(self, entry: Entry, items: list[DrugItem]) -> bool:
        """Whether the resource says the drug is given for a cancer: an mCODE cancer-related
        medication profile, a reason that is a cancer (a Condition or a code), or an ATC code
        of an antineoplastic or immunomodulating group."""
        data = entry.data
        profiles = _dict(data.get("meta")).get("profile")
        if isinstance(profiles, list) and any(
                isinstance(p, str) and CANCER_PROFILE in p for p in profiles):
            return True
        if any(a.startswith(KEPT_ATC_PREFIXES) for item in items for a in item.atc):
            return True
        for reason in _list(data.get("reasonCode")):
            if _is_cancer(self.term, reason):
                return True
        for ref in _list(data.get("reasonReference")):
            target = self.pool.resolve(_dict(ref).get("reference"), entry) or {}
            if target.get("resourceType") == "Condition" and _is_cancer_condition(self.term,
                                                                                  target):
                return True
        return False


def _therapy_procedure(concept: object) -> bool:
    """Whether a Procedure's code says a systemic anticancer therapy was given (the element
    table's ``therapy_procedures``: codes, else words of a display or the text)."""
    table = element_table().therapy_procedures
    codings = _codings(concept)
    if any(f"{c.get('system')}|{c.get('code')}" in table["codes"] for c in codings):
        return True
    words = [str(c.get("display") or "") for c in codings] + [_concept_text(concept) or ""]
    return any(word in text.casefold() for text in words for word in table["words"])


def course(span: Span | None, point: bool = True) -> dict[str, Any]:
    """A course in the record's form: ``date`` for one administration (``point``: when the
    record has that form), else ``start``, ``end`` and ``ongoing`` (not ended when recorded);
    an end or start that is not known is left out, never guessed."""
    if span is None:
        return {}
    start, end = record_date(span.start), record_date(span.end)
    if point and start and start == end and not span.ongoing:
        return {"date": start}
    out: dict[str, Any] = {}
    if start:
        out["start"] = start
    if end:
        out["end"] = end
    if span.ongoing:
        out["ongoing"] = True
    return out


def drug_item(index: DrugIndex, concept: dict) -> DrugItem:
    """One CodeableConcept read as a drug: the first coding (or the text) that names a drug
    the terminology knows, else the one that says most about what the drug may be."""
    codings = _codings(concept)
    atc = tuple(str(c["code"]) for c in codings
                if c.get("code") and SYSTEMS.get(c.get("system", "")) == "ATC")
    candidates: list[tuple[dict | str, DrugReading]] = []
    for coding in codings:
        if not coding.get("code"):
            if coding.get("display"):  # a display without a code is a name
                candidates.append((str(coding["display"]), index.read(str(coding["display"]))))
            continue
        system = SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
        value: dict[str, Any] = {"system": system, "code": str(coding["code"])}
        if coding.get("display"):
            value["display"] = str(coding["display"])
        candidates.append((value, index.read((system, value["code"], value.get("display")))))
    text = _concept_text(concept)
    if text:
        candidates.append((text, index.read(text)))
    if not candidates:
        return DrugItem("unnamed", index.read("unnamed"), atc)
    for named, reading in candidates:
        if reading.known:
            return DrugItem(named, reading, atc)
    named, reading = max(candidates, key=lambda c: _informative(c[1]))
    return DrugItem(named, reading, atc)


def _informative(reading: DrugReading) -> int:
    """How much a reading of an unidentified drug says: a kept stem or class, then any."""
    return max((2 * p.kept + bool(p.implied) for p in reading.parts), default=0)


def _kind(index: DrugIndex, item: DrugItem, related: bool) -> str:
    """'therapy', 'support' or 'other' for one drug of a medication resource."""
    reading = item.reading
    known = list(reading.known)
    if any(index.term.is_a(k, QL.SystemicAntiCancerDrug) for k in known):
        return "therapy"
    if known and not reading.parts:
        return "support" if all(index.term.is_a(k, QL.HaematologicSupportProduct)
                                for k in known) else "other"
    for part in reading.parts:
        implied = {c for cls in part.implied for c in index.term.types.get(cls, ())}
        implied |= set(part.implied)
        if QL.HaematologicSupportProduct in implied:
            return "support"
        if QL.SystemicAntiCancerDrug in implied or (part.kept and part.possible):
            return "therapy"
        if any(a.startswith(SUPPORT_ATC_PREFIXES) for a in item.atc) and part.possible:
            return "support"
        if part.possible and (related or any(a.startswith(KEPT_ATC_PREFIXES)
                                             for a in item.atc)):
            return "therapy"
    return "support" if known and all(index.term.is_a(k, QL.HaematologicSupportProduct)
                                      for k in known) else "other"


def _bearing(index: DrugIndex, items: list[DrugItem] | None) -> tuple[str, ...]:
    """The criteria unidentified drugs could change (by the ql:Possible* classes they may
    belong to, ql:bearsOn); ``None`` (nothing to go on at all) bears on all of them."""
    bears = index.term.bears_on
    if items is None:
        return tuple(sorted({cid for ids in bears.values() for cid in ids}))
    return tuple(sorted({cid for item in items if not _atc_rules_out(item)
                         for part in item.reading.parts
                         for cls in part.possible for cid in bears.get(cls, ())}))


def _atc_rules_out(item: DrugItem) -> bool:
    """Whether a drug's ATC codes place it outside every group an anticancer or support
    product belongs to (an analgesic N02BE01 is no cytotoxic drug, whatever its name): the ATC
    classification itself decides the class, even for a code the terminology does not hold."""
    return bool(item.atc) and not any(a.startswith(KEPT_ATC_PREFIXES) for a in item.atc)


def _describe(index: DrugIndex, item: DrugItem) -> str:
    reading = item.reading
    names = [index.term.label(k) + (f" ({index.term.label(c)})" if c else "")
             for k in reading.known for c in [_named_class(index, k)]]
    for part in reading.parts:
        names.append(part.text + (f" (INN stem {part.stem})" if part.stem else ""))
    return ", ".join(names) or reading.written


def _named_class(index: DrugIndex, iri) -> object:
    """The most specific class of a known drug that is no anticancer or support drug."""
    types = index.term.types.get(iri, ())
    return next((c for c in sorted(types) if QL.OtherMedicine in index.term.types.get(c, ())
                 and c != QL.OtherMedicine), QL.OtherMedicine if QL.OtherMedicine in types
                else None)


def course_setting(term: Terminology, entry: Entry) -> str | None:
    """The setting the resource's treatment intent says, as the record's word for it: one
    setting the ontology maps the intent's codings to; none (an intent it does not map, such
    as curative, which is no setting) or several that disagree leave it undetermined."""
    found = set()
    for extension in _list(entry.data.get("extension")):
        if _dict(extension).get("url") in INTENT_URLS:
            for coding in _codings(_dict(extension).get("valueCodeableConcept")):
                setting = term.settings.by_code.get((str(coding.get("system", "")),
                                                     str(coding.get("code", ""))))
                if setting is not None:
                    found.add(setting)
    if len(found) != 1:
        return None
    (setting,) = found
    return next((key for key, iri in sorted(term.settings.by_key.items()) if iri == setting),
                None)


def course_intolerance(index: DrugIndex, entry: Entry) -> bool | None:
    """Whether the course was stopped for intolerance: True when a status reason (or
    mCODE's treatment termination reason) is coded as intolerance; False when the course is
    completed with no such reason, or stopped for a coded reason that is not intolerance;
    None (unknown) otherwise. A dispense says nothing about how the course ended."""
    data = entry.data
    reasons = [*_list(data.get("statusReason")),
               *_list(data.get("statusReasonCodeableConcept"))]  # a dispense's
    for extension in _list(data.get("extension")):
        if _dict(extension).get("url") == TERMINATION_REASON:
            reasons.append(_dict(extension).get("valueCodeableConcept"))
    codings = [(c.get("system", ""), str(c["code"])) for r in reasons for c in _codings(r)
               if c.get("code")]
    readings = intolerance_of(index, codings)
    if True in readings:
        return True
    if entry.type == "MedicationDispense":
        return None
    status = str(data.get("status") or "")
    if status == "completed" and not reasons:
        return False
    if status in ("completed", "stopped") and readings and all(r is False for r in readings):
        return False
    return None


def _is_cancer(term: Terminology, concept: object) -> bool:
    concept = _dict(concept)
    if lookup(term, concept, QL.Neoplasm) is not None:
        return True
    words = [c.get("display", "") for c in _codings(concept)] + [_concept_text(concept) or ""]
    return any(CANCER_WORDS.search(str(w)) for w in words if w)


def _is_cancer_condition(term: Terminology, condition: dict) -> bool:
    profiles = _dict(condition.get("meta")).get("profile")
    if isinstance(profiles, list) and any(isinstance(p, str) and "cancer" in p.lower()
                                          for p in profiles):
        return True
    return _is_cancer(term, condition.get("code"))


def _medication_text(concept: dict) -> str | None:
    text = _concept_text(concept)
    if text:
        return text
    for coding in _codings(concept):
        if coding.get("display"):
            return str(coding["display"])
    return None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []
