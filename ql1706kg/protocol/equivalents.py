"""Doses in equivalents of a reference drug, as data: the tables, the routes a kind leaves
out, the parts of the day and the current-medication selections a protocol declares.

Trial criteria often set a dose limit in equivalents of one drug ("up to N mg of the reference
drug or its equivalent" in the morning, a daily limit in another drug's equivalents, a
cumulative dose of a drug class in equivalents of one of its drugs). A protocol's ontology
says so with:

* ``ql:EquivalenceTable``: the reference drug, the unit of the equivalents (``ql:doseUnit``,
  UCUM) and, per drug (``ql:equivalence`` nodes: its codes as ``system|code`` tokens), how many
  units of the reference one unit of the drug stands for (``ql:equivalentFactor``) with its
  source (``dcterms:source``). A drug the table does not name has no equivalent: its dose is
  unknown, never zero.
* on a fact kind whose value is a dose (``ql:valueType ql:DoseValue``): the routes that do not
  count (``ql:excludesRoute``, ``system|code`` tokens: an inhaled or topical form is not a
  systemic one) and the parts of the day its criteria name (``ql:dayPart``: each a
  ``ql:DayPart`` with the FHIR ``Timing.repeat.when`` events it holds, ``ql:timingEvent``, and
  the clock times, ``ql:fromTime`` / ``ql:untilTime``, of a ``timeOfDay`` inside it).
* ``ql:CurrentMedicationSelection`` (an object property of the patient): the medications of
  its kinds current on the assessment date (``ql:selectsStatus`` the statuses that say taken,
  ``ql:possiblyCurrentStatus`` those that leave it open) and, with ``ql:inEquivalentsOf``, one
  node holding their summed daily dose in the table's equivalents (pipeline/derive/doses.py).

No drug, route or limit is named in Python: the engine reads these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal, InvalidOperation

from rdflib import RDFS, Graph, Literal, Namespace, URIRef

from .drugs import ATC_SYSTEMS, RXNORM_SYSTEMS, SNOMED_SYSTEMS
from .namespaces import QL, RDF

DCTERMS = Namespace("http://purl.org/dc/terms/")
_ALIASES = {**{s: "atc" for s in ATC_SYSTEMS}, **{s: "rxnorm" for s in RXNORM_SYSTEMS},
            **{s: "snomed" for s in SNOMED_SYSTEMS}}


def code_key(system: object, code: object) -> tuple[str, str]:
    """A code as tables compare it: the system by its common name when it has one (``ATC``
    and ``http://www.whocc.no/atc`` are one system), the code as written."""
    text = str(system or "").strip()
    return _ALIASES.get(text.casefold(), text), str(code or "").strip()


def parse_token(value: object) -> tuple[str, str] | None:
    text = str(value)
    if "|" not in text:
        return None
    system, code = text.rsplit("|", 1)
    return code_key(system, code)


def _tokens(g: Graph, node, prop: URIRef) -> frozenset[tuple[str, str]]:
    return frozenset(t for t in map(parse_token, g.objects(node, prop)) if t)


@dataclass(frozen=True)
class Equivalence:
    """One drug of a table: its codes, what one unit of it stands for, and the source."""

    label: str
    codes: frozenset[tuple[str, str]]
    factor: Decimal
    source: str


@dataclass(frozen=True)
class EquivalenceTable:
    """Doses of several drugs in units of one reference drug."""

    iri: URIRef
    label: str  # e.g. "<reference drug> equivalent"
    unit: str  # UCUM, the unit doses are read in and equivalents written in
    drugs: tuple[Equivalence, ...]

    def of(self, codes: list[tuple[str, str]]) -> Equivalence | None:
        """The equivalence of a drug known by any of ``codes`` (None: not in the table)."""
        keys = {code_key(*c) for c in codes}
        return next((d for d in self.drugs if d.codes & keys), None)


@dataclass(frozen=True)
class DayPart:
    """A part of the day a criterion names (morning, evening)."""

    iri: URIRef
    label: str
    events: frozenset[str]  # Timing.repeat.when codes
    start: time | None = None  # timeOfDay from (included)...
    until: time | None = None  # ...until (excluded); start > until wraps past midnight

    def holds(self, when: time) -> bool:
        if self.start is None or self.until is None:
            return False
        if self.start <= self.until:
            return self.start <= when < self.until
        return when >= self.start or when < self.until


@dataclass(frozen=True)
class DoseKind:
    """How the doses of one fact kind are read: routes left out, parts of the day."""

    kind: URIRef
    excluded_routes: frozenset[tuple[str, str]]
    parts: tuple[DayPart, ...]


@dataclass(frozen=True)
class CurrentMedication:
    """A selection of the medications current on the assessment date."""

    iri: URIRef
    kinds: tuple[URIRef, ...]
    statuses: frozenset[str]
    possible_statuses: frozenset[str]
    table: EquivalenceTable | None


@dataclass(frozen=True)
class Doses:
    """Every dose declaration of a protocol."""

    kinds: dict[URIRef, DoseKind] = field(default_factory=dict)
    selections: tuple[CurrentMedication, ...] = ()


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, Literal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


def _time(value: object) -> time | None:
    try:
        return time.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _table(g: Graph, iri: URIRef) -> EquivalenceTable:
    drugs = []
    for node in g.objects(iri, QL.equivalence):
        factor = _decimal(g.value(node, QL.equivalentFactor))
        codes = _tokens(g, node, QL.fhirCode)
        if factor is None or not codes:
            continue  # no usable factor: the drug is not in the table (its dose unknown)
        drugs.append(Equivalence(str(g.value(node, RDFS.label) or sorted(codes)[0][1]), codes,
                                 factor, str(g.value(node, DCTERMS.source) or "")))
    return EquivalenceTable(iri, str(g.value(iri, RDFS.label) or iri),
                            str(g.value(iri, QL.doseUnit) or "mg"),
                            tuple(sorted(drugs, key=lambda d: d.label)))


def _part(g: Graph, iri: URIRef) -> DayPart:
    return DayPart(iri, str(g.value(iri, RDFS.label) or iri),
                   frozenset(str(e) for e in g.objects(iri, QL.timingEvent)),
                   _time(g.value(iri, QL.fromTime)), _time(g.value(iri, QL.untilTime)))


def build_doses(g: Graph) -> Doses:
    """The dose declarations of an ontology (empty when it has none)."""
    kinds = {}
    for kind in g.subjects(QL.valueType, QL.DoseValue):
        if isinstance(kind, URIRef):
            parts = sorted((_part(g, p) for p in g.objects(kind, QL.dayPart)
                            if isinstance(p, URIRef)), key=lambda p: str(p.iri))
            kinds[kind] = DoseKind(kind, _tokens(g, kind, QL.excludesRoute), tuple(parts))
    selections = []
    for iri in sorted(s for s in g.subjects(RDF.type, QL.CurrentMedicationSelection)
                      if isinstance(s, URIRef)):
        table = g.value(iri, QL.inEquivalentsOf)
        selections.append(CurrentMedication(
            iri, tuple(sorted(k for k in g.objects(iri, QL.selectsKind)
                              if isinstance(k, URIRef))),
            frozenset(str(s) for s in g.objects(iri, QL.selectsStatus)),
            frozenset(str(s) for s in g.objects(iri, QL.possiblyCurrentStatus)),
            _table(g, table) if isinstance(table, URIRef) else None))
    return Doses(kinds, tuple(selections))
