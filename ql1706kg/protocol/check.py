"""The static checks of a protocol folder (``--protocol DIR``), before any patient is read.

A folder is refused (:class:`ProtocolRefused`, naming the file and, where there is one, the
shape) when a file does not parse (with its line), uses a term nothing defines (:mod:`.terms`),
when its shapes fail the W3C SHACL-SHACL meta-validation or use each other in a cycle, when a
criterion has no ``ql:criterionId`` (a criterion is known by its id, never by its IRI's
spelling) or no shape, a shape names a criterion the ontology lacks, when a rule parameter or a
limit is outside the package's meta-constraints (:mod:`.meta`: they live in the package, not in
the folder; policies are an enumerated set), when missing data could obviously meet a criterion
(no shape of the criterion makes it unknown, or a limit's path is not required by one), and
when it contradicts itself: a limit that is not a number, a minimum above a maximum, or two
shapes of one criterion setting one bound of one value differently under the same condition.

The criteria a folder removes or adds against the bundled protocol are listed as notes
(another trial may be encoded, never silently). A quoted protocol text (``ql:protocolText``)
whose numbers differ from its criterion's limits is not refused (an amendment may change a
limit before the quote is updated): it is reported as a note naming the criterion, the quoted
number and the limit.

These checks read the text; the behavioural check that proves the safety property (patients
with missing, unreadable or out-of-range data are never eligible under the folder) runs
after them (:mod:`ql1706kg.pipeline.protocol_check`, which also caches the outcome by
content).
"""

from __future__ import annotations

import functools
import hashlib
import operator
import pickle
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef

from .check_criteria import (
    ProtocolRefused,
    criterion_set,
    logic_checked,
    shapes_and_criteria,
    without_unknown_path,
)
from .equations import EquationError, named_equations
from .fact_attributes import attribute_problems
from .fact_kinds import anchor_problems, build_fact_kinds
from .meta import MetaViolation, check_limits, check_parameters
from .namespaces import QL, RDF, SH
from .regimen_counts import build_regimen_counts, count_problems
from .resources import (
    PROTOCOL_PARTS,
    bundled_data_dir,
    cache_dir,
    content_hash,
    read_cache,
    write_cache,
)
from .shape_walk import bounds, criterion_ids, find_cycle
from .terms import check_terms
from .texts import TemplateError, has_placeholder, render
from .texts import literal_number as _number

_BOUNDS = {SH.minInclusive: "sh:minInclusive", SH.minExclusive: "sh:minExclusive",
           SH.maxInclusive: "sh:maxInclusive", SH.maxExclusive: "sh:maxExclusive"}
_MINIMA = (SH.minInclusive, SH.minExclusive)
_MAXIMA = (SH.maxInclusive, SH.maxExclusive)
# A number the quote compares with: "≥1.5 × 10⁹/L", "≤ 2.5 × ULN", "< 3".
BUNDLED_QUERIES = Path(__file__).resolve().parents[1] / "queries"
_QUOTED = re.compile(r"(?:[≥≤<>]=?|at least|at most|no more than)\s*(\d+(?:[.,]\d+)?)")


def static_check(folder: Path) -> tuple[list[str], dict[str, Graph]]:
    """The notes on a protocol folder whose files pass the static checks (see the module
    docstring), and its parsed ``ontology`` and ``shapes`` graphs; :class:`ProtocolRefused`
    otherwise. The behavioural check (:mod:`ql1706kg.pipeline.protocol_check`) runs after
    it."""
    files = folder_files(folder)
    graphs = {file: _parse(file) for file in files if file.suffix == ".ttl"}
    queries = [file for file in files if file.suffix == ".rq"]
    for file in queries:
        if not _is_bundled(file, BUNDLED_QUERIES):
            _parse_query(file)
    ontology_by_file = {f: g for f, g in graphs.items() if f.parent.name == "ontology"}
    ontology = _union(ontology_by_file.values())
    shapes_by_file = {f: g for f, g in graphs.items() if f.parent.name == "shapes"}
    shapes = _union(shapes_by_file.values())
    _no_cycles(shapes, shapes_by_file)
    _parameters(ontology, ontology_by_file)
    _equations(ontology, ontology_by_file)
    _regimen_counts(ontology, ontology_by_file)
    _attributes(ontology, ontology_by_file)
    ids = criterion_set(ontology, ontology_by_file)
    conditions, composed = logic_checked(ontology, ids, shapes, folder)  # ql:Condition
    notes = shapes_and_criteria(ids, shapes, shapes_by_file, folder, set(_bundled()["ids"]),
                                conditions, composed)
    _missing_data_guarded({**ids, **conditions}, shapes, shapes_by_file, folder,
                          without_unknown_path(ontology, ids, shapes, folder) | composed
                          | set(conditions))  # a condition may be two-valued ("recorded")
    _contradictions(shapes, shapes_by_file)
    _limits_in_range(ids, shapes, folder)
    _templates(graphs)
    check_terms(graphs, queries)  # the specific checks first; then any term nothing defines
    _meta_shacl(shapes, shapes_by_file)  # the costly check last (~1 s a file with pySHACL)
    return notes + _quotes(ontology, shapes, ids), {"ontology": ontology, "shapes": shapes}


