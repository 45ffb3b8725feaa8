"""A patient's graph: a small indexed triple set with the read API the pipeline uses.

Why not ``rdflib.Graph``: a patient has ~300 triples, and lifting, deriving, validating and
explaining them look triples up ~1,600 times. Profiled at 1,000 patients, rdflib's generic
layers (Graph.triples -> Store.triples -> context checks) cost ~4 µs per lookup and ~5 µs per
``add``: about half of a screening. Two dict indexes answer the same questions in well under
a microsecond. The terms stay rdflib terms (``URIRef``, ``Literal``, ``BNode``) with rdflib's
equality, so a triple means exactly what it means in an rdflib graph; ``to_rdflib()`` gives a
real ``rdflib.Graph`` (SPARQL, serialisation), and ``rdflib_graph += patient_graph`` works.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rdflib import Graph, Literal, URIRef
from rdflib.term import Node

Triple = tuple[Node, Node, Node]
Pattern = tuple[Node | None, Node | None, Node | None]
_NONE: dict = {}


class PatientGraph:
    """Triples indexed subject -> predicate -> objects and predicate -> object -> subjects
    (the second for IRIs and blank nodes only: nothing looks a patient up by a literal).

    The objects of a (subject, predicate) pair are a 1-tuple while there is one (most pairs:
    no hash is computed, and rdflib's ``Literal.__hash__`` is Python code), a dict from the
    second on; so are the subjects of a (predicate, object) pair (fewer dicts to make and
    free). Readers (here and the compiled SHACL evaluator) only iterate, count and test
    membership, which both answer alike. Insertion order is kept, so iteration and every
    lookup are deterministic.
    """

    __slots__ = ("_pos", "_size", "_spo")

    def __init__(self, triples: Iterable[Triple] = ()) -> None:
        # subject -> predicate -> (object,) or {object: None, ...}
        self._spo: dict[Node, dict[Node, tuple[Node] | dict[Node, None]]] = {}
        # predicate -> object -> (subject,) or {subject: None, ...}
        self._pos: dict[Node, dict[Node, tuple[Node] | dict[Node, None]]] = {}
        self._size = 0
        for triple in triples:
            self.add(triple)

    # -- writing --------------------------------------------------------------------------
    def add(self, triple: Triple) -> PatientGraph:
        """Add a triple (a repeated triple is stored once, as in RDF)."""
        s, p, o = triple
        by_predicate = self._spo.get(s)
        if by_predicate is None:
            self._spo[s] = {p: (o,)}
        else:
            objects = by_predicate.get(p)
            if objects is None:
                by_predicate[p] = (o,)
            elif type(objects) is tuple:
                first = objects[0]
                if first is o:
                    return self
                if type(first) is URIRef and type(o) is URIRef:
                    if str.__eq__(first, o):  # rdflib's URIRef equality, in C
                        return self
                elif first == o:
                    return self
                by_predicate[p] = {first: None, o: None}
            else:
                size = len(objects)
                objects[o] = None
                if len(objects) == size:
                    return self
        self._size += 1
        if type(o) is not Literal:  # literals are never looked up by value: not indexed
            by_object = self._pos.get(p)  # the triple is new: s is not there yet
            if by_object is None:
                self._pos[p] = {o: (s,)}
            else:
                subjects = by_object.get(o)
                if subjects is None:
                    by_object[o] = (s,)
                elif type(subjects) is tuple:
                    by_object[o] = {subjects[0]: None, s: None}
                else:
                    subjects[s] = None
        return self

    def remove(self, triple: Triple) -> PatientGraph:
        """Remove one triple (all three terms given); a triple not in the graph is ignored."""
        s, p, o = triple
        by_predicate = self._spo.get(s, _NONE)
        objects = by_predicate.get(p)
        if objects is None or o not in objects:
            return self
        if type(objects) is tuple or len(objects) == 1:
            del by_predicate[p]
        else:
            del objects[o]
        self._size -= 1
        if type(o) is not Literal:
            by_object = self._pos[p]
            subjects = by_object[o]
            if type(subjects) is tuple or len(subjects) == 1:
                del by_object[o]
            else:
                del subjects[s]
        return self

    def __iadd__(self, other: Iterable[Triple]) -> PatientGraph:
        for triple in other:
            self.add(triple)
        return self

    # -- reading --------------------------------------------------------------------------
    def own(self, node: Node) -> Node:
        """The graph's own object for a subject equal to ``node`` (else ``node`` itself).

        A lookup with an equal but distinct term (a patient IRI made again from the record's
        id) pays rdflib's Python-level ``__eq__`` on every hit; with the graph's own object
        the dicts tell it equal by identity. Profiled: ~170 such calls a patient in judging.
        """
        if node in self._spo:
            code = hash(node)
            for key in self._spo:
                if key is node or (hash(key) == code and key == node):
                    return key
        return node

    def objects(self, subject: Node | None = None, predicate: Node | None = None
                ) -> Iterator[Node]:
        """The objects of (subject, predicate), each once; ``None`` matches anything."""
        if subject is not None and predicate is not None:
            found = self._spo.get(subject, _NONE).get(predicate, ())
            return iter(found) if type(found) is tuple else iter(list(found))  # a snapshot
        return iter(list(dict.fromkeys(o for _s, _p, o in self.triples((subject, predicate,
                                                                         None)))))

    def subjects(self, predicate: Node | None = None, object: Node | None = None
                 ) -> Iterator[Node]:
        """The subjects of (predicate, object), each once; ``None`` matches anything."""
        if predicate is not None and object is not None and not isinstance(object, Literal):
            found = self._pos.get(predicate, _NONE).get(object, ())
            return iter(found) if type(found) is tuple else iter(list(found))  # a snapshot
        return iter(list(dict.fromkeys(s for s, _p, _o in self.triples((None, predicate,
                                                                         object)))))

    def predicates(self, subject: Node | None = None, object: Node | None = None
                   ) -> Iterator[Node]:
        """The predicates of (subject, object), each once."""
        return iter(list(dict.fromkeys(p for _s, p, _o in self.triples((subject, None,
                                                                         object)))))

    def value(self, subject: Node | None = None, predicate: Node | None = None,
              object: Node | None = None, default: Node | None = None
              ) -> Node | None:
        """One object of (subject, predicate), or one subject of (predicate, object), as
        ``rdflib.Graph.value`` does; ``default`` when there is none."""
        if object is None and subject is not None and predicate is not None:
            by_predicate = self._spo.get(subject)
            if by_predicate is not None:
                found = by_predicate.get(predicate)
                if found:
                    for first in found:
                        return first
            return default
        if subject is None and predicate is not None and object is not None:
            for found, _p, _o in self.triples((None, predicate, object)):
                return found
            return default
        raise ValueError("value() needs exactly one of subject and object left open")

    def triples(self, pattern: Pattern) -> Iterator[Triple]:
        """Every triple matching the pattern (``None`` matches anything)."""
        s, p, o = pattern
        if s is not None:
            by_predicate = self._spo.get(s, _NONE)
            predicates = [p] if p is not None else list(by_predicate)
            for pred in predicates:
                for obj in list(by_predicate.get(pred, _NONE)):
                    if o is None or obj == o:
                        yield s, pred, obj
            return
        if p is not None and o is not None and not isinstance(o, Literal):
            for subj in list(self._pos.get(p, _NONE).get(o, _NONE)):
                yield subj, p, o
            return
        for subj, by_predicate in list(self._spo.items()):
            for pred in [p] if p is not None else list(by_predicate):
                for obj in list(by_predicate.get(pred, _NONE)):
                    if o is None or obj == o:
                        yield subj, pred, obj

    def __contains__(self, triple: Pattern) -> bool:
        s, p, o = triple
        if s is not None and p is not None and o is not None:  # membership, not a scan
            objects = self._spo.get(s, _NONE).get(p)
            return objects is not None and o in objects
        return next(self.triples(triple), None) is not None

    def __iter__(self) -> Iterator[Triple]:
        return self.triples((None, None, None))

    def __len__(self) -> int:
        return self._size

    # -- rdflib ---------------------------------------------------------------------------
    def to_rdflib(self) -> Graph:
        """The same triples in an ``rdflib.Graph`` (for SPARQL or serialisation)."""
        from ..protocol.namespaces import bind_prefixes

        graph = bind_prefixes(Graph())
        graph.addN((s, p, o, graph) for s, p, o in self)
        return graph

    def serialize(self, *args, **kwargs):
        """Serialise through rdflib (see ``rdflib.Graph.serialize``)."""
        return self.to_rdflib().serialize(*args, **kwargs)

    def query(self, *args, **kwargs):
        """Run a SPARQL query through rdflib (see ``rdflib.Graph.query``)."""
        return self.to_rdflib().query(*args, **kwargs)


__all__ = ["PatientGraph"]


def copy_graph(graph: PatientGraph) -> PatientGraph:
    """An independent copy of a patient graph (its indexes copied, the terms shared): ~20×
    faster than adding every triple again (the protocol probe makes a thousand variants)."""
    out = PatientGraph()
    out._spo = {s: {p: (o if type(o) is tuple else dict(o)) for p, o in by_p.items()}
                for s, by_p in graph._spo.items()}
    out._pos = {p: {o: (s if type(s) is tuple else dict(s)) for o, s in by_o.items()}
                for p, by_o in graph._pos.items()}
    out._size = graph._size
    return out
