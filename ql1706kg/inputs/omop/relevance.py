"""Which concepts matter, pushed down into the SQL: computed once per run from the terminology.

No code is listed here. For each table, ``mapping.toml``'s ``[[facts]]`` rules name the ontology
classes its rows can be read as (Test, Neoplasm, MetastasisCode, SystemicAntiCancerDrug ...);
the codes of every term of those classes (the terminology's LOINC, SNOMED CT, ICD-O-3, NCIt,
ATC and RxNorm codes, and the FHIR codings the ontology keeps, ``ql:fhirCoding``) are looked up
in the vocabulary once, with the concepts below them where a rule says so (``concept_ancestor``).
The batch query (sql/facts.sql) then reads only rows of those concepts, of the whole
vocabularies the mapping names (any ICD-O-3 condition is a cancer), or with a source value that
is one of their codes or names (an unmapped row, concept 0). Drugs are read as their
ingredients: the RxNorm ingredients the drug reader (:mod:`ql1706kg.protocol.drugs`) takes for
an anticancer or haematologic support drug, by code, name, INN stem or ATC group.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rdflib import URIRef

from ...protocol.drugs import drug_index
from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from ..fhir.disease_observations import concept_term, disease_codes, system_key
from ..fhir.medications import KEPT_ATC_PREFIXES, _kind, drug_item
from ..fhir.values import reading_rules
from .connect import Database, integers, literal, text_array
from .schema import Schema, render, sql_file
from .vocab import Vocabulary, mapping

DESCENDANTS_AT_ONCE = 1_000  # anchor concepts per concept_ancestor statement


@dataclass
class Relevance:
    """What a run pushes down into every batch, and the drugs it has read."""

    concepts: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    words: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    drugs: dict[int, object] = field(default_factory=dict)  # ingredient (or drug) -> as written
    kinds: dict[int, str] = field(default_factory=dict)  # ... -> 'therapy' or 'support'
    names: list[str] = field(default_factory=list)  # drug names (unmapped rows, no hierarchy)
    stems: list[str] = field(default_factory=list)  # INN stems of the drug reader
    sarcoma: set[int] = field(default_factory=set)

    def values(self, schema: Schema) -> dict[str, str]:
        """The @names of facts.sql (all but its persons': read.batch_values)."""
        table = mapping()
        out = {"cdm": schema.cdm, "vocab": schema.vocabulary,
               "ingredients": integers(sorted(self.drugs)),
               "drug_concepts": integers(sorted(self.drugs)),
               "episode_kinds": integers(sorted({*table["episodes"]["disease"],
                                                 *table["episodes"]["regimen"]})),
               "event_fields": integers(sorted(table["event_fields"].values()))}
        whole = table.get("whole_vocabularies", {})
        for name in ("condition_occurrence", "measurement", "observation",
                     "procedure_occurrence", "specimen"):
            out[f"{name}_concepts"] = integers(sorted(self.concepts[name]))
            out[f"{name}_words"] = text_array(sorted(self.words[name]))
            out[f"{name}_vocabularies"] = _texts(whole.get(name, []))
        return out


def _texts(values: list[str]) -> str:
    return ", ".join(literal(v) for v in values) or "NULL"


def _likes(column: str, patterns: list[str]) -> str:
    """``lower(column) LIKE '%p%' OR ...`` (a pattern's own % and _ are escaped away)."""
    clean = sorted({p.replace("%", "").replace("_", "") for p in patterns if p.strip()})
    return " OR ".join(f"lower({column}) LIKE {literal('%' + p + '%')}" for p in clean) \
        or "1 = 0"


def class_codes(term: Terminology, cls: URIRef) -> frozenset[tuple[str, str]]:
    """(system key, code) of every term of a class: the terminology's codes and the FHIR
    codings the ontology keeps (disease codes, reading rules)."""
    return _by_class(term).codes(cls)


def class_names(term: Terminology, cls: URIRef) -> frozenset[str]:
    """The (folded) names of every term of a class."""
    return _by_class(term).names(cls)


class _ByClass:
    """The codes and names of each class a run asks for, each read once for a terminology
    (a run asks for each class a few times: per table, for the unmapped rows' codes, for the
    sarcomas): one walk over the tables per class, a term's membership a set lookup."""

    def __init__(self, term: Terminology) -> None:
        self.term = term
        self._codes: dict[URIRef, frozenset[tuple[str, str]]] = {}
        self._names: dict[URIRef, frozenset[str]] = {}

    def members(self, cls: URIRef) -> frozenset[URIRef]:
        """The class and every term the closure puts in it."""
        return frozenset({cls, *(iri for iri, types in self.term.types.items()
                                 if cls in types)})

    def codes(self, cls: URIRef) -> frozenset[tuple[str, str]]:
        found = self._codes.get(cls)
        if found is None:
            within = self.members(cls)
            rules = reading_rules()
            found = self._codes[cls] = frozenset({
                *((str(prop), code) for (prop, code), iri in self.term.by_code.items()
                  if prop is not None and iri in within),
                *(key for key, iri in disease_codes().codings.items() if iri in within),
                *((system_key(system), code) for (system, code), iri in rules.codings.items()
                  if iri in within or rules.is_a(iri, cls))})
        return found

    def names(self, cls: URIRef) -> frozenset[str]:
        found = self._names.get(cls)
        if found is None:
            within = self.members(cls)
            found = self._names[cls] = frozenset(
                name for name, iris in self.term.by_name.items()
                if not within.isdisjoint(iris))
        return found


def _by_class(term: Terminology) -> _ByClass:
    """The class tables of ``term`` (those of the last terminology asked for are kept: one a
    protocol)."""
    global _LAST
    if _LAST is None or _LAST.term is not term:
        _LAST = _ByClass(term)
    return _LAST


_LAST: _ByClass | None = None


def source_codes(term: Terminology) -> dict[str, list[dict]]:
    """Folded code -> the codings it is in the code systems the mapping names, for every code
    of the classes a table's rows may be read as: an unmapped row (concept 0) whose source
    value is such a code ("C78.7", "1920-8") is read as that code, as its concept would be,
    not by name (what the words pushed down into facts.sql let out). Once a process."""
    known = _SOURCE_CODES.get(id(term))
    if known is not None and known[0] is term:
        return known[1]
    systems = mapping()["vocabularies"]
    by_key = vocabularies_by_key()
    out: dict[str, list[dict]] = defaultdict(list)
    for cls in sorted({rule["class"] for rule in mapping()["facts"]}):
        for key, code in sorted(class_codes(term, QL[cls])):
            for vocabulary in by_key.get(key, ()):
                coding = {"system": systems[vocabulary], "code": code}
                if coding not in out[code.casefold()]:
                    out[code.casefold()].append(coding)
    _SOURCE_CODES[id(term)] = (term, dict(out))
    return _SOURCE_CODES[id(term)][1]


_SOURCE_CODES: dict[int, tuple[Terminology, dict[str, list[dict]]]] = {}


def vocabularies_by_key() -> dict[str, list[str]]:
    """system key -> the OMOP vocabularies whose codes are that system's."""
    out: dict[str, list[str]] = defaultdict(list)
    for vocabulary, system in mapping()["vocabularies"].items():
        out[system_key(system)].append(vocabulary)
    return out


def compute(db: Database, schema: Schema, vocabulary: Vocabulary, term: Terminology
            ) -> Relevance:
    """Look up, once, the concepts of every table's classes, their descendants, the drugs and
    the sarcomas (for the default candidates)."""
    found = Relevance()
    by_key = vocabularies_by_key()
    hierarchy = "concept_ancestor" in schema.nonempty
    rules = []
    for rule in mapping()["facts"]:
        tables = [t for t in rule["tables"] if t not in mapping()["drugs"]["tables"]]
        if tables:  # else drugs, read as ingredients below
            rules.append((rule, tables, class_codes(term, QL[rule["class"]])))
    found_anchors = _by_codes(db, schema, vocabulary, [
        sorted({(v, code) for key, code in codes for v in by_key.get(key, ())})
        for _, _, codes in rules])
    for (rule, tables, codes), anchors in zip(rules, found_anchors, strict=True):
        cls = QL[rule["class"]]
        concepts = set(anchors)
        if hierarchy and rule.get("descendants") and anchors:
            concepts |= _descendants(db, schema, vocabulary, anchors)
        words = {code.casefold() for _, code in codes} | class_names(term, cls)
        for table in tables:
            found.concepts[table] |= concepts
            found.words[table] |= words
    _drugs(db, schema, vocabulary, term, found)
    found.sarcoma = _sarcomas(db, schema, vocabulary, term, found)
    return found


def _by_codes(db: Database, schema: Schema, vocabulary: Vocabulary,
              pairs: list[list[tuple[str, str]]]) -> list[set[int]]:
    """The concepts of each list of (vocabulary, code) pairs, looked up in one statement for
    all (a statement costs the database ~2 ms of planning whatever its size: 11 -> 1 a run),
    each row given to the lists that hold its own pair; a row that matches none of them
    exactly (a collation that folds case) has every list looked up on its own."""
    wanted: dict[tuple[str, str], list[int]] = defaultdict(list)
    for at, some in enumerate(pairs):
        for pair in some:
            wanted[pair].append(at)
    out: list[set[int]] = [set() for _ in pairs]
    query = sql_file("run.sql")["concepts_by_code"].text
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 2_000):
        values = ", ".join(f"({literal(v)}, {literal(c)})"
                           for v, c in ordered[start:start + 2_000])
        for row in db.rows(render(query, {"vocab": schema.vocabulary, "codes": values})):
            concept = vocabulary.add(row)
            owners = wanted.get((concept.vocabulary, concept.code))
            if owners is None:
                return [_by_code(db, schema, vocabulary, some) for some in pairs]
            for at in owners:
                out[at].add(concept.id)
    return out


