"""Which RDF syntax a file holds, by its name and, failing that, by its first bytes.

Why: files are named as their writers please (``verdicts.turtle``, ``graph.n-triples``, a
JSON-LD document saved as ``.json``, a download with no suffix at all). ``query``, ``serve``
and ``push`` load RDF so recognised as verdict graphs; ``screen`` and ``lift``, which read
patient records, refuse it with a message that says what it is and which command reads it,
instead of "invalid JSON at line 1".

Only the syntaxes rdflib and Oxigraph both read are named: ``turtle``, ``nt`` (N-Triples),
``nquads``, ``trig``, ``json-ld`` and ``xml`` (RDF/XML).
"""

from __future__ import annotations

import re
from pathlib import Path

SUFFIXES = {
    ".ttl": "turtle", ".turtle": "turtle",
    ".nt": "nt", ".ntriples": "nt", ".n-triples": "nt",
    ".nq": "nquads", ".nquads": "nquads", ".n-quads": "nquads",
    ".trig": "trig",
    ".jsonld": "json-ld", ".json-ld": "json-ld",
    ".rdf": "xml", ".owl": "xml", ".xml": "xml", ".rdfxml": "xml",
}
NAMES = {"turtle": "Turtle", "nt": "N-Triples", "nquads": "N-Quads", "trig": "TriG",
         "json-ld": "JSON-LD", "xml": "RDF/XML"}
HEAD_BYTES = 8192

_RDF_NS = b"http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_TERM = rb'(?:<[^<>"\s]*>|_:\S+|"(?:[^"\\\n]|\\.)*"(?:@[A-Za-z0-9-]+|\^\^<[^<>"\s]*>)?)'
_STATEMENT = re.compile(rb"(" + _TERM + rb")\s+(" + _TERM + rb")\s+(" + _TERM + rb")\s*(" + _TERM
                        + rb")?\s*\.\s*(?:#.*)?$")
_DIRECTIVE = re.compile(rb"(@prefix|@base|prefix|base)\b", re.IGNORECASE)
_GRAPH_BLOCK = re.compile(rb"(^|\s)(graph\s+)?(<[^<>\s]*>|_:\S+|[A-Za-z][\w.-]*:[\w.-]*)\s*\{",
                          re.IGNORECASE | re.MULTILINE)
_JSONLD_KEYS = re.compile(rb'"@(context|graph|id|type)"\s*:')


def rdf_syntax(path: Path) -> str | None:
    """The RDF syntax of ``path``: by its suffix, else (a file whose name says nothing, or
    says JSON) by its content; None if it is not RDF (or cannot be read)."""
    by_name = SUFFIXES.get(path.suffix.lower())
    if by_name is not None:
        return by_name
    if path.suffix.lower() in (".ndjson", ".csv", ".xlsx"):
        return None
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError:
        return None
    return sniff(head)


def sniff(head: bytes) -> str | None:
    """The RDF syntax the first bytes of a file are written in, or None."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text[:1] in (b"{", b"["):
        return "json-ld" if _JSONLD_KEYS.search(text) else None
    if text.startswith((b"<?xml", b"<rdf:RDF", b"<!--")) or (
            text.startswith(b"<") and b"<rdf:RDF" in text):
        return "xml" if b"rdf:RDF" in text or (_RDF_NS in text and b"<?xml" in text) else None
    lines = [line.strip() for line in text.splitlines()]
    statements = [line for line in lines if line and not line.startswith(b"#")]
    if not statements:
        return None
    first = statements[0]
    if _DIRECTIVE.match(first):
        return "trig" if _GRAPH_BLOCK.search(text) else "turtle"
    found = _STATEMENT.match(first)
    if found:
        return "nquads" if found.group(4) else "nt"
    if _GRAPH_BLOCK.match(first):
        return "trig"
    return None


def describe(syntax: str) -> str:
    """The syntax's name as people write it (``RDF (Turtle)``)."""
    return f"RDF ({NAMES.get(syntax, syntax)})"
