"""Pseudonymised verdicts: what may leave the site for a shared feasibility registry.

``push --pseudonymise KEYFILE`` and ``export --what verdicts --pseudonymise KEYFILE`` send each
assessment graph through :class:`Pseudonymiser`, in the worker that encoded it:

- patient IRIs and ids become keyed hashes: HMAC-SHA256 (RFC 2104, FIPS 198-1) of the patient
  id with the key file's bytes, the first 128 bits in hex. The same key gives the same
  pseudonym in every run (a registry can count a patient once across pushes); without the key
  no one can recompute it from an id, as a plain hash of a (guessable) id could be. The
  assessment and result IRIs and every IRI under the patient's are rewritten with it, and
  ``ql:patientId`` carries the pseudonym;
- the date of birth is dropped; the age at informed consent stays, as an ``xsd:integer`` of
  completed years (the derived ``ql:age`` value);
- every string literal is dropped but the allow-listed ones (:data:`KEPT_TEXT`: verdicts,
  versions, units, the limits and what-to-collect texts, which are the protocol's words):
  explanations (they quote the record), names and labels, histology and test texts as
  written, notes, comments, source file names, and any text field added later;
- an IRI outside the project's and W3C's namespaces (a FHIR ``urn:uuid:``, a ``file:`` path)
  is dropped with its triple.

Kept: criterion outcomes, verdicts, the per-assessment counts and criterion links, ``as_of``,
protocol, ontology and software versions, and the numeric, boolean and date facts the
outcomes rest on. The README's table lists the fields of each mode.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote

from ..pipeline.results import PatientResult
from ..protocol.namespaces import QL, QLP, QLR, XSD
from .rdf_stream import RdfRun, assessment_iri, assessment_triples, patient_triples
from .rdf_syntax import Lit, Term, Triple, nquads_block, term_of, turtle_block, turtle_head

# RFC 2104 section 3: a key shorter than the hash output (32 bytes for SHA-256) is "strongly
# discouraged"; such a key file is refused.
MIN_KEY_BYTES = 32
PSEUDONYM_HEX = 32  # 128 bits of the HMAC

_QL, _XSD = str(QL), str(XSD)
_STRING = _XSD + "string"
_INTEGER = _XSD + "integer"
_SPACES = (str(QLP), str(QLR))
# IRIs that may leave: the project's (vocabulary, shapes, software) and W3C vocabularies.
_ALLOWED_IRIS = ("https://w3id.org/ql1706kg", "http://www.w3.org/")
KEPT_TEXT = frozenset(_QL + name for name in (
    "verdict", "protocolVersion", "softwareVersion", "ontologyVersion", "unit",
    "normalisedUnit", "limitApplied", "toCollect"))
DROPPED = frozenset(_QL + name for name in ("birthDate", "sourceFile"))
_PATIENT_ID = _QL + "patientId"


class KeyFileError(ValueError):
    """A key file that cannot be used (missing, unreadable, empty or too short)."""


def read_key(path: Path | str) -> bytes:
    """The key: the file's bytes as they are (at least :data:`MIN_KEY_BYTES`)."""
    try:
        key = Path(path).read_bytes()
    except FileNotFoundError:
        raise KeyFileError(f"the key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    if not key.strip():
        raise KeyFileError(f"the key file {path} is empty")
    if len(key) < MIN_KEY_BYTES:
        raise KeyFileError(f"the key file {path} holds {len(key)} bytes; a key needs at least "
                           f"{MIN_KEY_BYTES} (e.g. head -c 32 /dev/urandom > {path})")
    return key


class Pseudonymiser:
    """Rewrite verdict triples with a key (see the module's docstring)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise KeyFileError(f"a key needs at least {MIN_KEY_BYTES} bytes")
        self.key = key
        self._seen: dict[str, str] = {}

    def pseudonym(self, patient_id: str) -> str:
        found = self._seen.get(patient_id)
        if found is None:
            digest = hmac.new(self.key, patient_id.encode("utf-8", "surrogatepass"),
                              hashlib.sha256).hexdigest()
            found = self._seen[patient_id] = digest[:PSEUDONYM_HEX]
            if len(self._seen) > 10_000:
                self._seen.clear()
                self._seen[patient_id] = found
        return found

    def iri(self, iri: str) -> str | None:
        """A patient-space IRI with the id replaced; an allowed IRI as it is; else None."""
        for space in _SPACES:
            if iri.startswith(space):
                segment, slash, rest = iri[len(space):].partition("/")
                return f"{space}{self.pseudonym(unquote(segment))}{slash}{rest}"
        if iri.startswith("_:") or iri.startswith(_ALLOWED_IRIS):
            return iri
        return None

    def triples(self, triples: Iterable[tuple]) -> list[Triple]:
        out: list[Triple] = []
        for s_node, p_node, o_node in triples:
            s, p, o = str(_term(s_node)), str(_term(p_node)), _term(o_node)
            if p in DROPPED:
                continue
            subject = self.iri(s)
            if subject is None or self.iri(p) is None:
                continue
            if isinstance(o, Lit):
                kept = self._literal(subject, p, o)
                if kept is not None:
                    out.append((subject, p, kept))
                continue
            obj = self.iri(o)
            if obj is not None:
                out.append((subject, p, obj))
        return out

    def _literal(self, subject: str, p: str, o: Lit) -> Lit | None:
        if p == _PATIENT_ID:
            return Lit(self.pseudonym(o.lex))
        if o.lang or o.dt in (None, _STRING):
            return o if p in KEPT_TEXT and not o.lang else None
        if p == _QL + "normalisedValue" and subject.endswith("/derived/age"):
            try:
                return Lit(str(int(Decimal(o.lex))), _INTEGER)
            except (InvalidOperation, ValueError):
                return None
        return o


def _term(node) -> Term:
    return node if type(node) in (str, Lit) else term_of(node)


def own_triples(patient: PatientResult, run: RdfRun) -> list[Triple]:
    """What one assessment graph holds: the assessment and the patient's own facts."""
    return [*assessment_triples(patient, run), *patient_triples(patient, own_only=True)]


def pseudonymous_turtle(patient: PatientResult, run: RdfRun, key: bytes) -> bytes:
    """One assessment graph, pseudonymised, as a Turtle document (a Graph Store PUT body)."""
    return turtle_head() + turtle_block(Pseudonymiser(key).triples(own_triples(patient, run)))


def pseudonymous_nquads(patient: PatientResult, run: RdfRun, key: bytes) -> bytes:
    """One assessment graph, pseudonymised, as N-Quads lines in its pseudonymous graph."""
    pseudonymiser = Pseudonymiser(key)
    graph = pseudonymiser.iri(assessment_iri(patient.id, run.as_of))
    assert graph is not None  # an assessment IRI is in the patient space
    return nquads_block(pseudonymiser.triples(own_triples(patient, run)), graph)
