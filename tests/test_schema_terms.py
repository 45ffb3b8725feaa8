"""Every schema.org term we write is one the current schema.org release defines (30.0, the
vocabulary's structure shipped in tests/data), is not superseded, and every property is used on
a node of a type in its ``domainIncludes`` (or a subtype): ``publish --as medical-trial`` and
the ontology and shapes exports (``schema:MedicalTrial``).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, RDFS

from ql1706kg.semweb import publish

VOCABULARY = Path(__file__).parent / "data" / "schemaorg-30.0-structure.ttl"
SCHEMA = "https://schema.org/"
DOMAIN, SUPERSEDED = URIRef(SCHEMA + "domainIncludes"), URIRef(SCHEMA + "supersededBy")


@cache
def vocabulary() -> Graph:
    return Graph().parse(VOCABULARY, format="turtle")


def superclasses(term: URIRef) -> set[URIRef]:
    out, todo = {term}, [term]
    while todo:
        for parent in vocabulary().objects(todo.pop(), RDFS.subClassOf):
            if parent not in out:
                out.add(parent)
                todo.append(parent)
    return out


def as_rdf(document: dict) -> Graph:
    """A schema.org JSON-LD document read offline: its remote ``@context`` replaced by the
    vocabulary it names (what https://schema.org's context does for these keys)."""
    local = copy.deepcopy(document)
    local["@context"] = {"@vocab": SCHEMA}
    return Graph().parse(data=json.dumps(local), format="json-ld")


def problems(graph: Graph) -> list[str]:
    """Undefined or superseded schema.org terms, and properties outside their domain."""
    found = []
    for subject, predicate, obj in graph:
        for term in (predicate, obj):
            if isinstance(term, URIRef) and str(term).startswith(SCHEMA):
                if (term, RDF.type, None) not in vocabulary():
                    found.append(f"{term} is not defined by schema.org 30.0")
                elif (term, SUPERSEDED, None) in vocabulary():
                    found.append(f"{term} is superseded")
        if str(predicate).startswith(SCHEMA):
            domains = set(vocabulary().objects(predicate, DOMAIN))
            types = set().union(*(superclasses(t) for t in graph.objects(subject, RDF.type)))
            if domains and not domains & types:
                found.append(f"{predicate} on {subject}, which is none of "
                             f"{sorted(str(d) for d in domains)}")
    return sorted(found)


def test_the_medical_trial_uses_only_current_schema_org_terms():
    graph = as_rdf(publish.medical_trial_jsonld())
    assert len(graph) > 100
    assert problems(graph) == []


@pytest.mark.parametrize("term", ["phase", "population"])
def test_terms_gone_from_schema_org_are_caught(term):
    trial = publish.medical_trial_jsonld()
    trial[term] = "x"
    assert problems(as_rdf(trial)) == [f"{SCHEMA}{term} is not defined by schema.org 30.0"]


def test_a_property_outside_its_domain_is_caught():
    trial = publish.medical_trial_jsonld()
    trial["doseValue"] = 5  # a DoseSchedule's property, not a MedicalTrial's
    assert [p.split(" on ")[0] for p in problems(as_rdf(trial))] == [SCHEMA + "doseValue"]


def test_the_ontology_and_shapes_use_only_current_schema_org_terms():
    graph = publish.publication_graph("all")
    used = {t for triple in graph for t in triple
            if isinstance(t, URIRef) and str(t).startswith(SCHEMA)}
    assert URIRef(SCHEMA + "MedicalTrial") in used
    assert [str(t) for t in sorted(used) if (t, RDF.type, None) not in vocabulary()] == []
