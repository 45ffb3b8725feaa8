"""Open an OMOP CDM database read-only: DuckDB (a file) or PostgreSQL (psycopg 3).

``--omop`` takes a URL:

* ``duckdb:///abs/path/cdm.duckdb`` or ``duckdb:relative/cdm.duckdb`` (embedded, the default for
  one machine and for the tests), opened with ``read_only=True``;
* ``postgresql://host[:port]/db`` (also ``postgres://``), any libpq URI: ``?service=NAME``, a
  socket folder as ``?host=/run/postgresql``, or nothing but the standard ``PG*`` variables
  and ``~/.pgpass``. The session is read-only (``default_transaction_read_only``), without JIT
  (``jit=off``: the planner's JIT made one batch 10.6 s instead of 0.57 s, design/omop.md) and
  with a statement timeout.

Both URLs take ``schema=`` (the CDM tables; DuckDB ``main`` and PostgreSQL ``public`` by
default) and ``vocabulary_schema=`` (the vocabulary tables, default the CDM schema). A password
is never taken from the command line: a URL that carries one is refused (a usage error), so
that it appears in no shell history or process list. An unreachable database is an
:class:`~ql1706kg.errors.EnvironmentFailure` (exit 3) naming the host or file, never a password.

No statement is sent with bind parameters: both engines run the same text (sql/facts.sql),
and every value put into it is an integer, a checked identifier or a quoted literal
(:func:`literal`).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ...errors import EnvironmentFailure

STATEMENT_TIMEOUT_MS = 600_000  # ten minutes: one batch takes well under a second
FETCHED_AT_ONCE = 5_000  # rows made tuples in one call (the GIL is held through each)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_OUR_PARAMETERS = ("schema", "vocabulary_schema")


class UrlError(ValueError):
    """A ``--omop`` URL that cannot be used (a usage error: exit 2)."""


@dataclass(frozen=True)
class OmopUrl:
    """A checked ``--omop`` URL: the engine, where, the schemas, and how it is shown."""

    engine: str  # "duckdb" or "postgresql"
    target: str  # the DuckDB file, or the libpq URI without our own parameters
    schema: str
    vocabulary_schema: str
    shown: str  # the URL as errors and sources show it (never a password: none is accepted)
    host: str = ""  # what an unreachable database is named by


def parse_url(text: str) -> OmopUrl:
    """Check a ``--omop`` URL (raises :class:`UrlError` with the reason)."""
    scheme, _, rest = text.partition(":")
    scheme = scheme.casefold()
    if scheme == "duckdb":
        return _duckdb_url(text, rest)
    if scheme in ("postgresql", "postgres"):
        return _postgres_url(text)
    raise UrlError(f"'{text}' is not an OMOP database URL: use duckdb:///path/to/cdm.duckdb "
                   "or postgresql://host/database?schema=cdm")


def is_identifier(name: str) -> bool:
    """Whether a schema name can be put into the SQL as it is (letters, digits, _ and $)."""
    return bool(_IDENTIFIER.match(name))


def _schemas(query: dict[str, str], default: str) -> tuple[str, str]:
    schema = query.get("schema") or default
    vocabulary = query.get("vocabulary_schema") or schema
    for name in (schema, vocabulary):
        if not _IDENTIFIER.match(name):
            raise UrlError(f"'{name}' is not a schema name (letters, digits, _ and $)")
    return schema, vocabulary


def _duckdb_url(text: str, rest: str) -> OmopUrl:
    path_part, _, query_text = rest.partition("?")
    if path_part.startswith("//"):
        host, _, path = path_part[2:].partition("/")
        if host not in ("", "localhost"):
            raise UrlError(f"'{text}': a DuckDB database is a local file (duckdb:///path)")
        path = "/" + path
    else:
        path = path_part
    path = unquote(path)
    if not path or path == "/":
        raise UrlError(f"'{text}' names no DuckDB file")
    query = dict(parse_qsl(query_text))
    unknown = sorted(set(query) - set(_OUR_PARAMETERS))
    if unknown:
        raise UrlError(f"'{text}': unknown parameter {unknown[0]} (DuckDB takes schema= and "
                       "vocabulary_schema=)")
    schema, vocabulary = _schemas(query, "main")
    shown = f"duckdb://{quote(path)}" if path.startswith("/") else f"duckdb:{quote(path)}"
    return OmopUrl("duckdb", path, schema, vocabulary, shown, host=path)


def _postgres_url(text: str) -> OmopUrl:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"'{_without_secrets(text)}' is not a PostgreSQL URL ({exc})") from None
    if parts.password is not None:
        raise UrlError("the --omop URL carries a password: never give one on the command line "
                       "(it would be kept in the shell's history and shown to every user by "
                       "ps); use ~/.pgpass, the PGPASSWORD or PGPASSFILE variables, or "
                       "?service=NAME with a service file")
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key.casefold() == "password" for key, _ in query):
        raise UrlError("the --omop URL carries password=: never give a password on the command "
                       "line; use ~/.pgpass, PGPASSWORD or a service file")
    ours = {k: v for k, v in query if k in _OUR_PARAMETERS}
    schema, vocabulary = _schemas(ours, "public")
    libpq = [(k, v) for k, v in query if k not in _OUR_PARAMETERS]
    query_text = urlencode(libpq)
    target = f"postgresql://{parts.netloc}{parts.path}" + (f"?{query_text}" if query_text else "")
    hosts = dict(libpq).get("host") or parts.hostname or "the local server (PGHOST)"
    where = hosts + (f":{port}" if port else "")
    service = dict(libpq).get("service")
    if service:
        where = f"service {service}" + (f" ({hosts})" if parts.hostname else "")
    database = parts.path.lstrip("/")
    shown = _without_secrets(text)
    return OmopUrl("postgresql", target, schema, vocabulary, shown,
                   host=where + (f", database {database}" if database else ""))


def _without_secrets(text: str) -> str:
    """A URL as it may be shown: any password removed (a refused URL is still named)."""
    try:
        parts = urlsplit(text)
        netloc = parts.netloc
        if parts.password is not None:
            user = parts.username or ""
            netloc = f"{user}:***@" + netloc.rpartition("@")[2]
        query = "&".join(f"{k}={'***' if k.casefold() == 'password' else v}"
                         for k, v in parse_qsl(parts.query, keep_blank_values=True))
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "the given PostgreSQL URL"


def literal(value: str) -> str:
    """A SQL string literal (standard quoting, the same on both engines)."""
    return "'" + str(value).replace("'", "''") + "'"


def integers(values: Iterable[int]) -> str:
    """A list of integers for ``IN (...)``; never empty (``NULL`` matches nothing)."""
    text = ", ".join(str(int(v)) for v in values)
    return text or "NULL"


_DELIMITERS = "|~^`#"


def text_array(values: Iterable[str]) -> str:
    """An array of texts, for ``IN (SELECT unnest(...))``: one literal split where the
    statement runs (``string_to_array('a|b', '|')``, both engines), by a delimiter no text
    holds. DuckDB binds and optimises each literal of an ``IN`` list or ``ARRAY[...]`` again
    in every statement: the ~1,300 words of facts.sql cost ~11 ms of CPU a batch that way.
    An empty text keeps the ``ARRAY[...]`` form (``string_to_array('', '|')`` is no element
    in PostgreSQL and one empty one in DuckDB); no text at all is an empty array."""
    items = [str(v) for v in values]
    if not items:
        return "CAST(NULL AS VARCHAR[])"
    delimiter = next((d for d in _DELIMITERS if not any(d in v for v in items)), None)
    if delimiter is None or "" in items:
        return f"ARRAY[{', '.join(literal(v) for v in items)}]"
    return f"string_to_array({literal(delimiter.join(items))}, {literal(delimiter)})"


# DuckDB's memory while the batches are read (Database.bound_cache), in MB: doubled for the rest
# of the run whenever a statement needs more, up to DUCKDB_MEMORY_MAX, then unbounded
DUCKDB_MEMORY = 128
DUCKDB_MEMORY_MAX = 2048
# DuckDB (2.0) keeps something of every statement a database instance runs, outside its buffer
# manager (duckdb_memory() does not show it; closing the instance frees it): a 1,000-person
# facts statement run 300 times grew the process by ~35 MB. The reading process opens the
# database again after this many batches (Database.renew: ~15 ms), so its memory is flat
# however many persons it reads.
RENEW_AFTER_BATCHES = 10


class _Cursor(Protocol):
    def fetchmany(self, size: int) -> list[Any]: ...


class Connection(Protocol):
    """What :class:`Database` needs of a DB-API connection (DuckDB's and psycopg 3's alike)."""

    def execute(self, query: str, /) -> _Cursor: ...

    def close(self) -> None: ...


class Prefetched(Protocol):
    """Statements already run ahead (read_ahead.Ahead): a statement's rows, else None."""

    def take(self, sql: str) -> list[tuple] | None: ...


