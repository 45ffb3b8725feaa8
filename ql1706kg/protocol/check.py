"""A protocol folder (``--protocol DIR``) checked before it is used.

A folder is refused (:class:`ProtocolRefused`, naming the file and, where there is one, the
shape) when a file does not parse (with its line), when its shapes fail the W3C SHACL-SHACL
meta-validation, when a criterion of the ontology has no shape, a shape names a criterion the
ontology lacks or one of the bundled protocol's criteria is missing, when missing data could
meet a criterion (no shape of the criterion makes it unknown, or a limit's path is not required
by one), and when it contradicts itself: a limit that is not a number, a minimum above a
maximum, or two shapes of one criterion that set the same bound of the same value differently
under the same condition.

A quoted protocol text (``ql:protocolText``) whose numbers differ from its criterion's limits
is not refused (an amendment may change a limit before the quote is updated): it is reported
as a note naming the criterion, the quoted number and the limit.

The outcome of a folder that passes is cached on disk by the folder's content (and this
module's code), so starting again on the same folder costs a hash; the bundled protocol is
never checked at run time (the test suite checks it), so the normal path imports no pySHACL.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import pickle
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import cast

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.term import Node

from ..errors import Ql1706kgError
from .namespaces import QL, RDF, SH
from .resources import (
    PROTOCOL_PARTS,
    bundled_data_dir,
    cache_dir,
    protocol,
    read_cache,
    use_protocol,
    write_cache,
)
from .texts import TemplateError, has_placeholder, render
from .texts import literal_number as _number

_BOUNDS = {SH.minInclusive: "sh:minInclusive", SH.minExclusive: "sh:minExclusive",
           SH.maxInclusive: "sh:maxInclusive", SH.maxExclusive: "sh:maxExclusive"}
_MINIMA = (SH.minInclusive, SH.minExclusive)
_MAXIMA = (SH.maxInclusive, SH.maxExclusive)
# A number the quote compares with: "≥1.5 × 10⁹/L", "≤ 2.5 × ULN", "< 3".
_QUOTED = re.compile(r"(?:[≥≤<>]=?|at least|at most|no more than)\s*(\d+(?:[.,]\d+)?)")


class ProtocolRefused(Ql1706kgError):
    """A protocol folder that cannot be used; the message names the file (and shape)."""


def load_protocol(folder: Path | str) -> list[str]:
    """Check ``folder`` (see the module docstring) and make it the current protocol; return
    the notes found (quotes that differ from their limits). Raises :class:`ProtocolRefused`."""
    notes = check_protocol(Path(folder))
    use_protocol(folder)
    return notes


@contextmanager
def checked_protocol(folder: Path | str | None) -> Iterator[list[str]]:
    """The Python API's ``--protocol``: check ``folder`` as the CLI does (refused with
    :class:`ProtocolRefused`), then use it for the duration of a ``with`` block, giving the
    notes (None: the bundled protocol, no notes)."""
    notes = check_protocol(Path(folder)) if folder is not None else []
    with protocol(folder):
        yield notes


def check_protocol(folder: Path) -> list[str]:
    """The notes on a protocol folder that can be used; :class:`ProtocolRefused` otherwise."""
    files = _files(folder)
    key = _folder_hash(files)
    path = cache_dir() / f"protocol-check-{key}.pickle"
    cached = read_cache(path, lambda value: isinstance(value, dict) and value.get("key") == key)
    if cached is not None:
        return [str(note) for note in cached["notes"]]
    graphs = {file: _parse(file) for file in files if file.suffix == ".ttl"}
    for file in files:
        if file.suffix == ".rq":
            _parse_query(file)
    ontology = _union(g for f, g in graphs.items() if f.parent.name == "ontology")
    shapes_by_file = {f: g for f, g in graphs.items() if f.parent.name == "shapes"}
    shapes = _union(shapes_by_file.values())
    _criteria(ontology, shapes, shapes_by_file, folder)
    _missing_data_guarded(_criterion_ids(ontology), shapes, shapes_by_file, folder)
    _rule_parameters(ontology, {f: g for f, g in graphs.items() if f.parent.name == "ontology"})
    _contradictions(shapes, shapes_by_file)
    _templates(graphs)
    _meta_shacl(shapes, shapes_by_file)  # the costly check last (~3 s with pySHACL)
    notes = _quotes(ontology, shapes)
    write_cache(path, pickle.dumps({"key": key, "notes": notes}))
    return notes


def _files(folder: Path) -> list[Path]:
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


def _folder_hash(files: Iterable[Path]) -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes())
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
        key = _folder_hash(files)
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


def _is_bundled(file: Path) -> bool:
    bundled = bundled_data_dir("shapes") / file.name
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


def _criterion_ids(ontology: Graph) -> dict[URIRef, str]:
    return {c: str(ontology.value(c, QL.criterionId) or str(c).rsplit("#", 1)[-1])
            for c in ontology.subjects(RDF.type, QL.AtomicCriterion) if isinstance(c, URIRef)}


def _bundled_ids() -> set[str]:
    graph = Graph().parse(bundled_data_dir("ontology") / "ql1706kg.ttl", format="turtle")
    return set(_criterion_ids(graph).values())


def _criteria(ontology: Graph, shapes: Graph, shapes_by_file: dict[Path, Graph],
              folder: Path) -> None:
    ids = _criterion_ids(ontology)
    missing = sorted(_bundled_ids() - set(ids.values()))
    if missing:
        raise ProtocolRefused(f"{folder / 'ontology'}: the protocol loses criteria "
                              f"{', '.join(missing)} (every criterion of the bundled protocol "
                              "must stay; an amendment changes its shapes, not its id)")
    for shape, criterion in sorted(shapes.subject_objects(QL.criterion), key=str):
        if criterion not in ids:
            raise ProtocolRefused(
                f"{_file_of(shape, shapes_by_file)}: shape {_name(shape, shapes)} names "
                f"criterion {_name(criterion, shapes)}, which the ontology lacks")
    named = set(shapes.objects(None, QL.criterion))
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        if criterion not in named:
            raise ProtocolRefused(f"{folder / 'shapes'}: no shape names criterion {cid} "
                                  "(ql:criterion); every criterion needs its shapes")


def _missing_data_guarded(ids: dict[URIRef, str], shapes: Graph,
                          shapes_by_file: dict[Path, Graph], folder: Path) -> None:
    """A limit only says what a value may be: a patient without the value passes it. So every
    criterion needs a shape that makes missing data unknown (``ql:onViolation ql:Unknown``),
    and a limit on a path needs one with ``sh:minCount`` on that same path; without it, an
    edit that drops the "is recorded" shape would make a patient with no result eligible."""
    guarded: dict[Node, set[tuple]] = {}
    for shape, criterion in shapes.subject_objects(QL.criterion):
        if shapes.value(shape, QL.onViolation) != QL.Unknown:
            continue
        guarded.setdefault(criterion, set())
        path = shapes.value(shape, SH.path)
        if path is not None and shapes.value(shape, SH.minCount) is not None:
            guarded[criterion].add(_path_key(shapes, path))
    for criterion, cid in sorted(ids.items(), key=lambda item: item[1]):
        if criterion not in guarded:
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
                f"on a path that no shape of "
                f"{ids.get(cast(URIRef, criterion), _name(criterion, shapes))} "
                "requires (ql:onViolation ql:Unknown with sh:minCount 1 on the same sh:path): "
                "a patient without that value would meet the limit")


def _rule_parameters(ontology: Graph, ontology_by_file: dict[Path, Graph]) -> None:
    """Each rule parameter has one value: a finite number within its ``ql:allowedMinimum`` and
    ``ql:allowedMaximum`` (the ontology's own range), or one policy the ontology declares (a
    ``ql:RulePolicy``); anything else is refused here, not met as a crash mid-screening."""
    for parameter in sorted(set(ontology.subjects(RDF.type, QL.RuleParameter)), key=str):
        where = f"{_file_of(parameter, ontology_by_file)}: rule parameter " \
                f"{_name(parameter, ontology)}"
        values = list(ontology.objects(parameter, QL.parameterValue))
        policies = list(ontology.objects(parameter, QL.policy))
        if len(values) + len(policies) != 1:
            raise ProtocolRefused(f"{where} needs exactly one ql:parameterValue or ql:policy "
                                  f"(has {len(values) + len(policies)})")
        if policies:
            if (policies[0], RDF.type, QL.RulePolicy) not in ontology:
                raise ProtocolRefused(f"{where}: its policy {_name(policies[0], ontology)} is "
                                      "not a ql:RulePolicy of the ontology")
            continue
        number = _number(values[0])
        if number is None or not number.is_finite():
            raise ProtocolRefused(f"{where}: its value {values[0].n3()} is not a number")
        low = _number(ontology.value(parameter, QL.allowedMinimum))
        high = _number(ontology.value(parameter, QL.allowedMaximum))
        if (low is not None and number < low) or (high is not None and number > high):
            raise ProtocolRefused(f"{where}: its value {number} is outside the range the "
                                  f"ontology allows ({low} to {high})")


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
    limits: dict[tuple, list[tuple[Node, URIRef, Decimal | None]]] = {}
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
    return _limits(_union(_parse(f) for f in sorted(bundled_data_dir("shapes").glob("*.ttl"))))


def _quotes(ontology: Graph, shapes: Graph) -> list[str]:
    """Notes on quoted protocol texts that state a limit the shapes no longer hold: a number
    the quote compares with (``≥1.5``) that is a limit of the criterion in the bundled
    protocol but not in this one. (Numbers a quote states in other units, such as weeks for
    a limit in days, are not limits of the bundled protocol either, and are left alone.)"""
    before, now = _bundled_limits(), _limits(shapes)
    notes = []
    for criterion, cid in sorted(_criterion_ids(ontology).items(), key=lambda item: item[1]):
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
