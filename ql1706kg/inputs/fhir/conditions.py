"""Condition resources of one patient: the cancers (the diagnosis is chosen among them),
metastases, and the conditions that change a limit.

A patient's record may hold several cancers: an old carcinoma in remission beside the sarcoma,
the same Condition twice (a file and a bundle's copy). The diagnosis is the current cancer:
clinical status first (active, recurrence or relapse, then remission, then inactive or
resolved; entered-in-error and refuted are never read), then the most recent, and, between
cancers equally current, a protocol histology or a sarcoma before another cancer. Two current
primary cancers of different histologies are both kept: the diagnosis and, in
``diagnosis.other_active_histologies``, the other, so the histology criterion is unknown and
names both.

A histology comes from mCODE's morphology extension (SNOMED CT or ICD-O-3), a histology
Observation about the Condition, or the Condition's code, the most specific first: a code that
names a histology (a carcinoma, a leukaemia, a leiomyosarcoma) decides the histology criterion;
one that names a site only ("breast cancer") or nothing ("malignant neoplastic disease") leaves
it unknown. A metastasis is a Condition whose code names one (with its site, when the code holds
it), or that mCODE profiles as a secondary cancer. The reading of each resource is mixed into
:class:`~.builder.RecordBuilder` as :class:`ConditionReader`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rdflib import URIRef

from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from .codes import _codes, _codings, _project_code, _text, coded, lookup
from .condition_facts import ConditionFactsReader
from .disease_observations import (
    DiseaseFact,
    DiseaseObservationReader,
    as_coded,
    find_disease_term,
    is_tnm_staging,
    metastasis_site,
    stage_iv,
    system_key,
)
from .entries import Entry
from .semantics import Reading
from .timing import When, record_date
from .values import _date, reading_rules

MCODE_MORPHOLOGY = ("http://hl7.org/fhir/us/mcode/StructureDefinition/"
                    "mcode-histology-morphology-behavior")
_STATUS_RANK = {"active": 0, "recurrence": 0, "relapse": 0, "remission": 1, "inactive": 2,
                "resolved": 2}
_UNCONFIRMED = ("unconfirmed", "provisional", "differential")


@dataclass
class Histology:
    """A cancer's histology: its record form, its term (None: not classified) and how relevant
    it is to this trial (0 a protocol histology ... 4 a cancer that is not a sarcoma)."""

    record: dict | str | None
    term: URIRef | None
    relevance: int


@dataclass
class Cancer:
    """A cancer on record (a Condition, or a histology Observation naming no Condition)."""

    key: str
    status: int  # 0 current, 1 in remission, 2 inactive or resolved
    when: str | None  # as written (may be partial), for recency
    date: str | None  # a full date for the record
    concepts: list = field(default_factory=list)  # histology sources, most specific first
    unconfirmed: str | None = None
    order: int = 0
    # set by cancers_with_histology before any cancer is read
    histology: Histology = None  # type: ignore[assignment]


@dataclass
class DiseaseState:
    """What one patient's resources say of the cancers so far."""

    cancers: dict[str, Cancer] = field(default_factory=dict)
    facts: list[DiseaseFact] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # Condition key -> where first read
    staged: dict | None = None  # the metastasis read from TNM M1 / stage IV, if any


