"""Read an OMOP CDM in place: candidates, batches of facts, one record per person.

The order of a run: open the database read-only (:mod:`.connect`), the site supplement
indexed meanwhile in a thread (:class:`.supplement.Indexing`); check what it holds
(:mod:`.schema`: a missing table or column is named before anything is read); push the
terminology's codes down (:mod:`.relevance`, once); choose the candidates (an id list, an ATLAS
cohort, or everyone with a sarcoma on record); then per batch of persons one statement
(``sql/facts.sql``), never one per person, and each person assembled (:mod:`.assemble`) and
joined with the site supplement (:mod:`.supplement`), where it is screened
(:mod:`.person`). Memory holds one batch at a time.

A person whose rows contradict each other, or who is not in the CDM, is one input error
naming the database, the person and the field; the other persons are read.
"""

from __future__ import annotations

import bisect
import functools
from array import array
from collections import defaultdict
from collections.abc import Generator, Iterator, Sequence
from itertools import chain, pairwise
from operator import itemgetter
from typing import NamedTuple

from ...errors import InputError, InputNote
from ...protocol.terminology import Terminology, terminology
from ..records import SourcedRecord, parse_record
from .assemble import Context, build_person
from .connect import Database, connect, integers, is_identifier, literal, parse_url
from .declared import DeclaredPlan, note, plan, read_batch
from .person import OmopPerson
from .read_ahead import Ahead
from .relevance import Relevance, compute
from .schema import BATCH_PLACEHOLDERS, Schema, batch_values, read_schema, render, sql_file
from .spec import OmopInput
from .supplement import Indexing, SupplementIndex
from .vocab import Vocabulary, mapping

Item = OmopPerson | SourcedRecord | InputError | InputNote
# rows of facts a query aims at (held as tuples while its batch is handed out). Each query
# costs the same ~45 ms of planning and one scan of the row groups its persons' ids span,
# whatever its size: at 100,000 persons, 50,000 rows a query read 0.05-0.07 ms of CPU a person
# less than 25,000, for a reading process's peak of 180 MB instead of 158 (167-172 MB at
# 10,000 persons); 100,000 rows: 0.02-0.03 ms less again, but 221-224 MB
BATCH_ROWS = 50_000
NAMED = itemgetter(3, 4, 9, 11)  # a row's concept, source, value and unit concepts
BATCH_GROWTH = 5  # a query reads at most this many times the batch size's persons
# given ids checked a query (one text literal, batch_values): DuckDB's peak memory grows with
# their number (10,000: +5 MB; 100,000: +31 MB), and 10,000 a query is as fast as all at once
# (0.17 s for 100,000 ids; 1,000 a query: 0.31 s)
CHECKED_AT_ONCE = 10_000


def read_omop(spec: OmopInput, validate: bool = True) -> Iterator[Item]:
    """Yield every candidate's record (an :class:`OmopPerson` to be assembled where it is
    screened when ``validate`` is False), the input errors and the notes. An unreachable
    database raises :class:`~ql1706kg.errors.EnvironmentFailure` (exit 3)."""
    url = parse_url(spec.url)
    source = url.shown
    # the supplement is indexed in a thread while the database is opened, the run set up and
    # its first batch's statements started (DuckDB and psycopg release the GIL)
    indexing = Indexing(spec.supplement) if spec.supplement is not None else None
    db: Database | None = None
    ahead: Ahead | None = None
    try:
        try:
            db = connect(url)
            term = terminology()
            try:
                run: _Run | InputError = _set_up(db, spec, source, term)
            except InputError as exc:
                run = exc
            if not isinstance(run, InputError):
                ctx = Context(term, run.vocabulary, run.relevance, source, spec.closed_world,
                              run.declared)
                statement = render(run.statement, {**run.relevance.values(run.schema),
                                                   **BATCH_PLACEHOLDERS})
                db.bound_cache()  # memory flat however large the CDM (the run's queries are done)
                ahead, first = _ahead(db, statement, run.declared.statement
                                      if run.declared is not None else "", run.persons,
                                      spec.batch_size)
                batches = ahead.batches(first)
                started = next(batches, None)  # its statements run ahead from here
        except Exception:
            yield from _supplement(indexing)  # its error first, as it always came
            raise
        supplement = yield from _supplement(indexing)
        if isinstance(run, InputError):
            yield run
            return
        yield from run.missing
        said = note(run.declared, source)
        if said is not None:
            yield InputNote(source, said)
        for batch in chain([started] if started is not None else [], batches):
            yield from _batch(db, ctx, statement, batch, supplement, spec, validate)
        unused = _unused(supplement, run.persons) if supplement else []
        if unused:
            yield InputNote(str(spec.supplement), f"{len(unused)} person(s) of the supplement "
                            f"are not candidates here and were not screened (first: {unused[0]})")
    finally:
        if ahead is not None:
            ahead.close()  # stops what runs ahead, if anything
        if db is not None:
            db.close()
        if indexing is not None:
            indexing.close()  # stops it if it still runs; removes the index


