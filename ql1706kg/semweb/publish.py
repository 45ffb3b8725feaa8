"""Publishing the ontology: RDF exports, HTML documentation, and registry records of the study.

A vocabulary registry wants the ontology in several syntaxes and as browsable pages; a trial
registry or a search engine wants the study as a schema.org ``MedicalTrial`` or a FHIR R4
``ResearchStudy``. Every value in those records is read from the ontology graph by SPARQL, so
that editing ``ontology/*.ttl`` is the only way to change what is published: the title, phase,
design, regimen, conditions and the 28 atomic criteria are never restated here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.plugins.serializers.turtle import TurtleSerializer

from ..protocol.namespaces import QL, SKOS, bind_prefixes
from ..protocol.resources import ontology_files, shape_files

WHATS = ("ontology", "shapes", "all")
FORMATS: dict[str, str] = {"ttl": "turtle", "jsonld": "json-ld", "xml": "xml", "nt": "nt"}

PYLODE_VERSION = "3.3.4"

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

# ql:studyDesign words -> members of schema.org's MedicalTrialDesign enumeration. A design with
# no member (single-arm) is still published, as a named MedicalTrialDesign without an @id.
SCHEMA_TRIAL_DESIGNS: dict[str, str] = {
    "open-label": "https://schema.org/OpenTrial",
    "single-centre": "https://schema.org/SingleCenterTrial",
    "single-center": "https://schema.org/SingleCenterTrial",
    "multi-centre": "https://schema.org/MultiCenterTrial",
    "multi-center": "https://schema.org/MultiCenterTrial",
    "randomised": "https://schema.org/RandomizedTrial",
    "randomized": "https://schema.org/RandomizedTrial",
    "placebo-controlled": "https://schema.org/PlaceboControlledTrial",
    "single-blind": "https://schema.org/SingleBlindedTrial",
    "double-blind": "https://schema.org/DoubleBlindedTrial",
    "triple-blind": "https://schema.org/TripleBlindedTrial",
    "international": "https://schema.org/InternationalTrial",
}

# ql:studyPhase -> http://terminology.hl7.org/CodeSystem/research-study-phase.
PHASE_SYSTEM = "http://terminology.hl7.org/CodeSystem/research-study-phase"
FHIR_PHASES: dict[str, tuple[str, str]] = {
    "Phase 0": ("early-phase-1", "Early Phase 1"),
    "Phase I": ("phase-1", "Phase 1"),
    "Phase I/II": ("phase-1-phase-2", "Phase 1/Phase 2"),
    "Phase II": ("phase-2", "Phase 2"),
    "Phase II/III": ("phase-2-phase-3", "Phase 2/Phase 3"),
    "Phase III": ("phase-3", "Phase 3"),
    "Phase IV": ("phase-4", "Phase 4"),
}

ENROLLMENT_GROUP_ID = "eligibility"

_PREFIXES = """
PREFIX ql: <https://w3id.org/ql1706kg#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


# --------------------------------------------------------------------------------------------
# RDF exports
# --------------------------------------------------------------------------------------------


def publication_graph(what: str) -> Graph:
    """Return the bundled ontology (both files), the shapes, or both, as one graph."""
    if what not in WHATS:
        raise ValueError(f"what must be one of {', '.join(WHATS)}, not {what!r}")
    paths = [*ontology_files()] if what in ("ontology", "all") else []
    paths += shape_files() if what in ("shapes", "all") else ()
    graph = Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    return bind_prefixes(graph)


def export(what: str, fmt: str) -> str:
    """Serialise the ontology, the shapes or both as Turtle, JSON-LD, RDF/XML or N-Triples.

    JSON-LD carries its own ``@context`` (the graph's prefixes), so a reader never fetches a
    remote context and the output is compact rather than expanded.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    graph = publication_graph(what)
    if fmt == "jsonld":
        return graph.serialize(format="json-ld", context=_jsonld_context(graph))
    if fmt == "ttl":
        stream = BytesIO()
        LosslessTurtleSerializer(graph).serialize(stream, encoding="utf-8")
        return stream.getvalue().decode("utf-8")
    return graph.serialize(format=FORMATS[fmt])


class LosslessTurtleSerializer(TurtleSerializer):
    """Turtle that keeps every literal's lexical form.

    rdflib writes numbers in shorthand, which re-spells a non-canonical lexical form
    (``"1"^^xsd:decimal`` becomes ``1.0``): the same value but a different RDF term, so the
    export would not round-trip to the same graph. Such literals are written quoted instead.
    """

    def label(self, node: Any, position: int) -> str:
        """Write a literal in shorthand only when the shorthand spells its lexical form."""
        if not isinstance(node, Literal):
            return super().label(node, position)
        plain = node._literal_n3(use_plain=True, qname_callback=self._datatype_name)
        if plain.startswith('"') or plain == str(node):
            return plain
        return node._literal_n3(use_plain=False, qname_callback=self._datatype_name)

    def _datatype_name(self, datatype: str) -> str | None:
        """Return a datatype's prefixed name when its prefix is bound (as rdflib does)."""
        return self.get_pname(URIRef(datatype), False)


