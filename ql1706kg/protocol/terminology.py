"""The ontology as the engine uses it: its OWL-RL closure, computed once, and lookup tables.

Per-patient reasoning is the cost to avoid (pitfalls.md: a quarter of plain pySHACL's time),
so the closure of the ontology is computed once and reduced to a ``Terminology``: the types of
every term, the names and codes that identify it, and the facts of tests and grades the derive
step needs. It is cached on disk keyed by the ontology's content hash, so only the first run on
a machine pays for owlrl; editing a .ttl file invalidates the cache by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import cast

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from ..errors import ShapesError
from ..version import __version__
from . import equations as equations_module
from . import equivalents
from . import order as order_module
from . import trial as trial_module
from .conditions import Logic, logic_of
from .equations import Equation, EquationError, named_equations
from .equivalents import Doses, build_doses
from .fact_kinds import FactKind, Selection, build_fact_kinds
from .namespaces import OWL, QL, RDF, RDFS, SKOS, dumps_interned, intern_all
from .order import complete_order
from .regimen_counts import RegimenCount, Settings, build_regimen_counts
from .resources import (
    cache_dir,
    complete_instance,
    content_hash,
    ontology_files,
    protocol_cache,
    read_cache,
    write_cache,
)
from .texts import render_graph, shown
from .trial import exclusion_reading, trial_names
from .visible import visible

# How a code system is named in input -> the ontology's annotation property for it.
CODE_SYSTEMS: dict[str, URIRef] = {
    "icd-o-3": QL.icdO3Morphology, "icdo3": QL.icdO3Morphology, "icd-o": QL.icdO3Morphology,
    "ncit": QL.ncitCode, "oncotree": QL.oncotreeCode, "snomed-ct": QL.snomedCode,
    "snomed": QL.snomedCode, "sct": QL.snomedCode, "http://snomed.info/sct": QL.snomedCode,
    "atc": QL.atcCode, "http://www.whocc.no/atc": QL.atcCode, "rxnorm": QL.rxnormCode,
    "http://www.nlm.nih.gov/research/umls/rxnorm": QL.rxnormCode, "loinc": QL.loincCode,
    "http://loinc.org": QL.loincCode,
}
_CODE_PROPERTIES = frozenset(CODE_SYSTEMS.values())
_NAME_PROPERTIES = (RDFS.label, SKOS.prefLabel, SKOS.altLabel)
_ICDO3 = re.compile(r"^\d{4}/\d$")
# Annotations the drug reader (protocol/drugs.py) needs from the ontology, kept as plain
# (subject, value) pairs by local name: INN stems, what a class rules out, the "possibly X"
# classes, the codes of reasons to stop a therapy, synonyms as written (abbreviations).
DRUG_FACT_PROPERTIES = (*(QL[name] for name in (
    "stemSuffix", "stemImpliesClass", "rulesOut", "possibilityOf", "statusReasonCode",
    "indicatesIntolerance", "keptWhenUnclassified")), SKOS.altLabel)


@lru_cache(maxsize=1 << 14)  # a cohort repeats its names: folded once each
def normalise_name(text: str) -> str:
    """Fold a name for lookup: case, apostrophes, punctuation and spacing do not matter."""
    text = text.casefold().replace("'", "").replace("’", "")
    return " ".join(re.sub(r"[^\w+*±]+", " ", text).split())


@dataclass(frozen=True)
class TestInfo:
    """What derive needs to know about a test."""

    iri: URIRef
    label: str
    canonical_unit: str | None
    molar_mass: Decimal | None
    screening_property: URIRef | None
    is_laboratory: bool
    unit_aliases: tuple[str, ...] = ()
    value_set: URIRef | None = None
    plausible_min: Decimal | None = None  # in the canonical unit; outside: an input error
    plausible_max: Decimal | None = None


@dataclass
class Terminology:
    """Lookup tables over the ontology closure; built once, pickled, shared by all patients."""

    version: str
    types: dict[URIRef, frozenset[URIRef]] = field(default_factory=dict)
    labels: dict[URIRef, str] = field(default_factory=dict)
    by_name: dict[str, tuple[URIRef, ...]] = field(default_factory=dict)
    by_code: dict[tuple[URIRef | None, str], URIRef] = field(default_factory=dict)
    tests: dict[URIRef, TestInfo] = field(default_factory=dict)
    ranks: dict[URIRef, Decimal] = field(default_factory=dict)
    concentrations: dict[URIRef, Decimal] = field(default_factory=dict)
    unit_labels: dict[URIRef, str] = field(default_factory=dict)
    drug_facts: dict[str, tuple[tuple[URIRef, object], ...]] = field(default_factory=dict)
    derived_from: dict[URIRef, tuple[URIRef, ...]] = field(default_factory=dict)
    bears_on: dict[URIRef, tuple[str, ...]] = field(default_factory=dict)  # class -> ids
    criteria: dict[str, dict] = field(default_factory=dict)
    # histology class -> {criterion id: "in" | "possibly"} (absent: out of scope), from the
    # criteria's ql:appliesToHistology over the hierarchy and ql:mayBe (:func:`_scopes`)
    histology_scope: dict[URIRef, dict[str, str]] = field(default_factory=dict)
    parameters: dict[str, Decimal] = field(default_factory=dict)  # ql:RuleParameter numbers
    policies: dict[str, URIRef] = field(default_factory=dict)  # ql:RuleParameter choices
    # the equations the criteria name (ql:usesEquation), ready to compute (.equations)
    equations: dict[URIRef, Equation] = field(default_factory=dict)
    # a code system's names (ql:codeSystemUri, ql:codeSystemName; casefolded) and URI prefixes
    code_systems: dict[URIRef, tuple[frozenset[str], tuple[str, ...]]] = field(
        default_factory=dict)
    # declared fact kinds by record key, and the fact selections criteria read (fact_kinds.py)
    fact_kinds: dict[str, FactKind] = field(default_factory=dict)
    selections: tuple[Selection, ...] = ()
    doses: Doses = field(default_factory=Doses)  # doses in equivalents (equivalents.py)
    regimen_counts: tuple[RegimenCount, ...] = ()  # ql:RegimenCount (.regimen_counts)
    logic: Logic = field(default_factory=Logic)  # ql:Condition, compositions (.conditions)
    settings: Settings = field(default_factory=lambda: Settings({}, {}))
    protocol_version: str = ""
    ontology_version: str = ""
    ontology_version_iri: str = ""
    # what titles call the trial (ql:trialShortName of the study) and the text output's
    # heading (ql:screeningTitle): the software names no trial (.trial)
    trial_name: str = ""
    screening_title: str = ""

    def label(self, iri: Node | None) -> str:
        """Return a term's label, or the local part of its IRI."""
        return self.labels.get(cast(URIRef, iri)) or str(iri).rsplit("#", 1)[-1]

    def parameter(self, name: str) -> Decimal:
        """The number of the rule parameter ``ql:NAME`` (e.g. ``CockcroftGaultAgeConstant``);
        a protocol without it is refused (:class:`ShapesError` naming it)."""
        value = self.parameters.get(name)
        if value is None:
            raise ShapesError(f"the protocol's ontology has no number for the rule parameter "
                              f"ql:{name} (ql:parameterValue)")
        return value

    def policy(self, name: str, known: tuple[str, ...]) -> str:
        """The policy of the rule parameter ``ql:NAME`` as its local name, one of ``known``
        (those the software implements); any other is refused, naming both."""
        value = self.policies.get(name)
        chosen = str(value).rsplit("#", 1)[-1] if value is not None else None
        if chosen not in known:
            raise ShapesError(f"the rule parameter ql:{name} has the policy "
                              f"{'ql:' + chosen if chosen else 'none'}; this software "
                              f"implements {', '.join('ql:' + k for k in known)}")
        return chosen

    def scope_of(self, histology: URIRef) -> dict[str, str]:
        """Which histology-dependent criteria a histology class is in scope of ("in") or
        may be ("possibly"); a criterion left out does not apply to it."""
        return self.histology_scope.get(histology, {})

    def is_a(self, iri: Node, cls: Node) -> bool:
        """Tell whether a term is (an instance or subclass of) a class, per the closure."""
        return cls in self.types.get(cast(URIRef, iri), ())

    def find(self, text: str, within: URIRef | None = None) -> URIRef | None:
        """Find the term a name or bare code stands for, optionally only among ``within``.

        A name may belong to several terms ("negative" is a dipstick grade and a pregnancy test
        result), so ``within`` picks the one the context asks for.
        """
        candidates = self.by_name.get(normalise_name(text), ())
        code = self.by_code.get((None, text.strip()))
        for hit in (*candidates, *((code,) if code is not None else ())):
            if within is None or self.is_a(hit, within):
                return hit
        return None

    def find_in_phrase(self, text: str, within: URIRef) -> URIRef | None:
        """Find a term named by the longest run of words inside a longer phrase.

        Sites are written as "liver segment VII" or "left lower lobe, lung": the organ is a
        part of the phrase. Used only where that reading is safe (anatomical sites), never for
        drugs or histologies, where a longer name is a different thing.
        """
        hit = self.find(text, within)
        if hit is not None:
            return hit
        words = normalise_name(text).split()
        for size in range(len(words) - 1, 0, -1):
            for start in range(len(words) - size + 1):
                hit = self.find(" ".join(words[start:start + size]), within)
                if hit is not None:
                    return hit
        return None

    def find_code(self, system: str, code: str, within: URIRef | None = None) -> URIRef | None:
        """Find the term a coded value stands for; the system is matched leniently."""
        prop = CODE_SYSTEMS.get(system.strip().casefold())
        hit = self.by_code.get((prop, code.strip())) if prop else None
        hit = hit or self.by_code.get((None, code.strip()))
        if hit is not None and (within is None or self.is_a(hit, within)):
            return hit
        return None

    def test_for(self, text: str) -> TestInfo | None:
        """Return the test a name or LOINC code stands for."""
        hit = self.find(text)
        return self.tests.get(hit) if hit is not None else None


