"""Texts that state a limit, rendered from the limit's own literal: one number, one place.

A limit is one literal in ``shapes/*.ttl`` (``sh:minInclusive 1.5``); a rule parameter is one
literal in the ontology (``ql:parameterValue 28``). Every other text that states it (a shape's
``sh:name``, ``sh:message``, ``rdfs:comment``, a criterion's ``ql:ruleAsRead`` or
``ql:collectHint``) holds a placeholder instead of the number, rendered when the protocol is
loaded::

    sh:name "ANC ≥{sh:minInclusive} ×10⁹/L"                   the shape's own literal
    sh:name "ANC ≥{qls:A9.1-ANC-Limit sh:minInclusive} ×10⁹/L: a usable value is on record"
    ql:collectHint "… given in the {ql:SupportiveCareLookbackDays ql:parameterValue} days …"
    sh:message "… ≥{sh:minInclusive|percent_increase}% …"      with a format (below)

``{[SUBJECT] PREDICATE[|FORMAT]}``: SUBJECT (default: the node the text is on) and PREDICATE
are prefixed names (``ql:``, ``qls:``, ``sh:``). The value is the one literal of PREDICATE on
SUBJECT or on any shape it uses (``sh:property``, ``sh:or`` … lists, ``sh:not``,
``sh:qualifiedValueShape``, ``sh:node``, named helper shapes included); none, or two
different values, is an error naming the text. A placeholder is plain text in Turtle, and
braces without a known prefix (``NCIT_{code}``) are left alone. The protocol's quotations
(``ql:protocolText``, a criterion's ``skos:definition``) hold no placeholder: they stay
quotes.

Formats: none (the number as explanations write numbers: 1.50 -> 1.5, 5.0 -> 5),
``percent_increase`` (a ratio as the rise it allows: 1.10 -> 10), ``weeks`` (days / 7),
``dipstick`` (the urine dipstick grade of that rank: 1 -> 1+), ``dipstick_above`` (the next
grade above it: 1 -> 2+), ``days_before_assessment`` (0 -> "on or before the assessment
date", n -> "at least n days before the assessment date").

Rendering happens when the tables derived from the protocol are built (the shapes index, the
terminology), from a table of every templated text cached on disk by the content of the
protocol's files, so a start reads no Turtle for it.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef

from ..errors import ShapesError
from ..version import __version__
from . import order as order_module
from .namespaces import QL, QLS, RDF, SH
from .order import complete_order
from .resources import (
    cache_dir,
    content_hash,
    ontology_files,
    protocol_cache,
    read_cache,
    shape_files,
    write_cache,
)

_PREFIXES = {"ql": QL, "qls": QLS, "sh": SH}
_NAME = r"(?:ql|qls|sh):[^\s{}|]+"
PLACEHOLDER = re.compile(r"\{\s*(" + _NAME + r")(?:\s+(" + _NAME + r"))?\s*(?:\|\s*(\w+)\s*)?\}")
_NESTING = (SH.property, SH.node, SH.qualifiedValueShape, SH["not"])
_LISTS = (SH["or"], SH["and"], SH.xone)
_FIRST, _REST, _NIL = RDF.first, RDF.rest, RDF.nil


class TemplateError(ShapesError):
    """A placeholder in a protocol text that names no literal, or an ambiguous one."""


def format_decimal(number: Decimal) -> str:
    """Write a number without float noise: 1.50 -> 1.5, 2.3333333 -> 2.333, 90.0 -> 90."""
    if not number.is_finite() or abs(number) >= 10**15:
        return f"{number:.6g}"  # beyond what quantizing to units can hold; never raises
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    text = f"{number:.3f}" if abs(number) < 10 else f"{number:.2f}"
    return text.rstrip("0").rstrip(".")


def has_placeholder(text: str) -> bool:
    """Tell whether a text holds a placeholder this module renders."""
    return PLACEHOLDER.search(text) is not None


def _term(name: str) -> URIRef:
    prefix, local = name.split(":", 1)
    return _PREFIXES[prefix][local]


def _decimal(value: Literal) -> Decimal:
    return Decimal(str(value))


def _list(graph: Graph, head) -> list:
    out, seen = [], set()
    while head is not None and head != _NIL and head not in seen:
        seen.add(head)
        item = graph.value(head, _FIRST)
        if item is not None:
            out.append(item)
        head = graph.value(head, _REST)
    return out


def shape_children(graph: Graph, node) -> list:
    """The shapes a shape node uses directly: through sh:property, sh:node,
    sh:qualifiedValueShape and sh:not, and the members of its sh:or, sh:and and sh:xone lists
    (the one walk the texts, the shapes index and its owners all use)."""
    children = [o for p in _NESTING for o in graph.objects(node, p)]
    for p in _LISTS:
        for head in graph.objects(node, p):
            children.extend(_list(graph, head))
    return children


def used_shapes(graph: Graph, top) -> list:
    """The node and every shape it uses, named helpers included (each once)."""
    seen, stack, order = {top}, [top], [top]
    while stack:
        node = stack.pop()
        children = shape_children(graph, node)
        for child in children:
            if isinstance(child, URIRef | BNode) and child not in seen:
                seen.add(child)
                order.append(child)
                stack.append(child)
    return order


def values_of(graph: Graph, subject, predicate: URIRef) -> set[Literal]:
    """The distinct literal values of ``predicate`` on ``subject`` and the shapes it uses."""
    found: dict[Decimal | str, Literal] = {}
    for node in used_shapes(graph, subject):
        for value in graph.objects(node, predicate):
            if isinstance(value, Literal):
                key = _decimal(value) if _is_number(value) else str(value)
                found.setdefault(key, value)
    return set(found.values())


def _is_number(value: Literal) -> bool:
    return literal_number(value) is not None


def literal_number(value: object) -> Decimal | None:
    """The number a protocol literal states (an integer, decimal or double, not a boolean),
    exactly as a Decimal; None for anything else. The one reading of a limit's literal that
    the texts, the protocol check and the what-if lines share."""
    if isinstance(value, Literal):
        python = value.toPython()
        if isinstance(python, int | float | Decimal) and not isinstance(python, bool):
            return Decimal(str(python))
    return None


def _grades(graph: Graph) -> list[tuple[Decimal, str]]:
    out = []
    for grade in graph.subjects(RDF.type, QL.DipstickGrade):
        rank, label = graph.value(grade, QL.ordinalRank), graph.value(grade, _LABEL)
        if rank is not None and label is not None:  # "urine protein 1+" -> "1+"
            out.append((_decimal(rank), str(label).rsplit(" ", 1)[-1]))
    return sorted(out)


_LABEL = URIRef("http://www.w3.org/2000/01/rdf-schema#label")


def _dipstick(graph: Graph, rank: Decimal, above: bool) -> str:
    grades = _grades(graph)
    hits = [label for r, label in grades if (r > rank if above else r == rank)]
    if not hits:
        raise ValueError(f"no urine dipstick grade {'above' if above else 'of'} rank "
                         f"{format_decimal(rank)} in the ontology")
    return hits[0]


def _days_before(number: Decimal) -> str:
    if number == 0:
        return "on or before the assessment date"
    return f"at least {format_decimal(number)} days before the assessment date"


_FORMATS: dict[str, Callable[[Graph, Decimal], str]] = {
    "number": lambda _g, n: format_decimal(n),
    "percent_increase": lambda _g, n: format_decimal((n - 1) * 100),
    "weeks": lambda _g, n: format_decimal(n / 7),
    "dipstick": lambda g, n: _dipstick(g, n, above=False),
    "dipstick_above": lambda g, n: _dipstick(g, n, above=True),
    "days_before_assessment": lambda _g, n: _days_before(n),
}
FORMATS = tuple(_FORMATS)


def render(text: str, subject, graph: Graph) -> str:
    """Render the placeholders of one text, found on ``subject``, from ``graph`` (the
    protocol: ontology and shapes); :class:`TemplateError` names what is wrong."""

    def one(match: re.Match) -> str:
        first, second, fmt = match.group(1), match.group(2), match.group(3) or "number"
        where = f"{_short(subject)}: '{match.group(0)}'"
        if fmt not in _FORMATS:
            raise TemplateError(f"{where}: unknown format '{fmt}' (one of "
                                f"{', '.join(FORMATS)})")
        try:
            owner = _term(first) if second is not None else subject
            predicate = _term(second if second is not None else first)
        except KeyError:
            raise TemplateError(f"{where}: unknown prefix") from None
        if owner is None or (second is None and isinstance(owner, BNode)):
            raise TemplateError(f"{where}: a placeholder on a blank node must name its shape")
        values = values_of(graph, owner, predicate)
        if len(values) != 1:
            problem = "names no literal" if not values else (
                "is ambiguous: " + ", ".join(sorted(str(v) for v in values)))
            raise TemplateError(f"{where} {problem}")
        (value,) = values
        if not _is_number(value):
            return str(value)
        try:
            return _FORMATS[fmt](graph, _decimal(value))
        except ValueError as exc:
            raise TemplateError(f"{where}: {exc}") from None

    return PLACEHOLDER.sub(one, text)


def _short(node) -> str:
    text = str(node)
    for prefix, namespace in _PREFIXES.items():
        if text.startswith(str(namespace)):
            return f"{prefix}:{text[len(str(namespace)):]}"
    return text


def render_all(graph: Graph) -> dict[tuple[str | None, str], str]:
    """Every templated text of a protocol graph, rendered: (subject IRI or None for a blank
    node, the text as written) -> the text as shown."""
    out: dict[tuple[str | None, str], str] = {}
    for subject, _predicate, value in graph:
        if isinstance(value, Literal) and has_placeholder(str(value)):
            key = (str(subject) if isinstance(subject, URIRef) else None, str(value))
            out[key] = render(str(value), subject, graph)
    return out


def protocol_graph() -> Graph:
    """The current protocol's ontology and shapes as written (placeholders unrendered)."""
    graph = Graph()
    for path in (*ontology_files(), *shape_files()):
        graph.parse(path, format="turtle")
    return graph


