"""Read an OMOP CDM in place: candidates, batches of facts, one record per person.

The order of a run: open the database read-only (:mod:`.connect`); check what it holds
(:mod:`.schema`: a missing table or column is named before anything is read); push the
terminology's codes down (:mod:`.relevance`, once); choose the candidates (an id list, an ATLAS
cohort, or everyone with a sarcoma on record); then per batch of persons one statement
(``sql/facts.sql``), never one per person, and each person assembled (:mod:`.assemble`) and
joined with the site supplement (:mod:`.supplement`). Memory holds one batch at a time.

A person whose rows contradict each other, or who is not in the CDM, is one input error
naming the database, the person and the field; the other persons are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ...errors import InputError, InputNote
from ...protocol.terminology import terminology
from ..records import RawRecord, SourcedRecord, parse_record
from .assemble import Context, Fact, assemble
from .connect import Database, connect, integers, is_identifier, literal, parse_url
from .relevance import compute
from .schema import Schema, read_schema, render, sql_file
from .spec import OmopInput
from .supplement import Conflict, merge, read_supplement
from .vocab import Vocabulary, mapping

Item = RawRecord | SourcedRecord | InputError | InputNote


def read_omop(spec: OmopInput, validate: bool = True) -> Iterator[Item]:
    """Yield every candidate's record (unvalidated :class:`RawRecord` when ``validate`` is
    False), the input errors and the notes. An unreachable database raises
    :class:`~ql1706kg.errors.EnvironmentFailure` (exit 3)."""
    url = parse_url(spec.url)
    source = url.shown
    supplement: dict[str, dict] = {}
    if spec.supplement is not None:
        for item in read_supplement(spec.supplement):
            if isinstance(item, InputError):
                yield item
            else:
                supplement[item[0]] = item[1]
    db = connect(url)
    try:
        term = terminology()
        try:
            schema = read_schema(db, source)
            statement = facts_statement(schema, source)
            vocabulary = Vocabulary(db, schema.vocabulary)
            relevance = compute(db, schema, vocabulary, term)
            persons, missing = candidates(db, schema, spec, source, relevance.sarcoma)
        except InputError as exc:
            yield exc
            return
        yield from missing
        ctx = Context(term, vocabulary, relevance, source, spec.closed_world)
        statement = render(statement, {**relevance.values(schema), "persons": "@persons"})
        used: set[str] = set()
        for start in range(0, len(persons), spec.batch_size):
            batch = persons[start:start + spec.batch_size]
            yield from _batch(db, ctx, statement, batch, supplement, used, spec, validate)
        unused = sorted(set(supplement) - used)
        if unused:
            yield InputNote(str(spec.supplement), f"{len(unused)} person(s) of the supplement "
                            f"are not candidates here and were not screened (first: {unused[0]})")
    finally:
        db.close()


def facts_statement(schema: Schema, source: str) -> str:
    """The UNION of the sections of facts.sql this database has, its columns checked."""
    selects = []
    for part in sql_file("facts.sql").values():
        if not schema.usable(part, source):
            continue
        schema.check(part, source)
        selects.append(schema.fill_optional(part.text, part.aliases))
    return "\nUNION ALL\n".join(selects)


def candidates(db: Database, schema: Schema, spec: OmopInput, source: str,
               sarcoma: set[int]) -> tuple[list[int], list[InputError]]:
    """The person ids to screen, and an error for each given id that is not a person."""
    run = sql_file("run.sql")
    if spec.person_ids is not None:
        wanted = list(dict.fromkeys(spec.person_ids))
        found: set[int] = set()
        for start in range(0, len(wanted), 10_000):
            chunk = integers(wanted[start:start + 10_000])
            found |= {int(r[0]) for r in db.rows(render(run["persons"].text,
                                                        {"cdm": schema.cdm, "persons": chunk}))}
        missing = [InputError(f"{source}#person/{p}", "no such person in the CDM's person "
                              "table", record=str(p), field="person_id")
                   for p in wanted if p not in found]
        return [p for p in wanted if p in found], missing
    if spec.cohort_id is not None:
        return _cohort(db, schema, spec, source), []
    return _sarcoma(db, schema), []


def _cohort(db: Database, schema: Schema, spec: OmopInput, source: str) -> list[int]:
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
    return sorted(int(r[0]) for r in db.rows(query))


def _sarcoma(db: Database, schema: Schema) -> list[int]:
    """Everyone with a condition (or disease episode) the terminology reads as a sarcoma."""
    vocabulary = Vocabulary(db, schema.vocabulary)
    sarcoma = compute(db, schema, vocabulary, terminology()).sarcoma
    run = sql_file("run.sql")
    values = {"cdm": schema.cdm, "sarcoma": integers(sorted(sarcoma))}
    query = render(run["candidates_sarcoma"].text, values)
    if "episode" in schema.nonempty:
        query += "\nUNION\n" + render(run["candidates_sarcoma_episodes"].text, values)
    return sorted(int(r[0]) for r in db.rows(query))


def _batch(db: Database, ctx: Context, statement: str, batch: list[int],
           supplement: dict[str, dict], used: set[str], spec: OmopInput, validate: bool
           ) -> Iterator[Item]:
    rows = db.rows(render(statement, {"persons": integers(batch)}))
    by_person: dict[int, list[Fact]] = defaultdict(list)
    ids: set[int] = set()
    for row in rows:
        fact = Fact._make(row)
        by_person[fact.person_id].append(fact)
        ids.update((fact.concept_id, fact.source_concept_id, fact.value_concept_id,
                    fact.unit_concept_id))
    ids.discard(None)
    ctx.vocabulary.fetch(ids)
    for person in batch:
        record, notes = assemble(ctx, person, by_person.pop(person, []))
        where = f"{ctx.source}#person/{person}"
        for note in notes:
            yield InputNote(where, note)
        if isinstance(record, InputError):
            yield record
            continue
        extra = supplement.get(record["id"])
        if extra is not None:
            used.add(record["id"])
            try:
                record = merge(record, extra, str(spec.supplement))
            except Conflict as exc:
                yield InputError(where, exc.message, record=record["id"], field=exc.field)
                continue
        yield parse_record(record, where) if validate else RawRecord(where, record)
