"""Run a checked query with rdflib, stopped at a timeout.

rdflib's evaluation cannot be interrupted from inside (a thread cannot be stopped, and a
cartesian product over the verdicts runs for hours), so it runs in a worker process that is
killed at the timeout: the CPU it burned stops with it. The worker is forked, so the graph it
queries is shared copy-on-write, not copied; where ``fork`` does not exist the graph is sent
as N-Triples. Only the result (RDF terms) travels back.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection

from rdflib import Graph
from rdflib.plugins.sparql.sparql import Query

from ..errors import EnvironmentFailure
from .results import QueryResult
from .safety import QueryError

DEFAULT_TIMEOUT = 30.0


class QueryTimeout(EnvironmentFailure):
    """A query ran past its timeout and was stopped."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the query was stopped at its {seconds:g} s timeout (allow more with "
                         "--timeout SECONDS, or narrow the query)")


def evaluate(prepared: Query, graph: Graph, timeout: float | None = DEFAULT_TIMEOUT
             ) -> QueryResult:
    """The result of a prepared SELECT or ASK; with a timeout, in a worker process killed
    when it runs out (raise :class:`QueryTimeout`)."""
    if timeout is None:
        return _evaluate(prepared, graph)
    forking = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forking else "spawn")
    reader, writer = context.Pipe(duplex=False)
    payload = graph if forking else graph.serialize(format="nt")
    worker = context.Process(target=_work, args=(prepared, payload, writer),
                             name="ql1706kg-query", daemon=True)
    worker.start()
    writer.close()
    try:
        if not reader.poll(timeout):
            raise QueryTimeout(timeout)
        try:
            status, answer = reader.recv()
        except EOFError:
            raise EnvironmentFailure("the query worker stopped before answering (out of "
                                     "memory?)") from None
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        reader.close()
    if status == "error":
        raise QueryError(answer)
    return answer


def _work(prepared: Query, graph: Graph | str, writer: Connection) -> None:
    if isinstance(graph, str):
        graph = Graph().parse(data=graph, format="nt")
    try:
        writer.send(("ok", _evaluate(prepared, graph)))
    except QueryError as exc:
        writer.send(("error", str(exc)))
    except Exception as exc:
        writer.send(("error", f"the query failed: {' '.join(str(exc).split())[:300]}"))
    finally:
        writer.close()


def _evaluate(prepared: Query, graph: Graph) -> QueryResult:
    result = graph.query(prepared)
    if result.type == "ASK":
        return QueryResult(boolean=bool(result.askAnswer))
    if result.type != "SELECT":
        raise QueryError("only SELECT and ASK queries are run")
    return QueryResult([str(v) for v in result.vars], [list(row) for row in result])