def looks_like_icdo3(code: str) -> bool:
    """Tell whether a string has the shape of an ICD-O-3 morphology code (e.g. 9180/3)."""
    return bool(_ICDO3.match(code.strip()))


def load_ontology(rendered: bool = True) -> Graph:
    """Parse the protocol's ontology files into one graph, its texts rendered (a text that
    states a limit or a rule parameter shows the literal's number: :mod:`.texts`), or as
    written (``rendered=False``: what the closure is computed from, so that a change to a
    shape's limit does not recompute it)."""
    graph = Graph()
    for path in ontology_files():
        graph.parse(path, format="turtle")
    return render_graph(graph) if rendered else complete_order(graph)


def compute_closure(ontology: Graph) -> Graph:
    """Return the OWL-RL closure of the ontology (expensive: call once, then cache)."""
    import owlrl  # imported here: only the first run on a machine needs it

    closure = Graph()
    for triple in ontology:
        closure.add(triple)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, rdfs_closure=True).expand(closure)
    return closure


@protocol_cache
def closure_graph() -> Graph:
    """Return the ontology's OWL-RL closure (computed on first use in this process)."""
    return compute_closure(load_ontology(rendered=False))


def ontology_hash() -> str:
    # this file too: a new table layout invalidates old caches
    return content_hash(ontology_files(), __version__.encode(), *(Path(f).read_bytes() for f in (
        __file__, order_module.__file__, equations_module.__file__, trial_module.__file__,
        Path(__file__).with_name("conditions.py"), equivalents.__file__)))