def folder_files(folder: Path) -> list[Path]:
    """The protocol files of a folder (ontology, shapes, queries), refused when a part is
    missing."""
    if not folder.is_dir():
        raise ProtocolRefused(f"{folder} is not a folder (a protocol folder holds ontology/, "
                              "shapes/ and queries/, as 'ql1706kg protocol export' writes)")
    found: list[Path] = []
    for part, suffix in zip(PROTOCOL_PARTS, (".ttl", ".ttl", ".rq"), strict=True):
        files = sorted((folder / part).glob(f"*{suffix}"))
        if not files:
            raise ProtocolRefused(f"{folder / part} holds no *{suffix} file (a protocol folder "
                                  "holds ontology/, shapes/ and queries/, as 'ql1706kg "
                                  "protocol export' writes)")
        found += files
    return found


def folder_hash(files: Iterable[Path], *code: Path) -> str:
    """A hash of the files' names and contents and of the checking code (this module, and
    ``code``): a cache key."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for module in code:
        digest.update(module.read_bytes())
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ProtocolRefused(f"{file}: cannot be read: {exc.strerror or exc}") from None
        for chunk in (f"{file.parent.name}/{file.name}".encode(), data):
            digest.update(len(chunk).to_bytes(8, "big"))
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _parse(file: Path) -> Graph:
    graph = Graph()
    try:
        graph.parse(file, format="turtle")
    except Exception as exc:  # rdflib raises several kinds; each is a refusal, not a crash
        line = getattr(exc, "lines", None)
        why = getattr(exc, "_why", None) or str(exc).splitlines()[0]
        where = f"line {line + 1}: " if isinstance(line, int) else ""
        raise ProtocolRefused(f"{file}: {where}not valid Turtle: {why}") from None
    return graph


def _parse_query(file: Path) -> None:
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        parseQuery(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ProtocolRefused(f"{file}: not UTF-8 text") from None
    except Exception as exc:
        line = getattr(exc, "lineno", None)
        where = f"line {line}: " if isinstance(line, int) else ""
        message = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        raise ProtocolRefused(f"{file}: {where}not a valid SPARQL query: {message}") from None


def _union(graphs: Iterable[Graph]) -> Graph:
    union = Graph()
    for graph in graphs:
        union += graph
        for prefix, namespace in graph.namespaces():
            union.bind(prefix, namespace, override=False)
    return union


def _file_of(node, shapes_by_file: dict[Path, Graph]) -> Path | None:
    for file, graph in shapes_by_file.items():
        if (node, None, None) in graph:
            return file
    return None


def _name(node, graph: Graph) -> str:
    if isinstance(node, BNode):
        return "a blank-node shape"
    return node.n3(graph.namespace_manager)


def _meta_shacl(shapes: Graph, shapes_by_file: dict[Path, Graph]) -> None:
    """The W3C SHACL-SHACL shapes graph validates the shapes (pySHACL's meta_validate).

    File by file, each result cached by the file's content: SHACL-SHACL judges each shape by
    its own triples, and pySHACL's cost grows faster than the graph (2.9 s for the 13 files
    together, 0.13 s for one), so an amendment to one file costs that file. A file identical
    to the bundled one of the same name is not checked (the test suite checks the bundled
    shapes). When a shape's triples are spread over several files, they are checked together.
    """
    spread = _subjects_in_several(shapes_by_file)
    groups = [[file] for file in sorted(shapes_by_file)] if not spread else [
        sorted(shapes_by_file)]
    problems = []
    for files in groups:
        if len(files) == 1 and _is_bundled(files[0]):
            continue
        key = folder_hash(files)
        marker = cache_dir() / f"shacl-shacl-{key}.pickle"
        if read_cache(marker, functools.partial(operator.eq, key)) is not None:
            continue
        problems += _meta_problems(_union(shapes_by_file[f] for f in files), shapes,
                                   shapes_by_file)
        if not problems:
            write_cache(marker, pickle.dumps(key))
    if problems:
        raise ProtocolRefused("the shapes fail SHACL-SHACL meta-validation: " + "; ".join(
            sorted(problems)[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5
                                     else ""))


def _subjects_in_several(graphs: dict[Path, Graph]) -> bool:
    seen: dict = {}
    for file, graph in graphs.items():
        for subject in set(graph.subjects()):
            if isinstance(subject, URIRef) and seen.setdefault(subject, file) != file:
                return True
    return False


def _is_bundled(file: Path, folder: Path | None = None) -> bool:
    bundled = (folder or bundled_data_dir("shapes")) / file.name
    try:
        return bundled.is_file() and bundled.read_bytes() == file.read_bytes()
    except OSError:
        return False


def _meta_problems(graph: Graph, shapes: Graph, shapes_by_file: dict[Path, Graph]) -> list[str]:
    from pyshacl.entrypoints import meta_validate

    conforms, report, _text = meta_validate(graph, inference="rdfs")
    if conforms:
        return []
    problems = []
    for result in sorted(report.subjects(RDF.type, SH.ValidationResult), key=str):
        focus = report.value(result, SH.focusNode)
        path = report.value(result, SH.resultPath)
        message = report.value(result, SH.resultMessage)
        file = _file_of(focus, shapes_by_file)
        named = _name(focus, shapes)
        on = f" ({path.n3(shapes.namespace_manager)})" if isinstance(path, URIRef) else ""
        problems.append(f"{file or 'shapes'}: shape {named}{on}: {message}")
    return problems


def _bundled() -> dict:
    """The bundled protocol's criterion ids and limits (what a folder is compared with),
    cached on disk by the bundled files' content: a check parses only the folder."""
    files = [*sorted(bundled_data_dir("ontology").glob("*.ttl")),
             *sorted(bundled_data_dir("shapes").glob("*.ttl"))]
    key = content_hash(files, Path(__file__).read_bytes())
    path = cache_dir() / f"protocol-bundled-{key}.pickle"
    found = read_cache(path, lambda value: isinstance(value, dict) and value.get("key") == key)
    if found is None:
        ontology = Graph().parse(bundled_data_dir("ontology") / "ql1706kg.ttl",
                                 format="turtle")
        shapes = _union(_parse(f) for f in sorted(bundled_data_dir("shapes").glob("*.ttl")))
        found = {"key": key, "ids": set(criterion_ids(ontology).values()),
                 "limits": _limits(shapes)}
        write_cache(path, pickle.dumps(found))
    return found


