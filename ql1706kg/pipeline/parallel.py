"""Where batches of patients are screened: forked local worker processes or a Dask cluster.

Screening is embarrassingly parallel by patient (architecture.md): a batch is screened by a
picklable function wherever it runs, and results come back in input order with a bounded
number of batches in flight, so memory stays flat however many patients stream through.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import gc
import multiprocessing
from collections.abc import Callable, Iterator

from ..protocol.terminology import terminology
from .results import Result
from .validate import shapes

# Screening makes ~10,000 short-lived objects a patient and few reference cycles, so with
# Python's default threshold (700) the cyclic collector ran ~15 times a patient and walked
# every result and term kept alive: ~1.3 ms a patient. Collections stay on, just rarer.
GC_THRESHOLDS = (20_000, 50, 50)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while screening (see GC_THRESHOLDS)."""
    saved = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def on_cluster(screen_chunk: Callable[[list], list], work: Iterator[list], address: str
                ) -> Iterator[Result]:
    """Screen batches on a Dask distributed cluster, in order, a bounded number at a time.

    Dask distributed: a scheduler and workers start in about a second, speak plain TCP, and
    run the same function the local workers run; nothing else is needed on the cluster.
    """
    from distributed import Client

    with Client(address, timeout="30s") as client:
        in_flight = max(2, 2 * sum(client.nthreads().values()))
        pending: collections.deque = collections.deque()
        for chunk in work:
            pending.append(client.submit(screen_chunk, chunk, pure=False))
            if len(pending) >= in_flight:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def in_workers(screen_chunk: Callable[[list], list], work: Iterator[list], jobs: int
                ) -> Iterator[Result]:
    """Screen batches in forked worker processes, in order, a bounded number at a time."""
    # Load the terminology and compiled shapes before forking, so workers inherit them.
    terminology(), shapes()
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context,
                                                initializer=_worker_started) as pool:
        pending: collections.deque = collections.deque()
        for chunk in work:
            pending.append(pool.submit(screen_chunk, chunk))
            if len(pending) >= 2 * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _worker_started() -> None:
    """In a forked worker: what it inherited (terminology, shapes) lives as long as it does,
    so the collector never walks it again (gc.freeze), and collections are rarer."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