def _jsonld_context(graph: Graph) -> dict[str, str]:
    """Return the prefixes of the namespaces the graph's IRIs actually use."""
    iris = {str(term) for triple in graph for term in triple if isinstance(term, URIRef)}
    iris |= {str(o.datatype) for o in graph.objects() if isinstance(o, Literal) and o.datatype}
    return {
        prefix: str(namespace)
        for prefix, namespace in sorted(graph.namespaces())
        if prefix and any(iri.startswith(str(namespace)) for iri in iris)
    }


# --------------------------------------------------------------------------------------------
# HTML documentation (pyLODE)
# --------------------------------------------------------------------------------------------


def docs(out_dir: Path) -> Path:
    """Write browsable HTML documentation of the ontology to ``out_dir/index.html``.

    pyLODE 3.3.4 renders it offline: its background vocabularies ship with it and the CSS is
    inlined, so the page has no external resources. The graph given to pyLODE is a fresh one,
    since pyLODE adds its own inferred triples to it.
    """
    ontpub = _import_ontpub()
    try:
        html = ontpub(ontology=publication_graph("ontology")).make_html()
    except PermissionError as error:
        # pyLODE 3.3.4 pickles its background vocabularies into its own package folder on
        # first use and only tolerates FileNotFoundError there.
        raise RuntimeError(
            f"pyLODE could not write its cache in its package folder ({error.filename}); "
            "run this once with write access to the Python environment"
        ) from error
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "index.html"
    target.write_text(html, encoding="utf-8")
    return target


