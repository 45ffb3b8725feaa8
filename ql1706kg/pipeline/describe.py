"""Facts in words: each kind of fact on record (observation, derived value, diagnosis, therapy,
metastasis, consent, supportive care, lesion, change of the sum of diameters, survival) as a
coordinator reads it, with values, units, dates and where each value came from.

Explanations cite facts; this module says what a fact is, so every criterion that cites the
same observation describes it the same way (and only once per patient).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rdflib import Literal, URIRef

from ..protocol.namespaces import QL, RDF, RDFS
from ..protocol.terminology import Terminology
from .describe_history import HistoryDescriber
from .graph import PatientGraph
from .wording import fmt_number, show_unit

__all__ = ["FactDescriber", "fmt_number", "show_unit"]

_BOOL_WORDS = {True: "yes", False: "no"}
_TRUE = Literal(True)  # made once: rdflib's Literal constructor is ~8 µs
_GENERAL = frozenset((QL.SarcomaDiagnosis, QL.Neoplasm))
_COMPARATOR_SHOWN = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


# The describer of each kind of fact, by its class.
_DESCRIBERS = {
    QL.Observation: "describe_observation", QL.DerivedValue: "describe_derived",
    QL.SarcomaDiagnosis: "describe_diagnosis", QL.TherapyCourse: "describe_therapy",
    QL.Metastasis: "describe_metastasis", QL.InformedConsent: "describe_consent",
    QL.SupportiveCareEvent: "describe_supportive_care", QL.Lesion: "describe_lesion",
    QL.NonNodalLesion: "describe_lesion", QL.NodalLesion: "describe_lesion",
    QL.DiameterSumChange: "describe_change", QL.SurvivalEstimate: "describe_survival",
    QL.ScreeningResultChoice: "describe_choice", QL.Pregnancy: "describe_pregnancy",
    QL.UntrustedFact: "describe_untrusted",
}


class FactDescriber(HistoryDescriber):
    """Describes the facts of one patient's graph, each once."""

    def __init__(self, graph: PatientGraph, patient: URIRef, term: Terminology) -> None:
        self.g, self.p, self.term = graph, patient, term
        self._cache: dict[tuple, tuple[object, str]] = {}

    def describe(self, prop: URIRef, value) -> str:
        """A fact in words; each fact once per patient (criteria cite the same facts).

        Remembered by the value's identity (rdflib hashes a Literal in Python code), the
        value kept with its text so the identity stays its own; an equal value met as another
        object is described again, to the same text."""
        key = (prop, id(value))
        known = self._cache.get(key)
        if known is not None and known[0] is value:
            return known[1]
        text = self._describe(prop, value)
        self._cache[key] = (value, text)
        return text

    def _describe(self, prop: URIRef, value) -> str:
        if isinstance(value, Literal):
            label, python = self.term.label(prop), value.toPython()
            if isinstance(python, bool):
                return f"{label}: {_BOOL_WORDS[python]}"
            if isinstance(python, date):
                return f"{label} {value}"
            return f"{label} {fmt_number(python)}"
        kinds = list(self.g.objects(value, RDF.type))
        for cls in kinds:
            method = _DESCRIBERS.get(cls)
            if method is not None:
                return getattr(self, method)(value)
        if not kinds and value in self.term.labels:
            return self.term.label(value)
        return self.label_of(value)

    def label_of(self, node) -> str:
        label = self.g.value(node, RDFS.label)
        if label is not None:
            return str(label)
        return self.term.label(node) if isinstance(node, URIRef) else str(node)

    def value_of(self, node, prop) -> str | None:
        value = self.g.value(node, prop)
        return None if value is None else fmt_number(value)

    def describe_observation(self, obs) -> str:
        g = self.g
        test = self.label_of(g.value(obs, QL.test))
        raw = g.value(obs, QL.value)
        concept = g.value(obs, QL.valueConcept)
        unit = g.value(obs, QL.unit)
        shown = self.label_of(concept) if concept is not None and not isinstance(
            raw, Literal) else fmt_number(raw)
        comparator = g.value(obs, QL.comparator)
        if comparator is not None:
            shown = f"{_COMPARATOR_SHOWN.get(str(comparator), comparator)}{shown}"
        text = f"{test} {shown}" + show_unit(unit)
        text += f" on {g.value(obs, QL.effectiveInstant) or g.value(obs, QL.effectiveDate)}"
        extras = []
        normalised, canonical = g.value(obs, QL.normalisedValue), g.value(obs, QL.normalisedUnit)
        if normalised is not None and canonical is not None and str(canonical) != str(unit):
            extras.append(f"= {fmt_number(normalised)}{show_unit(canonical)}")
        uln = g.value(obs, QL.upperLimitOfNormal)
        if uln is not None:
            extras.append(f"ULN {fmt_number(uln)}" + show_unit(unit))
        ratio = g.value(obs, QL.ratioToULN)
        if ratio is not None:
            extras.append(f"{fmt_number(ratio)} × ULN")
        if concept is not None and isinstance(raw, Literal) and _is_number(raw):
            extras.append(f"grade {self.label_of(concept)}")
        interpretation = g.value(obs, QL.resultInterpretation)
        if interpretation is not None and concept is None:
            extras.append(self.label_of(interpretation))
        return text + (f" ({', '.join(extras)})" if extras else "")




    def describe_derived(self, node) -> str:
        g = self.g
        value, method = g.value(node, QL.normalisedValue), g.value(node, QL.method)
        if method == QL.AgeInCompletedYears:
            on = g.value(node, QL.ageReferenceDate)
            consent = g.value(self.p, QL.informedConsent)
            why = ("the ICF date" if consent is not None and str(g.value(consent, QL.signedOn))
                   == str(on) else "the assessment date, as no ICF date is on record")
            return (f"age {fmt_number(value)} years on {on} ({why}; born "
                    f"{g.value(self.p, QL.birthDate)})")
        if method == QL.CockcroftGault:
            born = g.value(self.p, QL.birthDate)
            sex = self.label_of(g.value(self.p, QL.sex))
            return (f"creatinine clearance {fmt_number(value)} mL/min by Cockcroft-Gault "
                    f"(from the creatinine and weight below, {sex}, age on "
                    f"{g.value(node, QL.ageReferenceDate)}, born {born})")
        sources = [self.describe_observation(s) for s in g.objects(node, _DERIVED_FROM)
                   if (s, RDF.type, QL.Observation) in g]
        return f"creatinine clearance {fmt_number(value)} mL/min as measured" + (
            f" ({'; '.join(sources)})" if sources else "")

    def describe_diagnosis(self, dx) -> str:
        g = self.g
        classes = [c for c in g.objects(dx, RDF.type) if c in self.term.labels
                   and c not in _GENERAL]
        # the graph's objects are distinct terms: "another class" is another object
        specific = [c for c in classes if not any(
            other is not c and self.term.is_a(other, c) for other in classes)]
        names = ", ".join(sorted(self.term.label(c) for c in specific)) or "no histology"
        text = f"histology {names}"
        recorded = g.value(dx, QL.histologyText)
        if recorded is not None and str(recorded).casefold() not in names.casefold():
            text += f" (recorded as '{recorded}')"
        facts = []
        for prop, words in ((QL.confirmedAtThisInstitution, "confirmed at this institution"),
                            (QL.resectable, "resectable")):
            value = g.value(dx, prop)
            if value is not None:
                facts.append(f"{words}: {_BOOL_WORDS[value.toPython()]}")
        extent = g.value(dx, QL.diseaseExtent)
        if extent is not None:
            facts.append(f"extent: {self.label_of(extent)}")
        return text + (f" ({'; '.join(facts)})" if facts else "")



    def describe_consent(self, consent) -> str:
        return f"ICF signed on {self.g.value(consent, QL.signedOn)}"


    def describe_lesion(self, lesion) -> str:
        g = self.g
        nodal = (lesion, RDF.type, QL.NodalLesion) in g
        size = (f"short axis {self.value_of(lesion, QL.shortAxisMm)} mm" if nodal else
                f"longest diameter {self.value_of(lesion, QL.longestDiameterMm)} mm")
        text = f"{'lymph node' if nodal else 'lesion'} {size} by " \
               f"{self.label_of(g.value(lesion, QL.imagingMethod))}"
        slices = g.value(lesion, QL.sliceThicknessMm)
        if slices is not None:
            text += f" (slices {fmt_number(slices)} mm)"
        if g.value(lesion, QL.previouslyIrradiated) == _TRUE:
            text += ", in a previously irradiated field"
        return text

    def describe_change(self, change) -> str:
        g = self.g
        first, second = g.value(change, QL.fromMeasurement), g.value(change, QL.toMeasurement)
        return (f"sum of diameters {self.value_of(first, QL.sumOfDiametersMm)} mm on "
                f"{g.value(first, QL.effectiveDate)} → {self.value_of(second, QL.sumOfDiametersMm)}"
                f" mm on {g.value(second, QL.effectiveDate)} (× "
                f"{self.value_of(change, QL.sumRatio)} within "
                f"{self.value_of(change, QL.calendarMonthsApart)} calendar months)")

    def describe_survival(self, estimate) -> str:
        g = self.g
        unit = {"d": "days", "wk": "weeks", "mo": "months"}.get(str(g.value(estimate, QL.unit)))
        text = f"expected survival {self.value_of(estimate, QL.value)} {unit}"
        days = g.value(estimate, QL.normalisedValue)
        if days is not None and unit != "days":
            text += f" (= {fmt_number(days)} days)"
        return text


def _is_number(value: Literal) -> bool:
    return isinstance(value.toPython(), int | float | Decimal) and not isinstance(
        value.toPython(), bool)


_DERIVED_FROM = URIRef("http://www.w3.org/ns/prov#wasDerivedFrom")
