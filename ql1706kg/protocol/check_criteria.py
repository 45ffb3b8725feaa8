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

from rdflib import BNode, Graph, URIRef

from ..errors import Ql1706kgError
from .namespaces import QL, RDF
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


def shapes_and_criteria(ids: dict[URIRef, str], shapes: Graph,
                        shapes_by_file: dict[Path, Graph], folder: Path,
                        bundled: set[str]) -> list[str]:
    """Every shape names a criterion of the ontology and every criterion has shapes; the
    criteria the folder removes or adds (against the bundled protocol) are listed as notes:
    another trial may be encoded, but never silently."""
    for shape, criterion in sorted(shapes.subject_objects(QL.criterion), key=str):
        if criterion not in ids:
            raise ProtocolRefused(
                f"{_file_of(shape, shapes_by_file)}: shape {_name(shape, shapes)} names "
                f"criterion {_name(criterion, shapes)}, which the ontology lacks (no "
                "ql:AtomicCriterion with a ql:criterionId)")
    named = set(shapes.objects(None, QL.criterion))
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        if criterion not in named:
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
    return notes
