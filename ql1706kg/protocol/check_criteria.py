"""The criteria a protocol folder declares, checked before any patient is read.

A folder's criteria are exactly the atomic criteria its ontology declares
(``ql:AtomicCriterion`` with a ``ql:criterionId``): it may remove any of the bundled
protocol's and add its own (each listed as a note, never silently), and every shape names
one of them. An id names one criterion: two criteria with one id, or one criterion declared
in two files or with two ids (which the union of the files would merge without a word), are
refused naming both files. A criterion without an order gets one derived
(:mod:`.order`).
"""

from __future__ import annotations

from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef

from ..errors import Ql1706kgError
from .conditions import LogicError, read_logic
from .namespaces import QL, RDF, SH
from .order import natural_key
from .shape_walk import criterion_ids


class ProtocolRefused(Ql1706kgError):
    """A protocol folder that cannot be used; the message names the file (and shape)."""


def _name(node, graph: Graph) -> str:
    if isinstance(node, BNode):
        return "a blank-node shape"
    return node.n3(graph.namespace_manager)


def _file_of(node, by_file: dict[Path, Graph]) -> Path | None:
    for file, graph in by_file.items():
        if (node, None, None) in graph:
            return file
    return None


def criterion_set(ontology: Graph, by_file: dict[Path, Graph]) -> dict[URIRef, str]:
    """Each atomic criterion and its id (``ql:criterionId``, its identity: never the spelling
    of its IRI). Refused, naming the files: a criterion without an id; two criteria with one
    id; and one criterion declared twice (its IRI given an id in two files, or two ids),
    which the files' union would otherwise silently merge into one."""
    def files_of(criterion) -> list[str]:
        return [str(f) for f, g in sorted(by_file.items())
                if (criterion, QL.criterionId, None) in g] or ["ontology"]

    for criterion in sorted(set(ontology.subjects(RDF.type, QL.AtomicCriterion)), key=str):
        given = sorted(map(str, ontology.objects(criterion, QL.criterionId)))
        if not given:
            raise ProtocolRefused(f"criterion {_name(criterion, ontology)} has no "
                                  "ql:criterionId: a criterion is known by its id")
        where = files_of(criterion)
        if len(given) > 1 or len(where) > 1:
            raise ProtocolRefused(
                f"{' and '.join(where)}: criterion {_name(criterion, ontology)} is declared "
                f"more than once (ids {', '.join(map(repr, given))}): two criteria need two "
                "IRIs and two ids, and one criterion is declared in one place")
    ids = criterion_ids(ontology)
    seen: dict[str, URIRef] = {}
    for criterion, cid in sorted(ids.items(), key=str):
        if seen.setdefault(cid, criterion) != criterion:
            first, second = seen[cid], criterion
            raise ProtocolRefused(
                f"{files_of(first)[0]} and {files_of(second)[0]}: two criteria have the id "
                f"{cid!r} ({_name(first, ontology)} and {_name(second, ontology)}): an id "
                "names one criterion")
    return ids


def logic_checked(ontology: Graph, ids: dict[URIRef, str], shapes: Graph,
                  folder: Path) -> tuple[dict[URIRef, str], set[URIRef]]:
    """The folder's conditions (IRI -> key) and the criteria and conditions defined by a
    composition (which need no shapes of their own); refused: a reference to what is neither
    a condition nor a composition, an empty list, a cycle, a condition nothing uses or that
    decides nothing (:mod:`.conditions`)."""
    try:
        named = {n for n in shapes.objects(None, QL.criterion) if isinstance(n, URIRef)}
        logic = read_logic(ontology, ids, named)
    except LogicError as exc:
        raise ProtocolRefused(f"{folder / 'ontology'}: {exc}") from None
    conditions = {info.iri: key for key, info in logic.conditions.items()}
    keys = {**ids, **conditions}
    return conditions, {iri for iri, key in keys.items() if key in logic.defined}


