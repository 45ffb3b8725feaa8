"""What user SPARQL may do: read the data it is given, never reach the network, never write.

Two readers of a query use this: ``query`` (rdflib evaluates it here) and the ``serve`` gate
(Oxigraph evaluates it behind the gate). Both refuse, before anything runs:

- ``SERVICE`` in any form (``SILENT``, a variable, an IRI spelled with ``\\u`` escapes): it
  makes the engine call another host. The canonical text's tokens are searched (a word holding
  it, a prefixed name starting with it: :mod:`.sparql_text`), then the parse tree; a text that
  cannot be read into tokens is refused as SERVICE when, its code-point escapes expanded, it
  holds the keyword before an IRI, a variable or a prefixed name, and as invalid otherwise.
- updates (``INSERT``, ``DELETE``, ``LOAD``, ``CLEAR`` …): ``LOAD`` fetches a document, and the
  data is read-only anyway.
- for rdflib only, dataset clauses (``FROM``, ``FROM NAMED``): rdflib dereferences their IRIs.
  Oxigraph only names graphs of its own store with them, so the gate lets them through (the
  tests prove no connection is made).

A text that rdflib cannot parse is refused too, so a query reaches an engine only in a form that
was checked. Both read the query in its canonical form (:mod:`.sparql_text`: the text read once
by the engine's lexical rules, written again with no comment and no escape outside strings),
and that canonical text is what the engine is given (:func:`checked_query`): the parser of the
gate and the parser of the engine read the same characters the same way.
"""

from __future__ import annotations

import re
import threading

from pyparsing import ParseResults
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue

from ..errors import Ql1706kgError
from .sparql_text import LexicalError, ServiceToken, canonical

# The largest query text either face accepts (the named queries are ~2 KB).
MAX_QUERY_CHARS = 100_000
_NO_SERVICE = "SERVICE is refused: queries never reach the network"
_PARSER = threading.RLock()


class QueryError(Ql1706kgError):
    """A query that cannot or must not run."""


class QueryRefused(QueryError):
    """A valid query that does something this software never does (network, writes)."""


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_GAP = r"(?:\s|#[^\n\r]*)*"
_SERVICE_TEXT = re.compile(rf"(?<![\w:?$/#.\-])SERVICE{_GAP}(?:SILENT{_GAP})?"
                           r"(?:<|[?$]|[^\s<>{}()\"'#:]*:)", re.IGNORECASE)


def parse_query(text: str) -> ParseResults:
    """Parse a SPARQL 1.1 query (rdflib's parser), refusing anything that could reach the
    network or change data. Raise :class:`QueryRefused` or :class:`QueryError`."""
    return checked_query(text)[0]


def checked_query(text: str) -> tuple[ParseResults, str]:
    """The parse tree of a query and the exact text an engine must be given: the query in
    its canonical form (:mod:`.sparql_text`), which is the text that was checked; refusing
    anything that could reach the network or change data (:class:`QueryRefused`) or that
    cannot be read (:class:`QueryError`). Safe from any thread."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    try:
        text = canonical(text)
    except ServiceToken:
        raise QueryRefused(_NO_SERVICE) from None
    except LexicalError as exc:
        if mentions_service(text):  # e.g. \u0053ERVICE: the standard's reading is SERVICE
            raise QueryRefused(_NO_SERVICE) from None
        raise QueryError(f"not a valid SPARQL query: {exc}") from None
    try:
        with _PARSER:  # pyparsing's grammar objects are shared state: one parse at a time
            tree = parseQuery(text)
    except RecursionError:
        raise QueryError("not a valid SPARQL query: nested too deeply") from None
    except Exception as exc:
        if _is_update(text):
            raise QueryRefused("updates (INSERT, DELETE, LOAD, CLEAR, ...) are refused: the "
                               "data is read-only and nothing is ever loaded from the "
                               "network") from None
        raise QueryError(f"not a valid SPARQL query: {_one_line(exc)}") from None
    if _has_service(tree):  # the tokens were checked too (.sparql_text): both must agree
        raise QueryRefused(_NO_SERVICE)
    return tree, text


def has_dataset_clause(tree: ParseResults) -> bool:
    """Whether the query has ``FROM`` or ``FROM NAMED``."""
    return any(isinstance(node, CompValue) and node.name == "DatasetClause"
               for node in _nodes(tree))


def mentions_service(text: str) -> bool:
    """The text has the keyword SERVICE before an IRI, a variable or a prefixed name, as
    written or once its ``\\uXXXX`` / ``\\UXXXXXXXX`` escapes are expanded."""
    return any(_SERVICE_TEXT.search(candidate) for candidate in (text, _expand(text)))


def _expand(text: str) -> str:
    def one(match: re.Match) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF else match.group(0)

    return _ESCAPE.sub(one, text)


def _has_service(tree: ParseResults) -> bool:
    return any(isinstance(node, CompValue) and node.name == "ServiceGraphPattern"
               for node in _nodes(tree))


def _nodes(tree: object):
    """Every node of a parse tree, without recursion (a deep query cannot exhaust the stack)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, CompValue):
            stack.extend(node.values())
        elif isinstance(node, ParseResults | list | tuple):
            stack.extend(node)


def _is_update(text: str) -> bool:
    try:
        with _PARSER:
            parseUpdate(text)
    except Exception:
        return False
    return True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
