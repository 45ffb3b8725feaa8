"""Verdicts as RDF, written patient by patient: Turtle, N-Quads and JSON-LD.

Why not rdflib's serialisers: they need one ``Graph`` of the whole cohort (722 MB for 1,000
patients) and the Turtle serialiser spends most of a run sorting and grouping it, 20× the
time of NDJSON. Here each patient's triples are encoded on their own, in the worker process
that screened the patient (like NDJSON lines), and the parent only moves bytes:

- Turtle: the prefixes once at the top, then each patient's triples grouped by subject. A
  term the cohort repeats (the software agent, a drug's label) may appear once per patient;
  a graph holds a triple once, so the document parses to the same graph.
- N-Quads: one named graph per assessment, named by the assessment's IRI, holding the
  assessment, its results, the software agent and the patient's own facts (those whose
  subject is the patient or under the patient's IRI); the bulk-load format of stores.
- JSON-LD: one ``@context`` (prefixes only, inline: nothing is fetched to read it) and a
  ``@graph`` array of node objects, streamed.

:func:`assessment_triples` is the one definition of the verdict triples: rdflib's
``verdict_graph`` is built from it too. Besides what a reader needs (verdict, outcome,
explanation, evidence…), each assessment carries the facts the named SPARQL queries need as
simple patterns, so that no query walks every result of every patient: ``ql:firstNotMet``
(the first criterion not met, in protocol order), ``ql:notMetCriterion`` and
``ql:unknownCriterion`` (each criterion with that outcome), ``ql:notMetInclusionCriterion``
(each numbered criterion with a part not met), ``ql:unknownResult`` (each unknown result,
which says what to collect), ``ql:metCount``, ``ql:notMetCount``, ``ql:unknownCount``,
``ql:notApplicableCount``; and each result its criterion's ``ql:criterionOrder``. What would
change the verdict (:mod:`..pipeline.what_if`): ``ql:validUntil`` and ``ql:eligibleFrom`` on
the assessment, ``ql:changeNeeded`` on each result that has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from rdflib import BNode

from ..pipeline.results import PatientResult
from ..protocol.namespaces import PROV, QL, QLR, RDF, RDFS, XSD
from ..protocol.resources import protocol_hash
from ..protocol.terminology import terminology
from ..version import __version__
from .files import ByteSink
from .rdf_syntax import (
    JSONLD_PREFIXES,
    PREFIXES,
    Lit,
    Term,
    Triple,
    encode_json,
    jsonld_head,
    jsonld_nodes,
    nquads_block,
    term_of,
    turtle_block,
    turtle_head,
)

__all__ = ["ENCODERS", "FORMATS", "JSONLD_PREFIXES", "PREFIXES", "Lit", "RdfDocumentWriter",
           "RdfRun", "Term", "Triple", "assessment_iri", "assessment_triples", "assessment_turtle",
           "inclusion_criterion", "nquads_block", "patient_jsonld", "patient_nquads",
           "patient_triples", "patient_turtle", "rdf_run", "render"]

FORMATS = ("turtle", "nquads", "jsonld")

_QL, _PROV, _XSD = str(QL), str(PROV), str(XSD)
_TYPE, _LABEL = str(RDF) + "type", str(RDFS) + "label"
_INTEGER, _DATE, _DATETIME = _XSD + "integer", _XSD + "date", _XSD + "dateTime"
_OUTCOME = {"met": _QL + "Met", "not_met": _QL + "NotMet", "unknown": _QL + "Unknown",
            "not_applicable": _QL + "NotApplicable"}
_ID_SAFE = "-._~"  # what a criterion id may keep in an IRI as it is ("A1.2-X")
_COUNT = {"met": "metCount", "not_met": "notMetCount", "unknown": "unknownCount",
          "not_applicable": "notApplicableCount"}


@dataclass(frozen=True)
class RdfRun:
    """What every assessment of one run shares (picklable: it travels to the workers)."""

    as_of: str
    protocol_version: str
    ontology_version: str
    ontology_version_iri: str
    stamp: str  # prov:endedAtTime, one per run
    order: dict[str, int] = field(default_factory=dict)  # criterion id -> protocol order
    protocol_hash: str = ""  # the content hash of the protocol's files (ql:protocolHash)
    # criterion id -> the criterion's IRI and its inclusion criterion's (ql:partOf), as the
    # ontology states them: a criterion is known by its id, never by its IRI's spelling
    iris: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    trial_name: str = ""  # the protocol's ql:trialShortName, for each assessment's label

    @property
    def software(self) -> str:
        return f"https://w3id.org/ql1706kg/software/{__version__}"


def rdf_run(as_of: str, protocol_version: str, stamp: str | None = None) -> RdfRun:
    """The run's shared facts; ``stamp`` defaults to now (UTC, to the second)."""
    term = terminology()
    return RdfRun(as_of, protocol_version, term.ontology_version, term.ontology_version_iri,
                  stamp or datetime.now(UTC).replace(microsecond=0).isoformat(),
                  {cid: info["order"] for cid, info in term.criteria.items()},
                  protocol_hash(),
                  {cid: str(info["iri"]) for cid, info in term.criteria.items()},
                  {cid: str(info["group"]) for cid, info in term.criteria.items()
                   if info.get("group") is not None}, term.trial_name)


