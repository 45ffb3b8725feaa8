"""The order of a protocol's criteria: given (``ql:criterionOrder``) or derived.

A protocol folder's criteria are exactly the atomic criteria its ontology declares
(``ql:AtomicCriterion`` with a ``ql:criterionId``). Each has a place in protocol order, which
every output follows. An author who leaves ``ql:criterionOrder`` out gets one derived, so that
no output drops the criterion or places it by chance: the criteria that state an order keep
it, and the others follow them in the natural order of their ids ("C2" before "C10", as a
reader counts, not as a string sorts). The derived order is added to the graph as it is
loaded (:func:`complete_order`), so the screening tables, the stores, the published ontology
and the queries all see one order.
"""

from __future__ import annotations

import re

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import XSD

from .namespaces import QL, RDF

_PIECES = re.compile(r"(\d+)")


def natural_key(identifier: str) -> tuple:
    """A sort key that orders the numbers inside an id by value ("C9.2" < "C10")."""
    return tuple((0, int(piece), "") if piece.isdigit() else (1, 0, piece.casefold())
                 for piece in _PIECES.split(identifier) if piece)


def stated_order(value: object) -> int | None:
    """A criterion's stated place in protocol order, or None when it states no usable one."""
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None


def complete_order(graph: Graph) -> Graph:
    """Give every atomic criterion of ``graph`` that states no usable ``ql:criterionOrder``
    one, after the largest stated order, in the natural order of their ids; returns the
    graph (changed in place)."""
    missing, largest = [], 0
    for criterion in set(graph.subjects(RDF.type, QL.AtomicCriterion)):
        cid = graph.value(criterion, QL.criterionId)
        if not isinstance(criterion, URIRef) or cid is None:
            continue
        orders = [stated_order(o) for o in graph.objects(criterion, QL.criterionOrder)]
        if any(o is not None for o in orders):
            largest = max([largest, *(o for o in orders if o is not None)])
        else:
            missing.append((natural_key(str(cid)), str(criterion), criterion))
    for place, (_key, _name, criterion) in enumerate(sorted(missing), start=largest + 1):
        graph.remove((criterion, QL.criterionOrder, None))
        graph.add((criterion, QL.criterionOrder, Literal(place, datatype=XSD.integer)))
    return graph


__all__ = ["complete_order", "natural_key", "stated_order"]
