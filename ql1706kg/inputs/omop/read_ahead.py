"""Each batch's statements run one batch ahead, in a thread of the reading process.

The reading process runs a batch's statements (~0.1 s of DuckDB for 1,000 persons), then
hands the batch's persons to the workers, mostly waiting for them to take more. Here the
next batch's statements run in a background thread while the current batch is handed out:
DuckDB's Python client and psycopg release the GIL while a statement runs, so the database
works while the reading process waits, and the workers no longer wait for it between batches.

Bounded: one thread, and the next batch's rows wait in the engine's own form (a DuckDB
result, libpq's), made Python tuples only when their batch asks for them (the tuples of one
batch at a time; the reading process's peak is set by them, not by the rows waiting). Each
statement of a batch runs on a connection of its own (:meth:`.Database.twin`: a DuckDB
connection holds one result), and the next batch's statements start once every statement
of the current one has been fetched. The batches are the ones the reading loop would make
(the next one's size follows from the current one's rows, :func:`next_batch`), so the
records are the same. A statement that fails ahead fails where its batch would have run it
(its :class:`~.connect.QueryFailed`, raised when the batch asks for its rows);
:meth:`Ahead.close` (the run's end, an error, Ctrl-C) stops the statement running, if any,
and waits for the thread: none is left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from .connect import RENEW_AFTER_BATCHES, Database, Executed


class Ahead:
    """The batches of a run, each one's statements started one batch ahead."""

    def __init__(self, db: Database, statements: Sequence[Callable[[list[int]], str]],
                 next_batch: Callable[[list[int], int], list[int]]) -> None:
        """``statements``: how each statement of a batch is written for its persons (the
        first one's rows decide the next batch); ``next_batch(batch, rows)``: the batch after
        ``batch`` (empty at the end), ``rows`` the first statement's rows of ``batch``."""
        self._db = db
        self._twins = [db.twin() for _ in statements]
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="omop-read-ahead")
        self._statements = statements
        self._next_batch = next_batch
        self._waiting: dict[str, Future[Executed]] = {}  # the current batch's statements
        self._first = ""  # the current batch's first statement
        self._first_rows = 0  # its rows, once fetched
        self._current: list[int] = []
        self._ahead: tuple[list[int], dict[str, Future[Executed]]] | None = None
        self._done = 0  # batches whose statements were all fetched
        self.taken = 0  # statements whose rows were read ahead (tests, benchmarks)
        self.renewed = 0  # times the database was opened again (tests)

    def batches(self, first: list[int]) -> Iterator[list[int]]:
        """Each batch in turn, its statements running or done, from ``first`` on; the
        database's ``rows`` takes them from here meanwhile."""
        self._db.ahead = self
        try:
            self._start(first)
            while self._ahead is not None:
                batch, self._waiting = self._ahead
                self._ahead, self._current = None, batch
                self._first = next(iter(self._waiting))
                yield batch
                for sql in list(self._waiting):  # never asked for: fetched all the same (the
                    self.take(sql)               # first one's rows decide the next batch)
                self._waiting = {}
        finally:
            self._db.ahead = None

    def take(self, sql: str) -> list[tuple] | None:
        """The rows of a statement of the current batch (None: not one of them, or taken
        already). Once every one is taken, the next batch's statements start."""
        future = self._waiting.pop(sql, None)
        if future is None:
            return None
        rows = future.result().fetch()
        self.taken += 1
        if sql == self._first:
            self._first_rows = len(rows)
        if not self._waiting:
            self._done += 1
            if self._done % RENEW_AFTER_BATCHES == 0:
                self._renew()
            self._start(self._next_batch(self._current, self._first_rows))
        return rows

    def _start(self, batch: list[int]) -> None:
        if not batch:
            return
        texts = dict.fromkeys(statement(batch) for statement in self._statements)  # each once
        self._ahead = (batch, {sql: self._pool.submit(twin.executed, sql)
                               for sql, twin in zip(texts, self._twins, strict=False)})

    def _renew(self) -> None:
        """Open the database again between two batches (:meth:`Database.renew`): every
        statement of the batch before is fetched and the next one's are not started, so
        nothing runs on it or waits in it (the reading process runs its own statements only
        while it reads a batch). PostgreSQL's memory is the server's."""
        if self._db.engine != "duckdb":
            return
        for twin in self._twins:
            twin.close()
        self._db.renew()
        self._twins = [self._db.twin() for _ in self._statements]
        self.renewed += 1

    def close(self) -> None:
        """Stop what runs ahead and wait for the thread (a statement running is interrupted:
        Ctrl-C or an error never waits for a whole batch's statement, nor leaves it running)."""
        self._db.ahead = None
        pending = [*self._waiting.values(), *(self._ahead[1].values() if self._ahead else ())]
        for future in pending:
            if future is not None:
                future.cancel()
        for twin in self._twins:
            twin.interrupt()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for twin in self._twins:
            twin.close()
