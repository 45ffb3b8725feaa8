"""Facts of the kinds the protocol declares (``ql:FactKind``), read from an OMOP CDM.

A protocol folder may declare kinds the engine has no section for (an HBsAg result, a live
vaccine, an autoimmune disease: protocol/fact_kinds.py), with their codes as FHIR
``system|code`` tokens and, for a coded kind, the value codings and the label each stands for.
Once per run (:func:`plan`) every kind's codes are looked up in the CDM's vocabulary (the system
through ``mapping.toml``'s ``[vocabularies]``, as the built-in sections' codes are), with the
standard concepts below them, and so are its value codings; per batch of persons one statement
(``sql/declared.sql``, beside facts.sql) reads the rows of those concepts, which
:func:`facts_of` turns into the record's ``facts`` items, as the JSON record and the FHIR
reader give them. A value the kind cannot read is given as written (the lift sets it aside).

A kind none of whose codes the vocabulary holds cannot be read from this database at all: no
row could ever say it, so its absence says nothing. Every person then gets it set aside
(:func:`settle`), unless the site supplement gives that person a fact of it or records it
complete (``facts_complete``), and the run says so once (a note). Nothing here costs anything
when the protocol declares no kind of its own (the bundled protocol): :func:`plan` is None.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ...protocol.fact_kinds import FactKind
from ...protocol.terminology import Terminology
from ..fhir.disease_observations import system_key
from .connect import Database, integers, text_array
from .relevance import _by_code, _descendants, vocabularies_by_key
from .schema import BATCH_PLACEHOLDERS, Schema, render, sql_file
from .vocab import Vocabulary, fixed, mapping

SQL = "declared.sql"


@dataclass
class DeclaredPlan:
    """What a run reads of the declared kinds: per table the concepts and codes of the kinds
    its rows may be, their value concepts, the kinds this database cannot say (with why), and
    the batch statement (its persons' placeholders left to fill: read.batch_values)."""

    kinds: dict[str, dict[int, tuple[str, ...]]] = field(default_factory=dict)  # table -> ...
    words: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # table -> ...
    values: dict[str, dict[int, str]] = field(default_factory=dict)  # key -> concept -> label
    declared: dict[str, FactKind] = field(default_factory=dict)
    unreadable: tuple[tuple[str, str, str], ...] = ()  # (kind, what lacks it, why)
    statement: str = ""


def declared_kinds(term: Terminology) -> dict[str, FactKind]:
    """The kinds the protocol declares that no built-in section reads, by record key."""
    return {key: kind for key, kind in term.fact_kinds.items() if kind.built_in is None}


def tables_of(kind: FactKind) -> list[str]:
    """The CDM tables whose rows may be facts of a kind (by its FHIR resource types)."""
    by_type = mapping()["declared"]["tables"]
    return sorted({t for rtype in kind.fhir_types for t in by_type.get(rtype, ())})


def plan(db: Database, schema: Schema, vocabulary: Vocabulary, term: Terminology,
         source: str) -> DeclaredPlan | None:
    """Look up every declared kind's codes and value codings once, in one statement (and
    the concepts below them in one more); None: the protocol declares no kind of its own,
    and nothing is read."""
    kinds = declared_kinds(term)
    if not kinds:
        return None
    by_key = vocabularies_by_key()
    codes = {key: _pairs(kind.codes, by_key) for key, kind in kinds.items()}
    values = {key: [(pair, label) for (system, code), label in kind.values
                    for pair in _pairs([(system, code)], by_key)]
              for key, kind in kinds.items()}
    wanted = {p for pairs in codes.values() for p in pairs}
    wanted |= {p for said in values.values() for p, _label in said}
    # every concept of a code: a vocabulary may hold one code twice (a deprecated or upgraded
    # concept beside the valid one), and a row of either is a fact of the kind
    known: dict[tuple[str, str], set[int]] = defaultdict(set)
    for c in map(vocabulary.get, _by_code(db, schema, vocabulary, sorted(wanted))):
        if c is not None:
            known[(c.vocabulary, c.code)].add(c.id)
    found = DeclaredPlan(declared=kinds)
    concepts: dict[int, set[str]] = defaultdict(set)
    unreadable = []
    for key in sorted(kinds):
        anchors = {i for p in codes[key] for i in known.get(p, ())}
        if not tables_of(kinds[key]):
            unreadable.append((key, "site", f"no table of the CDM is read as {key} (FHIR "
                                    f"{', '.join(kinds[key].fhir_types) or 'no resource'}"
                                    "); give it in the site supplement"))
        elif not codes[key]:
            unreadable.append((key, "site", f"no code of {key} is in a vocabulary a CDM "
                               "holds; give it in the site supplement"))
        elif not anchors:
            unreadable.append((key, "vocabulary", "the database's vocabulary has no concept "
                               f"for any of {key}'s codes; give it in the site supplement"))
        else:
            for concept_id in anchors:
                concepts[concept_id].add(key)
            found.values[key] = {i: label for p, label in values[key]
                                 for i in known.get(p, ())}
    if concepts and "concept_ancestor" in schema.nonempty:
        for below in _descendants(db, schema, vocabulary, set(concepts)):
            concept = vocabulary.get(below)
            for anchor in concept.anchors if concept is not None else ():
                concepts[below] |= concepts.get(anchor, set())
    for concept_id, keys in concepts.items():
        for key in keys:
            for table in tables_of(kinds[key]):
                found.kinds.setdefault(table, {}).setdefault(concept_id, ())
                found.kinds[table][concept_id] += (key,)
                for _vocabulary_id, code in codes[key]:
                    words = found.words.setdefault(table, {})
                    if key not in words.get(code.casefold(), ()):
                        words[code.casefold()] = (*words.get(code.casefold(), ()), key)
    found.unreadable = tuple(unreadable)
    if found.kinds:
        found.statement = _statement(schema, source, found)
    return found


def _pairs(codes, by_key: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(vocabulary_id, concept_code) of ``system|code`` tokens (a system no OMOP vocabulary
    stands for gives none)."""
    return sorted({(v, code) for system, code in codes
                   for v in by_key.get(system_key(system), ())})


def _statement(schema: Schema, source: str, found: DeclaredPlan) -> str:
    """The batch CTE (facts.sql's: the persons are bound one way for both statements) and
    the UNION of declared.sql's sections for the tables some kind may be in and the database
    has (their columns checked), each with its concepts and codes."""
    selects = []
    for part in sql_file(SQL).values():
        if part.name not in found.kinds or not schema.usable(part, source):
            continue
        schema.check(part, source)
        selects.append(render(schema.fill_optional(part.text, part.aliases), {
            **BATCH_PLACEHOLDERS, "cdm": schema.cdm, "vocab": schema.vocabulary,
            "concepts": integers(sorted(found.kinds[part.name])),
            "words": text_array(sorted(found.words.get(part.name, {})))}))
    if not selects:
        return ""
    return sql_file("facts.sql")["batch"].text + "\n" + "\nUNION ALL\n".join(selects)


def read_batch(db: Database, found: DeclaredPlan, vocabulary: Vocabulary,
               batch: dict[str, str], source: str) -> dict[int, tuple[dict, ...]]:
    """person -> the facts of declared kinds their rows give (one statement for the batch;
    ``batch`` what its persons' placeholders stand for: read.batch_values)."""
    if not found.statement:
        return {}
    rows = db.rows(render(found.statement, batch))
    vocabulary.fetch({i for row in rows for i in (row[3], row[9], row[11]) if i})
    out: dict[int, list[dict]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r[1], r[0], r[6] or "", r[2] or 0)):
        out[int(row[1])] += facts_of(found, vocabulary, row, source)
    return {person: tuple(facts) for person, facts in out.items()}


def facts_of(found: DeclaredPlan, vocabulary: Vocabulary, row: tuple, source: str
             ) -> list[dict]:
    """The facts one row of declared.sql gives: one per kind its concept names."""
    table, concept_id, source_concept_id, source_value, start, end = (*row[:1], *row[3:8])
    status = row[13]
    by_concept = found.kinds.get(table, {})
    keys = by_concept.get(concept_id or 0) or by_concept.get(source_concept_id or 0) or \
        found.words.get(table, {}).get((source_value or "").strip().casefold(), ())
    concept = vocabulary.get(concept_id) or vocabulary.get(source_concept_id)
    code: Any = (vocabulary.coding(concept) if concept is not None
                 else (source_value or "").strip() or None)
    table_status = mapping()["declared"]
    said = (status or "").strip() or (
        table_status["open_status"].get(table) if end is None else None) or \
        table_status["status"].get(table)
    out = []
    for key in keys:
        kind = found.declared[key]
        fact: dict[str, Any] = {"kind": key}
        if code is not None:
            fact["code"] = code
        value, unit = _value(found, vocabulary, kind, row)
        if value is not None:
            fact["value"] = value
        if unit is not None:
            fact["unit"] = unit
        if start:
            fact["date"] = start
        if end:
            fact["end"] = end
        if said:
            fact["status"] = said
        out.append(fact)
    return out


def _value(found: DeclaredPlan, vocabulary: Vocabulary, kind: FactKind, row: tuple
           ) -> tuple[Any, str | None]:
    """(value, unit) of a row as its kind reads it; a value it cannot read is given as
    written (a concept's name, the text), so that the lift sets it aside."""
    number, value_concept_id, text = row[8], row[9], row[10]
    bound = fixed("operators").get(row[14] or 0, "=")  # OMOP's operator concepts
    value_concept = vocabulary.get(value_concept_id)
    written = (value_concept.name if value_concept is not None else None) or (
        text.strip() if text and text.strip() else None)
    if kind.value_type == "presence":
        return None, None
    if kind.value_type == "coded":
        label = found.values.get(kind.key, {}).get(value_concept_id or 0)
        return (label, None) if label is not None else (written or _number(number, bound),
                                                         None)
    if kind.value_type == "boolean":
        if value_concept is not None:
            said = mapping()["declared"]["booleans"].get(
                f"{value_concept.vocabulary}|{value_concept.code}")
            if said is not None:
                return bool(said), None
        return written or _number(number, bound), None
    if kind.value_type == "quantity":
        if number is None:
            return written, None
        if bound != "=":  # a bound is no exact value: as written, so the lift sets it aside
            return _number(number, bound), _unit(vocabulary, row)
        return number, _unit(vocabulary, row)
    if kind.value_type == "date":
        return written or row[6], None
    return written, None


def _number(number: float | None, bound: str = "=") -> str | None:
    """A number as written, with its bound ('<5'; '=' is none)."""
    return None if number is None else f"{'' if bound == '=' else bound}{number:g}"


def _unit(vocabulary: Vocabulary, row: tuple) -> str | None:
    """The unit's UCUM code (its concept's code in a vocabulary the mapping names), else the
    unit as written."""
    concept = vocabulary.get(row[11])
    if concept is not None and concept.vocabulary in mapping()["vocabularies"]:
        return concept.code
    text = row[12]
    return text.strip() if text and text.strip() else (concept.name if concept else None)


def note(found: DeclaredPlan | None, source: str) -> str | None:
    """The run's one note on the kinds this database cannot say (None: none)."""
    if found is None or not found.unreadable:
        return None
    return (f"{len(found.unreadable)} declared fact kind(s) cannot be read from {source} and "
            "are set aside for every person unless the site supplement gives them (a fact or "
            "a facts_complete row): " + "; ".join(why for _key, _field, why in found.unreadable))


def settle(record: dict, unreadable: tuple[tuple[str, str, str], ...], source: str,
           answered: bool = False) -> dict:
    """Set aside each kind this database cannot say, for a person the supplement (already
    merged into ``record``) gives no fact of it and does not record complete. A kind no CDM
    can hold at all (``site``: no code in a vocabulary, no table) is the supplement's alone:
    for a person it has rows of (``answered``), it is that person's record of them, read as a
    JSON record is (what it lacks, the person does not have). A kind with standard codes this
    database's vocabulary lacks stays set aside: its facts may be in the CDM unmapped."""
    if not unreadable:
        return record
    given = {f.get("kind") for f in record.get("facts") or () if isinstance(f, dict)}
    given |= set(record.get("facts_complete") or ())
    for key, lacking, why in unreadable:
        if key not in given and not (answered and lacking == "site"):
            record.setdefault("set_aside", []).append({
                "section": "facts", "kind": key, "source": source, "field": lacking,
                "reason": why})
    return record