def _cache_dir() -> Path:
    return cache_dir()


@protocol_cache
def terminology() -> Terminology:
    """Return the terminology, from the on-disk cache when the ontology has not changed (the
    cache's IRIs load as the shared objects of :mod:`.namespaces`); a missing, unreadable or
    corrupt cache is rebuilt."""
    key = ontology_hash()
    path = _cache_dir() / f"terminology-{key}.pickle"
    cached = read_cache(path, lambda value: complete_instance(value, Terminology)
                        and value.version == key)
    if cached is not None:
        return _rendered(cached)
    built = intern_all(build_terminology(closure_graph(), key))
    write_cache(path, dumps_interned(built))  # a read-only home only costs speed
    return _rendered(built)


def _rendered(term: Terminology) -> Terminology:
    """The criteria's texts as shown: the table holds them as written (it depends on the
    ontology only, so a limit changed in a shape does not recompute the closure); each is
    looked up in the rendered texts of :mod:`.texts`, themselves cached by content."""
    for crit in term.criteria.values():
        for key in ("text", "rule", "collect"):
            crit[key] = shown(crit[key], crit["iri"])
    return term


def build_terminology(closure: Graph, version: str) -> Terminology:
    """Reduce the closure to lookup tables."""
    term = Terminology(version=version)
    _index_types(closure, term)
    _index_names_and_codes(closure, term)
    _index_tests(closure, term)
    term.ranks = {s: Decimal(str(v)) for s, v in iri_pairs(closure, QL.ordinalRank)}
    term.concentrations = {s: Decimal(str(v))
                           for s, v in iri_pairs(closure, QL.approximateConcentration)}
    term.unit_labels = {s: str(v) for s, v in iri_pairs(closure, QL.unitLabel)}
    for subject, value in iri_pairs(closure, QL.derivedFromProperty):
        term.derived_from[subject] = (*term.derived_from.get(subject, ()), cast(URIRef, value))
    term.criteria = _criteria_table(closure)
    try:
        term.equations = named_equations(closure)
    except EquationError as exc:
        raise ShapesError(str(exc)) from None
    term.fact_kinds, term.selections = build_fact_kinds(closure)
    term.regimen_counts, term.settings = build_regimen_counts(closure)
    term.doses = build_doses(closure)
    term.histology_scope = _scopes(closure, term)
    for system in set(closure.subjects(QL.codeSystemUri, None)) | set(
            closure.subjects(QL.codeSystemName, None)):
        names = frozenset(str(v).strip().casefold() for prop in (QL.codeSystemUri,
                                                                  QL.codeSystemName)
                          for v in closure.objects(system, prop))
        prefixes = tuple(sorted(str(v).strip().casefold()
                                for v in closure.objects(system, QL.codeSystemUriPrefix)))
        term.code_systems[cast(URIRef, system)] = (names, prefixes)
    for parameter in closure.subjects(RDF.type, QL.RuleParameter):
        name = str(parameter).rsplit("#", 1)[-1]
        value, policy = closure.value(parameter, QL.parameterValue), closure.value(parameter,
                                                                                   QL.policy)
        if value is not None:
            term.parameters[name] = Decimal(str(value))
        if isinstance(policy, URIRef):
            term.policies[name] = policy
    ids = {crit["iri"]: cid for cid, crit in term.criteria.items()}
    term.logic = logic_of(closure, ids)
    for subject, value in iri_pairs(closure, QL.bearsOn):
        if value in ids:
            term.bears_on[subject] = tuple(sorted({*term.bears_on.get(subject, ()),
                                                   ids[value]}))
    for prop in DRUG_FACT_PROPERTIES:
        term.drug_facts[re.split(r"[#/]", str(prop))[-1]] = tuple(sorted(
            (s, o.toPython() if isinstance(o, Literal) else o)
            for s, o in closure.subject_objects(prop) if isinstance(s, URIRef)))
    ontology = next(closure.subjects(RDF.type, OWL.Ontology), None)
    term.protocol_version = str(closure.value(ontology, QL.protocolVersion) or "")
    term.ontology_version = str(closure.value(ontology, OWL.versionInfo) or "")
    term.ontology_version_iri = str(closure.value(ontology, OWL.versionIRI) or "")
    term.trial_name, term.screening_title = trial_names(closure, ontology)
    return term


