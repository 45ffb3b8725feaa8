"""The study as the ontology states it (title, phase, design, regimens, conditions, criteria),
read by SPARQL into plain records, so every published record restates nothing by hand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from rdflib import Graph, Literal, URIRef

from ...protocol.namespaces import QL, SKOS
from ...protocol.resources import protocol_cache
from ...protocol.terminology import terminology
from ...protocol.visible import visible
from .export import publication_graph

# The ontology's code annotations -> (FHIR system URI, schema.org codingSystem name). The URIs
# are the canonical ones of fhir.SYSTEMS, the names those the README uses.
CODE_SYSTEMS: dict[URIRef, tuple[str, str]] = {
    QL.ncitCode: ("http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl", "NCIt"),
    QL.snomedCode: ("http://snomed.info/sct", "SNOMED CT"),
    QL.icdO3Morphology: ("http://terminology.hl7.org/CodeSystem/icd-o-3", "ICD-O-3"),
    QL.oncotreeCode: ("http://oncotree.mskcc.org", "OncoTree"),
    QL.atcCode: ("http://www.whocc.no/atc", "ATC"),
    QL.rxnormCode: ("http://www.nlm.nih.gov/research/umls/rxnorm", "RxNorm"),
    QL.loincCode: ("http://loinc.org", "LOINC"),
}
_PREFIXES = """
PREFIX ql: <https://w3id.org/ql1706kg#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


@dataclass(frozen=True)
class Coded:
    """A term of the terminology with its verified codes (for conditions and drugs)."""

    iri: URIRef
    label: str
    definition: str | None
    alt_labels: tuple[str, ...] = ()
    codes: tuple[tuple[URIRef, str], ...] = ()
    exact_matches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Regimen:
    """A study arm and its dosing regimen."""

    arm_label: str
    arm_definition: str | None
    duration: str | None
    label: str
    definition: str | None
    drug: Coded
    dose: Literal
    dose_unit: str
    route: str
    interval: Literal
    interval_unit: str


@dataclass(frozen=True)
class Study:
    """What the registry records say about the study, all of it from the ontology."""

    iri: URIRef
    title: str
    definition: str | None
    phase: str | None
    designs: tuple[str, ...]
    conditions: tuple[Coded, ...]
    regimens: tuple[Regimen, ...]
    criteria: tuple[tuple[str, str], ...]


@protocol_cache
def _ontology() -> Graph:
    """Return the ontology graph the study is read from (parsed once, never modified)."""
    return publication_graph("ontology")


def _rows(query: str, **bindings: URIRef) -> list[Any]:
    """Run a SPARQL query over the ontology with the project's prefixes."""
    return list(_ontology().query(_prepared(query), initBindings=bindings))


@functools.lru_cache(maxsize=64)
def _prepared(query: str):
    """A query parsed and algebra-translated once (rdflib's parser costs ~20 ms a query, more
    than running it on the ontology; a study reads ~20 of them)."""
    from rdflib.plugins.sparql import prepareQuery

    return prepareQuery(_PREFIXES + query)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@protocol_cache
def study() -> Study:
    """Read the one ``ql:ClinicalStudy`` of the ontology with its arms, conditions, criteria
    (once per protocol: it is immutable)."""
    found = _rows("""
        SELECT ?study ?title ?definition ?phase WHERE {
          ?study a ql:ClinicalStudy ; rdfs:label ?title .
          OPTIONAL { ?study skos:definition ?definition }
          OPTIONAL { ?study ql:studyPhase ?phase }
        }""")
    if len(found) != 1:
        raise LookupError(f"the ontology must describe exactly one study, not {len(found)}")
    row = found[0]
    iri = row.study
    designs = sorted(str(r.d) for r in _rows("SELECT ?d WHERE { ?s ql:studyDesign ?d }", s=iri))
    conditions = [
        _coded(r.c) for r in _rows("SELECT ?c WHERE { ?s ql:studiedCondition ?c }", s=iri)
    ]
    return Study(
        iri=iri,
        title=str(row.title),
        definition=_text(row.definition),
        phase=_text(row.phase),
        designs=tuple(designs),
        conditions=tuple(sorted(conditions, key=lambda c: c.label)),
        regimens=_regimens(iri),
        criteria=criteria(iri),
    )