@dataclass
class Database:
    """An open, read-only connection and what it runs on; ``rows`` runs a statement."""

    url: OmopUrl
    connection: Connection
    queries: int = field(default=0)
    bound_mb: int | None = field(default=None)  # DuckDB's memory limit (bound_cache)
    ahead: Prefetched | None = field(default=None)  # statements run ahead (read_ahead)
    origin: Database | None = field(default=None, repr=False)  # a twin's: whose bound it shares
    stopped: bool = field(default=False)  # interrupted: a failure is not run again
    batch_settings: bool = field(default=False)  # bound_cache's settings are in force
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def engine(self) -> str:
        return self.url.engine

    def rows(self, sql: str) -> list[tuple]:
        """Run one statement and fetch every row (a failure names the database); a
        statement already run ahead is taken as it was read."""
        if self.ahead is not None:
            found = self.ahead.take(sql)
            if found is not None:
                return found
        return self._run(sql)

    def _run(self, sql: str) -> list[tuple]:
        return self.executed(sql).fetch()

    def executed(self, sql: str) -> Executed:
        """Run one statement, its rows left where the engine holds them (DuckDB's result,
        libpq's) until :meth:`Executed.fetch` makes them Python tuples: a statement run ahead
        of its batch holds its rows in the engine's form, not as a second batch of tuples
        beside the one being handed out."""
        self.queries += 1
        try:
            return Executed(self.url, self.connection.execute(sql))
        except Exception as exc:
            owner = self.origin or self
            with owner._lock:
                if owner.bound_mb is None or self.stopped:
                    raise QueryFailed(self.url, exc) from None
                # a statement that failed under the bound (more memory than it allows, or a
                # spill the read-only database cannot write): run again under twice the
                # bound, which the rest of the run keeps (one statement that needs more does
                # not unbind the run), and without any past DUCKDB_MEMORY_MAX, as it always
                # ran (a twin's bound is its origin's: DuckDB's limit is the database's)
                owner.bound_mb = owner.bound_mb * 2
                with contextlib.suppress(Exception):
                    if owner.bound_mb > DUCKDB_MEMORY_MAX:
                        owner.bound_mb = None
                        self.connection.execute("RESET memory_limit")
                    else:
                        self.connection.execute(f"SET memory_limit = '{owner.bound_mb}MB'")
        return self.executed(sql)

    def bound_cache(self) -> None:
        """DuckDB keeps each block of the file it has read cached, up to 80 % of the
        machine's memory: a CDM read batch by batch would have the reading process grow with
        the CDM (+22 MB from a 5 MB to a 26 MB file). While the batches are read, its memory
        is bounded (:data:`DUCKDB_MEMORY` MB, doubled while a statement needs more: blocks
        evicted are read again from the file, a batch's own data is a few MB); PostgreSQL's
        cache is the server's. And DuckDB runs them on one thread: a batch's statement is
        small, and its worker threads only competed with the screening's workers for the
        same cores (0.174 -> 0.166 ms of the reading process's CPU a person at 10,000
        persons, four interleaved pairs; its rows then come in one order, run after run)."""
        if self.engine == "duckdb":
            self.bound_mb, self.batch_settings = DUCKDB_MEMORY, True
            self._apply_batch_settings()

    def _apply_batch_settings(self) -> None:
        self.connection.execute("SET threads = 1")
        if self.bound_mb is not None:
            self.connection.execute(f"SET memory_limit = '{self.bound_mb}MB'")

    def renew(self) -> None:
        """DuckDB: close the database and open it again with the run's settings (its memory
        bound as it now stands), which frees what the instance kept of the statements it ran
        (:data:`RENEW_AFTER_BATCHES`). Only while no statement runs on it: every twin must be
        closed first (an instance lives while a connection to it does). PostgreSQL: nothing
        (the session's memory is the server's)."""
        if self.engine != "duckdb" or self.origin is not None:
            return
        with contextlib.suppress(Exception):
            self.connection.close()
        self.connection = _duckdb(self.url)
        if self.batch_settings:
            self._apply_batch_settings()

    def twin(self) -> Database:
        """A handle for another thread: DuckDB, a second connection to the same database
        (its settings, memory bound and cache are the database's); PostgreSQL, the same
        session (psycopg runs one statement at a time on it, the other thread's in turn)."""
        shared = self.engine != "duckdb"
        connection = self.connection if shared else self.connection.cursor()  # type: ignore[attr-defined]
        return Database(self.url, connection, bound_mb=self.bound_mb, origin=self)

    def interrupt(self) -> None:
        """Stop the statement running on this connection, if any (from another thread)."""
        self.stopped = True
        with contextlib.suppress(Exception):
            if self.engine == "duckdb":
                self.connection.interrupt()  # type: ignore[attr-defined]
            else:
                cancel = getattr(self.connection, "cancel_safe", None) or \
                    self.connection.cancel  # type: ignore[attr-defined]
                cancel()

    def close(self) -> None:
        if self.origin is not None and self.connection is self.origin.connection:
            return  # a PostgreSQL twin: the session is its origin's to close
        # closing a broken connection must not hide the first error
        with contextlib.suppress(Exception):
            self.connection.close()


