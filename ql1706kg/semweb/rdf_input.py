"""Reading verdict graphs given to ``query``, ``serve`` and ``push``: never a fetch, never a
traceback.

Every failure is an :class:`~ql1706kg.errors.InputError` naming the file:

- The text must be UTF-8 (a UTF-8 byte-order mark is allowed). A UTF-16 or UTF-32 file, or any
  other encoding, is refused with what was found, before a parser sees it.
- JSON-LD: rdflib fetches a document in exactly two places, a ``@context`` given as a string (a
  URL or a relative reference, at any depth: top level, inside a list, inside a term's scoped
  context, inside a context object) and ``@import`` inside a context. Both are refused wherever
  they occur, so its fetching code is never reached. A document nested deeper than
  :data:`MAX_JSON_DEPTH` is refused before rdflib's recursive reader sees it.
- RDF/XML with a DOCTYPE (where entities, external ones included, are declared) is refused.
- Anything a parser raises (a syntax error, a recursion limit) becomes an input error.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

from rdflib import Graph

from ..errors import InputError
from ..inputs.sniff import SUFFIXES, rdf_syntax

RDF_SUFFIXES = SUFFIXES  # the suffixes that name an RDF syntax (content is read for others)
# rdflib's names of the syntaxes (inputs/sniff.py) as Oxigraph's loader names them.
OXIGRAPH_FORMATS = {"turtle": "ttl", "json-ld": "jsonld", "nt": "nt", "xml": "rdf",
                    "trig": "trig", "nquads": "nq"}
CHUNK_BYTES = 1 << 20
# Verdict graphs written by `screen --format jsonld` are a few levels deep.
MAX_JSON_DEPTH = 64

_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def is_rdf(path: Path) -> bool:
    """Whether a file holds RDF, by its suffix or its content (``.turtle``, a JSON-LD
    document named ``.json``, a file without a suffix: :mod:`ql1706kg.inputs.sniff`)."""
    return rdf_syntax(path) is not None


def syntax(path: Path) -> str:
    """The RDF syntax of a file :func:`is_rdf` accepted (rdflib's name of it)."""
    found = rdf_syntax(path)
    if found is None:
        raise InputError(str(path), "is not RDF that can be recognised (Turtle, N-Triples, "
                                    "N-Quads, TriG, JSON-LD or RDF/XML)")
    return found


def read_rdf(path: Path) -> Graph:
    """Parse a verdict graph file safely; raise :class:`InputError` naming it."""
    source = str(path)
    fmt = syntax(path)
    text = _checked_text(path)
    graph = Graph()
    try:
        graph.parse(data=text, format=fmt)
    except RecursionError:
        raise InputError(source, f"not valid {fmt}: nested too deeply") from None
    except Exception as exc:
        raise InputError(source, f"not valid {fmt}: {' '.join(str(exc).split())[:300]}"
                         ) from None
    return graph


def _checked_text(path: Path) -> str:
    """The whole text of a file, checked as :func:`read_rdf` describes."""
    source = str(path)
    fmt = syntax(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(source, f"cannot be read: {exc.strerror or exc}") from None
    text = _utf8(raw, source)
    if fmt == "json-ld":
        _check_jsonld(text, source)
    if fmt == "xml" and ("<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper()):
        raise InputError(source, "RDF/XML with a DOCTYPE or entities is refused (external "
                                 "entities are never resolved)")
    return text


def checked_chunks(path: Path) -> Iterator[bytes]:
    """The file's UTF-8 bytes (without a byte-order mark) in chunks, checked on the way as
    :func:`read_rdf` checks them, for a parser that reads a stream (Oxigraph's loader): the
    line-based and Turtle formats are read chunk by chunk (a file of any size in the memory
    of one chunk), JSON-LD and RDF/XML whole. Raise :class:`InputError` naming the file, at
    the chunk where a problem is found."""
    if syntax(path) in ("json-ld", "xml"):
        yield _checked_text(path).encode("utf-8")
        return
    source = str(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with path.open("rb") as handle:
            while True:
                chunk = handle.read(CHUNK_BYTES)
                if offset == 0:
                    _no_wide_text(chunk, source)
                    if chunk.startswith(codecs.BOM_UTF8):
                        chunk, offset = chunk[3:], 3
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    raise InputError(source, f"is not UTF-8 text (invalid byte at offset "
                                             f"{offset + exc.start}); RDF input must be "
                                             "UTF-8") from None
                if not chunk:
                    return
                offset += len(chunk)
                yield chunk
    except OSError as exc:
        raise InputError(source, f"cannot be read: {exc.strerror or exc}") from None


def _no_wide_text(raw: bytes, source: str) -> None:
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise InputError(source, f"is {name} text; RDF input must be UTF-8")
    if len(raw) >= 2 and (raw[0] == 0 or raw[1] == 0):
        raise InputError(source, "is UTF-16 or UTF-32 text (no byte-order mark); RDF input "
                                 "must be UTF-8")


def _utf8(raw: bytes, source: str) -> str:
    _no_wide_text(raw, source)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"is not UTF-8 text (invalid byte at offset {exc.start}); "
                                 "RDF input must be UTF-8") from None


def _check_jsonld(text: str, source: str) -> None:
    try:
        data = json.loads(text)
    except RecursionError:
        raise InputError(source, f"JSON nested deeper than {MAX_JSON_DEPTH} levels is "
                                 "refused") from None
    except ValueError as exc:
        raise InputError(source, f"not valid JSON: {exc}") from None
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InputError(source, f"JSON nested deeper than {MAX_JSON_DEPTH} levels is "
                                     "refused")
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@import":
                    raise InputError(source, "JSON-LD with @import is refused: contexts are "
                                             "never fetched")
                if key == "@context":
                    _refuse_context_reference(value, source)
                stack.append((value, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)


def _refuse_context_reference(value: object, source: str) -> None:
    """A context given by reference (a string, alone or in a list at any depth) is fetched."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            raise InputError(source, f"JSON-LD with a remote @context ('{item[:100]}') is "
                                     "refused: contexts are never fetched")
        if isinstance(item, list):
            stack.extend(item)