class ConditionReader(DiseaseObservationReader, ConditionFactsReader):
    """The Condition part of :class:`~.builder.RecordBuilder` (whose state it uses)."""

    term: Terminology
    rec: dict[str, Any]
    diagnosis: dict[str, Any]
    reading: Reading
    set_aside: Callable[..., tuple[bool, str]]
    aside_fact: Callable[..., None]

    def disease_state(self) -> DiseaseState:
        state = self.__dict__.get("_disease_state")
        if state is None:
            state = self.__dict__["_disease_state"] = DiseaseState()
        return state

    def take_Condition(self, entry: Entry) -> tuple[bool, str]:
        data, state = entry.data, self.disease_state()
        key = entry.key if data.get("id") else f"Condition#{len(state.seen)}"
        if key in state.seen:
            return False, f"the same Condition as in {state.seen[key]}: read once"
        status = self.reading.status
        if status.category in ("removed", "not-given", "retired"):
            return False, status.said
        state.seen[key] = entry.source
        span = self.reading.span
        when = (span.start if span is not None else None) or self.reading.recorded
        profiles = " ".join(p for p in (data.get("meta") or {}).get("profile") or []
                            if isinstance(p, str)).lower()
        code = data.get("code") or {}
        is_metastasis, site = metastasis_site(self.term, code, QL.MetastasisCode)
        if is_metastasis or "secondary-cancer" in profiles or _project_code(code) == "metastasis":
            return self.add_metastasis(entry, when, site)
        morphology = _morphology(data)
        concepts = [c for c in (morphology, code) if isinstance(c, dict)]
        histology = resolve_histology(self.term, concepts)
        if (histology.term is not None or morphology is not None or "primary-cancer" in profiles
                or any(system_key(c.get("system")) == str(QL.icdO3Morphology)
                       for concept in concepts for c in _codings(concept))):
            return self.add_cancer(key, data, concepts, when, histology)
        if reading_rules().term_of(code, QL.PregnancyStatusValue) == QL.Pregnant:
            return self.add_pregnancy(entry, when)
        if lookup(self.term, code, QL.ClinicalCondition) is not None:
            if self.uncertain_here(entry):
                return self.set_aside(entry, "Condition.verificationStatus",
                                      f"{status.said}: not a confirmed condition")
            item: Any = coded(self.term, code, QL.ClinicalCondition)
            resolved = self.resolved_on()
            if record_date(when) or resolved is not None:
                item = {"condition": item, **({"date": record_date(when)} if record_date(when)
                                              else {}),
                        **({"resolved": resolved} if resolved is not None else {})}
            self.rec.setdefault("conditions", []).append(item)
            return True, "a condition that changes a limit" + (
                " (over)" if resolved is not None else "")
        return False, "not a condition the protocol uses"

    def add_cancer(self, key: str, data: dict, concepts: list, when: When | None,
                   histology: Histology) -> tuple[bool, str]:
        state = self.disease_state()
        status = _codes(data.get("clinicalStatus"))
        rank = min((_STATUS_RANK[s] for s in status if s in _STATUS_RANK), default=None)
        if rank is None:  # no clinical status: an abatement says it is over, else maybe current
            rank = 2 if self.reading.abated else 0
        said = self.reading.status
        unconfirmed = next((s for s in _UNCONFIRMED if s in _codes(data.get("verificationStatus"))),
                           None)
        if said.category == "resolved":
            rank = max(rank, 2)
        elif said.category == "uncertain" and unconfirmed is None:
            unconfirmed = said.said
        state.cancers[key] = Cancer(
            key, rank, when.first.isoformat() if when else None, record_date(when), concepts,
            unconfirmed, len(state.cancers))
        for stage in data.get("stage") or []:
            if isinstance(stage, dict) and is_tnm_staging(stage.get("summary"), stage.get("type")) \
                    and stage_iv(stage.get("summary")):
                state.facts.append(DiseaseFact(key, "IV", state.cancers[key].when,
                                               order=len(state.facts)))
        self.settle_diagnosis()
        words = "/".join(sorted(status)) or "no clinical status"
        return True, (f"a cancer ({words}; {_written(histology.record)}), read for the "
                      "diagnosis: the current cancer is the diagnosis")

    def settle_diagnosis(self) -> None:
        """Choose the diagnosis among the cancers read so far (called after each one, so the
        record is right whatever the order of the resources)."""
        state = self.disease_state()
        cancers = self.cancers_with_histology(state)
        self.diagnosis.clear()
        main = choose(cancers)
        if main is not None:
            if main.histology.record is not None:
                self.diagnosis["histology"] = main.histology.record
            if main.date:
                self.diagnosis["date"] = main.date
            others = [c.histology.record for c in other_current(self.term, main, cancers)]
            if others:
                self.diagnosis["other_active_histologies"] = others
        self.settle_staging(state, main, len(cancers))

    def cancers_with_histology(self, state: DiseaseState) -> list[Cancer]:
        """The cancers, each with the histology Observations about it; an Observation that
        names no Condition is about the only cancer, or is one itself when there is none."""
        cancers = {k: Cancer(c.key, c.status, c.when, c.date, list(c.concepts), c.unconfirmed,
                             c.order) for k, c in state.cancers.items()}
        loose = []
        for fact in sorted((f for f in state.facts if f.kind == "histology"),
                           key=lambda f: _recency(f.when)):
            if fact.target in cancers:
                cancers[fact.target].concepts.insert(-1 if len(
                    cancers[fact.target].concepts) else 0, fact.concept)
            elif fact.target is not None or not state.cancers:
                key = fact.target or f"Observation#{fact.order}"
                cancer = cancers.setdefault(key, Cancer(
                    key, 0, fact.when, _iso(fact.when), [], None, 1000 + fact.order))
                cancer.concepts.append(fact.concept)
            else:
                loose.append(fact)
        if len(state.cancers) == 1 and loose:
            only = cancers[next(iter(state.cancers))]
            for fact in loose:
                only.concepts.insert(-1 if only.concepts else 0, fact.concept)
        for cancer in cancers.values():
            cancer.histology = resolve_histology(self.term, cancer.concepts, cancer.unconfirmed)
        return list(cancers.values())

    def settle_staging(self, state: DiseaseState, main: Cancer | None, count: int) -> None:
        """TNM M1 or stage IV about the diagnosis (or naming no Condition, when there is at most
        one cancer) is a metastasis of unspecified site, dated by the earliest of them."""
        metastases = self.rec.get("metastases")
        if state.staged is not None and metastases is not None:
            kept = [m for m in metastases if m is not state.staged]
            if kept:
                self.rec["metastases"] = kept
            else:  # an empty list would say "recorded: none" (only a List may say that)
                del self.rec["metastases"]
        state.staged = None
        facts = [f for f in state.facts if f.kind in ("M1", "IV") and (
            (main is not None and f.target == main.key) or (f.target is None and count <= 1))]
        if not facts:
            return
        dated = sorted(d for f in facts if (d := _iso(f.when)))
        words = " or ".join(sorted({"TNM M1" if f.kind == "M1" else "stage IV" for f in facts}))
        state.staged = {"site": f"unspecified site ({words})"}
        if dated:
            state.staged["date"] = dated[0]
        self.rec.setdefault("metastases", []).append(state.staged)


