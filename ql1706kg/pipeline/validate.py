"""The shapes, loaded and indexed once; validation with the compiled evaluator (the default)
or pySHACL (the reference).

Cold start: the shapes' triples and the index of top-level shapes are cached on disk
(:mod:`ql1706kg.protocol.resources`), keyed by the hash of the shapes files, the ontology files
and this module's code, so a run parses no Turtle and imports no pySHACL (~0.1 s and ~0.1 s);
the evaluator's checks are compiled from the cached triples in a few milliseconds. pySHACL and
its parsed, compiled ``ShapesGraph`` are made only when the reference engine or the W3C
report is asked for.

With pySHACL, the ``ShapesGraph`` (with its cache of compiled shapes) is reused for every
call; the report graph and text are not built unless asked for (``report_graph``). Patients
are validated in small batches: one data graph holding several disjoint patient graphs, split
by focus node afterwards (pitfalls.md measured ~4.5 ms per patient in batches of 10-60
against ~11 ms one by one). No inference runs here: lifting already brought the types of
every referenced term from the precomputed closure.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import cast

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from ..errors import ShapesError
from ..protocol.namespaces import QL, RDF, RDFS, SH, dumps_interned, interned_graph
from ..protocol.resources import (
    cache_dir,
    content_hash,
    ontology_files,
    protocol_cache,
    read_cache,
    shape_files,
    write_cache,
)
from ..protocol.terminology import terminology
from ..protocol.texts import render_graph, shape_children
from ..protocol.visible import visible
from ..version import __version__
from .graph import PatientGraph
from .shacl_compiled import CompiledShapes, Unsupported, compile_shapes
from .shacl_uncertain import UncertainShapes, compile_uncertain, is_uncertain
from .worlds import limits_of, readings

OUTCOME_OF = {QL.NotApplicable: "not_applicable", QL.NotMet: "not_met", QL.Unknown: "unknown"}
_NUMERIC = (SH.minInclusive, SH.maxInclusive, SH.minExclusive, SH.maxExclusive)


@dataclass(frozen=True)
class ShapeInfo:
    """What the judge and the explanations need to know about one top-level shape."""

    iri: URIRef
    criterion: str | None
    outcome: str | None
    is_probe: bool
    name: str
    message: str
    label: str
    applies_when: URIRef | None = None
    applies_unless: URIRef | None = None
    is_limit: bool = False
    collect: str = ""


@dataclass(frozen=True)
class Violation:
    """One result of a validation: which shape, on which patient, with which value.

    For a patient graph holding uncertain data (pipeline/uncertain.py), ``certain`` is False
    when the shape is only possibly violated, and ``world`` numbers the reading of the
    condition probes (``worlds`` of them) the result belongs to; the judge decides a
    criterion only when every reading gives the same outcome."""

    focus: URIRef
    shape: URIRef
    value: object = None
    certain: bool = True
    world: int = 0
    worlds: int = 1


@dataclass
class Shapes:
    """The shapes: their triples, the compiled evaluator, the index of top-level shapes, and,
    made on first use, the rdflib graph and pySHACL's compiled form (``graph``, ``compiled``).
    """

    triples: tuple  # the shapes graph's triples, terms shared (namespaces.intern)
    fast: CompiledShapes | None = None  # None when the shapes use a feature it lacks
    info: dict[URIRef, ShapeInfo] = field(default_factory=dict)
    owner: dict[object, URIRef] = field(default_factory=dict)
    _by_criterion: dict[str | None, list[ShapeInfo]] = field(default_factory=dict, repr=False)
    prefixes: tuple[tuple[str, str], ...] = ()
    _graph: Graph | None = field(default=None, repr=False)
    _compiled: object = field(default=None, repr=False)
    _uncertain: UncertainShapes | None = field(default=None, repr=False)
    _limits: list | None = field(default=None, repr=False)
    _subsets: dict = field(default_factory=dict, repr=False)

    @property
    def uncertain(self) -> UncertainShapes:
        """The must/may evaluator of the shapes (pipeline/shacl_uncertain.py), compiled on
        first use: only patients with uncertain data need it."""
        if self._uncertain is None:
            self._uncertain = compile_uncertain(
                PatientGraph(self.triples), [i.iri for i in self.info.values() if i.is_probe])
        return self._uncertain

    @property
    def limits(self) -> list:
        """Every numeric limit of the shapes (where the reference engine reads intervals)."""
        if self._limits is None:
            self._limits = limits_of(self.triples)
        return self._limits

    @property
    def graph(self) -> Graph:
        """The shapes in an rdflib graph (for pySHACL), with their prefixes, made on first use
        from the same triples (so the same blank nodes) as the evaluator and the index."""
        if self._graph is None:
            graph = Graph()
            for prefix, namespace in self.prefixes:
                graph.bind(prefix, namespace, override=True, replace=True)
            graph.addN((s, p, o, graph) for s, p, o in self.triples)
            self._graph = graph
        return self._graph

    @property
    def compiled(self):
        """pySHACL's ``ShapesGraph`` of the shapes (imports pySHACL), made on first use."""
        if self._compiled is None:
            from pyshacl.shapes_graph import ShapesGraph

            self._compiled = ShapesGraph(self.graph)
        return self._compiled

    def subset(self, tops: frozenset) -> tuple[Graph, object]:
        """The shapes graph of some top-level shapes and of every node they use (nested
        shapes, named helpers, lists), and pySHACL's compiled form of it; made once each."""
        from pyshacl.shapes_graph import ShapesGraph

        found = self._subsets.get(tops)
        if found is None:
            graph = Graph()
            todo, seen = list(tops), set(tops)
            while todo:
                node = todo.pop()
                for triple in self.graph.triples((node, None, None)):
                    graph.add(triple)
                    child = triple[2]
                    if isinstance(child, URIRef | BNode) and child not in seen and (
                            child, None, None) in self.graph:
                        seen.add(child)
                        todo.append(child)
            found = self._subsets[tops] = (graph, ShapesGraph(graph))
        return found

    def criterion_keys(self) -> list[str | None]:
        """The criteria and conditions (by id or key) that shapes name."""
        self.by_criterion("")
        return list(self._by_criterion)

    def by_criterion(self, criterion: str) -> list[ShapeInfo]:
        """Return the shapes of one criterion, in a stable order (indexed on first use)."""
        if not self._by_criterion:
            for shape in sorted(self.info.values(), key=lambda s: str(s.iri)):
                self._by_criterion.setdefault(shape.criterion, []).append(shape)
        return self._by_criterion.get(criterion, [])


