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
(IC1 … IC11 with a part not met), ``ql:unknownResult`` (each unknown result, which says what
to collect), ``ql:metCount``, ``ql:notMetCount``, ``ql:unknownCount``,
``ql:notApplicableCount``; and each result its criterion's ``ql:criterionOrder``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, NamedTuple
from urllib.parse import quote

import orjson
from rdflib import BNode, Literal, URIRef

from ..pipeline.results import PatientResult
from ..protocol.namespaces import PROV, QL, QLP, QLR, RDF, RDFS, SH, SKOS, XSD
from ..protocol.terminology import terminology
from ..version import __version__
from .visible import visible

FORMATS = ("turtle", "nquads", "jsonld")


class Lit(NamedTuple):
    """A literal: its lexical form, datatype IRI (None: a plain string) and language tag."""

    lex: str
    dt: str | None = None
    lang: str | None = None


# A term is an IRI (a str), a blank node (a str starting "_:") or a Lit.
Term = str | Lit
Triple = tuple[str, str, Term]

_QL, _PROV, _RDF, _RDFS, _XSD = str(QL), str(PROV), str(RDF), str(RDFS), str(XSD)
_TYPE, _LABEL = _RDF + "type", _RDFS + "label"
_INTEGER, _DATE, _DATETIME = _XSD + "integer", _XSD + "date", _XSD + "dateTime"
_DECIMAL = _XSD + "decimal"
_OUTCOME = {"met": _QL + "Met", "not_met": _QL + "NotMet", "unknown": _QL + "Unknown",
            "not_applicable": _QL + "NotApplicable"}
_COUNT = {"met": "metCount", "not_met": "notMetCount", "unknown": "unknownCount",
          "not_applicable": "notApplicableCount"}
PREFIXES = (("ql", _QL), ("qls", "https://w3id.org/ql1706kg/shapes#"), ("qlp", str(QLP)),
            ("qlr", str(QLR)), ("prov", _PROV), ("rdf", _RDF), ("rdfs", _RDFS),
            ("xsd", _XSD), ("skos", str(SKOS)), ("sh", str(SH)),
            ("owl", "http://www.w3.org/2002/07/owl#"))
# The prefixes of the JSON-LD context (as the rdflib serialisation had them).
JSONLD_PREFIXES = ("ql", "qlr", "qlp", "prov", "rdfs", "xsd", "skos", "sh")


@dataclass(frozen=True)
class RdfRun:
    """What every assessment of one run shares (picklable: it travels to the workers)."""

    as_of: str
    protocol_version: str
    ontology_version: str
    ontology_version_iri: str
    stamp: str  # prov:endedAtTime, one per run
    order: dict[str, int] = field(default_factory=dict)  # criterion id -> protocol order

    @property
    def software(self) -> str:
        return f"https://w3id.org/ql1706kg/software/{__version__}"


def rdf_run(as_of: str, protocol_version: str, stamp: str | None = None) -> RdfRun:
    """The run's shared facts; ``stamp`` defaults to now (UTC, to the second)."""
    term = terminology()
    return RdfRun(as_of, protocol_version, term.ontology_version, term.ontology_version_iri,
                  stamp or datetime.now(UTC).replace(microsecond=0).isoformat(),
                  {cid: info["order"] for cid, info in term.criteria.items()})


def assessment_iri(patient_id: str, as_of: str) -> str:
    return f"{QLR}{quote(patient_id, safe='')}/{as_of}"


def inclusion_criterion(criterion_id: str) -> str:
    """The inclusion criterion (IC1 … IC11) an atomic criterion is part of, by the protocol's
    numbering (``IC9.2-AST`` is part of ``IC9``; ``IC2`` is its own); the ontology's
    ``ql:partOf`` says the same (tested)."""
    return criterion_id.split(".", 1)[0]


