"""Render a screening as text (for coordinators), JSON (for programs) or Turtle (for stores).

``RENDERERS`` is the one place a format is registered; the CLI's ``--format`` choices come
from it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from datetime import date

import orjson
from rdflib import BNode, Graph, Literal, URIRef

from ..pipeline.results import PatientResult, Screening, ScreeningError
from ..protocol.namespaces import bind_prefixes
from ..protocol.terminology import terminology
from ..version import __version__
from .files import ByteSink
from .rdf_stream import Lit, RdfRun, Term, assessment_triples, rdf_run
from .rdf_stream import render as render_rdf
from .visible import visible

_MARK = {"met": "met", "not_met": "NOT MET", "unknown": "UNKNOWN",
         "not_applicable": "n/a"}
SOFTWARE = URIRef(f"https://w3id.org/ql1706kg/software/{__version__}")



def render_text(screening: Screening, details: bool = True) -> str:
    """A report a coordinator reads: verdict first, then every criterion explained
    (``details``), or one line per patient. The CLI writes the same pieces patient by patient
    (:func:`text_header`, :func:`patient_text`, :func:`text_footer`).

    Whatever came from input (ids, file names, values quoted in explanations) goes through
    :func:`~ql1706kg.outputs.visible.visible`: no control character is printed raw.
    """
    counts = {v: sum(p.verdict == v for p in screening.patients) for v in VERDICTS}
    return (text_header(screening.as_of, screening.window_days, screening.protocol_version)
            + "".join(patient_text(p, screening.window_days, details)
                      for p in screening.patients)
            + text_footer(counts, [error_text(e) for e in screening.errors],
                          len(screening.errors), blank=not details and bool(screening.patients)))


VERDICTS = ("eligible", "ineligible", "incomplete")


def text_header(as_of: date, window_days: int, protocol_version: str) -> str:
    """The first line of the text output, then a blank line."""
    return (f"{terminology().screening_title} as of {as_of} (screening window {window_days} days; "
            f"protocol {visible(protocol_version)})\n\n")


def patient_text(patient: PatientResult, window_days: int, details: bool = True) -> str:
    """One patient: every criterion explained, or (``details=False``) one line."""
    if details:
        return "\n".join(_patient_text(patient, window_days)) + "\n"
    return patient_brief(patient) + "\n"


def text_footer(counts: dict[str, int], errors: list[str], error_count: int,
                blank: bool = False) -> str:
    """The inputs that could not be read (``error_count``, said in the lines ``errors``,
    already made visible) and the counts per verdict."""
    lines = [""] if blank else []
    if error_count:
        lines.append(f"{error_count} input(s) could not be read:")
        lines.extend(f"  {line}" for line in errors)
        lines.append("")
    total = sum(counts.values())
    lines.append(f"{total} patient(s) screened: " + ", ".join(
        f"{counts.get(v, 0)} {v}{_share(counts.get(v, 0), total)}" for v in VERDICTS))
    return "\n".join(lines) + "\n"


def _share(part: int, total: int) -> str:
    return f" ({100 * part / total:.0f} %)" if total else ""


BRIEF_CRITERIA = 4  # criteria named on a patient's one line; the rest counted


def named_criterion(criterion_id: str) -> str:
    """A criterion by id and name in words (``A9.2-X (X)``; the id alone when the
    protocol names it no other way)."""
    crit = terminology().criteria.get(criterion_id)
    name = crit.get("name") if crit else None
    return f"{criterion_id} ({name})" if name and name != criterion_id else criterion_id


def patient_brief(patient: PatientResult) -> str:
    """One line: the id, the verdict and what decides it (the criteria not met, else those
    unknown, by id and name), with the date that bounds it."""
    deciding = ([c.id for c in patient.criteria if c.outcome == "not_met"]
                or [c.id for c in patient.criteria if c.outcome == "unknown"])
    said = ", ".join(named_criterion(cid) for cid in deciding[:BRIEF_CRITERIA]) + (
        f" and {len(deciding) - BRIEF_CRITERIA} more" if len(deciding) > BRIEF_CRITERIA else "")
    if patient.verdict == "ineligible":
        tail = f"not met: {said}"
        if patient.eligible_from is not None:
            tail += f"; new screening labs from {patient.eligible_from}"
    elif patient.verdict == "incomplete":
        tail = f"unknown: {said}"
    else:
        tail = "every criterion met or not applicable"
    if patient.valid_until is not None:
        tail += f"; valid until {patient.valid_until}"
    return visible(f"{patient.id:<14} {patient.verdict.upper():<11} {tail}")


def error_text(error: ScreeningError) -> str:
    """An unreadable input in one line (text output and standard error): where, then why."""
    where = error.source + (f", record {error.record}" if error.record else "") + (
        f", field {error.field}" if error.field else "")
    return visible(f"{where}: {error.message}")


def what_if_lines(patient: PatientResult, window_days: int) -> list[str]:
    """What would change the verdict, one line each (text output and the HTML report)."""
    lines = [f"{crit.id}: {crit.change_needed}" for crit in patient.criteria
             if crit.change_needed]
    if patient.eligible_from is not None:
        lines.append(f"Eligible from: the only obstacle is a waiting period; new screening "
                     f"laboratory tests may be drawn from {patient.eligible_from}.")
    if patient.valid_until is not None:
        lines.append(f"Valid until: {patient.valid_until}, the last day a screening result "
                     f"the verdict rests on is within the {window_days}-day window (screen "
                     "again after it).")
    return lines


def _patient_text(patient: PatientResult, window_days: int) -> list[str]:
    lines = [f"Patient {visible(patient.id)}  ({visible(patient.source)})",
             f"  Verdict: {patient.verdict.upper()}"]
    changes = what_if_lines(patient, window_days)
    if changes:
        lines.append("  What would change the verdict:")
        lines.extend(textwrap.fill(visible(line), width=100, initial_indent="    ",
                                   subsequent_indent="      ") for line in changes)
    for crit in patient.criteria:
        body = visible(crit.explanation.split('" ', 1)[-1] if crit.explanation.startswith(
            crit.id) else crit.explanation)
        lines.append(textwrap.fill(body, width=100,
                                   initial_indent=f"  {_MARK[crit.outcome]:<8} {crit.id:<11} ",
                                   subsequent_indent=" " * 22))
    lines.append("")
    return lines


def dumps(value: object, indent: bool = False) -> bytes:
    """JSON bytes: orjson (the same bytes as ``json.dumps(ensure_ascii=False)``, ~6× faster),
    or, for a string orjson refuses (a lone surrogate: a file name that is not UTF-8), the
    standard library's with every non-ASCII character escaped, which is still valid JSON."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else None)
    except orjson.JSONEncodeError:
        return json.dumps(value, indent=2 if indent else None,
                          separators=None if indent else (",", ":")).encode("ascii")