def _texts_hash() -> str:
    return content_hash((*ontology_files(), *shape_files()), __version__.encode(),
                        Path(__file__).read_bytes(), Path(order_module.__file__).read_bytes())


@protocol_cache
def rendered_texts() -> dict[tuple[str | None, str], str]:
    """The rendered texts of the current protocol (see :func:`render_all`), from the on-disk
    cache when no protocol file has changed."""
    key = _texts_hash()
    path = cache_dir() / f"texts-{key}.pickle"
    cached = read_cache(path, lambda value: isinstance(value, dict)
                        and value.get("version") == key and isinstance(value.get("texts"), dict))
    if cached is not None:
        return cached["texts"]
    built = render_all(protocol_graph())
    write_cache(path, pickle.dumps({"version": key, "texts": built}))
    return built


def shown(text: str, subject=None) -> str:
    """A text of the current protocol as shown (its placeholders rendered)."""
    if not has_placeholder(text):
        return text
    key = (str(subject) if isinstance(subject, URIRef) else None, text)
    table = rendered_texts()
    if key in table:
        return table[key]
    return render(text, subject, protocol_graph())


def render_graph(graph: Graph) -> Graph:
    """Render, in place, every templated literal of a graph read from the current protocol's
    files (keeping each literal's language and datatype); returns the graph."""
    changes = []
    for subject, predicate, value in graph:
        if isinstance(value, Literal) and has_placeholder(str(value)):
            text = shown(str(value), subject)
            changes.append(((subject, predicate, value),
                            (subject, predicate, Literal(text, lang=value.language,
                                                         datatype=value.datatype))))
    for old, new in changes:
        graph.remove(old)
        graph.add(new)
    return complete_order(graph)


def rendered_file(part: str, scratch: Path) -> Path:
    """The current protocol's ontology or shapes (``part``) as one N-Triples file with its
    texts rendered, for a store to load: cached beside the other protocol tables by content,
    else (a read-only cache) written into ``scratch``."""
    files = ontology_files() if part == "ontology" else shape_files()
    key = content_hash(files, _texts_hash().encode(), part.encode())
    path = cache_dir() / f"{part}-rendered-{key}.nt"
    if path.is_file():
        return path
    graph = Graph()
    for source in files:
        graph.parse(source, format="turtle")
    data = render_graph(graph).serialize(format="nt", encoding="utf-8")
    write_cache(path, data)
    if path.is_file():
        return path
    fallback = scratch / f"{part}-rendered.nt"
    fallback.write_bytes(data)
    return fallback


__all__ = ["FORMATS", "PLACEHOLDER", "TemplateError", "format_decimal", "has_placeholder",
           "protocol_graph", "render", "render_all", "render_graph", "rendered_file",
           "rendered_texts", "shown", "used_shapes", "values_of"]