class Executed:
    """A statement run, its rows not fetched yet (a DuckDB connection holds one result: a
    statement run on it again drops the rows not fetched; a psycopg cursor holds its own)."""

    def __init__(self, url: OmopUrl, cursor: _Cursor) -> None:
        self.url, self.cursor = url, cursor

    def fetch(self) -> list[tuple]:
        """Every row, as tuples (a failure names the database), :data:`FETCHED_AT_ONCE` at a
        time: turning rows into tuples holds the GIL throughout one call (~0.1 s for a
        50,000-row batch), and meanwhile the reading process's other threads (the pool's,
        which hand the workers their next batch of persons) could not run: a worker that
        finished then waited."""
        rows: list[tuple] = []
        try:
            while part := self.cursor.fetchmany(FETCHED_AT_ONCE):
                rows.extend(part)
        except Exception as exc:
            raise QueryFailed(self.url, exc) from None
        return rows


class QueryFailed(EnvironmentFailure):
    """A statement the database refused or could not finish (a lost connection, a timeout, a
    table or column it lacks that the schema check did not foresee): exit 3, naming it."""

    def __init__(self, url: OmopUrl, exc: Exception) -> None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        self.reason = first
        super().__init__(f"the OMOP database {url.shown} failed a query: {first}")


def connect(url: OmopUrl) -> Database:
    """Open the database read-only; :class:`EnvironmentFailure` (exit 3) when it cannot be."""
    if url.engine == "duckdb":
        return Database(url, _duckdb(url))
    return Database(url, _postgres(url))