def load_shapes_graph() -> Graph:
    """Parse the shapes the way pySHACL loads a shapes graph, their texts rendered
    (:mod:`ql1706kg.protocol.texts`: a name or message states a limit from its literal)."""
    from pyshacl.monkey import rdflib_bool_patch, rdflib_bool_unpatch
    from pyshacl.rdfutil import load_from_source

    graph = Graph()
    rdflib_bool_patch()
    try:
        for path in shape_files():
            graph += load_from_source(str(path), rdf_format="turtle", do_owl_imports=False)
    finally:
        rdflib_bool_unpatch()
    return render_graph(graph)  # texts that state a limit, rendered from its literal


@protocol_cache
def shapes() -> Shapes:
    """Return the shapes, indexed once per process: from the on-disk cache when no shapes or
    ontology file (nor this code) has changed, else parsed and indexed, and cached."""
    key = _shapes_hash()
    path = cache_dir() / f"shapes-{key}.pickle"
    cached = read_cache(path, lambda value: isinstance(value, dict)
                        and value.get("version") == key)
    if cached is not None:
        try:
            return _from_cache(cached)
        except Exception:  # a cache that unpickles but does not fit: rebuild it
            pass
    result = _index(interned_graph(load_shapes_graph()))
    write_cache(path, dumps_interned({"version": key, "triples": result.triples,
                                      "prefixes": result.prefixes, "info": result.info,
                                      "owner": result.owner}))
    return result


def _shapes_hash() -> str:
    here = Path(__file__).resolve().parent
    code = b"".join(path.read_bytes() for path in (here / "validate.py",
                                                   here / "shacl_compiled.py",
                                                   here.parent / "protocol" / "texts.py"))
    return content_hash((*shape_files(), *ontology_files()), __version__.encode(), code)


def _from_cache(cached: dict) -> Shapes:
    triples = tuple(cached["triples"])
    info, owner = dict(cached["info"]), dict(cached["owner"])
    if not info or not all(isinstance(v, ShapeInfo) for v in info.values()):
        raise ValueError("no shape index")
    prefixes = tuple((str(p), str(n)) for p, n in cached["prefixes"])
    return Shapes(triples=triples, fast=_compile(cast(Graph, PatientGraph(triples))), info=info,
                  owner=owner, prefixes=prefixes)


