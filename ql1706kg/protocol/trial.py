"""What the protocol folder says of the trial as a whole and of a criterion's sense, for the
outputs: the trial's names for titles and headings, and what "met" means for an exclusion
criterion. The software itself names no trial (tests/test_no_protocol_in_code.py)."""

from __future__ import annotations

from rdflib import Graph, URIRef
from rdflib.namespace import DCTERMS
from rdflib.term import Node

from .namespaces import QL, RDF, RDFS
from .visible import visible


def trial_names(closure: Graph, ontology: Node | None) -> tuple[str, str]:
    """The trial's short name and the screening heading, from the protocol folder: the
    study's ``ql:trialShortName`` (else its label, else the ontology's title) and its
    ``ql:screeningTitle`` (else the short name and "screening")."""
    studies = sorted(s for s in closure.subjects(RDF.type, QL.ClinicalStudy)
                     if isinstance(s, URIRef))
    study = studies[0] if studies else None
    name = visible(closure.value(study, QL.trialShortName) or closure.value(study, RDFS.label)
                   or closure.value(ontology, DCTERMS.title) or "trial")
    title = visible(closure.value(study, QL.screeningTitle) or f"{name} screening")
    return name, title


def exclusion_reading(crit: dict) -> str:
    """What "met" means for an exclusion criterion, said in every output (explanations,
    publish): the excluding condition is absent, named by the criterion's short name (else
    "this condition": the quoted text before it); empty for an inclusion criterion."""
    if not crit["exclusion"]:
        return ""
    condition = crit["name"] if crit["name"] != crit["id"] else "this condition"
    return f"exclusion: met = {condition} absent"
