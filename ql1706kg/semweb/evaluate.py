"""Run a checked query, stopped at a timeout, in Oxigraph.

The query runs in a child process (``oxigraph query`` over a store on disk, :mod:`.store`)
that is killed when the timeout comes, so the CPU it burned stops with it; only the results
come back. rdflib's engine, which ran here before, needed ~1 GB and 31 s for ``attrition``
over 1,000 patients; it is no longer used for evaluation.
"""

from __future__ import annotations

from rdflib import Graph

from ..leftovers import owned_folder
from .results import QueryResult
from .store import DEFAULT_TIMEOUT, QueryTimeout, Store

__all__ = ["DEFAULT_TIMEOUT", "QueryTimeout", "evaluate"]


def evaluate(text: str, target: Store | Graph, timeout: float | None = DEFAULT_TIMEOUT
             ) -> QueryResult:
    """The result of a checked SELECT or ASK over a store (the union of its graphs) or over
    an rdflib graph (loaded into a temporary store first); raise :class:`QueryTimeout` when
    it runs longer than ``timeout`` seconds (None: no limit)."""
    if isinstance(target, Store):
        return target.query(text, timeout)
    with owned_folder("query") as folder:
        store = Store(folder / "store", folder / "scratch")
        with store.loader("nt") as pipe:
            pipe.write(target.serialize(format="nt", encoding="utf-8"))
        return store.query(text, timeout)