def _index_types(closure: Graph, term: Terminology) -> None:
    """Record every class of an individual and every superclass of a class."""
    found: dict[URIRef, set[URIRef]] = {}
    for subject, cls in closure.subject_objects(RDF.type):
        if isinstance(subject, URIRef) and isinstance(cls, URIRef):
            found.setdefault(subject, set()).add(cls)
    for subject, cls in closure.subject_objects(RDFS.subClassOf):
        if isinstance(subject, URIRef) and isinstance(cls, URIRef):
            found.setdefault(subject, set()).add(cls)
    noise = {OWL.Thing, RDFS.Resource, OWL.NamedIndividual, OWL.Class, RDFS.Class}
    term.types = {s: frozenset(c - noise) for s, c in found.items()}


def _index_names_and_codes(closure: Graph, term: Terminology) -> None:
    for prop in _NAME_PROPERTIES:
        for subject, name in sorted(closure.subject_objects(prop)):
            if isinstance(subject, URIRef) and isinstance(name, Literal):
                if prop == RDFS.label:
                    term.labels.setdefault(subject, str(name))
                key = normalise_name(str(name))
                known = term.by_name.get(key, ())
                if subject not in known:
                    # Labels before alternative labels: a term's own name wins a tie.
                    term.by_name[key] = ((subject, *known) if prop == RDFS.label
                                         else (*known, subject))
    for subject, prop, code in closure:
        if prop in _CODE_PROPERTIES and isinstance(subject, URIRef) and not isinstance(
            subject, BNode
        ):
            term.by_code.setdefault((cast(URIRef, prop), str(code)), subject)
            term.by_code.setdefault((None, str(code)), subject)