class _Run(NamedTuple):
    """A run set up: what the database holds, its statement, the candidates."""

    schema: Schema
    statement: str
    vocabulary: Vocabulary
    relevance: Relevance
    declared: DeclaredPlan | None
    persons: array
    missing: list[InputError]


def _set_up(db: Database, spec: OmopInput, source: str, term: Terminology) -> _Run:
    """Check what the database holds, push the terminology's codes down, choose the
    candidates (an :class:`InputError` raised when the CDM cannot be read)."""
    schema = read_schema(db, source)
    statement = facts_statement(schema, source)
    vocabulary = Vocabulary(db, schema.vocabulary)
    relevance = compute(db, schema, vocabulary, term)
    declared = plan(db, schema, vocabulary, term, source)
    return _Run(schema, statement, vocabulary, relevance, declared,
                *candidates(db, schema, spec, source, relevance.sarcoma))


def _supplement(indexing: Indexing | None) -> Generator[Item, None, SupplementIndex | None]:
    """The supplement once indexed (None: none given, or its error, yielded: the CDM is
    still read, and what only the supplement holds is unknown)."""
    if indexing is None:
        return None
    found = indexing.result()
    if isinstance(found, InputError):
        yield found
        return None
    return found


def facts_statement(schema: Schema, source: str) -> str:
    """The batch CTE, then the UNION of the sections of facts.sql this database has, their
    columns checked."""
    parts = sql_file("facts.sql")
    selects = []
    for part in parts.values():
        if part.name == "batch":
            continue
        if not schema.usable(part, source):
            continue
        schema.check(part, source)
        selects.append(schema.fill_optional(part.text, part.aliases))
    return parts["batch"].text + "\n" + "\nUNION ALL\n".join(selects)


def _ahead(db: Database, statement: str, declared: str, persons: array, base: int
           ) -> tuple[Ahead, list[int]]:
    """The run's batches, each one's statements (facts.sql's, declared.sql's) run one batch
    ahead (:mod:`.read_ahead`): consecutive slices of the candidates, the first ``base``
    persons, each next one sized by the rows of the one before (:func:`next_batch_size`)."""
    start = 0

    def take(size: int) -> list[int]:
        nonlocal start
        batch = persons[start:start + size].tolist()
        start += len(batch)
        return batch

    statements = [statement, declared] if declared else [statement]
    ahead = Ahead(db, [functools.partial(_written, text) for text in statements],
                  lambda batch, rows: take(next_batch_size(base, len(batch), rows)))
    return ahead, take(base)


def _written(statement: str, batch: list[int]) -> str:
    return render(statement, batch_values(batch))


def next_batch_size(base: int, persons: int, rows: int) -> int:
    """Persons in the next facts query: as many as keep it near :data:`BATCH_ROWS` rows (what
    one batch holds in memory), from ``base`` up to :data:`BATCH_GROWTH` times it. Each query
    costs DuckDB ~0.04 s of CPU whatever its size (parsing and binding its literal lists), so
    a CDM with few relevant rows a person is read in fewer, larger queries; one with many
    stays at ``base``. Memory stays bounded by rows, whatever the CDM's size."""
    fits = BATCH_ROWS * persons // max(rows, 1)
    return max(base, min(base * BATCH_GROWTH, fits))


