"""The cancer itself in FHIR: disease codes kept as data, and the Observations about the cancer.

Histology, metastasis and staging codes outside the shared code reference are kept in
``ontology/terminology-histology.ttl`` and ``ontology/terminology-sites.ttl`` as FHIR codings
(``ql:fhirCoding`` tokens ``system|code``, each with its public source), with the site a
metastasis code names (``ql:metastasisSite``). :func:`disease_codes` reads them (once, then
from the on-disk cache); :func:`find_disease_term` finds a term by a code of either kind, for
the FHIR reader and for the lift of a hand-written record alike, so a JSON twin of a FHIR
record reads the same.

:class:`DiseaseObservationReader` (mixed into the record builder through
:class:`~.conditions.ConditionReader`) reads the Observations about the cancer: its histology
(mCODE HistologicBehaviorAndType, LOINC 31206-6 / 59847-4), the TNM distant metastasis category
(M1 is metastatic; M0 is a dated absence, never proof of absence later), the TNM stage group
(stage IV is metastatic) and mCODE's history of metastatic cancer (a metastasis with its site;
valueBoolean false is a dated absence). Which cancer they are about is settled with the
Conditions, in :mod:`.conditions`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rdflib import Graph, URIRef

from ...protocol.namespaces import QL
from ...protocol.ontology_tables import cached_table
from ...protocol.resources import on_protocol_change, ontology_files, protocol_cache
from ...protocol.terminology import CODE_SYSTEMS, Terminology, terminology
from .codes import SYSTEMS, _codings, _concept_text
from .entries import Entry
from .pool import Pool
from .values import _date

_DISEASE_FILES = ("terminology-histology.ttl", "terminology-sites.ttl")
ICD10 = "icd-10"
_ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10",
                            "icd-10-cm", "icd-10", "icd10", "icd10cm"})
ICDO3_KEY = str(QL.icdO3Morphology)
# TNM notation systems: the code itself is written in TNM notation (M1, cM1, IVA).
TNM_SYSTEMS = frozenset({"https://www.uicc.org/resources/tnm", "http://cancerstaging.org"})
_M_CATEGORY = re.compile(r"(?<![A-Za-z0-9])(?:y?[cpra]|yp|yc)?M(0|1[a-d]?|X)(?![A-Za-z0-9])")
_STAGE = re.compile(r"(?i)\b(?:stage|stadium)\s+(IV|0|I{1,3})(?:[A-C]\d?)?\b")
_STAGE_CODE = re.compile(r"^(?:[cpy]|yp)?(IV|0|I{1,3})[A-C]?\d?$")
_STAGING_WORDS = re.compile(r"(?i)american joint committee on cancer|\bajcc\b|\buicc\b|\btnm\b")

PROFILE_HISTOLOGY = "mcode-histologic-behavior-and-type"
PROFILE_M_CATEGORY = "mcode-tnm-distant-metastases-category"
PROFILE_STAGE_GROUP = "mcode-tnm-stage-group"
PROFILE_HISTORY = "mcode-history-of-metastatic-cancer"
RELATED_CONDITION = ("http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-related-condition",
                     "http://hl7.org/fhir/StructureDefinition/condition-related")


# -- the disease codes kept as data ------------------------------------------------------------

@dataclass(frozen=True)
class DiseaseCodes:
    """The disease codings of the ontology by (system key, code), and metastasis sites."""

    codings: dict[tuple[str, str], URIRef] = field(default_factory=dict)
    sites: dict[URIRef, URIRef] = field(default_factory=dict)


@protocol_cache
def disease_codes() -> DiseaseCodes:
    """The disease codings, read once a protocol from two Turtle files (~0.1 s), then from
    the on-disk cache (:mod:`~ql1706kg.protocol.ontology_tables`)."""
    return cached_table("disease_codes", _read_disease_codes, DiseaseCodes)


def _read_disease_codes() -> DiseaseCodes:
    graph = Graph()
    for path in ontology_files():
        if path.name in _DISEASE_FILES:
            graph.parse(path, format="turtle")
    codings: dict[tuple[str, str], URIRef] = {}
    for term, token in graph.subject_objects(QL.fhirCoding):
        system, _, code = str(token).rpartition("|")
        if isinstance(term, URIRef):
            codings.setdefault((system_key(system), code.strip()), term)
    sites = {s: o for s, o in graph.subject_objects(QL.metastasisSite)
             if isinstance(s, URIRef) and isinstance(o, URIRef)}
    return DiseaseCodes(codings, sites)


def system_key(system: object) -> str:
    """One name for a code system however it is written: a FHIR URI, 'SNOMED-CT', 'sct'...;
    ICD-10 and every national modification of it (ontology ``ql:ICD10``) are one. Remembered
    per spelling for the current protocol (every coding of every resource asks)."""
    if not isinstance(system, str):
        return _system_key(system)
    found = _SYSTEM_KEYS.get(system)
    if found is None:
        if len(_SYSTEM_KEYS) >= 1 << 12:
            _SYSTEM_KEYS.clear()
        found = _SYSTEM_KEYS[system] = _system_key(system)
    return found


_SYSTEM_KEYS: dict[str, str] = {}
on_protocol_change(_SYSTEM_KEYS.clear)  # the ICD-10 systems are the protocol's


def _system_key(system: object) -> str:
    text = str(system or "").strip()
    named = SYSTEMS.get(text, text)
    folded = named.casefold()
    names, prefixes = terminology().code_systems.get(QL.ICD10, (frozenset(), ()))
    if folded in _ICD10_SYSTEMS or folded in names or text.casefold() in names or \
            any(text.casefold().startswith(prefix) for prefix in prefixes):
        return ICD10
    prop = CODE_SYSTEMS.get(folded)
    return str(prop) if prop is not None else folded


def primary_behaviour(code: str) -> str:
    """An ICD-O-3 morphology of a metastatic site (/6) or uncertain site (/9) is the same
    histology as the primary (/3): 8890/6 is a leiomyosarcoma."""
    code = code.strip()
    if len(code) == 6 and code[4] == "/" and code[5] in "69" and code[:4].isdigit():
        return code[:5] + "3"
    return code


def find_disease_term(term: Terminology, system: object, code: object,
                      within: URIRef | None = None) -> URIRef | None:
    """The term a code stands for: by the shared code reference, else by the ontology's FHIR
    codings (an ICD-10 code also by its parent category); ``within`` restricts the terms."""
    key, code = system_key(system), str(code or "").strip()
    if not code:
        return None
    if key == ICDO3_KEY:
        code = primary_behaviour(code)
    if key == ICD10:
        code = icd10_stem(code)
    hit = None
    if key != ICD10:
        hit = term.find_code(SYSTEMS.get(str(system), str(system)), code, within)
    if hit is None:
        codings = disease_codes().codings
        for candidate in (code, *(_icd10_parents(code) if key == ICD10 else ())):
            hit = codings.get((key, candidate))
            if hit is not None:
                break
    if hit is not None and (within is None or hit == within or term.is_a(hit, within)):
        return hit
    return None


_ICD10_MARKS = re.compile(r"[\s+*!†‡]+[A-Z]?$|[+*!†‡]+")
_ICD10_BARE = re.compile(r"^([A-Z]\d\d)(\w+)$")


def icd10_stem(code: str) -> str:
    """A code of any ICD-10 modification as its ICD-10 form: markers of dual coding (+ * !
    † ‡) and a certainty letter after a space (ICD-10-GM: 'C50.9 G') dropped, a code written
    without its period given one ('C509' -> 'C50.9')."""
    code = _ICD10_MARKS.sub("", code.strip().upper()).strip()
    bare = _ICD10_BARE.match(code)
    return f"{bare.group(1)}.{bare.group(2)}" if bare else code


def _icd10_parents(code: str) -> list[str]:
    """C78.01 -> C78.0, C78: an ICD-10 code is read as its category when only that is known."""
    out = []
    while "." in code:
        code = code[:-1].rstrip(".")
        out.append(code)
    return out


def concept_term(term: Terminology, concept: object, within: URIRef
                 ) -> tuple[URIRef | None, dict | str | None]:
    """The term of a CodeableConcept (by any coding, then by a display or the text) and the
    record form of what named it (a coded value, or the name)."""
    codings = [c for c in _codings(concept) if c.get("code")]
    hits = [(hit, coding) for coding in codings
            if (hit := find_disease_term(term, coding.get("system", ""), coding["code"],
                                         within)) is not None]
    if hits:
        hit, coding = most_specific(term, hits)
        return hit, as_coded(coding)
    names = [str(c["display"]) for c in _codings(concept) if c.get("display")]
    names += [_concept_text(concept) or ""]
    for name in names:
        hit = term.find(name, within) if name else None
        if hit is not None:
            return hit, name
    if codings:
        return None, as_coded(codings[0])
    return None, next((n for n in names if n), None)


def most_specific(term: Terminology, hits: Sequence[tuple[URIRef, object]]) -> tuple:
    """Of the terms several codings name, the one that says most: a histology over a site
    ('C50.9' and 'infiltrating duct carcinoma'), a sub-type over its parent; else the first."""
    best = hits[0]
    for hit, found in hits[1:]:
        if hit != best[0] and (term.is_a(hit, best[0]) or (
                _histology(term, hit) and not _histology(term, best[0]))):
            best = (hit, found)
    return best


def _histology(term: Terminology, hit: URIRef) -> bool:
    return term.is_a(hit, QL.ProtocolHistology) or term.is_a(hit, QL.NonProtocolHistology)


def as_coded(coding: dict) -> dict:
    """A coding in the record's form: the system by its project name where it has one."""
    system = str(coding.get("system", ""))
    out = {"system": SYSTEMS.get(system, _ICD10_NAMES.get(system, system)),
           "code": str(coding["code"])}
    if coding.get("display"):
        out["display"] = str(coding["display"])
    return out