def _index_tests(closure: Graph, term: Terminology) -> None:
    screening = {t: cast(URIRef, p) for p, t in closure.subject_objects(QL.forTest)}
    for test in closure.subjects(RDF.type, QL.Test):
        if not isinstance(test, URIRef):
            continue
        unit = closure.value(test, QL.canonicalUnit)
        mass = closure.value(test, QL.molarMass)
        term.tests[test] = TestInfo(
            iri=test,
            label=term.label(test),
            canonical_unit=str(unit) if unit is not None else None,
            molar_mass=Decimal(str(mass)) if mass is not None else None,
            screening_property=screening.get(test),
            is_laboratory=(test, RDF.type, QL.LaboratoryTest) in closure,
            unit_aliases=tuple(sorted(str(a) for a in closure.objects(test, QL.unitAlias))),
            value_set=closure.value(test, QL.resultValueSet),
            plausible_min=_decimal_or_none(closure.value(test, QL.plausibleMinimum)),
            plausible_max=_decimal_or_none(closure.value(test, QL.plausibleMaximum)),
        )


def _decimal_or_none(value: object) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _criteria_table(closure: Graph) -> dict[str, dict]:
    """Return the atomic criteria by id, in protocol order, with what explanations cite."""
    table: dict[str, dict] = {}
    for crit in closure.subjects(RDF.type, QL.AtomicCriterion):
        # the id is the criterion's identity (never its IRI's spelling); ids and texts from a
        # protocol folder are made visible here, once, for every output (a newline in an id
        # must not forge a line of the text report)
        ids = sorted(map(str, closure.objects(crit, QL.criterionId)))
        if len(ids) > 1:
            raise ShapesError(f"the criterion {crit} has {len(ids)} ids ({', '.join(ids)}): "
                              "one criterion, one id")
        cid = visible(str(closure.value(crit, QL.criterionId)))
        if cid in table and table[cid]["iri"] != crit:
            raise ShapesError(f"two criteria have the id {cid!r} ({table[cid]['iri']} and "
                              f"{crit}): an id names one criterion")
        table[cid] = {
            "iri": crit,
            "id": cid,
            "order": _order(closure.value(crit, QL.criterionOrder)),
            "text": visible(closure.value(crit, SKOS.definition)),
            # a short name in words (a folder exported before names existed: the id)
            "name": visible(closure.value(crit, QL.criterionName) or cid),
            "rule": visible(closure.value(crit, QL.ruleAsRead) or ""),
            "collect": visible(closure.value(crit, QL.collectHint) or ""),
            "window": bool(closure.value(crit, QL.screeningWindowApplies)),
            "group": closure.value(crit, QL.partOf),
            "evidence": sorted(_iris(closure, crit, QL.evidenceProperty)),
            "tests": sorted(_iris(closure, crit, QL.usesTest)),
            "histologies": sorted(_iris(closure, crit, QL.appliesToHistology)),
            "exclusion": (crit, RDF.type, QL.ExclusionCriterion) in closure,
            "anchors": sorted(_iris(closure, crit, QL.anchorsWindowOf)),
        }
        table[cid]["reading"] = exclusion_reading(table[cid])
    return dict(sorted(table.items(), key=lambda item: (item[1]["order"], item[0])))