def assessment_iri(patient_id: str, as_of: str) -> str:
    return f"{QLR}{quote(patient_id, safe='')}/{as_of}"


def inclusion_criterion(criterion_id: str) -> str:
    """The numbered criterion an atomic criterion is part of, by the protocol's numbering
    (``A9.2-X`` is part of ``A9``; ``A2`` is its own); the ontology's
    ``ql:partOf`` says the same (tested)."""
    return criterion_id.split(".", 1)[0]


def assessment_triples(patient: PatientResult, run: RdfRun) -> list[Triple]:
    """The assessment of one patient, its criterion results and the software agent."""
    a = assessment_iri(patient.id, run.as_of)
    iri = str(patient.iri)
    label = f"ql1706kg {__version__}"
    head: list[Triple] = [
        (a, _TYPE, _QL + "Assessment"), (a, _TYPE, _PROV + "Activity"),
        (a, _LABEL, Lit(f"{run.trial_name} screening of {patient.id} as of {run.as_of}")),
        (a, _QL + "assessedPatient", iri), (a, _QL + "assessmentDate", Lit(run.as_of, _DATE)),
        (a, _QL + "verdict", Lit(patient.verdict)),
        (a, _QL + "protocolVersion", Lit(run.protocol_version)),
        (a, _QL + "protocolHash", Lit(run.protocol_hash)),
        (a, _QL + "softwareVersion", Lit(label)),
        (a, _QL + "ontologyVersion", Lit(run.ontology_version)),
        (a, _PROV + "endedAtTime", Lit(run.stamp, _DATETIME)),
        (a, _PROV + "used", iri), (a, _PROV + "used", run.ontology_version_iri),
        (a, _PROV + "wasAssociatedWith", run.software)]
    counts = dict.fromkeys(_COUNT, 0)
    first: tuple[int, str] | None = None
    results: list[Triple] = []
    links: list[Triple] = []
    failing: list[Triple] = []
    undecided: list[Triple] = []
    groups: dict[str, None] = {}
    for crit in patient.criteria:
        node = f"{a}/{quote(crit.id, safe=_ID_SAFE)}"  # an id is data: never raw in an IRI
        criterion = run.iris.get(crit.id) or _QL + quote(crit.id, safe=_ID_SAFE)
        counts[crit.outcome] = counts.get(crit.outcome, 0) + 1
        order = run.order.get(crit.id)
        if crit.outcome == "not_met":
            failing.append((a, _QL + "notMetCriterion", criterion))
            groups[run.groups.get(crit.id) or
                   _QL + quote(inclusion_criterion(crit.id), safe=_ID_SAFE)] = None
            if order is not None and (first is None or order < first[0]):
                first = (order, criterion)
        elif crit.outcome == "unknown":
            undecided += [(a, _QL + "unknownCriterion", criterion),
                          (a, _QL + "unknownResult", node)]
        links.append((a, _QL + "hasResult", node))
        results += [(node, _TYPE, _QL + "CriterionResult"), (node, _QL + "criterion", criterion),
                    (node, _QL + "outcome", _OUTCOME[crit.outcome]),
                    (node, _QL + "explanation", Lit(crit.explanation)),
                    (node, _PROV + "wasGeneratedBy", a)]
        if order is not None:
            results.append((node, _QL + "criterionOrder", Lit(str(order), _INTEGER)))
        for fact in crit.evidence_nodes:
            results += [(node, _QL + "evidence", str(fact)), (node, _PROV + "used", str(fact))]
        results += [(node, _QL + "limitApplied", Lit(limit)) for limit in crit.limits]
        if crit.to_collect:
            results.append((node, _QL + "toCollect", Lit(crit.to_collect)))
        if crit.change_needed:
            results.append((node, _QL + "changeNeeded", Lit(crit.change_needed)))
        results += [(node, _QL + "violatedShape", str(shape)) for shape in crit.shapes]
    head += links + failing + undecided
    head += [(a, _QL + "notMetInclusionCriterion", group) for group in groups]
    head += [(a, _QL + name, Lit(str(counts.get(outcome, 0)), _INTEGER))
             for outcome, name in _COUNT.items()]
    if first is not None:
        head.append((a, _QL + "firstNotMet", first[1]))
    if patient.valid_until is not None:
        head.append((a, _QL + "validUntil", Lit(patient.valid_until.isoformat(), _DATE)))
    if patient.eligible_from is not None:
        head.append((a, _QL + "eligibleFrom", Lit(patient.eligible_from.isoformat(), _DATE)))
    software: list[Triple] = [(run.software, _TYPE, _PROV + "SoftwareAgent"),
                              (run.software, _LABEL, Lit(label))]
    return head + software + results


