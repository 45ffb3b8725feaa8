"""RDF syntax for the verdict streams (:mod:`.rdf_stream`): terms as N-Triples, Turtle and
JSON-LD bytes, written by hand because rdflib's serialisers need one graph of everything.

A term is an IRI (a ``str``), a blank node (a ``str`` starting ``_:``), a :class:`Lit`, or
the rdflib term of a patient graph. IRIs are encoded once and cached (the vocabulary and a
patient's IRIs repeat); a string literal is quoted by orjson, whose JSON escapes are all
N-Triples and Turtle escapes too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple, cast

import orjson
from rdflib import BNode, Literal, URIRef

from ..protocol.namespaces import PROV, QL, QLP, QLR, RDF, RDFS, SH, SKOS, XSD

__all__ = ["JSONLD_PREFIXES", "PREFIXES", "Lit", "Term", "Triple", "encode_json",
           "jsonld_head", "jsonld_nodes", "nquads_block", "term_of", "turtle_block",
           "turtle_head"]
from .visible import visible


class Lit(NamedTuple):
    """A literal: its lexical form, datatype IRI (None: a plain string) and language tag."""

    lex: str
    dt: str | None = None
    lang: str | None = None


# A term is an IRI (a str), a blank node (a str starting "_:") or a Lit.
Term = str | Lit
Triple = tuple[str, str, Term]

_QL, _PROV, _RDF, _RDFS, _XSD = str(QL), str(PROV), str(RDF), str(RDFS), str(XSD)
_TYPE = _RDF + "type"
_INTEGER, _DECIMAL = _XSD + "integer", _XSD + "decimal"
PREFIXES = (("ql", _QL), ("qls", "https://w3id.org/ql1706kg/shapes#"), ("qlp", str(QLP)),
            ("qlr", str(QLR)), ("prov", _PROV), ("rdf", _RDF), ("rdfs", _RDFS),
            ("xsd", _XSD), ("skos", str(SKOS)), ("sh", str(SH)),
            ("owl", "http://www.w3.org/2002/07/owl#"))
# The prefixes of the JSON-LD context (as the rdflib serialisation had them).
JSONLD_PREFIXES = ("ql", "qlr", "qlp", "prov", "rdfs", "xsd", "skos", "sh")


def term_of(node) -> Term:
    """An rdflib term as a :data:`Term`."""
    if isinstance(node, Literal):
        return Lit(str(node), str(node.datatype) if node.datatype is not None else None,
                   node.language)
    if isinstance(node, BNode):
        return f"_:{node}"
    return str(node)


# -- term syntax shared by Turtle and N-Quads: bytes, with the IRIs of a run cached --------
_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_LOCAL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_-])?")
_LANG = re.compile(r"[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CACHE_SIZE = 20_000  # IRIs per cache (a patient brings ~100 new ones): a few MB
_NT: dict[str, bytes] = {}
_TTL: dict[str, bytes] = {}
_JSONLD: dict[str, str] = {}
_PATIENT_SPACES = (str(QLP), str(QLR))


def _nt_iri(iri: str) -> bytes:
    found = _NT.get(iri)
    if found is None:
        if iri.startswith("_:"):  # a blank node, as a Term
            found = iri.encode()
        else:
            text = _IRI_BAD.sub(lambda m: f"\\u{ord(m.group()):04X}", iri)
            found = f"<{text}>".encode()
        if len(_NT) > _CACHE_SIZE:
            _NT.clear()
        _NT[iri] = found
    return found


def _ttl_iri(iri: str) -> bytes:
    found = _TTL.get(iri)
    if found is None:
        found = _nt_iri(iri)
        if not iri.startswith(_PATIENT_SPACES) and not iri.startswith("_:"):
            for prefix, space in PREFIXES:
                if iri.startswith(space) and _LOCAL.fullmatch(iri[len(space):]):
                    found = f"{prefix}:{iri[len(space):]}".encode()
                    break
        if len(_TTL) > _CACHE_SIZE:
            _TTL.clear()
        _TTL[iri] = found
    return found


def _quoted(text: str) -> bytes:
    """A string literal's quoted form: JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX``
    for control characters) are all N-Triples and Turtle escapes too; a lone surrogate (a file
    name not in UTF-8) is written as its visible escape."""
    try:
        return orjson.dumps(text)
    except orjson.JSONEncodeError:
        return orjson.dumps(visible(text) if _SURROGATE.search(text) else text)


def _literal(lex: str, dt: str | None, lang: str | None, iri) -> bytes:
    if lang and _LANG.fullmatch(lang):
        return _quoted(lex) + b"@" + lang.encode()
    if dt:
        return _quoted(lex) + b"^^" + iri(dt)
    return _quoted(lex)


_SHORT = {_INTEGER: re.compile(r"-?(?:0|[1-9][0-9]*)"),
          _DECIMAL: re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+"),
          _XSD + "boolean": re.compile(r"true|false")}


def _ttl_literal(lex: str, dt: str | None, lang: str | None) -> bytes:
    if dt is not None and not lang:
        if dt == _DECIMAL and "." not in lex:
            lex += ".0"  # as rdflib's Turtle writes a decimal
        short = _SHORT.get(dt)
        if short is not None and short.fullmatch(lex):
            return lex.encode()
    return _literal(lex, dt, lang, _ttl_iri)


def _nt(term) -> bytes:
    """A :data:`Term` or an rdflib term in N-Triples syntax."""
    kind = type(term)
    if kind is str or kind is URIRef:
        found = _NT.get(term if kind is str else str(term))
        return found if found is not None else _nt_iri(str(term))
    if kind is Lit:
        lex, dt, lang = cast(Lit, term)
        return _literal(lex, dt, lang, _nt_iri)
    if kind is Literal:
        dt = term.datatype
        return _literal(str(term), str(dt) if dt is not None else None, term.language,
                        _nt_iri)
    if kind is BNode:
        return b"_:" + str(term).encode()
    return _nt(term_of(term))  # a subclass of an rdflib term


def _ttl(term) -> bytes:
    """A :data:`Term` or an rdflib term in Turtle syntax."""
    kind = type(term)
    if kind is str or kind is URIRef:
        found = _TTL.get(term if kind is str else str(term))
        return found if found is not None else _ttl_iri(str(term))
    if kind is Lit:
        return _ttl_literal(*term)
    if kind is Literal:
        dt = term.datatype
        return _ttl_literal(str(term), str(dt) if dt is not None else None, term.language)
    if kind is BNode:
        return b"_:" + str(term).encode()
    return _ttl(term_of(term))


# -- Turtle -------------------------------------------------------------------------------
def turtle_head() -> bytes:
    return "".join(f"@prefix {prefix}: <{space}> .\n" for prefix, space in PREFIXES
                   ).encode() + b"\n"


def turtle_block(triples: Iterable[tuple]) -> bytes:
    """Triples (:data:`Triple` or rdflib's) as Turtle statements, consecutive triples of one
    subject grouped with ``;``, of one subject and predicate with ``,``."""
    out: list[bytes] = []
    add = out.append
    subject = predicate = None
    for s, p, o in triples:
        # Identity first: rdflib's __eq__ is Python code; a patient graph yields one object
        # per subject and predicate, and equal str terms compare in C.
        if s is subject or (type(s) is str and s == subject):
            if p is predicate or (type(p) is str and p == predicate):
                add(b",\n        ")
            else:
                predicate = p
                add(b" ;\n    ")
                add(b"a" if p == _TYPE else _ttl(p))
                add(b" ")
        else:
            if subject is not None:
                add(b" .\n")
            subject, predicate = s, p
            add(_ttl(s))
            add(b" a " if p == _TYPE else b" " + _ttl(p) + b" ")
        add(_ttl(o))
    if subject is not None:
        add(b" .\n\n")
    return b"".join(out)


# -- N-Quads ------------------------------------------------------------------------------
def nquads_block(triples: Iterable[tuple], graph: str) -> bytes:
    """Triples (:data:`Triple` or rdflib's) as N-Quads lines in ``graph``."""
    tail = b" " + _nt_iri(graph) + b" .\n"
    out: list[bytes] = []
    add = out.append
    subject = None
    head = b""
    for s, p, o in triples:
        if s is not subject:
            subject, head = s, _nt(s) + b" "
        add(head)
        add(_nt(p))
        add(b" ")
        add(_nt(o))
        add(tail)
    return b"".join(out)


# -- JSON-LD ------------------------------------------------------------------------------
_CONTEXT = {prefix: space for prefix, space in PREFIXES if prefix in JSONLD_PREFIXES}
_JSONLD_SPACES = tuple((prefix, space) for prefix, space in PREFIXES
                       if prefix in JSONLD_PREFIXES)


def _compact(iri: str) -> str:
    found = _JSONLD.get(iri)
    if found is None:
        found = iri
        for prefix, space in _JSONLD_SPACES:
            if iri.startswith(space) and len(iri) > len(space) and not iri[
                    len(space):].startswith("//"):
                found = f"{prefix}:{iri[len(space):]}"
                break
        if len(_JSONLD) > _CACHE_SIZE:
            _JSONLD.clear()
        _JSONLD[iri] = found
    return found


def _jsonld_value(term) -> object:
    kind = type(term)
    if kind is Lit or kind is Literal:
        lex, dt, lang = term if kind is Lit else (str(term), term.datatype, term.language)
        if lang:
            return {"@value": lex, "@language": lang}
        if dt:
            return {"@value": lex, "@type": _compact(str(dt))}
        return lex
    if kind is not str and kind is not URIRef and kind is not BNode:
        return _jsonld_value(term_of(term))  # a subclass of an rdflib term
    return {"@id": _jsonld_id(term)}


def _jsonld_id(term) -> str:
    text = term if type(term) is str else str(term)
    if type(term) is BNode:
        return f"_:{text}"
    return text if text.startswith("_:") else _compact(text)


def jsonld_nodes(triples: Iterable[tuple]) -> list[dict]:
    """Node objects, one per run of consecutive triples (:data:`Triple` or rdflib's) with one
    subject."""
    nodes: list[dict] = []
    node: dict = {}
    subject = None
    for s, p, o in triples:
        if s is not subject and (type(s) is not str or s != subject):
            subject = s
            node = {"@id": _jsonld_id(s)}
            nodes.append(node)
        if p == _TYPE and type(o) is not Lit and type(o) is not Literal:
            node.setdefault("@type", []).append(_jsonld_id(o))
            continue
        key = _compact(p if type(p) is str else str(p))
        value = _jsonld_value(o)
        held = node.get(key)
        if held is None:
            node[key] = value
        elif type(held) is list:
            held.append(value)
        else:
            node[key] = [held, value]
    return nodes


def encode_json(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # a lone surrogate (a file name not in UTF-8)
        return orjson.dumps(_visible_strings(value))


def _visible_strings(value: object) -> object:
    if isinstance(value, str):
        return visible(value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_visible_strings(k): _visible_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_visible_strings(v) for v in value]
    return value


def jsonld_head() -> bytes:
    context = orjson.dumps(_CONTEXT, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
    return b'{\n  "@context": ' + context + b',\n  "@graph": ['
