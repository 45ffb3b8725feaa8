"""The cancer in an OMOP CDM: conditions and disease episodes, metastases and TNM staging.

Read with the FHIR reader's own code readings (:mod:`ql1706kg.inputs.fhir.conditions`,
:mod:`~ql1706kg.inputs.fhir.disease_observations`), so the same codes mean the same thing:

* a cancer is a condition (or an oncology-extension disease episode) whose concept names a
  histology (ICD-O-3, SNOMED CT, NCIt...) or is of a whole cancer vocabulary (any ICD-O-3
  pair). Repeated rows of one concept are one cancer, diagnosed on its first start date; it is
  current while one of its rows has no end date. The diagnosis is chosen among the cancers as
  the FHIR reader chooses (current first, then a protocol histology or a sarcoma, then the most
  recent); two current primaries of different histologies are both named (the histology
  criterion unknown);
* a metastasis is a condition whose code names one (its site from the code: SNOMED CT
  "metastatic malignant neoplasm to liver", ICD-10-CM C78.7), a history-of-metastasis
  observation, or a Cancer Modifier measurement of a metastasis class (its site read from the
  concept's name against the ontology's anatomical sites, else unspecified: never liver);
* TNM M1 or stage IV (a Cancer Modifier staging concept, or a TNM observation's value) about
  the diagnosis, or about nothing when there is at most one cancer, is a metastasis of
  unspecified site, as in FHIR. M0 is no proof of absence later and is not read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...protocol.namespaces import QL
from ..fhir.codes import coded, lookup
from ..fhir.conditions import Cancer, choose, other_current, resolve_histology
from ..fhir.disease_observations import concept_term, m_category, metastasis_site, stage_iv
from .vocab import mapping

STATUS_CURRENT, STATUS_ENDED = 0, 2  # the FHIR reader's ranks (remission 1 has no OMOP field)


@dataclass
class Disease:
    """What one person's rows say of the cancers so far."""

    cancers: dict[int, Cancer] = field(default_factory=dict)  # by concept id
    open: set[int] = field(default_factory=set)  # cancers with a row that has not ended
    staged: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    histology: list[tuple[int | None, dict, str | None]] = field(default_factory=list)
    linked: dict[int, int] = field(default_factory=dict)  # condition row id -> cancer concept
    # cancer concept -> its first row's (concept, source concept, source value): the key of
    # the run's memo of that row's codeable and histology (Context.cancers)
    origin: dict[int, tuple] = field(default_factory=dict)


def match_metastasis(ctx, table: str, concept_id: int, cc: dict) -> Any:
    """(site or None) when the concept is a metastasis, else None (no match)."""
    concept = ctx.vocabulary.get(concept_id)
    modifier = mapping()["cancer_modifier"]
    if concept is not None and concept.vocabulary == modifier["vocabulary"]:
        if concept.concept_class in modifier["metastasis_classes"]:
            site = ctx.term.find_in_phrase(concept.name, QL.AnatomicalSite)
            return ("site", ctx.term.label(site) if site is not None else None)
        return None
    for within in (QL.MetastasisCode, QL.MetastasisHistoryCode):
        found, site = metastasis_site(ctx.term, cc, within)
        if found:
            return ("history" if within == QL.MetastasisHistoryCode else "site", site)
    return None


def match_cancer(ctx, table: str, concept_id: int, cc: dict) -> Any:
    """The cancer's concept key, when the concept names a histology or is of a whole cancer
    vocabulary (any ICD-O-3 condition)."""
    histology = resolve_histology(ctx.term, [cc])
    concept = ctx.vocabulary.get(concept_id)
    whole = mapping().get("whole_vocabularies", {}).get(table, [])
    if histology.term is not None or (concept is not None and concept.vocabulary in whole):
        return concept_id
    return None


def match_condition(ctx, table: str, concept_id: int, cc: dict) -> Any:
    if lookup(ctx.term, cc, QL.ClinicalCondition) is None:
        return None
    return coded(ctx.term, cc, QL.ClinicalCondition)


def match_staging(ctx, table: str, concept_id: int, cc: dict) -> Any:
    """'concept' for a Cancer Modifier staging concept (the concept is the category), or the
    kind of a staging observation whose value says it (TNM M, stage group, histology)."""
    concept = ctx.vocabulary.get(concept_id)
    modifier = mapping()["cancer_modifier"]
    if concept is not None and concept.vocabulary == modifier["vocabulary"]:
        return "concept" if concept.concept_class in modifier["staging_classes"] else None
    kind, _ = concept_term(ctx.term, cc, QL.DiseaseObservationKind)
    return kind