def candidates(db: Database, schema: Schema, spec: OmopInput, source: str,
               sarcoma: set[int]) -> tuple[array, list[InputError]]:
    """The person ids to screen (64-bit integers: 8 bytes a candidate), and an error for each
    given id that is not a person."""
    if spec.person_ids is not None:
        return _given(db, schema, spec.person_ids, source)
    if spec.cohort_id is not None:
        return _cohort(db, schema, spec, source), []
    return _sarcoma(db, schema), []


def _given(db: Database, schema: Schema, given: Sequence[int], source: str
           ) -> tuple[array, list[InputError]]:
    """The given ids found in the person table, in order, each once; an error for each
    other. Checked :data:`CHECKED_AT_ONCE` a query, so that only a chunk's ids are ever held
    as Python integers."""
    query = sql_file("run.sql")["persons"].text
    found, missing = array("q"), list[InputError]()
    chunk: list[int] = []
    for person in chain(first_occurrences(given), [None]):
        if person is not None:
            chunk.append(person)
            if len(chunk) < CHECKED_AT_ONCE:
                continue
        if chunk:
            there = {int(r[0]) for r in db.rows(render(query, {
                "cdm": schema.cdm, "persons": batch_values(chunk)["persons"]}))}
            found.extend(p for p in chunk if p in there)
            missing.extend(InputError(f"{source}#person/{p}", "no such person in the CDM's "
                                      "person table", record=str(p), field="person_id")
                           for p in chunk if p not in there)
            chunk = []
    return found, missing


