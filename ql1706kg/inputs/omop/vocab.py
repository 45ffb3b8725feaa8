"""OMOP concepts as the readers see them: the mapping file, a run's concept cache, codings.

An OMOP concept is (vocabulary_id, concept_code, concept_name); the FHIR reader and the
terminology know codes by their code system. :class:`Vocabulary` turns a concept into a FHIR
``Coding`` (the system from ``mapping.toml``'s ``[vocabularies]``, the code cut as its
``[code_patterns]`` say, the name as display), so one reading of codes serves FHIR and OMOP
alike (:mod:`ql1706kg.inputs.fhir.codes`, :mod:`ql1706kg.protocol.drugs`). Concept id 0 is OMOP's
"no matching concept": it names nothing, and the row's source concept or source value is read
instead. A concept below one the terminology knows (``concept_ancestor``) carries that one's
coding after its own.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .connect import Database, integers
from .schema import render, sql_file

FETCH_AT_ONCE = 5_000  # concept ids per lookup statement


@cache
def mapping() -> dict[str, Any]:
    """The OMOP -> record mapping (``mapping.toml``), read once."""
    text = (resources.files(__package__) / "mapping.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def fixed(table: str) -> dict[int, str]:
    """One of the mapping's tables of OMOP's fixed concept ids (gender, operators)."""
    return {int(key): str(value) for key, value in mapping()[table].items()}


@dataclass(frozen=True)
class Concept:
    """One OMOP concept; ``anchors``: the concepts above it that the terminology knows."""

    id: int
    vocabulary: str
    code: str
    name: str
    concept_class: str
    anchors: tuple[int, ...] = ()


class Vocabulary:
    """The concepts a run has seen, fetched from the database once each."""

    def __init__(self, db: Database | None, vocabulary_schema: str) -> None:
        """``db`` None: a worker's, whose concepts come with the persons it assembles."""
        self.db, self.schema = db, vocabulary_schema
        self.concepts: dict[int, Concept] = {}
        table = mapping()
        self.systems: dict[str, str] = dict(table["vocabularies"])
        self.patterns = {vocab: re.compile(pattern)
                         for vocab, pattern in table.get("code_patterns", {}).items()}
        self.source_codes = {vocab: re.compile(pattern, re.IGNORECASE) for vocab, pattern
                             in table.get("source_value_codes", {}).items()}
        self.codes_by_text: dict[str, list[dict]] = {}  # relevance.source_codes(), if set

    def add(self, row: tuple, anchor: int | None = None) -> Concept:
        """Keep a concept row (id, vocabulary, code, name, class); ``anchor``: a known
        concept above it."""
        concept_id = int(row[0])
        known = self.concepts.get(concept_id)
        anchors = known.anchors if known else ()
        if anchor is not None and anchor != concept_id and anchor not in anchors:
            anchors = (*anchors, anchor)
        concept = Concept(concept_id, str(row[1] or ""), str(row[2] or ""), str(row[3] or ""),
                          str(row[4] or ""), anchors)
        self.concepts[concept_id] = concept
        return concept

    def fetch(self, ids: set[int]) -> None:
        """Look up the concepts among ``ids`` not seen yet (0 and unknown ids stay unknown)."""
        missing = sorted(i for i in ids if i and i not in self.concepts)
        query = sql_file("run.sql")["concepts"].text
        for start in range(0, len(missing), FETCH_AT_ONCE):
            chunk = missing[start:start + FETCH_AT_ONCE]
            assert self.db is not None, "a worker's vocabulary fetches nothing"
            for row in self.db.rows(render(query, {"vocab": self.schema,
                                                   "concepts": integers(chunk)})):
                self.add(row)

    def get(self, concept_id: int | None) -> Concept | None:
        return self.concepts.get(concept_id) if concept_id else None

    def code(self, concept: Concept) -> str:
        """The concept's code as the terminology reads it (an ICD-O-3 pair cut to its
        morphology)."""
        pattern = self.patterns.get(concept.vocabulary)
        found = pattern.match(concept.code) if pattern else None
        return found.group(1) if found else concept.code

    def coding(self, concept: Concept) -> dict:
        """The concept as a FHIR Coding: a vocabulary the mapping does not name keeps its
        OMOP name as the system (no reader takes its code, only its display)."""
        out = {"system": self.systems.get(concept.vocabulary, concept.vocabulary),
               "code": self.code(concept)}
        if concept.name:
            out["display"] = concept.name
        return out

    def codeable(self, *concept_ids: int | None, text: str | None = None) -> dict:
        """A CodeableConcept of the given concepts (the first known one first) and their
        anchors, and ``text`` (the row's source value: read by name when no coding is known)."""
        codings: list[dict] = []
        for concept_id in concept_ids:
            concept = self.get(concept_id)
            if concept is None:
                continue
            codings.append(self.coding(concept))
            codings += [self.coding(a) for a in map(self.get, concept.anchors) if a is not None]
        if not codings and text:
            codings = self.source_coding(text)
        out: dict[str, Any] = {"coding": codings}
        if text:
            out["text"] = text
        return out

    def source_coding(self, text: str) -> list[dict]:
        """An unmapped source value written in a vocabulary's OMOP code form (an ICD-O-3 pair
        "8890/3-C49.9") as that vocabulary's code; else, one of the terminology's codes
        ("C78.7", "1920-8") as that code in each system it is one of; else nothing (the text
        is read by name)."""
        for vocab, pattern in self.source_codes.items():
            found = pattern.match(text.strip())
            if found and vocab in self.systems:
                return [{"system": self.systems[vocab], "code": found.group(1).upper()}]
        code = text.strip()
        folded = code.casefold()
        if folded in self.codes_by_text:
            return [dict(c) for c in self.codes_by_text[folded]]
        # a code below one of the terminology's, after a dot ("C77.9" under "C77"): that
        # code, in the systems of its parent (whose reader takes the parent for it)
        dot = folded.find(".")
        for cut in range(len(folded) - 1, dot - 1 if dot > 0 else len(folded), -1):
            parent = self.codes_by_text.get(folded[:cut].rstrip("."))
            if parent:
                return [{"system": c["system"], "code": code.upper()} for c in parent]
        return []