_ICD10_NAMES = {"http://hl7.org/fhir/sid/icd-10-cm": "ICD-10-CM",
                "http://hl7.org/fhir/sid/icd-10": "ICD-10",
                "http://fhir.de/CodeSystem/bfarm/icd-10-gm": "ICD-10-GM",
                "http://fhir.de/CodeSystem/dimdi/icd-10-gm": "ICD-10-GM",
                "http://hl7.org/fhir/sid/icd-10-am": "ICD-10-AM"}


def metastasis_site(term: Terminology, concept: object, within: URIRef
                    ) -> tuple[bool, str | None]:
    """Whether a concept is a metastasis code (of ``within``: MetastasisCode or
    MetastasisHistoryCode), and the label of the site it names (None: unspecified)."""
    for coding in _codings(concept):
        hit = find_disease_term(term, coding.get("system", ""), coding.get("code"), within)
        if hit is not None:
            site = disease_codes().sites.get(hit)
            return True, term.label(site) if site is not None else None
    return False, None


# -- TNM notation --------------------------------------------------------------------------------

def m_category(concept: object) -> str | None:
    """M0 or M1 from a value in TNM notation (a UICC/AJCC code, or a display or text such as
    'American Joint Committee on Cancer cM1'); None when absent, MX or contradictory."""
    found = set()
    for coding in _codings(concept):
        if coding.get("system") in TNM_SYSTEMS and coding.get("code"):
            found |= {m.group(1) for m in _M_CATEGORY.finditer(str(coding["code"]))}
        if coding.get("display"):
            found |= {m.group(1) for m in _M_CATEGORY.finditer(str(coding["display"]))}
    if not found and _concept_text(concept):
        found = {m.group(1) for m in _M_CATEGORY.finditer(str(_concept_text(concept)))}
    kinds = {"M0" if f == "0" else "M1" if f.startswith("1") else "MX" for f in found}
    return kinds.pop() if len(kinds) == 1 and kinds != {"MX"} else None


