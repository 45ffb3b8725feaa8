"""Named SPARQL queries over verdict graphs, the ontology and the shapes.

The named queries ship in ``ql1706kg/queries/*.rq``; each opens with a comment saying why it
exists. A query is run over a store (:class:`~.dataset.QueryStore`: Oxigraph, on disk, in a
temporary folder) holding the verdicts (screened from patient inputs, or read from verdict
graphs written by ``screen --format turtle|nquads|jsonld``), the ontology and the shapes, so a
query can join results to criteria and thresholds; the default graph is the union of all.

User-supplied SPARQL never reaches the network (:mod:`.safety`: updates, ``SERVICE``, ``LOAD``
and dataset clauses are refused), verdict files are read without any fetch
(:mod:`.rdf_input`), and a query is stopped at its timeout (:mod:`.evaluate`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from rdflib import Graph
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.sparql import Query

from ..errors import InputError
from ..pipeline.results import ScreeningError
from ..pipeline.validate import load_shapes_graph
from ..protocol.namespaces import bind_prefixes
from ..protocol.resources import query_files
from ..protocol.terminology import load_ontology
from .dataset import QueryStore, input_error
from .evaluate import DEFAULT_TIMEOUT, QueryTimeout, evaluate
from .rdf_input import RDF_SUFFIXES, is_rdf, read_rdf
from .results import QueryResult, format_result, format_rows
from .safety import QueryError, QueryRefused, checked_query, has_dataset_clause
from .store import Store

__all__ = ["DEFAULT_TIMEOUT", "RDF_SUFFIXES", "NamedQuery", "QueryError", "QueryRefused",
           "QueryResult", "QueryStore", "QueryTimeout", "check_safe", "evaluate",
           "format_result", "format_rows", "input_error", "is_rdf", "named_queries",
           "query_graph", "query_store", "query_text", "read_rdf", "run", "run_query",
           "safe_text"]


@dataclass(frozen=True)
class NamedQuery:
    name: str
    purpose: str
    text: str


def named_queries() -> dict[str, NamedQuery]:
    """The queries of the current protocol (the bundled ones by default), by name (file stem)."""
    out = {}
    for entry in query_files():
        text = entry.read_text(encoding="utf-8")
        out[entry.stem] = NamedQuery(entry.stem, _purpose(text), text)
    return out


def _purpose(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return " ".join(lines).removeprefix("Why: ")


def query_text(name_or_path: str) -> str:
    """The text of a named query, or of a query file (anything that looks like a path: a
    ``.rq`` suffix, a folder separator, or an existing file)."""
    known = named_queries()
    if name_or_path in known:
        return known[name_or_path].text
    path = Path(name_or_path)
    if path.suffix.lower() in (".rq", ".sparql") or "/" in name_or_path or path.exists():
        if not path.exists():
            raise QueryError(f"the query file '{name_or_path}' does not exist")
        if not path.is_file():
            raise QueryError(f"'{name_or_path}' is not a query file")
        try:
            return path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise QueryError(f"the query file '{name_or_path}' is not UTF-8 text") from None
        except OSError as exc:
            raise QueryError(f"the query file '{name_or_path}' cannot be read: "
                             f"{exc.strerror or exc}") from None
    raise QueryError(f"no query named '{name_or_path}' (known: {', '.join(known)}; or give a "
                     ".rq file)")


def check_safe(text: str) -> Query:
    """Parse a query for rdflib and refuse anything that could reach the network or change
    data; only SELECT and ASK are run."""
    return _checked(text)[0]


def safe_text(text: str) -> str:
    """The text to give the engine for a query: the canonical form that was checked
    (:func:`~.safety.checked_query`); refused as :func:`check_safe` refuses."""
    return _checked(text)[1]


def _checked(text: str) -> tuple[Query, str]:
    tree, text = checked_query(text)
    if has_dataset_clause(tree):
        raise QueryRefused("FROM / FROM NAMED is refused: a query never loads a graph by IRI")
    try:
        prepared = translateQuery(tree)
    except Exception as exc:
        raise QueryError(f"not a valid SPARQL query: {' '.join(str(exc).split())[:300]}"
                         ) from None
    if prepared.algebra.name not in ("SelectQuery", "AskQuery"):
        raise QueryError("only SELECT and ASK queries are run")
    return prepared, text


def query_store(inputs: Iterable[str | Path], as_of: date | str | None = None,
                window_days: int | None = None, jobs: int = 0,
                on_error=None, location: Path | None = None) -> QueryStore:
    """An Oxigraph store to query (close it, or use it as a context manager): the verdicts
    (read, or screened from patient inputs in ``jobs`` processes, 0 for one per core), the
    ontology and the shapes; ``.errors`` lists the inputs that could not be read. Temporary,
    or kept at ``location`` (and added to, if it holds a store already)."""
    return QueryStore(inputs, as_of, window_days, jobs, on_error, location)


def query_graph(inputs: Iterable[str | Path], as_of: date | str | None = None,
                window_days: int | None = None) -> tuple[Graph, list[ScreeningError]]:
    """One rdflib graph of verdicts (read, or screened from patient inputs), ontology and
    shapes, for a program that wants a ``Graph`` (small batches: :func:`query_store` is the
    store for queries at any size)."""
    from ..api import screen
    from ..outputs.render import verdict_graph

    graph = bind_prefixes(Graph())
    graph += load_ontology()
    graph += load_shapes_graph()
    patient_inputs, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_file() and is_rdf(path):
            try:
                graph += read_rdf(path)
            except InputError as exc:
                errors.append(input_error(exc))
        else:
            patient_inputs.append(path)
    if patient_inputs:
        options = {} if window_days is None else {"window_days": window_days}
        screening = screen(patient_inputs, as_of=as_of, **options)
        graph += verdict_graph(screening)
        errors.extend(screening.errors)
    return graph, errors


def run_query(text: str, target: Store | Graph, timeout: float | None = DEFAULT_TIMEOUT
              ) -> QueryResult:
    """Check and run a SELECT or ASK query over a store or a graph; stopped at ``timeout``
    seconds (None: no limit)."""
    return evaluate(safe_text(text), target, timeout)


def run(text: str, target: Store | Graph, timeout: float | None = None
        ) -> tuple[list[str], list[list[str]]]:
    """Run a (checked) SELECT or ASK query; return column names and rows of plain strings."""
    return run_query(text, target, timeout).as_strings()
