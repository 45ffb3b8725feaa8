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
import signal
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool

from ..errors import EnvironmentFailure
from ..protocol.terminology import terminology
from .results import Result
from .validate import shapes

# How long to wait for a Dask scheduler to answer before giving up (exit code 3 in the CLI).
CONNECT_TIMEOUT_SECONDS = 10.0

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
    run the same function the local workers run; nothing else is needed on the cluster. A
    scheduler that does not answer within ``CONNECT_TIMEOUT_SECONDS``, or that is lost while
    screening, is an :class:`EnvironmentFailure`.
    """
    try:
        from distributed import Client
    except ImportError:
        raise EnvironmentFailure("screening on a Dask cluster needs the distributed package "
                                 "(pip install distributed)") from None
    try:
        client = Client(address, timeout=f"{CONNECT_TIMEOUT_SECONDS}s")
    except OSError as exc:  # refused, unreachable, timed out
        raise EnvironmentFailure(f"cannot reach the Dask scheduler at {address}: {exc}"
                                 ) from None
    with client:
        try:
            in_flight = max(2, 2 * sum(client.nthreads().values()))
            pending: collections.deque = collections.deque()
            for chunk in work:
                pending.append(client.submit(screen_chunk, chunk, pure=False))
                if len(pending) >= in_flight:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        except (OSError, concurrent.futures.CancelledError) as exc:
            raise EnvironmentFailure(f"lost the Dask scheduler at {address}: "
                                     f"{exc or type(exc).__name__}") from None


def in_workers(screen_chunk: Callable[[list], list], work: Iterator[list], jobs: int
                ) -> Iterator[Result]:
    """Screen batches in forked worker processes, in order, a bounded number at a time.

    On an interruption the batches not started are cancelled (only those running are
    waited for); a worker that dies (killed, out of memory) is an :class:`EnvironmentFailure`.
    """
    # Load the terminology and compiled shapes before forking, so workers inherit them.
    terminology(), shapes()
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context,
                                                initializer=_worker_started) as pool:
        try:
            pending: collections.deque = collections.deque()
            for chunk in work:
                pending.append(pool.submit(screen_chunk, chunk))
                if len(pending) >= 2 * jobs:
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
        except BrokenProcessPool:
            raise EnvironmentFailure("a worker process died while screening (killed, or out "
                                     "of memory?); try fewer --jobs") from None
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _worker_started() -> None:
    """In a forked worker: what it inherited (terminology, shapes) lives as long as it does,
    so the collector never walks it again (gc.freeze), and collections are rarer. Ctrl-C
    (sent to every process of the terminal's group) is left to the parent, which stops the
    pool; SIGTERM and SIGHUP end a worker quietly (the parent may have mapped them to
    KeyboardInterrupt, which would print a traceback in a worker)."""
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