def _import_ontpub() -> Any:
    """Import pyLODE's OntPub, undoing the DEBUG root-logger set-up its import performs.

    ``pylode.profiles.supermodel.loader`` calls ``logging.basicConfig(level=DEBUG)`` at import,
    which would make every library's debug messages appear on a CLI user's stderr.
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        from pylode import OntPub
    except ImportError as error:
        raise RuntimeError(
            f"HTML documentation needs pyLODE {PYLODE_VERSION}: "
            f"pip install 'pylode=={PYLODE_VERSION}' (or the 'docs' extra)"
        ) from error
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return OntPub


# --------------------------------------------------------------------------------------------
# The study, read from the ontology
# --------------------------------------------------------------------------------------------


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


@cache
def _ontology() -> Graph:
    """Return the ontology graph the study is read from (parsed once, never modified)."""
    return publication_graph("ontology")


def _rows(query: str, **bindings: URIRef) -> list[Any]:
    """Run a SPARQL query over the ontology with the project's prefixes."""
    return list(_ontology().query(_PREFIXES + query, initBindings=bindings))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def study() -> Study:
    """Read the one ``ql:ClinicalStudy`` of the ontology with its arms, conditions, criteria."""
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

    An atomic criterion belongs to the study when it is one of its inclusion criteria or part
    of one (``ql:partOf?``); its text is its ``skos:definition``.
    """
    rows = _rows("""
        SELECT DISTINCT ?id ?text ?order WHERE {
          ?s ql:hasInclusionCriterion ?ic .
          ?c a ql:AtomicCriterion ; ql:partOf? ?ic ;
             ql:criterionId ?id ; ql:criterionOrder ?order ; skos:definition ?text .
        } ORDER BY ?order""", s=study_iri)
    return tuple((str(r.id), str(r.text)) for r in rows)


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


def _dosing_text(regimen: Regimen) -> str:
    """Describe an arm's treatment in words, from its regimen's definition and duration."""
    parts = [regimen.arm_definition or regimen.label]
    detail = (regimen.definition or regimen.label).rstrip(".")
    parts.append(f"{detail}, {regimen.duration}." if regimen.duration else f"{detail}.")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# schema.org MedicalTrial
# --------------------------------------------------------------------------------------------


def medical_trial_jsonld() -> dict[str, Any]:
    """Return the study as a schema.org ``MedicalTrial`` (JSON-LD), for web pages and indexes.

    schema.org has no eligibility-criteria property; the criteria go in ``population`` ("any
    characteristics of the population used in the study"), one ``id: text`` line each, in
    protocol order.
    """
    record = study()
    trial: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "MedicalTrial",
        "@id": str(record.iri),
        "name": record.title,
    }
    if record.definition:
        trial["description"] = record.definition
    if record.phase:
        trial["phase"] = record.phase
    trial["trialDesign"] = [_schema_design(d) for d in record.designs]
    trial["healthCondition"] = [_schema_condition(c) for c in record.conditions]
    trial["studySubject"] = [_schema_drug(r) for r in record.regimens]
    trial["population"] = "\n".join(criteria_lines(record))
    return trial


def _schema_design(design: str) -> dict[str, str]:
    node = {"@type": "MedicalTrialDesign", "name": design}
    member = SCHEMA_TRIAL_DESIGNS.get(design.casefold())
    return {"@id": member, **node} if member else node


def _schema_codes(term: Coded) -> list[dict[str, str]]:
    return [
        {"@type": "MedicalCode", "codeValue": code, "codingSystem": CODE_SYSTEMS[prop][1]}
        for prop, code in term.codes
    ]


def _schema_condition(term: Coded) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "MedicalCondition", "@id": str(term.iri), "name": term.label}
    if term.alt_labels:
        node["alternateName"] = list(term.alt_labels)
    if term.codes:
        node["code"] = _schema_codes(term)
    if term.exact_matches:
        node["sameAs"] = list(term.exact_matches)
    return node


def _schema_drug(regimen: Regimen) -> dict[str, Any]:
    drug = regimen.drug
    node: dict[str, Any] = {"@type": "Drug", "@id": str(drug.iri), "name": drug.label}
    if drug.alt_labels:
        node["alternateName"] = list(drug.alt_labels)
    if drug.definition:
        node["description"] = drug.definition
    node["administrationRoute"] = regimen.route
    node["doseSchedule"] = {
        "@type": "DoseSchedule",
        "name": regimen.label,
        "description": _dosing_text(regimen),
        "doseValue": _number(regimen.dose),
        "doseUnit": regimen.dose_unit,
        "frequency": f"every {regimen.interval} {regimen.interval_unit}",
    }
    if drug.codes:
        node["code"] = _schema_codes(drug)
    if drug.exact_matches:
        node["sameAs"] = list(drug.exact_matches)
    return node


# --------------------------------------------------------------------------------------------
# FHIR R4 ResearchStudy
# --------------------------------------------------------------------------------------------


def research_study_fhir(status: str = "active") -> dict[str, Any]:
    """Return the study as a FHIR R4 ``ResearchStudy`` with its eligibility as a contained Group.

    The enrolment Group is definitional (``actual`` false): one characteristic per atomic
    criterion, ``code.text`` the criterion's id and text, true and not excluded, in protocol
    order. The ontology holds no recruitment status, so ``status`` (required by FHIR) is the
    caller's to give; "active" is only the default.
    """
    record = study()
    resource: dict[str, Any] = {
        "resourceType": "ResearchStudy",
        "id": _fhir_id(record.iri),
        "contained": [_fhir_group(record)],
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": str(record.iri)}],
        "title": record.title,
        "status": status,
    }
    if record.phase:
        resource["phase"] = _fhir_phase(record.phase)
    if record.designs:
        resource["category"] = [{"text": design} for design in record.designs]
    resource["focus"] = [_fhir_concept(r.drug) for r in record.regimens]
    resource["condition"] = [_fhir_concept(c) for c in record.conditions]
    if record.definition:
        resource["description"] = record.definition
    resource["enrollment"] = [{"reference": f"#{ENROLLMENT_GROUP_ID}",
                               "display": "eligibility criteria"}]
    resource["arm"] = [
        {"name": r.arm_label, "description": _dosing_text(r)} for r in record.regimens
    ]
    return resource


def _fhir_id(iri: URIRef) -> str:
    """Return a FHIR id ([A-Za-z0-9-.]{1,64}) from an IRI's local name."""
    local = str(iri).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    return "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in local)[:64]


def _fhir_phase(phase: str) -> dict[str, Any]:
    known = FHIR_PHASES.get(phase)
    concept: dict[str, Any] = {"text": phase}
    if known:
        concept["coding"] = [{"system": PHASE_SYSTEM, "code": known[0], "display": known[1]}]
    return concept


def _fhir_concept(term: Coded) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": term.label}
    if term.codes:
        concept["coding"] = [
            {"system": CODE_SYSTEMS[prop][0], "code": code} for prop, code in term.codes
        ]
    return concept


def _fhir_group(record: Study) -> dict[str, Any]:
    return {
        "resourceType": "Group",
        "id": ENROLLMENT_GROUP_ID,
        "type": "person",
        "actual": False,
        "name": f"Eligible subjects: the {len(record.criteria)} atomic inclusion criteria",
        "characteristic": [
            {"code": {"text": line}, "valueBoolean": True, "exclude": False}
            for line in criteria_lines(record)
        ],
    }


def to_json(record: dict[str, Any]) -> str:
    """Serialise a registry record as the CLI prints it (UTF-8, indented)."""
    return json.dumps(record, ensure_ascii=False, indent=2) + "\n"