def patient_triples(patient: PatientResult, own_only: bool = False) -> Iterator[Triple]:
    """The patient graph the verdict was computed from (none if it was not kept) as
    :data:`Triple`; with ``own_only``, only the patient's own facts."""
    for s, p, o in _patient_graph(patient, own_only):
        yield (f"_:{s}" if type(s) is BNode else str(s)), str(p), term_of(o)


def _patient_graph(patient: PatientResult, own_only: bool) -> Iterator[tuple]:
    """The patient graph's rdflib triples; with ``own_only``, those whose subject is the
    patient or under the patient's IRI."""
    if patient.graph is None:
        return
    if not own_only:
        yield from patient.graph
        return
    iri = str(patient.iri)
    below = iri + "/"
    subject, keep = None, False
    for triple in patient.graph:
        if triple[0] is not subject:
            subject = triple[0]
            text = str(subject)
            keep = text == iri or text.startswith(below)
        if keep:
            yield triple


def patient_turtle(patient: PatientResult, run: RdfRun) -> bytes:
    """One patient's assessment and patient graph as Turtle statements (no prefixes)."""
    return turtle_block(assessment_triples(patient, run)) + turtle_block(
        _patient_graph(patient, False))


def patient_nquads(patient: PatientResult, run: RdfRun) -> bytes:
    """One patient's assessment graph as N-Quads lines."""
    graph = assessment_iri(patient.id, run.as_of)
    return nquads_block(assessment_triples(patient, run), graph) + nquads_block(
        _patient_graph(patient, True), graph)


def assessment_turtle(patient: PatientResult, run: RdfRun) -> bytes:
    """One assessment graph (what :func:`patient_nquads` puts in the assessment's named
    graph) as a Turtle document of its own, prefixes included: the body of a Graph Store
    PUT."""
    return turtle_head() + turtle_block(assessment_triples(patient, run)) + turtle_block(
        _patient_graph(patient, True))


def patient_jsonld(patient: PatientResult, run: RdfRun) -> bytes:
    """One patient's node objects, comma-separated, to go inside the ``@graph`` array."""
    nodes = jsonld_nodes(assessment_triples(patient, run)) + jsonld_nodes(
        _patient_graph(patient, False))
    return b",\n".join(b"    " + encode_json(node) for node in nodes)


# -- documents ----------------------------------------------------------------------------
ENCODERS = {"turtle": patient_turtle, "nquads": patient_nquads, "jsonld": patient_jsonld}


class RdfDocumentWriter:
    """Write a verdict document in one of :data:`FORMATS` patient by patient: the head, each
    patient's bytes as :data:`ENCODERS` made them (in whichever process), then the end."""

    def __init__(self, handle: ByteSink, fmt: str) -> None:
        self.handle, self.fmt, self.count = handle, fmt, 0
        if fmt == "turtle":
            handle.write(turtle_head())
        elif fmt == "jsonld":
            handle.write(jsonld_head())

    def add(self, fragment: bytes) -> None:
        if not fragment:
            return
        if self.fmt == "jsonld":
            fragment = (b",\n" if self.count else b"\n") + fragment
        self.handle.write(fragment)
        self.count += 1

    def close(self) -> None:
        if self.fmt == "jsonld":
            self.handle.write(b"\n  ]\n}\n" if self.count else b"]\n}\n")


def render(patients: Iterable[PatientResult], run: RdfRun, fmt: str) -> str:
    """A whole document of patients screened in this process (their graphs kept)."""
    import io

    buffer = io.BytesIO()
    writer = RdfDocumentWriter(buffer, fmt)
    for patient in patients:
        writer.add(ENCODERS[fmt](patient, run))
    writer.close()
    return buffer.getvalue().decode("utf-8")