def stage_iv(concept: object) -> bool | None:
    """Whether a TNM stage group value is stage IV (IVA-C): True, False (another group), or
    None when it cannot be read."""
    groups = set()
    for coding in _codings(concept):
        code = str(coding.get("code") or "")
        if coding.get("system") in TNM_SYSTEMS and (match := _STAGE_CODE.match(code)):
            groups.add(match.group(1))
        if coding.get("display"):
            groups |= {m.group(1).upper() for m in _STAGE.finditer(str(coding["display"]))}
    if not groups and _concept_text(concept):
        groups = {m.group(1).upper() for m in _STAGE.finditer(str(_concept_text(concept)))}
    if len(groups) != 1:
        return None
    return groups.pop() == "IV"


def is_tnm_staging(*concepts: object) -> bool:
    """Whether a stage is AJCC/UICC TNM staging (its codes or words say so)."""
    for concept in concepts:
        for coding in _codings(concept):
            if coding.get("system") in TNM_SYSTEMS or _STAGING_WORDS.search(
                    str(coding.get("display") or "")):
                return True
        if _STAGING_WORDS.search(_concept_text(concept) or ""):
            return True
    return False


# -- the Observations about the cancer -------------------------------------------------------------

@dataclass
class DiseaseFact:
    """A fact about a cancer from an Observation or a Condition's stage: which Condition it is
    about (its key, None when unlinked), what it says, and when."""

    target: str | None
    kind: str  # "histology", "M1", "IV"
    when: str | None  # the date as written (may be partial)
    concept: Any = None
    order: int = 0


def linked_condition(pool: Pool, entry: Entry) -> str | None:
    """The Condition an Observation is about (``focus``, mCODE's related condition), by key."""
    data = entry.data
    refs = [f.get("reference") for f in data.get("focus") or [] if isinstance(f, dict)]
    refs += [(e.get("valueReference") or {}).get("reference")
             for e in data.get("extension") or []
             if isinstance(e, dict) and e.get("url") in RELATED_CONDITION]
    for ref in refs:
        if not isinstance(ref, str) or not ref:
            continue
        hit = pool.resolve_entry(ref, entry)
        if hit is not None and hit.type == "Condition":
            return hit.key
        tail = "/".join(ref.split("/")[-2:])
        if tail.startswith("Condition/"):
            return tail
    return None