def resolve_histology(term: Terminology, concepts: list, unconfirmed: str | None = None
                      ) -> Histology:
    """The histology the concepts name, the most specific first: a code that decides the
    histology criterion (a protocol histology or another one) before one that does not; codes
    that contradict each other (a carcinoma and a leiomyosarcoma) are read as no histology,
    named as such."""
    found: list[tuple[URIRef, dict | str]] = []
    first = None
    for concept in concepts:
        codings = [c for c in _codings(concept) if c.get("code")]
        hits: list[tuple[URIRef, dict | str]] = [(hit, as_coded(c)) for c in codings
                if (hit := find_disease_term(term, c.get("system", ""), c["code"], QL.Neoplasm))]
        if not hits:
            for name in [c.get("display") for c in _codings(concept)] + [_text(concept)]:
                hit = term.find(str(name), QL.Neoplasm) if name else None
                if hit is not None:
                    hits = [(hit, str(name))]
                    break
        found += hits
        if first is None and (codings or _text(concept)):
            first = as_coded(codings[0]) if codings else _text(concept)
    decisive = [f for f in found if _decides(term, f[0])]
    chosen: tuple[URIRef | None, dict | str | None]
    if decisive:
        chosen = decisive[0]
        for other, other_record in decisive[1:]:
            if other == chosen[0] or term.is_a(chosen[0], other):
                continue
            if term.is_a(other, chosen[0]):
                chosen = (other, other_record)
            elif 0 in (_relevance(term, other), _relevance(term, chosen[0])):
                return Histology("conflicting histology codes: " + "; ".join(
                    _written(r) for _, r in decisive), None, 2)
    else:
        chosen = found[0] if found else (None, first)
    hit, record = chosen
    if unconfirmed and record is not None:
        name = term.label(hit) if hit is not None else _written(record)
        return Histology(f"{name} (not confirmed: verification status {unconfirmed})", hit,
                         max(_relevance(term, hit), 2))
    return Histology(record, hit, _relevance(term, hit))


def choose(cancers: list[Cancer]) -> Cancer | None:
    """The diagnosis: the most current cancer; between cancers that are current, the most
    relevant histology first; then the most recent."""
    ranked = sorted(cancers, key=lambda c: (
        c.status, c.histology.relevance if c.status == 0 else 0, _recency(c.when),
        c.histology.relevance, c.order))
    return ranked[0] if ranked else None


def other_current(term: Terminology, main: Cancer, cancers: list[Cancer]) -> list[Cancer]:
    """The other current cancers whose histology differs from the diagnosis's (one each)."""
    if main.status != 0:
        return []
    out: list[Cancer] = []
    for cancer in cancers:
        if cancer is main or cancer.status != 0:
            continue
        if not _same(term, cancer, main) and not any(_same(term, cancer, o) for o in out):
            out.append(cancer)
    return sorted(out, key=lambda c: (c.histology.relevance, _recency(c.when), c.order))


def _same(term: Terminology, a: Cancer, b: Cancer) -> bool:
    """Whether two cancers may be one: the same histology, or one a kind of the other."""
    x, y = a.histology.term, b.histology.term
    if x is not None and y is not None:
        return x == y or term.is_a(x, y) or term.is_a(y, x)
    return x is None and y is None and _written(a.histology.record) == _written(
        b.histology.record)


def _decides(term: Terminology, hit: URIRef) -> bool:
    return term.is_a(hit, QL.ProtocolHistology) or term.is_a(hit, QL.NonProtocolHistology)


def _relevance(term: Terminology, hit: URIRef | None) -> int:
    """0 a protocol histology, 1 a sarcoma not further classified, 2 a cancer of unknown
    histology, 3 another sarcoma, 4 a cancer that is not a sarcoma."""
    if hit is None:
        return 2
    if term.is_a(hit, QL.ProtocolHistology):
        return 0
    sarcoma = term.is_a(hit, QL.Sarcoma)
    if term.is_a(hit, QL.NonProtocolHistology):
        return 3 if sarcoma else 4
    return 1 if sarcoma else 2


def _recency(when: str | None) -> int:
    """Sorts the most recent first; an undated cancer last."""
    digits = re.sub(r"\D", "", when or "")[:8]
    return -int(digits.ljust(8, "0")) if digits else 1


def _iso(when: str | None) -> str | None:
    date = _date(when)
    return date.isoformat() if date else None


def _written(record: dict | str | None) -> str:
    if isinstance(record, dict):
        shown = f"{record.get('system')} {record.get('code')}"
        return shown + (f" ({record['display']})" if record.get("display") else "")
    return record or "no histology"


def _morphology(condition: dict) -> dict | None:
    for extension in condition.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == MCODE_MORPHOLOGY:
            value = extension.get("valueCodeableConcept")
            return value if isinstance(value, dict) else None
    return None
