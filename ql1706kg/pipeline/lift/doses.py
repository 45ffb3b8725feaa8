"""Lift the dose of a medication fact (a kind whose value is a dose, ``ql:DoseValue``): the
amounts a day its dosage allows, in the kind's unit (``ql:canonicalUnit``, UCUM), on the fact's
node: ``ql:dailyDose``, one value per part of the day the kind declares (the part's own
property, e.g. a morning dose), ``ql:unscheduledDose`` (the largest single amount taken at a
time of day not known) and the fact's drug codes (``ql:drugCode``, ``system|code``), so the
derivation (pipeline/derive/doses.py) can put them in a reference drug's equivalents.
Whatever the dosage leaves open is an interval (pipeline/dosage.py), never a guessed point.
"""

from __future__ import annotations

from rdflib import Literal, URIRef

from ...protocol.fact_kinds import FactKind
from ...protocol.namespaces import QL
from ...protocol.terminology import Terminology
from ..dosage import read_dosage
from ..uncertain import note, put


def lift_dose(graph, node: URIRef, kind: FactKind, term: Terminology, fact) -> None:
    """Write the dose of one fact of a dose kind on its node."""
    spec = term.doses.kinds.get(kind.iri)
    if spec is None:
        return
    reading = read_dosage(fact.dosage or [], kind.unit or "mg", spec)
    put(graph, node, QL.dailyDose, reading.daily)
    for part, amount in reading.parts.items():
        put(graph, node, part, amount)
    if reading.unscheduled is not None:
        put(graph, node, QL.unscheduledDose, reading.unscheduled)
    for said in reading.notes:
        note(graph, node, said)
    code = fact.code
    if code is not None and not isinstance(code, str):
        graph.add((node, QL.drugCode, Literal(f"{code.system}|{code.code}")))