def shapes_and_criteria(ids: dict[URIRef, str], shapes: Graph,
                        shapes_by_file: dict[Path, Graph], folder: Path,
                        bundled: set[str], conditions: dict[URIRef, str] | None = None,
                        composed: frozenset[URIRef] | set[URIRef] = frozenset()) -> list[str]:
    """Every shape names a criterion or a condition of the ontology and every criterion has
    shapes or a composition; the criteria the folder removes or adds (against the bundled
    protocol) are listed as notes: another trial may be encoded, but never silently."""
    for shape, criterion in sorted(shapes.subject_objects(QL.criterion), key=str):
        if criterion not in ids and criterion not in (conditions or {}):
            raise ProtocolRefused(
                f"{_file_of(shape, shapes_by_file)}: shape {_name(shape, shapes)} names "
                f"criterion {_name(criterion, shapes)}, which the ontology lacks (no "
                "ql:AtomicCriterion with a ql:criterionId)")
    named = set(shapes.objects(None, QL.criterion))
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        if criterion not in named and criterion not in composed:
            raise ProtocolRefused(f"{folder / 'shapes'}: no shape names criterion {cid} "
                                  "(ql:criterion); every criterion needs its shapes")
    mine = set(ids.values())
    notes = []
    if bundled - mine:
        notes.append(f"{folder}: this protocol removes criteria of the bundled protocol: "
                     f"{', '.join(sorted(bundled - mine, key=natural_key))}")
    if mine - bundled:
        notes.append(f"{folder}: this protocol adds criteria the bundled protocol lacks: "
                     f"{', '.join(sorted(mine - bundled, key=natural_key))}")
    return notes + _deactivated(shapes, shapes_by_file, {**ids, **(conditions or {})})


def _deactivated(shapes: Graph, shapes_by_file: dict[Path, Graph],
                 keys: dict[URIRef, str]) -> list[str]:
    """A note for each deactivated shape (SHACL 2.1.5: it yields no result, so whatever it
    would refuse passes): legitimate in an amendment, but never silent."""
    notes = []
    for shape in sorted(shapes.subjects(SH.deactivated, Literal(True)), key=str):
        criterion = keys.get(shapes.value(shape, QL.criterion))
        of = f" of {criterion}" if criterion else ""
        notes.append(f"{_file_of(shape, shapes_by_file)}: shape {_name(shape, shapes)}{of} is "
                     "deactivated (sh:deactivated true): nothing it would refuse is refused")
    return notes


def without_unknown_path(ontology: Graph, ids: dict[URIRef, str], shapes: Graph,
                         folder: Path) -> set[URIRef]:
    """The criteria that rightly have no unknown path, as their class declares:

    - ``ql:KnownConditionCriterion``: an exclusion whose text asks only what is *known*
      ("known hypersensitivity"): no record of the condition is its absence, so it is met, and
      missing data cannot make it unknown. Only an exclusion may say so (an inclusion met on
      nothing recorded would make a patient eligible on missing data), and it needs a shape
      that makes a recorded condition not_met.
    - ``ql:CohortLevelCriterion``: a requirement on the cohort, not on a patient; every shape
      of it says not_applicable, so no patient meets it or fails it.

    Anything else is refused naming the criterion: the safety rule holds for every other one."""
    def outcomes(criterion: URIRef) -> set:
        return {shapes.value(s, QL.onViolation) for s in shapes.subjects(QL.criterion, criterion)}

    exempt = set()
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        known = (criterion, RDF.type, QL.KnownConditionCriterion) in ontology
        cohort = (criterion, RDF.type, QL.CohortLevelCriterion) in ontology
        if known and (criterion, RDF.type, QL.ExclusionCriterion) not in ontology:
            raise ProtocolRefused(
                f"{folder / 'ontology'}: {cid} is a ql:KnownConditionCriterion but not a "
                "ql:ExclusionCriterion: only an exclusion may be met when nothing is recorded")
        if known and QL.NotMet not in outcomes(criterion):
            raise ProtocolRefused(
                f"{folder / 'shapes'}: {cid} is a ql:KnownConditionCriterion with no shape that "
                "makes a recorded condition not_met (ql:onViolation ql:NotMet)")
        if cohort and outcomes(criterion) != {QL.NotApplicable}:
            raise ProtocolRefused(
                f"{folder / 'shapes'}: {cid} is a ql:CohortLevelCriterion: every shape of it "
                "must say ql:NotApplicable (a cohort requirement is never met by one patient)")
        if known or cohort:
            exempt.add(criterion)
    return exempt