def _no_cycles(shapes: Graph, shapes_by_file: dict[Path, Graph]) -> None:
    ring = find_cycle(shapes)
    if ring is not None:
        raise ProtocolRefused(
            f"{_file_of(ring[0], shapes_by_file) or 'shapes'}: shapes use each other in a "
            "cycle (" + " -> ".join(_name(node, shapes) for node in ring) + "); SHACL "
            "leaves a recursive shape undefined")


def _parameters(ontology: Graph, ontology_by_file: dict[Path, Graph]) -> None:
    """The rule parameters against the package's meta-constraints (:mod:`.meta`), before any
    patient is read: numbers in range, policies of the enumerated set."""
    try:
        check_parameters(ontology)
    except MetaViolation as exc:
        where = next((f for f in sorted(ontology_by_file)
                      if (None, RDF.type, QL.RuleParameter) in ontology_by_file[f]),
                     next(iter(sorted(ontology_by_file)), "ontology"))
        raise ProtocolRefused(f"{where}: {exc}") from None


def _equations(ontology: Graph, ontology_by_file: dict[Path, Graph]) -> None:
    """Every equation a criterion names is one the software computes from its data
    (:mod:`.equations`); a name it cannot compute is refused, never ignored."""
    try:
        named_equations(ontology)
    except EquationError as exc:
        where = next((f for f in sorted(ontology_by_file)
                      if (None, QL.usesEquation, None) in ontology_by_file[f]),
                     next(iter(sorted(ontology_by_file)), "ontology"))
        raise ProtocolRefused(f"{where}: {exc}") from None