def assessment_triples(patient: PatientResult, run: RdfRun) -> list[Triple]:
    """The assessment of one patient, its criterion results and the software agent."""
    a = assessment_iri(patient.id, run.as_of)
    iri = str(patient.iri)
    label = f"ql1706kg {__version__}"
    head: list[Triple] = [
        (a, _TYPE, _QL + "Assessment"), (a, _TYPE, _PROV + "Activity"),
        (a, _LABEL, Lit(f"QL1706 screening of {patient.id} as of {run.as_of}")),
        (a, _QL + "assessedPatient", iri), (a, _QL + "assessmentDate", Lit(run.as_of, _DATE)),
        (a, _QL + "verdict", Lit(patient.verdict)),
        (a, _QL + "protocolVersion", Lit(run.protocol_version)),
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
        node, criterion = f"{a}/{crit.id}", _QL + crit.id
        counts[crit.outcome] = counts.get(crit.outcome, 0) + 1
        order = run.order.get(crit.id)
        if crit.outcome == "not_met":
            failing.append((a, _QL + "notMetCriterion", criterion))
            groups[_QL + inclusion_criterion(crit.id)] = None
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
        results += [(node, _QL + "violatedShape", str(shape)) for shape in crit.shapes]
    head += links + failing + undecided
    head += [(a, _QL + "notMetInclusionCriterion", group) for group in groups]
    head += [(a, _QL + name, Lit(str(counts.get(outcome, 0)), _INTEGER))
             for outcome, name in _COUNT.items()]
    if first is not None:
        head.append((a, _QL + "firstNotMet", first[1]))
    software = [(run.software, _TYPE, _PROV + "SoftwareAgent"),
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


def term_of(node) -> Term:
    """An rdflib term as a :data:`Term`."""
    if isinstance(node, Literal):
        return Lit(str(node), str(node.datatype) if node.datatype is not None else None,
                   node.language)
    if isinstance(node, BNode):
        return f"_:{node}"
    return str(node)


# -- term syntax shared by Turtle and N-Quads: bytes, with the IRIs of a run cached --------
_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_LOCAL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?")
_LANG = re.compile(r"[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CACHE_SIZE = 200_000
_NT: dict[str, bytes] = {}
_TTL: dict[str, bytes] = {}
_JSONLD: dict[str, str] = {}
_PATIENT_SPACES = (str(QLP), str(QLR))


def _nt_iri(iri: str) -> bytes:
    found = _NT.get(iri)
    if found is None:
        if iri.startswith("_:"):  # a blank node, as a Term
            found = iri.encode()
        else:
            text = _IRI_BAD.sub(lambda m: f"\\u{ord(m.group()):04X}", iri)
            found = f"<{text}>".encode()
        if len(_NT) > _CACHE_SIZE:
            _NT.clear()
        _NT[iri] = found
    return found


def _ttl_iri(iri: str) -> bytes:
    found = _TTL.get(iri)
    if found is None:
        found = _nt_iri(iri)
        if not iri.startswith(_PATIENT_SPACES) and not iri.startswith("_:"):
            for prefix, space in PREFIXES:
                if iri.startswith(space) and _LOCAL.fullmatch(iri[len(space):]):
                    found = f"{prefix}:{iri[len(space):]}".encode()
                    break
        if len(_TTL) > _CACHE_SIZE:
            _TTL.clear()
        _TTL[iri] = found
    return found


def _quoted(text: str) -> bytes:
    """A string literal's quoted form: JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX``
    for control characters) are all N-Triples and Turtle escapes too; a lone surrogate (a file
    name not in UTF-8) is written as its visible escape."""
    try:
        return orjson.dumps(text)
    except orjson.JSONEncodeError:
        return orjson.dumps(visible(text) if _SURROGATE.search(text) else text)


def _literal(lex: str, dt: str | None, lang: str | None, iri) -> bytes:
    if lang and _LANG.fullmatch(lang):
        return _quoted(lex) + b"@" + lang.encode()
    if dt:
        return _quoted(lex) + b"^^" + iri(dt)
    return _quoted(lex)


_SHORT = {_INTEGER: re.compile(r"-?(?:0|[1-9][0-9]*)"),
          _DECIMAL: re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+"),
          _XSD + "boolean": re.compile(r"true|false")}


def _ttl_literal(lex: str, dt: str | None, lang: str | None) -> bytes:
    if dt is not None and not lang:
        if dt == _DECIMAL and "." not in lex:
            lex += ".0"  # as rdflib's Turtle writes a decimal
        short = _SHORT.get(dt)
        if short is not None and short.fullmatch(lex):
            return lex.encode()
    return _literal(lex, dt, lang, _ttl_iri)


def _nt(term) -> bytes:
    """A :data:`Term` or an rdflib term in N-Triples syntax."""
    kind = type(term)
    if kind is str or kind is URIRef:
        found = _NT.get(term if kind is str else str(term))
        return found if found is not None else _nt_iri(str(term))
    if kind is Lit:
        return _literal(*term, _nt_iri)
    if kind is Literal:
        dt = term.datatype
        return _literal(str(term), str(dt) if dt is not None else None, term.language,
                        _nt_iri)
    if kind is BNode:
        return b"_:" + str(term).encode()
    return _nt(term_of(term))  # a subclass of an rdflib term


def _ttl(term) -> bytes:
    """A :data:`Term` or an rdflib term in Turtle syntax."""
    kind = type(term)
    if kind is str or kind is URIRef:
        found = _TTL.get(term if kind is str else str(term))
        return found if found is not None else _ttl_iri(str(term))
    if kind is Lit:
        return _ttl_literal(*term)
    if kind is Literal:
        dt = term.datatype
        return _ttl_literal(str(term), str(dt) if dt is not None else None, term.language)
    if kind is BNode:
        return b"_:" + str(term).encode()
    return _ttl(term_of(term))


# -- Turtle -------------------------------------------------------------------------------
def turtle_head() -> bytes:
    return "".join(f"@prefix {prefix}: <{space}> .\n" for prefix, space in PREFIXES
                   ).encode() + b"\n"


def turtle_block(triples: Iterable[tuple]) -> bytes:
    """Triples (:data:`Triple` or rdflib's) as Turtle statements, consecutive triples of one
    subject grouped with ``;``, of one subject and predicate with ``,``."""
    out: list[bytes] = []
    add = out.append
    subject = predicate = None
    for s, p, o in triples:
        if s is subject or s == subject:
            if p is predicate or p == predicate:
                add(b",\n        ")
            else:
                predicate = p
                add(b" ;\n    ")
                add(b"a" if p == _TYPE else _ttl(p))
                add(b" ")
        else:
            if subject is not None:
                add(b" .\n")
            subject, predicate = s, p
            add(_ttl(s))
            add(b" a " if p == _TYPE else b" " + _ttl(p) + b" ")
        add(_ttl(o))
    if subject is not None:
        add(b" .\n\n")
    return b"".join(out)


def patient_turtle(patient: PatientResult, run: RdfRun) -> bytes:
    """One patient's assessment and patient graph as Turtle statements (no prefixes)."""
    return turtle_block(assessment_triples(patient, run)) + turtle_block(
        _patient_graph(patient, False))


# -- N-Quads ------------------------------------------------------------------------------
def nquads_block(triples: Iterable[tuple], graph: str) -> bytes:
    """Triples (:data:`Triple` or rdflib's) as N-Quads lines in ``graph``."""
    tail = b" " + _nt_iri(graph) + b" .\n"
    out: list[bytes] = []
    add = out.append
    subject = None
    head = b""
    for s, p, o in triples:
        if s is not subject:
            subject, head = s, _nt(s) + b" "
        add(head)
        add(_nt(p))
        add(b" ")
        add(_nt(o))
        add(tail)
    return b"".join(out)


def patient_nquads(patient: PatientResult, run: RdfRun) -> bytes:
    """One patient's assessment graph as N-Quads lines."""
    graph = assessment_iri(patient.id, run.as_of)
    return nquads_block(assessment_triples(patient, run), graph) + nquads_block(
        _patient_graph(patient, True), graph)


# -- JSON-LD ------------------------------------------------------------------------------
_CONTEXT = {prefix: space for prefix, space in PREFIXES if prefix in JSONLD_PREFIXES}
_JSONLD_SPACES = tuple((prefix, space) for prefix, space in PREFIXES
                       if prefix in JSONLD_PREFIXES)


def _compact(iri: str) -> str:
    found = _JSONLD.get(iri)
    if found is None:
        found = iri
        for prefix, space in _JSONLD_SPACES:
            if iri.startswith(space) and len(iri) > len(space) and not iri[
                    len(space):].startswith("//"):
                found = f"{prefix}:{iri[len(space):]}"
                break
        if len(_JSONLD) > _CACHE_SIZE:
            _JSONLD.clear()
        _JSONLD[iri] = found
    return found


def _jsonld_value(term) -> object:
    kind = type(term)
    if kind is Lit or kind is Literal:
        lex, dt, lang = term if kind is Lit else (str(term), term.datatype, term.language)
        if lang:
            return {"@value": lex, "@language": lang}
        if dt:
            return {"@value": lex, "@type": _compact(str(dt))}
        return lex
    if kind is not str and kind is not URIRef and kind is not BNode:
        return _jsonld_value(term_of(term))  # a subclass of an rdflib term
    return {"@id": _jsonld_id(term)}


def _jsonld_id(term) -> str:
    text = term if type(term) is str else str(term)
    if type(term) is BNode:
        return f"_:{text}"
    return text if text.startswith("_:") else _compact(text)


def jsonld_nodes(triples: Iterable[tuple]) -> list[dict]:
    """Node objects, one per run of consecutive triples (:data:`Triple` or rdflib's) with one
    subject."""
    nodes: list[dict] = []
    node: dict = {}
    subject = None
    for s, p, o in triples:
        if s is not subject and s != subject:
            subject = s
            node = {"@id": _jsonld_id(s)}
            nodes.append(node)
        if p == _TYPE and type(o) is not Lit and type(o) is not Literal:
            node.setdefault("@type", []).append(_jsonld_id(o))
            continue
        key = _compact(p if type(p) is str else str(p))
        value = _jsonld_value(o)
        held = node.get(key)
        if held is None:
            node[key] = value
        elif type(held) is list:
            held.append(value)
        else:
            node[key] = [held, value]
    return nodes


def _json(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # a lone surrogate (a file name not in UTF-8)
        return orjson.dumps(_visible_strings(value))


def _visible_strings(value: object) -> object:
    if isinstance(value, str):
        return visible(value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_visible_strings(k): _visible_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_visible_strings(v) for v in value]
    return value


def patient_jsonld(patient: PatientResult, run: RdfRun) -> bytes:
    """One patient's node objects, comma-separated, to go inside the ``@graph`` array."""
    nodes = jsonld_nodes(assessment_triples(patient, run)) + jsonld_nodes(
        _patient_graph(patient, False))
    return b",\n".join(b"    " + _json(node) for node in nodes)


def jsonld_head() -> bytes:
    context = orjson.dumps(_CONTEXT, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
    return b'{\n  "@context": ' + context + b',\n  "@graph": ['


# -- documents ----------------------------------------------------------------------------
ENCODERS = {"turtle": patient_turtle, "nquads": patient_nquads, "jsonld": patient_jsonld}


class RdfDocumentWriter:
    """Write a verdict document in one of :data:`FORMATS` patient by patient: the head, each
    patient's bytes as :data:`ENCODERS` made them (in whichever process), then the end."""

    def __init__(self, handle: BinaryIO, fmt: str) -> None:
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