def _duckdb(url: OmopUrl) -> Connection:
    try:
        import duckdb
    except ImportError:
        raise EnvironmentFailure("reading a DuckDB OMOP database needs the duckdb package: "
                                 "pip install 'ql1706kg[omop]'") from None
    path = Path(url.target)
    if not path.is_file():
        raise EnvironmentFailure(f"cannot open the OMOP database {url.shown}: no such file "
                                 f"{path}")
    try:
        return duckdb.connect(str(path), read_only=True)
    except Exception as exc:  # locked by a writer, not a DuckDB file, a newer format
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvironmentFailure(f"cannot open the OMOP database {url.shown}: {first}") from None


def _postgres(url: OmopUrl) -> Connection:
    try:
        import psycopg
    except ImportError:
        raise EnvironmentFailure("reading a PostgreSQL OMOP database needs psycopg 3: "
                                 "pip install 'ql1706kg[omop]'") from None
    options = (f"-c default_transaction_read_only=on -c jit=off -c DateStyle=ISO "
               f"-c statement_timeout={STATEMENT_TIMEOUT_MS}")
    try:
        connection = psycopg.connect(url.target, options=options, autocommit=True,
                                     connect_timeout=10, application_name="ql1706kg")
    except Exception as exc:
        raise EnvironmentFailure(f"cannot reach the OMOP database at {url.host}: "
                                 f"{_first_line(exc)}") from None
    connection.read_only = True
    return connection


def _first_line(exc: Exception) -> str:
    """libpq's message, first line (it names host and port, never a password)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
