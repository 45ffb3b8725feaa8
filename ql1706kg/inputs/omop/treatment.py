"""Treatment in an OMOP CDM: prior systemic therapy, haematologic support; and samples.

A drug exposure is read as its ingredients (relevance.py: the RxNorm ingredients the drug
reader takes for an anticancer or support drug, with their ATC groups), else, without a
hierarchy, as the drug concept's name, else (concept 0) its source value: the same reading as
a FHIR medication's or a record's drug name (:mod:`ql1706kg.protocol.drugs`).

* Anticancer drugs become prior regimens: the drugs an oncology-extension treatment regimen
  episode groups (``episode_event``) are one regimen, named by the regimen's concept (HemOnc);
  any other exposures of one ingredient are one regimen, from the first start to the last end.
* A support product (a haematologic drug, or a transfusion procedure) is one administration
  or a course from the exposure's start to its end: a waiting period compares its days with the
  screening labs.
* A specimen of a kind the ontology names (a tissue, a blood specimen) shows that sample can
  be provided, unless the site supplement answers otherwise.
* Intolerance is not in the CDM (``drug_exposure.stop_reason`` is free text, retired in v6):
  it comes from the site supplement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...protocol.drugs import drug_index
from ...protocol.namespaces import QL
from ..fhir.codes import lookup
from ..fhir.medications import _kind, drug_item
from .vocab import mapping

UNNAMED = "unnamed"  # an unmapped exposure whose drug the terminology cannot name


@dataclass
class Treatment:
    """What one person's rows say of treatment so far."""

    regimens: dict[int, dict] = field(default_factory=dict)  # episode id -> regimen
    grouped: dict[int, int] = field(default_factory=dict)  # drug_exposure id -> episode id
    courses: dict[object, dict] = field(default_factory=dict)  # group -> therapy so far


def match_drug(ctx, table: str, concept_id: int, cc: dict, source_value: str | None = None
               ) -> Any:
    """('therapy' | 'support', drug value) for an exposure the drug reader takes; an unmapped
    one (concept 0) whose drug it cannot class: ('unnamed', its source value)."""
    if concept_id and concept_id in ctx.relevance.drugs:
        return ctx.relevance.kinds[concept_id], ctx.relevance.drugs[concept_id]
    if not concept_id:
        if not (source_value or "").strip():
            return UNNAMED, "a drug of no concept and no source value"
        index = drug_index(ctx.term)
        item = drug_item(index, {"text": source_value})
        kind = _kind(index, item, False)
        # a name the terminology cannot class may be any drug: kept, as a record's is
        return (kind if kind in ("therapy", "support") else UNNAMED), item.value
    return None


def match_procedure(ctx, table: str, concept_id: int, cc: dict) -> Any:
    """('support', product) for a transfusion or other support procedure."""
    if lookup(ctx.term, cc, QL.HaematologicSupportProduct) is None:
        return None
    return "support", drug_item(drug_index(ctx.term), cc).value


def match_specimen(ctx, table: str, concept_id: int, cc: dict) -> Any:
    """The samples field a specimen of a kind the ontology names shows (``[specimens]``)."""
    hit = ctx.rules.term_of(cc)  # the ontology's closure knows its kinds' superclasses
    if hit is None or not ctx.term.is_a(hit, QL.SpecimenKind):
        return None
    for kind, field_name in mapping()["specimens"].items():
        if hit == QL[kind] or ctx.term.is_a(hit, QL[kind]):
            return field_name
    return None


class TreatmentReader:
    """The treatment part of :class:`~.assemble.PersonBuilder` (whose state it uses)."""

    ctx: Any
    rec: dict[str, Any]
    treatment: Treatment

    def read_episode_regimen(self, fact) -> None:
        concept = self.ctx.vocabulary.get(fact.concept_id)
        name = (concept.name if concept is not None else None) or fact.source_value
        self.treatment.regimens[fact.row_id] = {
            "name": name or f"regimen {len(self.treatment.regimens) + 1}",
            "start": fact.start_date, "end": fact.end_date}

    def read_episode_event(self, fact) -> None:
        if fact.link_field == mapping()["event_fields"]["drug_exposure"]:
            self.treatment.grouped[fact.row_id] = fact.link_id

    def read_therapy(self, fact, found) -> None:
        kind, value = found
        if kind == "support":
            return self.read_support(fact, found)
        if kind == UNNAMED:  # it may be a support product as well as an anticancer drug
            self.read_support(fact, found)
        episode = self.treatment.grouped.get(fact.row_id)
        regimen = self.treatment.regimens.get(episode) if episode is not None else None
        key: object = ("regimen", episode) if regimen is not None else ("drug", str(value))
        course = self.treatment.courses.get(key)
        if course is None:
            course = self.treatment.courses[key] = {
                "name": regimen["name"] if regimen else _name(value), "drugs": [],
                "start": regimen["start"] if regimen else None,
                "end": regimen["end"] if regimen else None, "episode": regimen is not None}
        if value not in course["drugs"]:
            course["drugs"].append(value)
        if not course["episode"]:
            course["start"] = _earliest(course["start"], fact.start_date)
            course["end"] = _latest(course["end"], fact.end_date or fact.start_date)
        elif course["start"] is None:
            course["start"] = fact.start_date

    def read_support(self, fact, found) -> None:
        """A support product: one administration on a day (a transfusion procedure without an
        end, an exposure that starts and ends on one day), else a course given every day from
        its start to its end (``supportive_care[].start/end``: a waiting period compares its
        days with the screening labs)."""
        item: dict[str, Any] = {"product": found[1]}
        first, last = fact.start_date, fact.end_date
        if first is not None and (last is None or last <= first):
            item["date"] = first  # drug_exposure_end_date is required: None on a procedure
        elif first is not None:
            item["start"], item["end"] = first, last
        self.rec.setdefault("supportive_care", []).append(item)

    def read_specimen(self, fact, field_name: str) -> None:
        """A specimen on record: that sample can be provided (unless the supplement says
        otherwise: it wins, ``[supplement] wins``)."""
        self.rec.setdefault("samples", {})[field_name] = True

    def settle_treatment(self) -> None:
        therapies = []
        for course in self.treatment.courses.values():
            therapy: dict[str, Any] = {"name": course["name"], "drugs": course["drugs"]}
            for key in ("start", "end"):
                if course[key] is not None:
                    therapy[key] = course[key]
            therapies.append(therapy)
        if therapies:
            self.rec.setdefault("prior_therapies", []).extend(
                sorted(therapies, key=lambda t: (t.get("start") or "", t["name"])))


def _name(value: dict | str) -> str:
    if isinstance(value, dict):
        return str(value.get("display") or value.get("code"))
    return str(value)


def _earliest(a: str | None, b: str | None) -> str | None:
    if not (a or b):
        return None
    return a if b is None else b if a is None else min(a, b)  # (no generator: a row each)


def _latest(a: str | None, b: str | None) -> str | None:
    if not (a or b):
        return None
    return a if b is None else b if a is None else max(a, b)