class DiseaseReader:
    """The cancer part of :class:`~.assemble.PersonBuilder` (whose state it uses)."""

    ctx: Any
    rec: dict[str, Any]
    disease: Disease
    aside: Any

    def read_metastasis(self, fact, found) -> None:
        kind, site = found
        if kind == "history" and (fact.value_concept_id or fact.text):
            # A value ("no", "yes", a number) the FHIR reader would not read either: with no
            # value a history of metastasis is one (mCODE); a "no" is a dated absence only.
            self.aside(fact, "metastases", "value_as_concept_id", "a history of metastatic "
                       "cancer with a value, which is not read as a metastasis nor as none")
            return
        item: dict[str, Any] = {"site": site or ("unspecified site (history of metastatic "
                                                 "cancer)" if kind == "history"
                                                 else "unspecified site")}
        if fact.start_date:
            item["date"] = fact.start_date
        if fact.kind == "condition_occurrence" and fact.end_date:
            item["resolved"] = fact.end_date  # the condition ended: resolved then
        self.rec.setdefault("metastases", []).append(item)

    def read_cancer(self, fact, key) -> None:
        disease = self.disease
        cancer = disease.cancers.get(key)
        when = fact.start_date
        if cancer is None:
            origin = (fact.concept_id, fact.source_concept_id, fact.source_value)
            ctx = self.ctx
            cc = ctx.memoised(ctx.cancers, origin, lambda: [ctx.vocabulary.codeable(
                fact.concept_id, fact.source_concept_id, text=fact.source_value), None])[0]
            cancer = Cancer(str(key), STATUS_ENDED, when, when, [cc], None, len(disease.cancers))
            disease.cancers[key] = cancer
            disease.origin[key] = origin
        elif when and (cancer.date is None or when < cancer.date):
            cancer.when = cancer.date = when  # diagnosed on its first row
        if fact.end_date is None:
            disease.open.add(key)
        if fact.kind == "condition_occurrence" and fact.row_id is not None:
            disease.linked[fact.row_id] = key

    def read_condition(self, fact, value) -> None:
        conditions = self.rec.setdefault("conditions", [])
        if fact.end_date:  # it ended: a condition resolved then no longer changes a limit
            value = {"condition": value, "resolved": fact.end_date,
                     **({"date": fact.start_date} if fact.start_date else {})}
        if value not in conditions:
            conditions.append(value)

    def read_staging(self, fact, kind) -> None:
        vocabulary = self.ctx.vocabulary
        target = self.disease_target(fact)
        when = fact.start_date
        if kind == "concept":
            cc = vocabulary.codeable(fact.concept_id)
            if m_category(cc) == "M1" or stage_iv(cc):
                self.disease.staged.append(("M1", target, when))
            return
        value = vocabulary.codeable(fact.value_concept_id, text=fact.text)
        if kind == QL.TNMDistantMetastasisCategory and m_category(value) == "M1":
            self.disease.staged.append(("M1", target, when))
        elif kind == QL.TNMStageGroup and stage_iv(value):
            self.disease.staged.append(("IV", target, when))
        elif kind == QL.HistologyObservation and fact.value_concept_id:
            self.disease.histology.append((target, value, when))

    def disease_target(self, fact) -> int | None:
        """The cancer a measurement is about (measurement_event_id into condition_occurrence),
        or None."""
        field_id = mapping()["event_fields"]["condition_occurrence"]
        if fact.link_field == field_id and fact.link_id is not None:
            return self.disease.linked.get(fact.link_id, -1)
        return None

    def attach_histology(self) -> None:
        """A histology observation is about the cancer it names, else the only cancer; with no
        cancer on record it is one (as the FHIR reader reads it)."""
        disease = self.disease
        for target, value, when in disease.histology:
            cancer = disease.cancers.get(target) if target is not None else None
            if cancer is None and target is None and len(disease.cancers) == 1:
                cancer = next(iter(disease.cancers.values()))
            if cancer is not None:
                cancer.concepts.insert(0, value)  # the pathology's reading first
            elif target is None:
                key = -1 - len(disease.cancers)
                disease.cancers[key] = Cancer(str(key), STATUS_CURRENT, when, when, [value],
                                              None, 1000 + len(disease.cancers))
                disease.open.add(key)

    def histology_of(self, key: int, cancer: Cancer) -> Any:
        """A cancer's histology: read once a run for a cancer of one row's concept alone (no
        histology observation attached to it), as its concepts say it."""
        origin = self.disease.origin.get(key)
        memo = self.ctx.cancers.get(origin) if origin is not None else None
        if memo is None or len(cancer.concepts) != 1 or memo[0] is not cancer.concepts[0]:
            return resolve_histology(self.ctx.term, cancer.concepts)
        if memo[1] is None:
            memo[1] = resolve_histology(self.ctx.term, cancer.concepts)
        return memo[1]

    def settle_disease(self) -> None:
        """The diagnosis among the cancers, the other current ones, and staging."""
        disease = self.disease
        term = self.ctx.term
        self.attach_histology()
        cancers = []
        for key, cancer in disease.cancers.items():
            cancer.status = STATUS_CURRENT if key in disease.open else STATUS_ENDED
            cancer.histology = self.histology_of(key, cancer)
            cancers.append(cancer)
        main = cancers[0] if len(cancers) == 1 else choose(cancers)  # (one: no key to make)
        if main is not None:
            diagnosis = self.rec.setdefault("diagnosis", {})
            if main.histology.record is not None:
                diagnosis["histology"] = main.histology.record
            if main.date:
                diagnosis["date"] = main.date
            others = [c.histology.record for c in other_current(term, main, cancers)]
            if others:
                diagnosis["other_active_histologies"] = others
        main_key = int(main.key) if main is not None else None
        facts = [(kind, when) for kind, target, when in disease.staged if kind in ("M1", "IV")
                 and ((target is not None and target == main_key)
                      or (target is None and len(cancers) <= 1))]
        if facts:
            dated = sorted(w for _, w in facts if w)
            words = " or ".join(sorted({"TNM M1" if k == "M1" else "stage IV"
                                        for k, _ in facts}))
            item: dict[str, Any] = {"site": f"unspecified site ({words})"}
            if dated:
                item["date"] = dated[0]
            self.rec.setdefault("metastases", []).append(item)