def _regimen_counts(ontology: Graph, ontology_by_file: dict[Path, Graph]) -> None:
    """A regimen count the engine cannot compute (a grouping it does not implement, no drug
    class or setting) is refused, never read as a count of nothing."""
    problems = count_problems(build_regimen_counts(ontology)[0])
    if problems:
        where = next((f for f in sorted(ontology_by_file)
                      if (None, RDF.type, QL.RegimenCount) in ontology_by_file[f]), "ontology")
        raise ProtocolRefused(f"{where}: {problems[0]}")


def _attributes(ontology: Graph, ontology_by_file: dict[Path, Graph]) -> None:
    kinds, selections = build_fact_kinds(ontology)
    if problems := [*attribute_problems(kinds.values(), selections),
                    *anchor_problems(kinds.values(), selections)]:
        where = next((f for f in sorted(ontology_by_file)
                      if (None, QL.selectsKind, None) in ontology_by_file[f]), "ontology")
        raise ProtocolRefused(f"{where}: {problems[0]}")


def _limits_in_range(ids: dict[URIRef, str], shapes: Graph, folder: Path) -> None:
    try:
        check_limits(bounds(shapes, ids), set(ids.values()))
    except MetaViolation as exc:
        raise ProtocolRefused(f"{folder / 'shapes'}: {exc}") from None


def _missing_data_guarded(ids: dict, shapes: Graph, shapes_by_file: dict[Path, Graph],
                          folder: Path, exempt: set[URIRef]) -> None:
    """A limit only says what a value may be: a patient without the value passes it. So every
    criterion needs a shape that makes missing data unknown (``ql:onViolation ql:Unknown``),
    and a limit on a path needs one with ``sh:minCount`` on that same path; without it, an
    edit that drops the "is recorded" shape would make a patient with no result eligible.
    ``exempt``: the criteria whose class says they have no unknown path (a "known"
    exclusion, a cohort requirement; :func:`.check_criteria.without_unknown_path`)."""
    guarded: dict[object, set[tuple]] = {}
    for shape, criterion in shapes.subject_objects(QL.criterion):
        if shapes.value(shape, QL.onViolation) != QL.Unknown:
            continue
        guarded.setdefault(criterion, set())
        path = shapes.value(shape, SH.path)
        if path is not None and shapes.value(shape, SH.minCount) is not None:
            guarded[criterion].add(_path_key(shapes, path))
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        if criterion not in guarded and criterion not in exempt:
            raise ProtocolRefused(
                f"{folder / 'shapes'}: no shape makes {cid} unknown when its data is missing "
                "(ql:onViolation ql:Unknown); without one, a patient with no data would meet it")
    for shape, criterion in sorted(shapes.subject_objects(QL.criterion), key=str):
        path = shapes.value(shape, SH.path)
        if (shapes.value(shape, QL.onViolation) != QL.NotMet or path is None
                or not any(shapes.value(shape, bound) is not None for bound in _BOUNDS)):
            continue
        if _path_key(shapes, path) not in guarded.get(criterion, set()):
            raise ProtocolRefused(
                f"{_file_of(shape, shapes_by_file)}: shape {_name(shape, shapes)} sets a limit "
                f"on a path that no shape of {ids.get(criterion, _name(criterion, shapes))} "
                "requires (ql:onViolation ql:Unknown with sh:minCount 1 on the same sh:path): "
                "a patient without that value would meet the limit")


def _templates(graphs: dict[Path, Graph]) -> None:
    """Every text that states a limit renders (its placeholders name one literal each): a
    placeholder that names nothing is the folder's fault, named with its file, not a failure
    of the installation when the text is first shown."""
    union = _union(graphs.values())
    for file, graph in sorted(graphs.items()):
        for subject, _predicate, value in graph:
            if isinstance(value, Literal) and has_placeholder(str(value)):
                try:
                    render(str(value), subject, union)
                except TemplateError as exc:
                    raise ProtocolRefused(f"{file}: {exc}") from None


def _path_key(graph: Graph, path) -> tuple:
    if isinstance(path, BNode) and graph.value(path, RDF.first) is not None:
        return tuple(graph.items(path))
    return (path,)


