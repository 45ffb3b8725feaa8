"""Drugs as real records write them: which drugs a name, a code or a display stands for.

Exports code drugs below the ingredient level (an RxNorm clinical drug "10 ML <ingredient>
hydrochloride 2 MG/ML Injection", a branded one "... [Keytruda]", an NDC product "Adcetris", a
SNOMED CT product) and people write strengths, salts, routes and regimens ("AI (<drug> +
<drug>)", "<DRUG> 240 MG IV", "<Tall-Man lettering>"). :class:`DrugIndex` reads all of these
the same way for the FHIR reader and for lifting a record's names and codes:

* a code the terminology knows, else a code of ``data/drug-codes.json`` (RxNorm and SNOMED CT
  codes read from public HL7 examples, each with its source), else the display;
* a text: the whole of it as a name, else every drug name (labels, synonyms, brands of
  ``ontology/terminology-drugs.ttl``) inside it, the longest first, with strengths, units, dose
  forms, routes, salts and connectors set aside; words left over are a drug the terminology
  does not know, never dropped;
* a drug the terminology does not know is narrowed by its WHO INN stem (an unknown ``-tinib``
  is a kinase inhibitor) or its ATC group, and typed with the classes it may still
  belong to (``ql:Possible*``): a criterion turns unknown only when such a class could change
  its outcome.

Everything is indexed once per terminology (:func:`drug_index`); a reading is memoised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from rdflib import URIRef

from .namespaces import QL

RXNORM_SYSTEMS = frozenset({"rxnorm", "http://www.nlm.nih.gov/research/umls/rxnorm"})
SNOMED_SYSTEMS = frozenset({"snomed-ct", "snomed", "sct", "http://snomed.info/sct"})
ATC_SYSTEMS = frozenset({"atc", "http://www.whocc.no/atc"})

# Words that say how much, in what form, by which route or how often: set aside in a text.
_SET_ASIDE_WORDS = """
mg g mcg ug µg microgram micrograms milligram milligrams gram grams kg ml l mmol iu unt unit
units u m2 hr hrs h hour hours d day days wk week weeks weekly q3w q2w q4w qw daily bid tid od
actuat actuation mg/ml ml/h per x each every cycle cycles course courses dose doses total
injection injectable inj solution suspension concentrate powder lyophilized lyophilised
reconstitution for infusion tablet tablets tab tabs capsule capsules cap caps film coated
oral extended release delayed sustained chewable disintegrating vial vials syringe prefilled
pen kit pack prefill bag bottle ampoule ampoules intravenous iv ivgtt im sc subcutaneous
intramuscular po orally bolus continuous drip intrathecal topical cream ointment gel patch
hydrochloride hcl dihydrochloride sulfate sulphate mesylate mesilate dimesylate citrate
sodium disodium potassium calcium malate tosylate maleate tartrate acetate phosphate besylate
bromide hydrobromide fumarate succinate lactate hemihydrate monohydrate anhydrous free base
salt liposomal liposome pegylated conventional generic biosimilar brand product products
medicinal containing only of in as the a an at to from on regimen regimens protocol schedule
day1 line first second third 1st 2nd 3rd 1l 2l adjuvant neoadjuvant palliative induction
consolidation maintenance arm study trial given received treated therapy treatment
chloride saline normal dextrose glucose water nacl d5w lactated ringer ringers sterile diluent
"""
_SET_ASIDE = frozenset(_SET_ASIDE_WORDS.split())
_CONNECTORS = frozenset({"+", "and", "with", "plus", "/", "&", ",", ";", "then", "followed",
                         "by", "combined", "combination", "together", "w"})
_NEGATIONS = frozenset({"no", "non", "not", "without", "except", "excluding", "never", "nor",
                        "or", "either", "placebo", "vs", "versus"})
_NUMBERISH = re.compile(r"^(\d+([.,]\d+)?[a-zµ%/]*|[a-z]\d+|q\d+[a-z]*|x\d+|d\d+(-\d+)?)$")
_TOKEN = re.compile(r"[\w*±]+|\+|/|&|,|;|[()\[\]{}]")
_NO_IN_PHRASE = frozenset({"plasma", "cryo"})  # generic words: a name only as a whole text
_ABBREVIATION = re.compile(r"^[A-Z]{2,5}$")


@dataclass(frozen=True)
class Part:
    """A drug named but not identified: what was written and what it may still be."""

    text: str
    implied: tuple[URIRef, ...] = ()  # classes it is known to belong to (stem, ATC, class name)
    possible: tuple[URIRef, ...] = ()  # ql:Possible* classes it may belong to
    stem: str | None = None  # "-tinib"
    kept: bool = False  # its stem or class alone says a FHIR reader must keep it
    unrecognised: bool = True  # False for a class name (a drug class's label): the class is known


@dataclass(frozen=True)
class DrugReading:
    """What a name, code or display stands for: known drugs, and parts not identified."""

    written: str
    known: tuple[URIRef, ...] = ()
    parts: tuple[Part, ...] = ()

    @property
    def identified(self) -> bool:
        return bool(self.known) and not self.parts

    @property
    def single(self) -> URIRef | None:
        """The one known drug this stands for, when it is exactly one."""
        return self.known[0] if len(self.known) == 1 and not self.parts else None


class DrugIndex:
    """Drug names, codes, stems and class facts of one terminology, indexed once."""

    def __init__(self, term) -> None:
        self.term = term
        facts = term.drug_facts
        generic = {QL.Drug, QL.UnrecognisedDrug, *(p for p, _ in facts.get("possibilityOf", ()))}
        self.drugs = {iri for iri, types in term.types.items()
                      if QL.Drug in types and iri not in generic}
        self.alt_labels: dict[URIRef, tuple[str, ...]] = {}
        for iri, name in term.drug_facts.get("altLabel", ()):
            self.alt_labels[iri] = (*self.alt_labels.get(iri, ()), str(name))
        self.phrases: dict[str, list[tuple[tuple[str, ...], URIRef, bool]]] = {}
        abbreviations = set()
        for iri in self.drugs:  # abbreviations ("ADM", "IFO"): only as written, in capitals
            for name in self._raw_names(iri):
                if _ABBREVIATION.match(name):
                    abbreviations.add(name.casefold())
                    self.phrases.setdefault(name, []).append(((name,), iri, True))
        for name, iris in term.by_name.items():
            hits = [i for i in iris if i in self.drugs]
            if hits and name not in _NO_IN_PHRASE and name not in abbreviations:
                words = tuple(name.split())
                self.phrases.setdefault(words[0], []).append((words, hits[0], False))
        for candidates in self.phrases.values():
            candidates.sort(key=lambda c: -len(c[0]))
        self.stems = sorted(((str(sfx), stem) for stem, sfx in facts.get("stemSuffix", ())),
                            key=lambda s: -len(s[0]))
        self.stem_class = dict(facts.get("stemImpliesClass", ()))
        self.stem_kept = {s for s, v in facts.get("keptWhenUnclassified", ()) if v is True}
        self.rules_out: dict[URIRef, set[URIRef]] = {}
        for subject, ruled in facts.get("rulesOut", ()):
            self.rules_out.setdefault(subject, set()).add(ruled)
        self.decisive = {decisive: possible
                         for possible, decisive in facts.get("possibilityOf", ())}
        self.reasons = {str(code): value for reason, value in facts.get("indicatesIntolerance", ())
                        for r, code in facts.get("statusReasonCode", ()) if r == reason}
        self.codes = _shipped_codes()
        self._memo: dict[object, DrugReading] = {}

    def _raw_names(self, iri: URIRef) -> Iterable[str]:
        label = self.term.labels.get(iri)
        return ((label,) if label else ()) + self.alt_labels.get(iri, ())

    # -- public ------------------------------------------------------------------------------
    def read(self, value: str | tuple[str, str, str | None]) -> DrugReading:
        """Read a name (str) or a coding (system, code, display); memoised."""
        hit = self._memo.get(value)
        if hit is None:
            hit = (self.read_text(value) if isinstance(value, str)
                   else self.read_code(*value))
            if len(self._memo) < 50_000:
                self._memo[value] = hit
        return hit

    def read_code(self, system: str, code: str, display: str | None) -> DrugReading:
        system_key, code = system.strip().casefold(), code.strip()
        written = f"{system} {code}" + (f" ({display})" if display else "")
        hit = self.term.find_code(system, code)
        if hit is not None and hit in self.drugs:
            return self._of_terms(written, (hit,))
        shipped = self.codes.get(_shipped_system(system_key), {}).get(code)
        if shipped is not None:
            found = tuple(t for t in (self.term.find(n, QL.Drug) for n in shipped) if t)
            if found and len(found) == len(shipped):
                return self._of_terms(written, found)
        if display:
            reading = self.read_text(display)
            if reading.known or any(p.implied or p.stem for p in reading.parts):
                return DrugReading(written, reading.known, reading.parts)
        if system_key in ATC_SYSTEMS:
            group = self._atc_group(code)
            if group is not None:
                return DrugReading(written, (), (self.part(written, (group,)),))
        return DrugReading(written, (), (self.part(display or written),))

    def read_text(self, text: str) -> DrugReading:
        whole = self.term.find(text, QL.Drug)
        if whole is not None:
            return self._of_terms(text, (whole,))
        words = _TOKEN.findall(text.replace("'", "").replace("’", ""))
        lowered = [w.casefold() for w in words]
        if _NEGATIONS & set(lowered):
            return DrugReading(text, (), (self.part(text, with_stem=False),))
        known: list[URIRef] = []
        leftover: list[list[str]] = [[]]
        i = 0
        while i < len(words):
            size, iri = self._match(words, lowered, i)
            if iri is not None:
                known.append(iri)
                leftover.append([])
                i += size
                continue
            word = lowered[i]
            if word in _CONNECTORS or word in "()[]{}":
                leftover.append([])
            elif word not in _SET_ASIDE and not _NUMBERISH.match(word) and len(word) > 1:
                leftover[-1].append(words[i])
            i += 1
        runs = [" ".join(run) for run in leftover if run]
        drugs = [k for k in dict.fromkeys(known) if not self._is_class(k)]
        classes = [k for k in dict.fromkeys(known) if self._is_class(k)]
        if drugs:
            runs = [r for r in runs if not _regimen_acronym(r)]
            classes = []  # "<class>-based chemotherapy (<drug>)": a descriptor
        parts = [self.part(r) for r in runs]
        parts += [self.part(text, (c,), unrecognised=False) for c in classes]
        if not drugs and not parts:
            parts = [self.part(text)]
        return DrugReading(text, tuple(drugs), tuple(parts))

    def part(self, text: str, implied: tuple[URIRef, ...] = (), unrecognised: bool = True,
             with_stem: bool = True) -> Part:
        """A drug not identified, narrowed by the classes it is known to be of and its stem."""
        stem = self.stem_of(text) if with_stem else None
        kept = False
        if stem is not None:
            cls = self.stem_class.get(stem[1])
            implied = (*implied, cls) if cls is not None else implied
            kept = stem[1] in self.stem_kept
        closure: set[URIRef] = set()
        for cls in implied:
            closure |= set(self.term.types.get(cls, ())) | {cls}
        ruled: set[URIRef] = set(self.rules_out.get(stem[1], ())) if stem else set()
        for cls in closure:
            ruled |= self.rules_out.get(cls, set())
        possible = tuple(sorted(p for d, p in self.decisive.items()
                                if d not in closure and d not in ruled))
        kept = kept or bool(closure & {QL.SystemicAntiCancerDrug, QL.HaematologicSupportProduct})
        return Part(text, tuple(implied), possible, f"-{stem[0]}" if stem else None, kept,
                    unrecognised)

    def stem_of(self, text: str) -> tuple[str, URIRef] | None:
        """The INN stem of a word of the text (the first word that has one)."""
        for word in re.findall(r"[a-z]+", text.casefold()):
            for suffix, stem in self.stems:
                if word.endswith(suffix) and len(word) >= len(suffix) + 3:
                    return suffix, stem
        return None

    def is_anticancer_or_support(self, iri: URIRef) -> bool:
        types = self.term.types.get(iri, ())
        return QL.SystemicAntiCancerDrug in types or QL.HaematologicSupportProduct in types

    # -- helpers ------------------------------------------------------------------------------
    def _of_terms(self, written: str, terms: tuple[URIRef, ...]) -> DrugReading:
        known = tuple(t for t in terms if not self._is_class(t))
        parts = tuple(self.part(written, (t,), unrecognised=False, with_stem=False)
                      for t in terms if self._is_class(t))
        return DrugReading(written, known, parts)

    def _is_class(self, iri: URIRef) -> bool:
        return iri in self.term.types.get(iri, ())

    def _match(self, words: list[str], lowered: list[str], i: int) -> tuple[int, URIRef | None]:
        """The longest drug name starting at word ``i`` (an abbreviation only as written)."""
        for phrase, iri, exact in self.phrases.get(words[i], []) if words[i].isupper() else ():
            if exact and words[i] == phrase[0]:
                return 1, iri
        for phrase, iri, exact in self.phrases.get(lowered[i], ()):
            size = len(phrase)
            if not exact and tuple(lowered[i:i + size]) == phrase:
                return size, iri
        return 0, None

    def _atc_group(self, code: str) -> URIRef | None:
        for size in range(len(code) - 1, 2, -1):
            hit = self.term.find_code("ATC", code[:size])
            if hit is not None and self._is_class(hit):
                return hit
        return None


def node_types(index: DrugIndex, reading: DrugReading) -> set[URIRef]:
    """The classes of a node standing for a reading that is not one known drug: those of
    every known drug in it, and for each part not identified ``ql:UnrecognisedDrug``, the
    classes it is known to be of and the ``ql:Possible*`` classes it may belong to."""
    types = index.term.types
    out: set[URIRef] = {QL.Drug}
    for iri in reading.known:
        out |= set(types.get(iri, ()))
    for part in reading.parts:
        if part.unrecognised:
            out.add(QL.UnrecognisedDrug)
        for cls in part.implied:
            out |= set(types.get(cls, ())) | {cls}
        out |= set(part.possible)
    return out


def intolerance_of(index: DrugIndex, codings: Iterable[tuple[str, str]]) -> list[bool | None]:
    """For each (system, code) of a status reason: True intolerance, False another reason,
    None a reason that says neither (or one the ontology does not know)."""
    return [index.reasons.get(f"{system}|{code}") for system, code in codings]


def _regimen_acronym(run: str) -> bool:
    """A regimen's name written beside its drugs ("AI", "MAID", "GT", "XELOX")."""
    return all(_ABBREVIATION.match(w) or w.casefold() in ("chemo", "chemotherapy")
               for w in run.split())


def _shipped_system(system_key: str) -> str:
    if system_key in RXNORM_SYSTEMS:
        return "RxNorm"
    if system_key in SNOMED_SYSTEMS:
        return "SNOMED-CT"
    return system_key


@cache
def _shipped_codes() -> dict[str, dict[str, tuple[str, ...]]]:
    """The codes of ``data/drug-codes.json``: system -> code -> ingredient names."""
    text = (resources.files(__package__) / "data" / "drug-codes.json").read_text("utf-8")
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for system, codes in json.loads(text)["codes"].items():
        out[system] = {code: tuple(entry["ingredients"]) for code, entry in codes.items()}
    return out


_INDEXES: dict[str, DrugIndex] = {}


def drug_index(term) -> DrugIndex:
    """The drug index of a terminology, built once per process."""
    index = _INDEXES.get(term.version)
    if index is None or index.term is not term:
        index = _INDEXES[term.version] = DrugIndex(term)
    return index
