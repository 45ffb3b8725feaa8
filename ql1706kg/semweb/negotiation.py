"""Content negotiation for what ``serve`` says about itself (the SPARQL service description and
the VoID description): Turtle, N-Triples, JSON-LD or RDF/XML, as the ``Accept`` header asks.

RFC 9110 §12.5.1: media ranges with quality values; the most specific range that matches a
type gives its quality, ``q=0`` refuses it, and among equal qualities the server's order
(Turtle first) decides. No ``Accept`` header, or ``*/*``, is Turtle. A request that accepts
none of the four, but HTML, is for the engine's query page (:func:`wants_page`); one that
accepts nothing offered is answered 406 by the gate.
"""

from __future__ import annotations

from rdflib import Graph

# (media type, rdflib format), in the server's order of preference.
SYNTAXES = (("text/turtle", "turtle"), ("application/n-triples", "nt"),
            ("application/ld+json", "json-ld"), ("application/rdf+xml", "xml"))
ALIASES = {"application/x-turtle": "text/turtle", "text/plain": "application/n-triples",
           "application/json": "application/ld+json"}
OFFERED = ", ".join(media for media, _format in SYNTAXES)


def _ranges(accept: str | None) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their qualities (malformed q: 0)."""
    out = []
    for part in (accept or "*/*").split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        out.append((ALIASES.get(media, media), quality))
    return out


def _quality(media: str, ranges: list[tuple[str, float]]) -> float:
    """The quality the ranges give ``media``: that of the most specific matching range."""
    kind = media.split("/")[0]
    best, specificity = 0.0, -1
    for pattern, quality in ranges:
        level = (2 if pattern == media else 1 if pattern == f"{kind}/*"
                 else 0 if pattern == "*/*" else -1)
        if level > specificity:
            best, specificity = quality, level
    return best if specificity >= 0 else 0.0


def negotiate(accept: str | None) -> tuple[str, str] | None:
    """The (media type, rdflib format) to answer with, or None when nothing offered is
    acceptable."""
    ranges = _ranges(accept)
    scored = [(_quality(media, ranges), -index, media, fmt)
              for index, (media, fmt) in enumerate(SYNTAXES)]
    quality, _order, media, fmt = max(scored)
    return (media, fmt) if quality > 0 else None


def wants_page(accept: str | None) -> bool:
    """Whether the request prefers HTML (a browser) to every RDF syntax offered: the engine's
    query page answers it."""
    ranges = _ranges(accept)
    chosen = negotiate(accept)
    html = max(_quality("text/html", ranges), _quality("application/xhtml+xml", ranges))
    rdf = _quality(chosen[0], ranges) if chosen else 0.0
    explicit = any(m in ("text/html", "application/xhtml+xml") for m, _q in ranges)
    return explicit and html > rdf


def serialise(graph: Graph, accept: str | None) -> tuple[bytes, str] | None:
    """The description in the negotiated syntax, with its Content-Type; None: 406."""
    chosen = negotiate(accept)
    if chosen is None:
        return None
    media, fmt = chosen
    return graph.serialize(format=fmt, encoding="utf-8"), f"{media}; charset=utf-8"