def _contradictions(shapes: Graph, shapes_by_file: dict[Path, Graph]) -> None:
    limits: dict[tuple, list[tuple[object, URIRef, Decimal | None]]] = {}
    for bound, name in _BOUNDS.items():
        for node, value in sorted(shapes.subject_objects(bound), key=str):
            where = f"{_file_of(node, shapes_by_file)}: shape {_name(node, shapes)}"
            number = _number(value)
            if number is None:
                raise ProtocolRefused(f"{where}: the limit {name} {value.n3()} is not a number")
            if not number.is_finite():
                raise ProtocolRefused(f"{where}: the limit {name} {value} is not a finite "
                                      "number")
            criterion = shapes.value(node, QL.criterion)
            path = shapes.value(node, SH.path)
            if criterion is not None and path is not None:
                key = (criterion, shapes.value(node, QL.appliesWhen),
                       shapes.value(node, QL.appliesUnless), _path_key(shapes, path))
                limits.setdefault(key, []).append((node, bound, number))
    for node in {n for n, _v in shapes.subject_objects(SH.path)}:
        limits.setdefault(("node", node), []).extend(
            (node, bound, _number(value)) for bound in _BOUNDS
            for value in shapes.objects(node, bound))
    for found in limits.values():
        _consistent(found, shapes, shapes_by_file)


def _consistent(found: list[tuple], shapes: Graph, shapes_by_file: dict[Path, Graph]) -> None:
    """One value's bounds under one condition: each bound set once, the minimum ≤ maximum."""
    by_bound: dict[URIRef, tuple] = {}
    for node, bound, number in found:
        other = by_bound.setdefault(bound, (node, bound, number))
        if other[2] != number:
            raise ProtocolRefused(
                f"{_file_of(node, shapes_by_file)}: shape {_name(node, shapes)} sets "
                f"{_BOUNDS[bound]} {number} where shape {_name(other[0], shapes)} of the same "
                f"criterion sets {other[2]} for the same value: the protocol contradicts itself")
    for low in _MINIMA:
        for high in _MAXIMA:
            if low in by_bound and high in by_bound:
                lower, upper = by_bound[low][2], by_bound[high][2]
                empty = lower > upper or (lower == upper and (low == SH.minExclusive
                                                              or high == SH.maxExclusive))
                if empty:
                    node = by_bound[low][0]
                    raise ProtocolRefused(
                        f"{_file_of(node, shapes_by_file)}: shape {_name(node, shapes)}: the "
                        f"minimum {_BOUNDS[low]} {lower} is above the maximum "
                        f"{_BOUNDS[high]} {upper}: no value can meet it")


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None


def _limits(shapes: Graph) -> dict[URIRef, set[Decimal]]:
    """Every numeric limit of each criterion (of its shapes and their nested shapes)."""
    limits: dict[URIRef, set[Decimal]] = {}
    for bound in _BOUNDS:
        for node, value in shapes.subject_objects(bound):
            owner = _owner(shapes, node)
            number = _number(value)
            if owner is not None and number is not None:
                limits.setdefault(owner, set()).add(number)
    return limits


def _bundled_limits() -> dict[URIRef, set[Decimal]]:
    return _bundled()["limits"]


def _quotes(ontology: Graph, shapes: Graph, ids: dict[URIRef, str]) -> list[str]:
    """Notes on quoted protocol texts that state a limit the shapes no longer hold: a number
    the quote compares with (``≥1.5``) that is a limit of the criterion in the bundled
    protocol but not in this one. (Numbers a quote states in other units, such as weeks for
    a limit in days, are not limits of the bundled protocol either, and are left alone.)"""
    before, now = _bundled_limits(), _limits(shapes)
    notes = []
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        quote = ontology.value(criterion, QL.protocolText)
        if quote is None:
            continue
        quoted = {n for n in map(_decimal, _QUOTED.findall(str(quote))) if n is not None}
        current = now.get(criterion, set())
        stale = {q for q in quoted if q in before.get(criterion, set()) and q not in current}
        for number in sorted(stale):
            shown = ", ".join(str(v) for v in sorted(current - before.get(criterion, set()))
                              or sorted(current)) or "none"
            notes.append(f"{cid}: the protocol text quotes {number} (\"{quote}\") but the "
                         f"criterion's limit is now {shown}; the quote is kept as written "
                         "(update it if the amendment changed the protocol's wording)")
    return notes


def _owner(shapes: Graph, node) -> URIRef | None:
    """The criterion of the top-level shape a (possibly nested) shape belongs to."""
    seen = set()
    while node is not None and node not in seen:
        seen.add(node)
        criterion = shapes.value(node, QL.criterion)
        if criterion is not None:
            return criterion
        node = _parent(shapes, node)
    return None


def _parent(shapes: Graph, node):
    for subject, _p, _o in shapes.triples((None, None, node)):
        if shapes.value(subject, RDF.first) is not None:  # a list cell: walk back to its head
            return _parent(shapes, subject)
        return subject
    return None
