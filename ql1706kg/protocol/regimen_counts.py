"""Counts of prior regimens by setting as data (``ql:RegimenCount``): which therapies count
(drug classes), in which settings, how a regimen is delimited, and when a setting begins.

A protocol's ontology declares each count as an object property of the patient; the derivation
(:mod:`ql1706kg.pipeline.derive.regimens`) writes its value per patient, and shapes compare it
with a limit written as one literal. The settings a record can say (``ql:TherapySetting``:
metastatic, adjuvant, neoadjuvant...) are data too: each with its word in the JSON record
(``ql:recordKey``) and its FHIR codings (``ql:fhirCode``, the mCODE treatment-intent codes).
"""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Graph, URIRef

from .namespaces import QL, RDF

GROUPINGS = frozenset({QL.SameStartDay})  # the delimitations the engine implements


@dataclass(frozen=True)
class RegimenCount:
    """One declared count (the property the derivation writes)."""

    iri: URIRef
    drug_classes: tuple[URIRef, ...]
    settings: frozenset[URIRef]
    grouping: URIRef
    begins_with: URIRef | None = None  # patient property whose earliest date begins...
    date_setting: URIRef | None = None  # ...this setting


@dataclass(frozen=True)
class Settings:
    """The settings a record can say: by the JSON record's word and by FHIR coding."""

    by_key: dict[str, URIRef]
    by_code: dict[tuple[str, str], URIRef]


def build_regimen_counts(g: Graph) -> tuple[tuple[RegimenCount, ...], Settings]:
    """The declared regimen counts and therapy settings of an ontology."""
    counts = []
    for iri in sorted(_named(g.subjects(RDF.type, QL.RegimenCount))):
        grouping = g.value(iri, QL.regimenGrouping)
        begins, marks = g.value(iri, QL.settingBeginsWith), g.value(iri, QL.dateMarksSetting)
        counts.append(RegimenCount(
            iri=iri, drug_classes=tuple(sorted(_named(g.objects(iri, QL.countsDrugClass)))),
            settings=frozenset(_named(g.objects(iri, QL.countsSetting))),
            grouping=grouping if isinstance(grouping, URIRef) else QL.SameStartDay,
            begins_with=begins if isinstance(begins, URIRef) else None,
            date_setting=marks if isinstance(marks, URIRef) else None))
    by_key: dict[str, URIRef] = {}
    by_code: dict[tuple[str, str], URIRef] = {}
    for setting in sorted(_named(g.subjects(RDF.type, QL.TherapySetting))):
        for key in g.objects(setting, QL.recordKey):
            by_key[str(key).strip().casefold()] = setting
        for token in g.objects(setting, QL.fhirCode):
            system, _, code = str(token).rpartition("|")
            if system and code:
                by_code[(system.strip(), code.strip())] = setting
    return tuple(counts), Settings(by_key, by_code)


def count_problems(counts: tuple[RegimenCount, ...]) -> list[str]:
    """What the engine cannot compute in the declared counts (the check refuses them)."""
    out = []
    for count in counts:
        name = str(count.iri).rsplit("#", 1)[-1]
        if count.grouping not in GROUPINGS:
            out.append(f"the regimen count {name} delimits regimens by {count.grouping}, which "
                       f"the engine does not implement (ql:SameStartDay)")
        if not count.drug_classes or not count.settings:
            out.append(f"the regimen count {name} names no drug class (ql:countsDrugClass) or "
                       f"no setting (ql:countsSetting)")
        if (count.begins_with is None) != (count.date_setting is None):
            out.append(f"the regimen count {name} gives ql:settingBeginsWith without "
                       f"ql:dateMarksSetting, or the reverse")
    return out


def _named(nodes) -> set[URIRef]:
    return {node for node in nodes if isinstance(node, URIRef)}
