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
import socket
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool

from ..errors import EnvironmentFailure
from ..protocol.terminology import terminology
from .results import Result
from .validate import shapes

# How long to wait for a Dask scheduler to answer before giving up (exit code 3 in the CLI).
CONNECT_TIMEOUT_SECONDS = 10.0
# How long a TCP connection to the scheduler's port may take: Dask's client retries a refused
# or silent address until its own timeout (12 s for 10), so the port is tried once first.
PROBE_SECONDS = 1.5

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
        raise EnvironmentFailure(DASK_EXTRA) from None
    probe_scheduler(address)
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


DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")
DASK_EXTRA = "screening on a Dask cluster (--scheduler) needs the 'dask' extra: pip install " \
             "'ql1706kg[dask]'"


def scheduler_address(address: str) -> tuple[str, str | None, int | None]:
    """(scheme, host, port) of a Dask scheduler address as Dask reads it (``tcp://host:8786``;
    no scheme means tcp; inproc and ucx have no host and port here); ValueError naming what
    is wrong. Parsed here so that checking an address costs no import of Dask."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in DASK_SCHEMES:
        raise ValueError(f"unknown address scheme {scheme!r} (Dask reads "
                         f"{', '.join(DASK_SCHEMES)})")
    if scheme in ("inproc", "ucx"):
        return scheme, None, None
    if rest.startswith("["):  # [IPv6]:port
        host, _, tail = rest[1:].partition("]")
        port = tail.removeprefix(":") if tail.startswith(":") else ""
    else:
        host, _, port = rest.rpartition(":")
    if not host or not port:
        raise ValueError(f"missing port number in address {address!r}")
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"{port!r} is not a port number in address {address!r}") from None
    return scheme, host, number


def probe_scheduler(address: str) -> None:
    """Refuse within :data:`PROBE_SECONDS` a scheduler address nothing listens on (TCP-based
    addresses; Dask's other transports are left to its client)."""
    try:
        _scheme, host, port = scheduler_address(address)
    except ValueError:
        return  # the client says what is wrong with it
    if host is None or port is None:
        return
    try:
        socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
    except OSError as exc:
        why = (f"no answer within {PROBE_SECONDS:g} s" if isinstance(exc, TimeoutError)
               else exc.strerror or str(exc))
        raise EnvironmentFailure(f"cannot reach the Dask scheduler at {address}: {why}"
                                 ) from None


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
