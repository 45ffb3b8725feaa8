"""FHIR resources read as facts of the kinds the protocol declares (``ql:FactKind``,
protocol/fact_kinds.py): the resource type, the element that carries the code and the codes
come from the declaration, and so does the value (a yes/no, a quantity in the kind's unit, a
coded value by the kind's value codings, a date) and the List that records the kind complete.

No kind is named here: a protocol folder adds an HBsAg result, a vaccination or an allergy
by declaring it. A value the declaration cannot read is lifted without a value (the selections
that read it set it aside, so no criterion reading it is met); a kind recorded complete by a
List lets its absence count.
"""

from __future__ import annotations

import re
from typing import Any

from ...protocol.fact_kinds import FactKind
from ...protocol.terminology import Terminology
from .attributes import read_attributes
from .codes import _codings
from .dosage import dosage_lines
from .entries import Entry

# Types whose own reader may also read a resource of a declared kind (a metastasis that is
# also a CNS metastasis); the other types are read as the declared kind only.
ALSO_BUILT_IN = frozenset({"Condition", "Observation", "MedicationStatement",
                           "MedicationRequest", "MedicationAdministration", "Procedure"})
_START = ("onsetDateTime", "occurrenceDateTime", "performedDateTime", "effectiveDateTime",
          "recordedDate", "authoredOn", "collectedDateTime", "start", "issued")
_PERIODS = ("performedPeriod", "effectivePeriod", "onsetPeriod", "collectedPeriod")
_NESTED = ("collection",)  # Specimen.collection.collected[x] (FHIR R4)
_INDEX: dict[int, tuple[Terminology, dict]] = {}
_ALIASES: dict[int, tuple[Terminology, dict[str, str]]] = {}


def kind_index(term: Terminology) -> dict[tuple[str, str, str], list[FactKind]]:
    """(resource type, system, code) -> the declared kinds it names (once per terminology);
    systems in their canonical form (:func:`system_key`)."""
    known = _INDEX.get(id(term))
    if known is not None and known[0] is term:
        return known[1]
    index: dict[tuple[str, str, str], list[FactKind]] = {}
    for kind in term.fact_kinds.values():
        if kind.built_in is not None:
            continue
        for rtype in kind.fhir_types:
            for system, code in kind.codes:
                index.setdefault((rtype, system_key(term, system), code), []).append(kind)
    _INDEX[id(term)] = (term, index)
    return index


def system_key(term: Terminology, system: str) -> str:
    """A code system as one key whatever identifier the data gives it: the URI FHIR asks
    for, the HL7 OID (``urn:oid:2.16.840.1.113883.6.96``) or an older release's URI all name
    SNOMED CT (the ontology's ``ql:codeSystemUri``/``ql:codeSystemName``); case and a
    trailing slash do not matter. A system the ontology does not know is itself."""
    folded = system.strip().casefold().rstrip("/")
    aliases = _ALIASES.get(id(term))
    if aliases is None or aliases[0] is not term:
        table = {name.rstrip("/"): str(iri) for iri, (names, _prefixes)
                 in term.code_systems.items() for name in names}
        aliases = _ALIASES[id(term)] = (term, table)
    return aliases[1].get(folded, folded)


def _value_label(term: Terminology, kind: FactKind, system: str, code: str) -> str | None:
    """The label a coded FHIR value stands for, its system compared by :func:`system_key`."""
    key = system_key(term, system)
    return next((label for (sys, value), label in kind.values
                 if value == code and system_key(term, sys) == key), None)


def _by_text(term: Terminology, rtype: str, data: dict) -> list[tuple[FactKind, dict]]:
    """The kinds named by words of the code element's text (``ql:fhirCodeText``), for a
    resource no coding of theirs names: the text, or a coding's display, matches a pattern."""
    found = []
    for kind in term.fact_kinds.values():
        if kind.built_in is not None or not kind.text_patterns or rtype not in kind.fhir_types:
            continue
        for element in kind.code_elements:
            for concept in _concepts(data.get(element)):
                texts = [concept.get("text")] if isinstance(concept, dict) else []
                texts += [c.get("display") for c in _codings(concept)]
                said = next((t for t in texts if isinstance(t, str) and any(
                    re.search(p, t, re.IGNORECASE) for p in kind.text_patterns)), None)
                if said is not None:
                    found.append((kind, {"text": said}))
                    break
            else:
                continue
            break
    return found


def _concepts(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("concept"), dict):
        return [value["concept"]]  # a CodeableReference (R5 style)
    return [value]


def _day(value: object) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 4 else None