def first_occurrences(ids: Sequence[int]) -> Iterator[int]:
    """Each id at its first occurrence, in order. Which ids were met is a bitmap over the
    ids' range when that range is dense (at most a byte a given id: person_ids are mostly
    consecutive), else a set."""
    if not ids:
        return
    low, high = min(ids), max(ids)
    span = high - low + 1
    if span > 8 * len(ids):
        seen: set[int] = set()
        for person in ids:
            if person not in seen:
                seen.add(person)
                yield person
        return
    bits = bytearray((span + 7) // 8)
    for person in ids:
        at = person - low
        bit = 1 << (at & 7)
        if not bits[at >> 3] & bit:
            bits[at >> 3] |= bit
            yield person


def _cohort(db: Database, schema: Schema, spec: OmopInput, source: str) -> array:
    assert spec.cohort_id is not None  # called for a cohort only
    table = mapping()["cohort"]
    where = (spec.cohort_schema or schema.cdm).casefold()
    if not is_identifier(where):
        raise InputError(source, f"'{where}' is not a schema name", field="cohort_schema")
    columns = {c for (s, t, c) in db.rows(render(sql_file("run.sql")["columns"].text,
                                                 {"schemas": literal(where)}))
               if t == table["table"]}
    needed = {table["definition"], table["subject"]}
    if not columns or not needed <= columns:
        what = f"no table {where}.{table['table']}" if not columns else (
            f"no column {sorted(needed - columns)[0]} in {where}.{table['table']}")
        raise InputError(source, f"the ATLAS cohort {spec.cohort_id} cannot be read: {what} "
                                 "(give the results schema with --cohort-schema)",
                         field="cohort")
    query = render(sql_file("run.sql")["candidates_cohort"].text, {
        "subject": table["subject"], "cohort_schema": where, "cohort_table": table["table"],
        "definition": table["definition"], "cohort_id": str(int(spec.cohort_id))})
    return array("q", sorted(int(r[0]) for r in db.rows(query)))


def _sarcoma(db: Database, schema: Schema) -> array:
    """Everyone with a condition (or disease episode) the terminology reads as a sarcoma."""
    vocabulary = Vocabulary(db, schema.vocabulary)
    sarcoma = compute(db, schema, vocabulary, terminology()).sarcoma
    run = sql_file("run.sql")
    values = {"cdm": schema.cdm, "sarcoma": integers(sorted(sarcoma))}
    query = render(run["candidates_sarcoma"].text, values)
    if "episode" in schema.nonempty:
        query += "\nUNION\n" + render(run["candidates_sarcoma_episodes"].text, values)
    return array("q", sorted(int(r[0]) for r in db.rows(query)))


def _unused(supplement: SupplementIndex, persons: array) -> list[str]:
    """The supplement's persons who are no candidates (the candidates sorted once at the end,
    unless they are in order already: no set of every screened person kept during the run)."""
    ordered = persons if all(a <= b for a, b in pairwise(persons)) \
        else array("q", sorted(persons))

    def candidate(name: str) -> bool:
        if not name.isdigit():
            return False
        at = bisect.bisect_left(ordered, int(name))
        return at < len(ordered) and ordered[at] == int(name) and str(int(name)) == name

    return [p for p in supplement.persons() if not candidate(p)]


def _batch(db: Database, ctx: Context, statement: str, batch: list[int],
           supplement: SupplementIndex | None, spec: OmopInput,
           validate: bool) -> Generator[Item, None, int]:
    """One query for the batch; each person as an :class:`OmopPerson` to be assembled where
    it is screened (``validate``: assembled and validated here). Returns the rows read."""
    values = batch_values(batch)
    rows = db.rows(render(statement, values))
    declared = ctx.declared
    own = read_batch(db, declared, ctx.vocabulary, values, ctx.source) \
        if declared is not None else {}
    unreadable = declared.unreadable if declared is not None else ()
    by_person: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_person[row[1]].append(row)
    ids = set(chain.from_iterable(map(NAMED, rows)))  # the concepts the batch's rows name
    read = len(rows)
    del rows  # each person's rows go with its handle, freed as it is handed out
    ids.discard(None)
    ids.discard(0)
    vocabulary = ctx.vocabulary
    vocabulary.fetch(ids)
    # each concept's rows and those above it (its closure), once a run: a person's handle
    # carries the closures of the concepts its rows name, shared tuples (pickling a chunk of
    # persons for a worker writes each once); a concept the vocabulary lacks has none
    closures: dict[int, tuple] = ctx.closures
    for i in ids.difference(closures):
        closure = _closure(vocabulary, ctx.concept_rows, i)
        if closure:
            closures[i] = closure
    drugs, kinds = ctx.relevance.drugs, ctx.relevance.kinds
    run = (ctx.source, spec.closed_world)
    extras = supplement.rows([str(p) for p in batch]) if supplement is not None else {}
    where = str(spec.supplement)
    for person in batch:
        facts = by_person.pop(person, ())
        named = set(chain.from_iterable(map(NAMED, facts)))  # the concepts its rows name
        given = named.intersection(drugs)
        given.discard(None)
        given.discard(0)
        key = str(person)
        extra = extras.get(key)
        handle = OmopPerson(
            f"{ctx.source}#person/{person}", key, run, tuple(facts),
            tuple(filter(None, map(closures.get, named))),
            tuple((i, kinds[i], drugs[i]) for i in given),
            (where, extra, supplement.header, supplement.delimiter)
            if extra is not None and supplement is not None else None,
            own.get(person, ()), unreadable)
        if not validate:
            yield handle
            continue
        record = build_person(handle, ctx)
        yield (record if isinstance(record, InputError)
               else parse_record(record, handle.source))
    return read


def _closure(vocabulary: Vocabulary, shared: dict[int, tuple], concept_id: int) -> tuple:
    """The rows of a concept and of the known concepts above it (read with it), each row one
    tuple for the whole run; empty for a concept the vocabulary lacks."""
    out, seen, todo = [], set(), [concept_id]
    while todo:
        concept = vocabulary.get(todo.pop())
        if concept is None or concept.id in seen:
            continue
        seen.add(concept.id)
        out.append(shared.get(concept.id) or shared.setdefault(concept.id,
                                                               _concept_row(concept)))
        todo.extend(concept.anchors)
    return tuple(out)


def _concept_row(concept) -> tuple:
    return (concept.id, concept.vocabulary, concept.code, concept.name, concept.concept_class,
            concept.anchors)