def _index(graph: Graph) -> Shapes:
    """Index a parsed shapes graph: top-level shapes, who owns each nested shape."""
    triples = tuple(graph)
    result = Shapes(triples=triples, fast=_compile(cast(Graph, PatientGraph(triples))),
                    _graph=graph,
                    prefixes=tuple((str(p), str(n)) for p, n in graph.namespaces()))
    # a shape's criterion is known by the id in the criterion's data, not by its IRI
    term = terminology()
    ids = {crit["iri"]: cid for cid, crit in term.criteria.items()}
    ids.update({info.iri: key for key, info in term.logic.conditions.items()})  # ql:Condition
    tops = set(graph.subjects(QL.criterion, None)) | set(graph.subjects(QL.role, None))
    for top in cast(set[URIRef], tops):  # (shapes that name a criterion are IRIs)
        nested = _nested_shapes(graph, top)
        numeric = any(graph.value(n, c) is not None for n in _limit_holders(graph, nested)
                      for c in _NUMERIC)
        result.info[top] = _shape_info(graph, top, numeric, ids)
        for node in nested:
            result.owner.setdefault(node, top)
    if not result.info:
        raise ShapesError("no criterion shapes found in the bundled shapes")
    return result


def _limit_holders(graph: Graph, nested: Iterable[Node]) -> set[Node]:
    """The shapes whose numeric constraints make a shape a limit (its "Limit applied" line):
    its own blank-node shapes, and a named shape they use directly when that shape holds the
    constraint itself (a renal or urine limit, one literal shared by two shapes)."""
    holders = set(nested)
    for node in nested:
        holders.update(c for c in shape_children(graph, node) if isinstance(c, URIRef))
    return holders


def _text(graph: Graph, node, prop) -> str:
    value = graph.value(node, prop)
    return visible(value) if value is not None else ""  # a folder's text: shown, never raw


def _shape_info(graph: Graph, top: URIRef, numeric: bool, ids: dict) -> ShapeInfo:
    criterion = graph.value(top, QL.criterion)
    crit_id = ids.get(criterion) if criterion is not None else None
    return ShapeInfo(
        iri=top,
        criterion=crit_id,
        outcome=OUTCOME_OF.get(graph.value(top, QL.onViolation)),
        is_probe=graph.value(top, QL.role) == QL.ConditionProbe,
        name=_text(graph, top, SH.name),
        message=_text(graph, top, SH.message),
        label=_text(graph, top, RDFS.label),
        applies_when=graph.value(top, QL.appliesWhen),
        applies_unless=graph.value(top, QL.appliesUnless),
        is_limit=numeric,
        collect=_text(graph, top, QL.collectHint),
    )


def _nested_shapes(graph: Graph, top: URIRef) -> Iterable[Node]:
    """Every shape node reachable from a top-level shape (pySHACL may report any of them)."""
    seen: set[Node] = {top}
    stack: list[Node] = [top]
    while stack:
        node = stack.pop()
        for child in shape_children(graph, node):
            # named helper shapes (qls:HasChordoma) belong to every shape using them: only
            # blank nodes are attributed to their owner
            if isinstance(child, BNode) and child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


@cache
def _results_only():
    """A pySHACL Validator that hands back raw results instead of building a report."""
    from pyshacl import Validator

    class ResultsOnly(Validator):
        @classmethod
        def create_validation_report(cls, sg, conforms, results):
            return results, ""

    return ResultsOnly


def _options() -> dict:
    from pyshacl import Validator

    options: dict = {"inference": "none", "advanced": False, "inplace": True,
                     "allow_warnings": False, "allow_infos": False}
    Validator._load_default_options(options)
    return options


@contextmanager
def _without_result_texts() -> Iterator[None]:
    """Skip pySHACL's human-readable text for each result while we validate.

    Profiled on 100 patients (cProfile, bench/screen_bench.py's patients): 28 % of the whole
    pipeline went into ``make_v_result_description`` and ``make_generic_messages``, which
    stringify nodes and paths for every failing branch of every ``sh:or``, text that pySHACL
    then throws away for nested shapes and that we never read (explanations come from our own
    sh:message and the ontology). The W3C report (``report_graph``) keeps them.
    """
    from pyshacl.constraints.constraint_component import ConstraintComponent

    saved = (ConstraintComponent.make_v_result_description,
             ConstraintComponent.make_generic_messages)
    ConstraintComponent.make_v_result_description = _no_description  # type: ignore[method-assign]
    ConstraintComponent.make_generic_messages = _no_messages  # type: ignore[method-assign]
    try:
        yield
    finally:
        ConstraintComponent.make_v_result_description = saved[0]  # type: ignore[method-assign]
        ConstraintComponent.make_generic_messages = saved[1]  # type: ignore[method-assign]


def _no_description(*_args, **_kwargs) -> str:
    return ""


def _no_messages(*_args, **_kwargs) -> list:
    return []


def _compile(graph: Graph) -> CompiledShapes | None:
    try:
        return compile_shapes(graph)
    except Unsupported as exc:
        warnings.warn(f"shapes use {exc}, which the compiled evaluator lacks: validating "
                      "with pySHACL", stacklevel=2)
        return None