def criteria(study_iri: URIRef) -> tuple[tuple[str, str], ...]:
    """Return (id, text) of the study's atomic criteria in protocol order.

    A protocol's criteria are exactly the atomic criteria its ontology declares (one trial a
    protocol), whether or not they are grouped under the study's inclusion criteria; the
    order is stated or derived (:mod:`ql1706kg.protocol.order`); the text is the
    ``skos:definition``, else the quoted protocol text, else the id.
    """
    rows = _rows("""
        SELECT ?id (SAMPLE(?shown) AS ?text) (MIN(?place) AS ?order) WHERE {
          ?c a ql:AtomicCriterion ; ql:criterionId ?id ; ql:criterionOrder ?place .
          OPTIONAL { ?c skos:definition ?definition }
          OPTIONAL { ?c ql:protocolText ?quoted }
          BIND(COALESCE(?definition, ?quoted, ?id) AS ?shown)
        } GROUP BY ?id ORDER BY ?order ?id""")
    table = terminology().criteria
    return tuple((str(r.id), _with_reading(str(r.text), table.get(visible(str(r.id)))))
                 for r in rows)


def _with_reading(text: str, crit: dict | None) -> str:
    """A criterion's text, with what "met" means for an exclusion criterion (its excluding
    condition absent), so that a registry record says it too."""
    return f"{text} ({crit['reading']})" if crit and crit.get("reading") else text


def _regimens(study_iri: URIRef) -> tuple[Regimen, ...]:
    """Return the study's arms with their regimens, drug and dose."""
    rows = _rows("""
        SELECT ?armLabel ?armDef ?duration ?regLabel ?regDef ?drug ?dose ?route ?interval
               ?doseUnit ?intervalUnit WHERE {
          ?s ql:hasArm ?arm . ?arm rdfs:label ?armLabel ; ql:receivesRegimen ?reg .
          OPTIONAL { ?arm skos:definition ?armDef }
          OPTIONAL { ?arm ql:treatmentDuration ?duration }
          ?reg rdfs:label ?regLabel ; ql:regimenDrug ?drug ; ql:doseMgPerKg ?dose ;
               ql:route ?route ; ql:intervalDays ?interval .
          OPTIONAL { ?reg skos:definition ?regDef }
          ql:doseMgPerKg ql:unitLabel ?doseUnit . ql:intervalDays ql:unitLabel ?intervalUnit .
        } ORDER BY ?armLabel""", s=study_iri)
    return tuple(
        Regimen(
            arm_label=str(r.armLabel), arm_definition=_text(r.armDef),
            duration=_text(r.duration), label=str(r.regLabel), definition=_text(r.regDef),
            drug=_coded(r.drug), dose=r.dose, dose_unit=str(r.doseUnit), route=str(r.route),
            interval=r.interval, interval_unit=str(r.intervalUnit),
        )
        for r in rows
    )


def _coded(iri: URIRef) -> Coded:
    """Read a term's names and its verified codes (a code named in an editorial note is not)."""
    graph = _ontology()
    names = _rows("""
        SELECT ?label ?definition WHERE {
          ?t rdfs:label ?label . OPTIONAL { ?t skos:definition ?definition }
        } LIMIT 1""", t=iri)
    codes = _rows("""
        SELECT ?p ?code WHERE {
          ?t ?p ?code .
          FILTER(?p IN (ql:ncitCode, ql:snomedCode, ql:icdO3Morphology, ql:oncotreeCode,
                        ql:atcCode, ql:rxnormCode, ql:loincCode))
          FILTER NOT EXISTS { ?t skos:editorialNote ?note .
                              FILTER(REGEX(STR(?note), CONCAT("(^|[^A-Za-z0-9])", STR(?code),
                                                              "([^A-Za-z0-9/.-]|$)"))) }
        } ORDER BY ?p ?code""", t=iri)
    label = str(names[0].label) if names else str(iri).rsplit("#", 1)[-1]
    return Coded(
        iri=iri,
        label=label,
        definition=_text(names[0].definition) if names else None,
        alt_labels=tuple(sorted(str(a) for a in graph.objects(iri, SKOS.altLabel))),
        codes=tuple((r.p, str(r.code)) for r in codes),
        exact_matches=tuple(sorted(str(m) for m in graph.objects(iri, SKOS.exactMatch))),
    )


def _number(value: Literal) -> int | float:
    """Return a numeric literal as a JSON number (5.0 stays 5.0, 21 stays 21)."""
    python = value.toPython()
    return python if isinstance(python, int) else float(python)


def criteria_lines(record: Study) -> list[str]:
    """Return one line per atomic criterion, ``id: text``, in protocol order."""
    return [f"{cid}: {text}" for cid, text in record.criteria]


def dosing_text(regimen: Regimen) -> str:
    """Describe an arm's treatment in words, from its regimen's definition and duration."""
    parts = [regimen.arm_definition or regimen.label]
    detail = (regimen.definition or regimen.label).rstrip(".")
    parts.append(f"{detail}, {regimen.duration}." if regimen.duration else f"{detail}.")
    return " ".join(parts)