def _profiles(data: dict) -> str:
    profiles = (data.get("meta") or {}).get("profile") or []
    return " ".join(p for p in profiles if isinstance(p, str)).casefold()


def _written_date(data: dict) -> str | None:
    value = (data.get("effectiveDateTime") or (data.get("effectivePeriod") or {}).get("start")
             or data.get("effectiveInstant"))
    return str(value)[:10] if isinstance(value, str) and value else None


class DiseaseObservationReader:
    """The Observations about the cancer, for :class:`~.builder.RecordBuilder` (whose state it
    uses); :meth:`settle_diagnosis` (in :mod:`.conditions`) decides which cancer they are about."""

    pool: Pool
    term: Terminology
    rec: dict[str, Any]

    def take_disease_observation(self, entry: Entry) -> tuple[bool, str] | None:
        """Read an Observation about the cancer; None when it is not one (a test result...)."""
        data = entry.data
        code, profiles = data.get("code"), _profiles(data)
        kind, _ = concept_term(self.term, code, QL.DiseaseObservationKind)
        history, site = metastasis_site(self.term, code, QL.MetastasisHistoryCode)
        if history or PROFILE_HISTORY in profiles:
            return self.history_of_metastasis(entry, site)
        if kind == QL.HistologyObservation or PROFILE_HISTOLOGY in profiles:
            return self.histology_observation(entry)
        if kind == QL.TNMDistantMetastasisCategory or PROFILE_M_CATEGORY in profiles:
            return self.m_category_observation(entry)
        if kind == QL.TNMStageGroup or PROFILE_STAGE_GROUP in profiles:
            return self.stage_group_observation(entry)
        return None

    def add_fact(self, fact: DiseaseFact) -> None:
        state = self.disease_state()
        fact.order = len(state.facts)
        state.facts.append(fact)
        self.settle_diagnosis()

    def histology_observation(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        if "dataAbsentReason" in data or not isinstance(data.get("valueCodeableConcept"), dict):
            return False, "a histology observation without a coded value"
        target = linked_condition(self.pool, entry)
        self.add_fact(DiseaseFact(target, "histology", _written_date(data),
                                  data["valueCodeableConcept"]))
        about = f"of {target}" if target else "of the diagnosis (no Condition named)"
        return True, f"a histology observation {about}"

    def m_category_observation(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        category = None if "dataAbsentReason" in data else m_category(
            data.get("valueCodeableConcept"))
        when = _written_date(data)
        if category == "M1":
            self.add_fact(DiseaseFact(linked_condition(self.pool, entry), "M1", when))
            return True, "TNM distant metastasis category M1: metastatic"
        if category == "M0":
            return False, (f"TNM M0 on {when or 'an unstated date'}: no distant metastasis on "
                           "that date only, not proof of absence later (the metastases are "
                           "not recorded as none)")
        return False, "a TNM M category without a readable M0 or M1 value (absent or MX)"

    def stage_group_observation(self, entry: Entry) -> tuple[bool, str]:
        data = entry.data
        value = data.get("valueCodeableConcept")
        is_iv = None if "dataAbsentReason" in data else stage_iv(value)
        if is_iv:
            self.add_fact(DiseaseFact(linked_condition(self.pool, entry), "IV",
                                      _written_date(data)))
            return True, "TNM stage group IV: metastatic"
        if is_iv is False:
            return False, "a TNM stage group other than IV: says nothing of distant metastasis"
        return False, "a TNM stage group whose value cannot be read"

    def history_of_metastasis(self, entry: Entry, site: str | None) -> tuple[bool, str]:
        data = entry.data
        when = _date(_written_date(data))
        if data.get("valueBoolean") is False:
            return False, (f"no history of metastatic cancer as of {when or 'an unstated date'}"
                           ": a dated absence, not proof of absence later (the metastases are "
                           "not recorded as none)")
        if any(k.startswith("value") and k != "valueBoolean" for k in data):
            return False, "a history of metastatic cancer whose value is not a boolean"
        item: dict[str, Any] = {"site": site or "unspecified site (history of metastatic cancer)"}
        if when:
            item["date"] = when.isoformat()
        self.rec.setdefault("metastases", []).append(item)
        return True, f"a history of metastatic cancer: {item['site']}"

    # provided by ConditionReader, which holds what is known of the cancers
    def disease_state(self) -> Any:
        raise NotImplementedError

    def settle_diagnosis(self) -> None:
        raise NotImplementedError