def _value(term: Terminology, kind: FactKind, data: dict) -> tuple[Any, str | None]:
    """The value of a resource as its kind reads it, and its unit."""
    if kind.value_type == "boolean":
        value = data.get("valueBoolean")
        return (value if isinstance(value, bool) else None), None
    if kind.value_type == "quantity":
        quantity = data.get("valueQuantity")
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float) \
                and not isinstance(quantity.get("value"), bool):
            return quantity["value"], quantity.get("code") or quantity.get("unit")
        return None, None
    if kind.value_type == "date":
        return _day(data.get("valueDateTime") or data.get("start")), None
    if kind.value_type == "coded":
        for coding in _codings(data.get("valueCodeableConcept")):
            label = _value_label(term, kind, str(coding.get("system", "")),
                                 str(coding.get("code", "")))
            if label is not None:
                return label, None
        return None, None
    return None, None


def _status(data: dict) -> str | None:
    clinical = _codings(data.get("clinicalStatus"))
    if clinical:
        return str(clinical[0].get("code", "")) or None
    status = data.get("status")
    return status if isinstance(status, str) else None


def declared_facts(term: Terminology, entry: Entry) -> list[dict]:
    """The facts (record form) a resource gives of the declared kinds (none: not one)."""
    index = kind_index(term)
    data = entry.data
    found: dict[str, tuple[FactKind, dict]] = {}
    elements = {e for k in term.fact_kinds.values() for e in k.code_elements}
    for element in sorted(elements):
        for concept in _concepts(data.get(element)):
            for coding in _codings(concept):
                key = (entry.type, system_key(term, str(coding.get("system", ""))),
                       str(coding.get("code", "")))
                for kind in index.get(key, ()):
                    if element in kind.code_elements:
                        found.setdefault(kind.key, (kind, coding))
    for kind, said in _by_text(term, entry.type, data):
        found.setdefault(kind.key, (kind, said))
    return [_fact(term, kind, coding, entry) for kind, coding in found.values()]


def member_facts(term: Terminology, kinds: list[str], member: Entry) -> list[dict]:
    """The facts a resource listed in a List of declared kinds gives as a member of each kind
    that declares no code or text of its own (the List is how such a kind is known: a
    Procedure in the list of CNS-directed therapies); its date, end and status are its own. A
    kind with codes is read by them only: a List's category may hold what the kind does not
    count (a non-autoimmune hypothyroidism in the list of autoimmune diseases)."""
    code = next(iter(_codings(member.data.get("code"))), {})
    return [_fact(term, kind, {"text": _shown(member, code)}, member) for key in kinds
            if (kind := term.fact_kinds.get(key)) is not None
            and not kind.codes and not kind.text_patterns]


def _shown(member: Entry, coding: dict) -> str:
    said = coding.get("display") or coding.get("code") or member.data.get("id") or ""
    return f"{member.type} {said}".strip()


def _fact(term: Terminology, kind: FactKind, coding: dict, entry: Entry) -> dict:
    """One fact of ``kind`` read from a resource: value, unit, dates and status."""
    data = entry.data
    value, unit = _value(term, kind, data)
    fact: dict[str, Any] = {"kind": kind.key, "code": coding["text"] if "text" in coding
                            else {"system": str(coding.get("system", "")),
                                  "code": str(coding.get("code", ""))}}
    if value is not None:
        fact["value"] = value
    if unit is not None:
        fact["unit"] = unit
    attributes = read_attributes(kind.attributes, data)
    if attributes:
        fact["attributes"] = attributes
    if kind.value_type == "dose":  # the dosage as written (pipeline/dosage.py reads it)
        fact["dosage"] = dosage_lines(entry.type, data)
    start = next((_day(data.get(k)) for k in _START if _day(data.get(k))), None)
    end = _day(data.get("abatementDateTime"))
    for part in [data] + [data[n] for n in _NESTED if isinstance(data.get(n), dict)]:
        start = start or next((_day(part.get(k)) for k in _START if _day(part.get(k))),
                              None)
        for period in _PERIODS:
            if isinstance(part.get(period), dict):
                start = start or _day(part[period].get("start"))
                end = end or _day(part[period].get("end"))
    if kind.value_type == "date" and entry.type == "Appointment":
        start = None  # a plan: its date is the value, never cut at the assessment date
    if start:
        fact["date"] = start
    if end:
        fact["end"] = end
    status = _status(data)
    if status:
        fact["status"] = status
    return fact


def complete_kinds(term: Terminology, data: dict) -> list[str]:
    """The declared kinds a List records complete (by its code), if any."""
    tokens = {(system_key(term, str(c.get("system", ""))), str(c.get("code", "")))
              for c in _codings(data.get("code"))}
    return sorted(k.key for k in term.fact_kinds.values()
                  if {(system_key(term, sys), code) for sys, code in k.list_codes} & tokens)