def _by_code(db: Database, schema: Schema, vocabulary: Vocabulary,
             pairs: list[tuple[str, str]]) -> set[int]:
    if not pairs:
        return set()
    query = sql_file("run.sql")["concepts_by_code"].text
    out = set()
    for start in range(0, len(pairs), 2_000):
        values = ", ".join(f"({literal(v)}, {literal(c)})" for v, c in pairs[start:start + 2000])
        for row in db.rows(render(query, {"vocab": schema.vocabulary, "codes": values})):
            out.add(vocabulary.add(row).id)
    return out


def _descendants(db: Database, schema: Schema, vocabulary: Vocabulary, anchors: set[int]
                 ) -> set[int]:
    query = sql_file("run.sql")["descendants"].text
    ordered, out = sorted(anchors), set()
    for start in range(0, len(ordered), DESCENDANTS_AT_ONCE):
        chunk = integers(ordered[start:start + DESCENDANTS_AT_ONCE])
        for row in db.rows(render(query, {"vocab": schema.vocabulary, "concepts": chunk})):
            out.add(vocabulary.add(row[:5], anchor=int(row[5])).id)
    return out


def _drugs(db: Database, schema: Schema, vocabulary: Vocabulary, term: Terminology,
           found: Relevance) -> None:
    """The ingredients (with concept_ancestor) or drug concepts (without) that the drug reader
    takes for an anticancer or support drug, each with its reading."""
    index = drug_index(term)
    table = mapping()["drugs"]
    drugs = index.drugs
    names = sorted({name for name, iris in term.by_name.items()
                    if any(i in drugs for i in iris) and len(name) > 2})
    stems = sorted({suffix for suffix, _ in index.stems})
    rxnorm = {code for (prop, code), iri in term.by_code.items()
              if prop == QL.rxnormCode and iri in drugs}
    atc = {code for (prop, code), iri in term.by_code.items() if prop == QL.atcCode}
    found.names, found.stems = names, stems
    run = sql_file("run.sql")
    common = {"vocab": schema.vocabulary, "drug_codes": _texts(sorted(rxnorm))}
    if "concept_ancestor" in schema.nonempty:
        atc_patterns = " OR ".join([*(f"x.concept_code LIKE {literal(p + '%')}"
                                      for p in KEPT_ATC_PREFIXES),
                                    f"x.concept_code IN ({_texts(sorted(atc))})"])
        query = render(run["ingredients"].text, {
            **common, "atc": literal(table["atc_vocabulary"]), "atc_patterns": atc_patterns,
            "ingredient_class": literal(table["ingredient_class"]),
            "drug_vocabularies": _texts(table["vocabularies"]),
            "drug_names": _texts(names),
            "stem_patterns": " OR ".join(f"lower(i.concept_name) LIKE {literal('%' + s)}"
                                         for s in stems) or "1 = 0"})
        rows = db.rows(query)
    else:
        rows = [(*row, None) for row in db.rows(render(run["drug_concepts"].text, {
            **common, "name_patterns": _likes("c.concept_name", [*names, *stems])}))]
    atc_of: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        concept = vocabulary.add(row[:5])
        if row[5]:
            atc_of[concept.id].append(str(row[5]))
        else:
            atc_of.setdefault(concept.id, [])
    atc_system = mapping()["vocabularies"].get(table["atc_vocabulary"], "")
    for concept_id, codes in atc_of.items():
        concept = vocabulary.concepts[concept_id]  # kept by vocabulary.add above
        codings = [vocabulary.coding(concept),
                   *({"system": atc_system, "code": c} for c in sorted(set(codes)))]
        item = drug_item(index, {"coding": codings})
        kind = _kind(index, item, False)
        if kind in ("therapy", "support"):
            found.drugs[concept_id] = item.value
            found.kinds[concept_id] = kind


def _sarcomas(db: Database, schema: Schema, vocabulary: Vocabulary, term: Terminology,
              found: Relevance) -> set[int]:
    """Concepts the terminology reads as a sarcoma: of the conditions' relevant concepts, and
    of the whole vocabularies (ICD-O-3 pairs) by the morphologies of its sarcoma codes."""
    whole = mapping().get("whole_vocabularies", {}).get("condition_occurrence", [])
    prefixes = sorted({code[:4] for key, code in class_codes(term, QL.Sarcoma)
                       if key == str(QL.icdO3Morphology) and code[:4].isdigit()})
    if whole and prefixes:
        query = render(sql_file("run.sql")["concepts_by_morphology"].text, {
            "vocab": schema.vocabulary, "vocabularies": _texts(whole), "width": "4",
            "prefixes": _texts(prefixes)})
        for row in db.rows(query):
            found.concepts.setdefault("sarcoma_candidates", set()).add(vocabulary.add(row).id)
    ids = found.concepts["condition_occurrence"] | found.concepts.pop("sarcoma_candidates",
                                                                      set())
    return {i for i in ids if concept_term(term, vocabulary.codeable(i), QL.Sarcoma)[0]
            is not None}