def render_json(screening: Screening) -> str:
    """The JSON form documented in the README."""
    # orjson: the same bytes as json.dumps(indent=2, ensure_ascii=False), ~6× faster; the
    # standard library's indenting encoder is pure Python (0.46 ms a patient, in the parent).
    return dumps(screening.as_dict(), indent=True).decode() + "\n"


def patient_json(patient: PatientResult) -> bytes:
    """One patient exactly as it sits in the JSON document's ``patients`` list."""
    return _nested(dumps(patient.as_dict(), indent=True), b"    ")


def patient_line(patient: PatientResult, run: dict) -> bytes:
    """One patient as an NDJSON line (``--format ndjson``): the run's ``as_of``,
    ``window_days`` and ``protocol_version`` (``run``), then the patient's JSON form."""
    return dumps({**run, **patient.as_dict()}) + b"\n"


def error_line(error: ScreeningError, run: dict) -> bytes:
    """One unreadable input as an NDJSON line."""
    return dumps({**run, "error": error.as_dict()}) + b"\n"


def _nested(block: bytes, indent: bytes) -> bytes:
    return indent + block.replace(b"\n", b"\n" + indent)


class JsonDocumentWriter:
    """Write the JSON document of :func:`render_json` patient by patient, byte for byte the
    same, so a cohort of any size is written in constant memory."""

    def __init__(self, handle: ByteSink, screening: Screening) -> None:
        self.handle, self.count = handle, 0
        head = screening.as_dict()
        head.pop("patients"), head.pop("errors")
        opening = dumps(head, indent=True)
        handle.write(opening[:-2] + b',\n  "patients": [')

    def add(self, fragment: bytes) -> None:
        """Add one patient, as :func:`patient_json` wrote it."""
        self.handle.write((b",\n" if self.count else b"\n") + fragment)
        self.count += 1

    def close(self, errors: list[ScreeningError]) -> None:
        """End the document with the input errors."""
        listed = dumps([e.as_dict() for e in errors], indent=True)
        self.handle.write((b"\n  ]" if self.count else b"]") + b',\n  "errors": '
                          + _nested(listed, b"  ")[2:] + b"\n}\n")


def verdict_graph(screening: Screening, include_patients: bool = True,
                  run: RdfRun | None = None) -> Graph:
    """The screening as one rdflib graph: one assessment per patient, one result per criterion
    (PROV-O), the triples of :func:`~ql1706kg.outputs.rdf_stream.assessment_triples`. For a
    program that wants a ``Graph``; the outputs stream (:mod:`.rdf_stream`)."""
    graph = bind_prefixes(Graph())
    run = run or screening_run(screening)
    for patient in screening.patients:
        graph.addN((_node(s), _node(p), _node(o), graph)
                   for s, p, o in assessment_triples(patient, run))
        if include_patients and patient.graph is not None:
            graph += patient.graph
    return graph


def _node(term: Term) -> URIRef | BNode | Literal:
    if isinstance(term, Lit):
        return Literal(term.lex, lang=term.lang,
                       datatype=URIRef(term.dt) if term.dt is not None else None)
    return BNode(term[2:]) if term.startswith("_:") else URIRef(term)


def screening_run(screening: Screening) -> RdfRun:
    """The shared facts of a screening's assessments (stamped now)."""
    return rdf_run(screening.as_of.isoformat(), screening.protocol_version)


def render_turtle(screening: Screening) -> str:
    """The verdicts with the patient graphs they were computed from, as Turtle."""
    return render_rdf(screening.patients, screening_run(screening), "turtle")


def render_nquads(screening: Screening) -> str:
    """One named graph per assessment, as N-Quads."""
    return render_rdf(screening.patients, screening_run(screening), "nquads")


def render_jsonld(screening: Screening) -> str:
    """The verdicts as JSON-LD with their context inline (nothing fetched to read it)."""
    return render_rdf(screening.patients, screening_run(screening), "jsonld")


RENDERERS: dict[str, Callable[[Screening], str]] = {
    "text": render_text,
    "json": render_json,
    "turtle": render_turtle,
    "jsonld": render_jsonld,
    "nquads": render_nquads,
}