def _scopes(closure: Graph, term: Terminology) -> dict[URIRef, dict[str, str]]:
    """For every histology class, the criteria it is in scope of or may be in scope of.

    A class C is in scope of a criterion when it is (a sub-type of) a class the criterion
    applies to. It may be when one of its own sub-types is (a sarcoma not otherwise specified
    may be a chordoma: the terminology's hierarchy is what a histology may turn out to be),
    or when a class it may be (``ql:mayBe``) is in or may be in scope. Otherwise the criterion
    does not apply: a liposarcoma, whatever its sub-type, is never a chordoma.
    """
    applies = {cid: set(crit["histologies"]) for cid, crit in term.criteria.items()
               if crit["histologies"]}
    classes = {c for c in closure.subjects(RDF.type, OWL.Class)
               if isinstance(c, URIRef) and term.is_a(c, QL.Neoplasm)
               and c != OWL.Nothing} | {QL.Neoplasm}  # owl:Nothing is below every class
    below: dict[URIRef, set[URIRef]] = {c: {c} for c in classes}
    for c in classes:
        for parent in term.types.get(c, ()):
            if parent in below:
                below[parent].add(c)
    may_be: dict[URIRef, set[URIRef]] = {}
    for s, o in iri_pairs(closure, QL.mayBe):
        if s in classes and o in classes:
            may_be.setdefault(s, set()).add(cast(URIRef, o))

    def is_one(c: URIRef, targets: set[URIRef]) -> bool:
        return c in targets or any(t in term.types.get(c, ()) for t in targets)

    def may_be_one(c: URIRef, targets: set[URIRef], seen: set[URIRef]) -> bool:
        if c in seen:
            return False
        seen.add(c)
        return any(is_one(d, targets) for d in below[c]) or any(
            may_be_one(m, targets, seen) for m in may_be.get(c, ()))

    out: dict[URIRef, dict[str, str]] = {}
    for c in sorted(classes):
        scope = {}
        for cid, targets in applies.items():
            if is_one(c, targets):
                scope[cid] = "in"
            elif may_be_one(c, targets, set()):
                scope[cid] = "possibly"
        if scope:
            out[c] = scope
    return out


def _order(value: object) -> int:
    """A criterion's place in protocol order; one without a usable number goes last."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 1 << 30


def iri_pairs(closure: Graph, predicate: URIRef) -> Iterator[tuple[URIRef, Node]]:
    """The subjects (IRIs: the ontology names what it describes) and objects of a property."""
    for subject, value in closure.subject_objects(predicate):
        yield cast(URIRef, subject), value


def _iris(closure: Graph, subject: Node, predicate: URIRef) -> Iterator[URIRef]:
    """The objects of a property whose values the ontology gives as IRIs."""
    return cast(Iterator[URIRef], closure.objects(subject, predicate))
