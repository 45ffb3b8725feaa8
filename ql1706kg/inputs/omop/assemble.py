"""One person's facts (rows of sql/facts.sql) assembled into the project's record.

The record is the one the JSON and FHIR readers produce (``models.PatientRecord``), so lifting,
screening, explanations, what-if, the report and SPARQL are the same for every input. Which
section a row fills is data: ``mapping.toml``'s ``[[facts]]`` rules name, per table, the
ontology classes a concept may be read as, in order, and the step below that writes it (each
step's reading of a concept is the FHIR reader's, and is computed once per concept in a run).

A section nothing filled stays absent ("not recorded": its criteria are unknown, saying what to
collect), unless the run reads the CDM as closed-world (``--closed-world``) and the person has
an observation period: then the mapping's list sections are "recorded: none". Rows that
contradict each other (two death dates, a birth date that disagrees with the year, month and
day of birth) make the person one input error; the other persons are screened.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from rdflib import URIRef

from ...errors import InputError
from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology, terminology
from ..fhir.observations import _karnofsky_score, _test_of
from ..fhir.values import reading_rules
from ..records import RawRecord
from .declared import settle
from .disease import (
    Disease,
    DiseaseReader,
    match_cancer,
    match_condition,
    match_metastasis,
    match_staging,
)
from .relevance import Relevance, source_codes
from .supplement import Conflict, merge, supplement_record
from .treatment import Treatment, TreatmentReader, match_drug, match_procedure, match_specimen
from .vocab import Concept, Vocabulary, fixed, mapping

MEMO_LIMIT = 200_000  # concept readings kept per run (a run reads far fewer distinct concepts)
ORDER = ("person", "death", "observation_period", "condition_occurrence", "episode",
         "episode_event", "measurement", "observation", "drug_exposure",
         "procedure_occurrence", "specimen")
_RANK = {kind: n for n, kind in enumerate(ORDER)}
_MISSING = object()  # no reading memoised yet (None is a reading: no rule reads the row)


class Fact(NamedTuple):
    """One row of sql/facts.sql (what each column holds for each table is said there)."""

    kind: str
    person_id: int
    row_id: int | None
    concept_id: int | None
    source_concept_id: int | None
    source_value: str | None
    start_date: str | None  # ISO dates (YYYY-MM-DD), as the SQL gives them
    end_date: str | None
    number: float | None
    value_concept_id: int | None
    text: str | None
    unit_concept_id: int | None
    unit_text: str | None
    low: float | None
    high: float | None
    operator_concept_id: int | None
    link_id: int | None
    link_field: int | None
    extra_concept_id: int | None


def _match_karnofsky(ctx, table, concept_id, cc) -> Any:
    return True if ctx.rules.term_of(cc, QL.PerformanceStatusScale) is not None else None


def _match_pregnancy_status(ctx, table, concept_id, cc) -> Any:
    return True if ctx.rules.coded(cc, QL.PregnancyStatus) else None


def _match_pregnancy(ctx, table, concept_id, cc) -> Any:
    return True if ctx.rules.term_of(cc, QL.PregnancyStatusValue) == QL.Pregnant else None


def _match_result(ctx, table, concept_id, cc) -> Any:
    """(test, the test as the record names it): its label, which names that term alone (a
    coded test would be read again where the record is validated and lifted: a third more
    of a person's record to check)."""
    test, _written = _test_of(ctx.term, cc)
    return (test, ctx.term.label(test)) if test is not None else None


def _match_support(ctx, table, concept_id, cc) -> Any:
    return match_procedure(ctx, table, concept_id, cc)


MATCHERS = {"metastasis": match_metastasis, "cancer": match_cancer,
            "condition": match_condition, "staging": match_staging,
            "karnofsky": _match_karnofsky, "pregnancy_status": _match_pregnancy_status,
            "pregnancy": _match_pregnancy,
            "result": _match_result, "support": _match_support, "specimen": match_specimen}


@dataclass
class Context:
    """What a run shares across its persons: the terminology, the concepts, what is relevant,
    the rules of the mapping by table, and each concept's reading once made."""

    term: Terminology
    vocabulary: Vocabulary
    relevance: Relevance
    source: str
    closed_world: bool = False
    declared: Any = None  # the run's DeclaredPlan (declared.py), None: no declared kind
    memo: dict[tuple, tuple[Any, Any] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rules = reading_rules()
        self.vocabulary.codes_by_text = source_codes(self.term)  # unmapped rows' source codes
        self.concept_rows: dict[int, tuple] = {}  # the reading process's, as handles carry them
        self.closures: dict[int, tuple] = {}  # a concept's rows and those above it, likewise
        self.by_table: dict[str, list[str]] = {}
        for rule in mapping()["facts"]:
            for table in rule["tables"]:
                self.by_table.setdefault(table, []).append(rule["reader"])
        self.drug_tables = set(mapping()["drugs"]["tables"])
        episodes = mapping()["episodes"]
        self.disease_episodes = set(episodes["disease"])
        self.regimen_episodes = set(episodes["regimen"])
        # per row, looked up once a run: the comparators (an operator concept that bounds a
        # value: '=' is the value itself), each result datetime's date as the record's, the
        # unit vocabularies, each (unit concept, unit text)'s unit and each cancer concept's
        # codeable and histology
        self.comparators = {key: sign for key, sign in fixed("operators").items() if sign != "="}
        self.times: dict[str, str] = {}
        self.unit_vocabularies = mapping()["vocabularies"]
        self.units: dict[tuple, str | None] = {}
        self.cancers: dict[tuple, list] = {}

    def reading(self, fact: Fact) -> tuple[Any, Any] | None:
        """(the builder's step, what it found) for a row, or None when no rule reads it."""
        concept_id = fact[3]  # (kind, person, row, concept, source concept, source value)
        key = (fact[0], concept_id, fact[4],
               None if concept_id and concept_id in self.vocabulary.concepts else fact[5])
        found = self.memo.get(key, _MISSING)
        if found is not _MISSING:
            return found  # type: ignore[return-value]
        if len(self.memo) > MEMO_LIMIT:
            self.memo.clear()
        read = self._read(fact)
        found = self.memo[key] = None if read is None else (_STEPS[read[0]], read[1])
        return found

    def memoised(self, memo: dict, key: tuple, make: Any) -> Any:
        """``memo[key]``, made by ``make()`` the first time (memo bounded as the readings)."""
        found = memo.get(key, _MISSING)
        if found is _MISSING:
            if len(memo) > MEMO_LIMIT:
                memo.clear()
            found = memo[key] = make()
        return found

    def _read(self, fact: Fact) -> tuple[str, Any] | None:
        table = fact.kind
        if table in self.drug_tables:
            found = match_drug(self, table, fact.concept_id or 0, {}, fact.source_value)
            return ("therapy", found) if found is not None else None
        cc = self.vocabulary.codeable(fact.concept_id, fact.source_concept_id,
                                      text=fact.source_value)
        for reader in self.by_table.get(table, ()):
            matcher = MATCHERS.get(reader)
            found = matcher(self, table, fact.concept_id or 0, cc) if matcher else None
            if found is not None:
                return reader, found
        return None


class PersonBuilder(DiseaseReader, TreatmentReader):
    """What one person's facts say, in the record's form."""

    def __init__(self, ctx: Context, person_id: int) -> None:
        self.ctx, self.person_id = ctx, person_id
        self.rec: dict[str, Any] = {"id": str(person_id), "observations": []}
        self.disease, self.treatment = Disease(), Treatment()
        self.periods: list[tuple[str | None, str | None]] = []
        self.person_seen = False

    def build(self, facts: Iterable[Fact]) -> dict:
        """The record (raises :class:`Inconsistent` for rows that contradict each other)."""
        ctx = self.ctx
        reading, regimens = ctx.reading, ctx.regimen_episodes
        for fact in sorted(facts, key=_order):  # each row's step, in one loop (a step a row)
            kind = fact.kind
            step = _TABLE_STEPS.get(kind)
            if step is not None:
                step(self, fact)
            elif kind == "episode" and fact.extra_concept_id in regimens:
                self.read_episode_regimen(fact)
            else:
                found = reading(fact)
                if found is not None:
                    found[0](self, fact, found[1])
        self.settle_disease()
        self.settle_treatment()
        if not self.person_seen:
            raise Inconsistent("person", "no row in the person table")
        if self.ctx.closed_world and self.periods:
            for section in mapping()["closed_world"]["sections"]:
                self.rec.setdefault(section, [])
        return self.rec

    def read_period(self, fact: Fact) -> None:
        self.periods.append((fact.start_date, fact.end_date))

    # -- person, death ------------------------------------------------------------------------
    def read_person(self, fact: Fact) -> None:
        self.person_seen = True
        sex = fixed("gender").get(fact.concept_id or 0)
        if sex is None and fact.source_value:
            words = mapping()["gender_source_values"]
            sex = words.get(fact.source_value.strip().casefold())
        if sex is not None:
            self.rec["sex"] = sex
        year = int(fact.number) if fact.number is not None else None
        month, day = fact.link_id, fact.link_field
        parts = _birth(year, month, day)
        written = fact.start_date
        if written and parts and not written.startswith(parts):
            raise Inconsistent("person.birth_datetime", f"birth_datetime {written} "
                               f"contradicts year, month and day of birth {parts}")
        # a year (and month) of birth without the day is a partial date: the ages it allows
        # (docs/record.md), never an invented day
        born = written or parts
        if born is not None:
            self.rec["birth_date"] = born

    def read_death(self, fact: Fact) -> None:
        when = fact.start_date or True
        known = self.rec.get("deceased")
        if known is not None and known != when:
            raise Inconsistent("death.death_date", f"two deaths are recorded ({known} and "
                               f"{when})")
        self.rec["deceased"] = when

    # -- results --------------------------------------------------------------------------------
    def read_result(self, fact: Fact, found: tuple[URIRef, Any]) -> None:
        test, written = found
        ctx, number = self.ctx, fact.number
        value: float | str | None
        if number is not None:  # value_of's first case, inline: most rows are numbers
            value, comparator = number, ctx.comparators.get(fact.operator_concept_id or 0)
        else:
            value, comparator = self.value_of(fact)
        if value is None:
            if fact.value_concept_id:  # a value given that cannot be read: never dropped
                self.aside(fact, "observations", "value_as_concept_id", "a value concept "
                           f"({fact.value_concept_id}) that is not in the vocabulary",
                           self.ctx.term.label(test))
            return  # no value at all: no result (as an FHIR Observation without a value)
        day = fact.start_date
        if day is None:
            self.aside(fact, "observations", f"{fact.kind}_date", "no date: the result "
                       "cannot be placed in the screening window", self.ctx.term.label(test))
            return
        when = fact.end_date  # the datetime: its time (once a run per datetime), if that day's
        item: dict[str, Any] = {"test": written, "value": value, "date": day if (
            not when or when[:10] != day) else ctx.memoised(ctx.times, when, partial(
                timed, day, when))}
        if comparator is not None:
            item["comparator"] = comparator
        unit = ctx.units.get((fact.unit_concept_id, fact.unit_text), _MISSING)
        if unit is _MISSING:
            unit = self.unit_of(fact)
        if unit:
            item["unit"] = unit
        if fact.high is not None:
            item["uln"] = fact.high
        if fact.low is not None:
            item["lln"] = fact.low
        self.rec["observations"].append(item)

    def aside(self, fact: Fact, section: str, field_name: str, reason: str,
              test: str | None = None) -> None:
        """A row that says something the record cannot take as read: a ``set_aside`` entry
        naming the row (it travels with the record, so a worker's reading reaches the
        output: no criterion that reads ``section`` is met on it, and its explanation says
        why)."""
        item = {"section": section, "source": f"{self.ctx.source}#{fact.kind}/{fact.row_id}",
                "field": f"{fact.kind}.{field_name}", "reason": reason}
        if test:
            item["test"] = test
        self.rec.setdefault("set_aside", []).append(item)

    def value_of(self, fact: Fact) -> tuple[float | str | None, str | None]:
        """(value, comparator): a number with its operator as a bound (``operator_concept_id``
        '<', '<=', '>', '>=': the record's ``comparator``; '=' or none: the value itself), a
        value concept's term, or text."""
        if fact.number is not None:
            return fact.number, self.ctx.comparators.get(fact.operator_concept_id or 0)
        if fact.value_concept_id:
            concept = self.ctx.vocabulary.get(fact.value_concept_id)
            if concept is not None:
                hit = self.ctx.term.find(self.ctx.vocabulary.code(concept))
                return (self.ctx.term.label(hit) if hit is not None else concept.name), None
        return (fact.text.strip() if fact.text and fact.text.strip() else None), None

    def unit_of(self, fact: Fact) -> str | None:
        """The unit a row's unit concept and unit text say (once a run per pair)."""
        ctx, concept_id, text = self.ctx, fact.unit_concept_id, fact.unit_text
        return ctx.memoised(ctx.units, (concept_id, text), lambda: _unit(ctx, concept_id, text))

    def read_karnofsky(self, fact: Fact, _found: Any) -> None:
        """A Karnofsky score as the ECOG result its conversion row stands for (as in FHIR)."""
        if fact.start_date is None:
            return
        rules = self.ctx.rules
        data: dict[str, Any] = {}
        bound = fixed("operators").get(fact.operator_concept_id or 0, "=")
        if fact.number is not None and bound != "=":  # a bound is no step of the scale
            data["valueString"] = f"{bound}{fact.number:g}"
        elif fact.number is not None:
            data["valueQuantity"] = {"value": fact.number}
        elif fact.value_concept_id or fact.text:
            data["valueCodeableConcept"] = self.ctx.vocabulary.codeable(fact.value_concept_id,
                                                                        text=fact.text)
        score, shown = _karnofsky_score(data)
        row = rules.karnofsky.get(score) if score is not None else None
        value = (rules.labels[row] if row is not None
                 else f"Karnofsky {shown}, not a step of the scale (0 to 100 by 10)")
        self.rec["observations"].append({"test": self.ctx.term.label(QL.ECOGPerformanceStatus),
                                         "value": value, "date": fact.start_date})

    def read_pregnancy_status(self, fact: Fact, _found: Any) -> None:
        """A pregnancy status is no test (as in FHIR): 'not pregnant' and 'unknown' are not
        read; any other status keeps the pregnancy criterion unknown until a negative test."""
        rules = self.ctx.rules
        value = self.ctx.vocabulary.codeable(fact.value_concept_id, text=fact.text)
        status = rules.term_of(value, QL.PregnancyStatusValue)
        if status in (QL.NotPregnant, QL.PregnancyStatusUnknown) or fact.start_date is None:
            return
        if status == QL.Pregnant:  # a pregnancy on record on that date, as in FHIR
            self.rec.setdefault("reproductive", {}).setdefault("pregnancies", []).append(
                {"date": fact.start_date})
            return
        shown = rules.labels[status] if status is not None else (fact.text or "unreadable")
        self.rec["observations"].append({
            "test": self.ctx.term.label(QL.PregnancyTest), "date": fact.start_date,
            "value": f"pregnancy status: {shown}, a status, not a test result"})


    def read_pregnancy(self, fact: Fact, _found: Any) -> None:
        """A pregnancy recorded as a condition (as an FHIR Condition): from its start to its
        end, or, with no end, not ended (a pregnancy criterion cannot be met whatever a test
        says)."""
        item: dict[str, Any] = {}
        if fact.start_date:
            item["start"] = fact.start_date
        if fact.end_date:
            item["end"] = fact.end_date
        else:
            item["ongoing"] = True
        self.rec.setdefault("reproductive", {}).setdefault("pregnancies", []).append(item)


_TABLE_STEPS = {"person": PersonBuilder.read_person, "death": PersonBuilder.read_death,
                "observation_period": PersonBuilder.read_period,
                "episode_event": PersonBuilder.read_episode_event}  # read whatever the concept
_STEPS = {name[5:]: getattr(PersonBuilder, name) for name in dir(PersonBuilder)
          if name.startswith("read_")}  # a reading's step ('result': read_result)


class Inconsistent(Exception):
    """Rows of one person that contradict each other (the field, and why)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field_name, message


_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d)?)")


def timed(day: str, when: str | None) -> str:
    """A result's date with the time of its datetime (``measurement_datetime``), which orders
    one day's results; none when the datetime is of another day or is midnight (THEMIS: a
    datetime without a time is set to 00:00:00), the CDM's local time, without a zone."""
    if not when or when[:10] != day:
        return day  # (what the pattern would say, without it)
    found = _TIME.match(when)
    if found is None or found.group(1) != day or found.group(2) in ("00:00", "00:00:00"):
        return day
    return f"{day}T{found.group(2)}"


def _unit(ctx: Context, concept_id: int | None, text: str | None) -> str | None:
    concept = ctx.vocabulary.get(concept_id)
    if concept is not None:
        if concept.vocabulary in ctx.unit_vocabularies:
            return concept.code
        return text or concept.name
    return text.strip() if text and text.strip() else None


def _order(fact: Fact, rank: Any = _RANK.get, last: int = len(ORDER)) -> tuple:
    row_id = fact[2]  # (kind, person_id, row_id, concept_id, ..., start_date: Fact's order)
    return (rank(fact[0], last), fact[6] or "", -1 if row_id is None else row_id, fact[3] or 0)


_FACT = partial(tuple.__new__, Fact)  # a row as a Fact (its columns are facts.sql's)
_FIRST = itemgetter(0)


@lru_cache(maxsize=100_000)  # (persons share birth dates: made once a date a process)
def _birth(year: int | None, month: int | None, day: int | None) -> str | None:
    """The birth date year_of_birth, month_of_birth and day_of_birth give, as precisely as
    they give it: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``."""
    if not year:
        return None
    try:
        if month and day:
            return dt.date(year, int(month), int(day)).isoformat()
        if month:
            return dt.date(year, int(month), 1).isoformat()[:7]
        return dt.date(year, 1, 1).isoformat()[:4]
    except ValueError:
        raise Inconsistent("person.day_of_birth" if day else "person.month_of_birth",
                           f"year, month and day of birth {year}-{month}-{day} are no "
                           "date") from None


def build_person(handle: Any, ctx: Context | None = None) -> dict | InputError:
    """The record of the person of a :class:`~.person.OmopPerson` (with the supplement's
    facts), or the input error that stands for it. What the rows say that the record cannot
    take as read is in the record's ``set_aside``, so it reaches the output from whichever
    process assembles the person. ``ctx``: the run's (in the reading process), else this
    process's context of the run, fed with the concepts and drugs the handle carries."""
    source, closed_world = handle.run
    if ctx is None:
        ctx = _context(source, closed_world)
    concepts = ctx.vocabulary.concepts
    if not all(map(concepts.__contains__, map(_FIRST, map(_FIRST, handle.concepts)))):
        for closure in handle.concepts:  # (once a worker has them all: the test above, in C)
            if closure[0][0] in concepts:
                continue  # known with those above it (a concept comes with its whole closure)
            for row in closure:
                if row[0] not in concepts:
                    concepts[row[0]] = Concept(*row)
    if handle.drugs:
        drugs, kinds = ctx.relevance.drugs, ctx.relevance.kinds
        for concept_id, kind, value in handle.drugs:
            drugs[concept_id] = value
            kinds[concept_id] = kind
    builder = PersonBuilder(ctx, int(handle.id))
    try:
        record = builder.build(map(_FACT, handle.facts))
    except Inconsistent as exc:
        return InputError(handle.source, exc.message, record=handle.id, field=exc.field)
    if handle.declared:
        record.setdefault("facts", []).extend(dict(fact) for fact in handle.declared)
    answered = False  # the site supplement has rows of this person
    if handle.supplement is not None:
        path, rows, header, delimiter = handle.supplement
        answered = bool(rows)
        extra = supplement_record(_path(path), handle.id, rows, header, delimiter)
        if isinstance(extra, InputError):
            return extra
        try:
            record = merge(record, extra, path)
        except Conflict as exc:
            return InputError(handle.source, exc.message, record=handle.id, field=exc.field)
    return settle(record, handle.unreadable, source, answered) if handle.unreadable else record


def assemble_person(handle: Any) -> RawRecord | InputError:
    """A handle assembled where it is screened: its record, unvalidated."""
    record = build_person(handle)
    return record if isinstance(record, InputError) else RawRecord(handle.source, record)


_CONTEXTS: dict[tuple[str, bool], Context] = {}
_path = lru_cache(maxsize=16)(Path)  # the supplement's path, made once (not once a person)


def _context(source: str, closed_world: bool) -> Context:
    """This process's context of a run (a worker's: its concepts come with the handles)."""
    key = (source, closed_world)
    if key not in _CONTEXTS:
        _CONTEXTS[key] = Context(terminology(), Vocabulary(None, ""), Relevance(), source,
                                 closed_world)
    return _CONTEXTS[key]