def engine() -> str:
    """The SHACL engine: 'compiled' (default) or 'pyshacl' (the reference), by environment."""
    chosen = os.environ.get("QL1706KG_SHACL_ENGINE", "compiled")
    if chosen not in ENGINES:
        raise ShapesError(f"QL1706KG_SHACL_ENGINE must be one of {', '.join(ENGINES)}")
    return chosen


ENGINES = ("compiled", "pyshacl")


def validate_graphs(graphs: list[PatientGraph], engine_name: str | None = None) -> list[Violation]:
    """Validate patient graphs: one by one with the compiled evaluator, or merged in one
    pySHACL call (pySHACL's cost per call makes small batches cheaper per patient). A graph
    holding uncertain data is validated on its own, three-valuedly."""
    index = shapes()
    compiled = (engine_name or engine()) == "compiled" and index.fast is not None
    out: list[Violation] = []
    plain = []
    for graph in graphs:
        if is_uncertain(graph):
            out.extend(_uncertain(graph, index, compiled))
        else:
            plain.append(graph)
    if compiled:
        out.extend(Violation(focus=focus, shape=shape) for graph in plain
                   for focus, shape in index.fast.violations(graph)
                   if shape in index.info and isinstance(focus, URIRef))
        return out
    if plain:
        data = Graph()
        for graph in plain:
            data += graph
        out.extend(validate_graph(data))
    return out


def _uncertain(graph: PatientGraph, index: Shapes, compiled: bool) -> list[Violation]:
    """The results of one uncertain patient graph, per world, each certain or possible: by
    the must/may evaluator, or (the reference engine) by pySHACL on every reading."""
    if compiled:
        worlds = index.uncertain.statuses(graph)
        return [Violation(focus=focus, shape=shape, certain=sure, world=k, worlds=len(worlds))
                for k, world in enumerate(worlds) for (focus, shape), sure in world.items()
                if shape in index.info and isinstance(focus, URIRef)]
    found = readings(graph, index.limits)
    if found is None:  # too many readings: every shape may be violated
        foci = [s for s in graph.subjects(RDF.type, QL.Patient) if isinstance(s, URIRef)]
        return [Violation(focus=f, shape=s, certain=False) for f in foci for s in index.info]
    per_world = [validate_graph(world.to_rdflib()) for world in found]
    return [Violation(focus=v.focus, shape=v.shape, value=v.value, world=k,
                      worlds=len(per_world)) for k, world in enumerate(per_world) for v in world]


def validate_graph(data: Graph, only: frozenset | None = None) -> list[Violation]:
    """Validate one data graph (one or several patients) with pySHACL, the reference; with
    ``only`` (top-level shapes), against those shapes and what they use alone (the protocol
    probe tests one criterion at a time)."""
    from pyshacl.graph_abstraction import DataGraph

    index = shapes()
    shacl_graph, compiled = (index.graph, index.compiled) if only is None else \
        index.subset(only)
    validator = _results_only()(DataGraph.from_rdflib(data), shacl_graph=shacl_graph,
                                options=_options())
    validator.shacl_graph = compiled  # reuse the compiled shapes
    with _without_result_texts():
        _conforms, results, _ = validator.run()
    return [v for raw in results if (v := _violation(raw, index)) is not None]


def _violation(raw: tuple, index: Shapes) -> Violation | None:
    focus = shape = value = None
    for _s, p, o in raw[2]:
        node = o[1] if isinstance(o, tuple) else o
        if p == SH.focusNode:
            focus = node
        elif p == SH.sourceShape:
            shape = node
        elif p == SH.value:
            value = node
    top = shape if shape in index.info else index.owner.get(shape)
    if top is None or not isinstance(focus, URIRef):
        return None
    return Violation(focus=focus, shape=top, value=value)


def report_graph(data: Graph) -> Graph:
    """Return pySHACL's full W3C validation report for a data graph (for --shacl-report)."""
    from pyshacl import Validator
    from pyshacl.graph_abstraction import DataGraph

    validator = Validator(DataGraph.from_rdflib(data), shacl_graph=shapes().graph,
                          options=_options())
    validator.shacl_graph = shapes().compiled
    _conforms, graph, _text_report = validator.run()
    return graph


def literal_or_none(value: object) -> object:
    """Return a Python value for a literal (for explanations), else the node."""
    return value.toPython() if isinstance(value, Literal) else value


__all__ = ["OUTCOME_OF", "RDF", "ShapeInfo", "Shapes", "Violation", "literal_or_none",
           "report_graph", "shapes", "validate_graph"]
