"""Derivations: age, calendar months, unit conversion; each derived value keeps its sources."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ql1706kg.api import assessment_for, patient_graph
from ql1706kg.inputs.models import PatientRecord
from ql1706kg.pipeline.derive import add_months, calendar_months_apart, completed_years
from ql1706kg.protocol.namespaces import PROV, QL
from ql1706kg.protocol.units import convert, ucum_spelling

from .conftest import BASE


@pytest.mark.parametrize(("born", "on", "age"), [
    (date(2000, 5, 10), date(2018, 5, 10), 18), (date(2000, 5, 10), date(2018, 5, 9), 17),
    (date(2000, 2, 29), date(2018, 2, 28), 17), (date(2000, 2, 29), date(2018, 3, 1), 18),
])
def test_completed_years(born, on, age):
    assert completed_years(born, on) == age


@pytest.mark.parametrize(("start", "later", "months"), [
    (date(2026, 1, 31), date(2026, 2, 28), 1), (date(2026, 1, 31), date(2026, 3, 1), 2),
    (date(2026, 6, 1), date(2026, 9, 1), 3), (date(2026, 6, 1), date(2026, 9, 2), 4),
    (date(2026, 6, 1), date(2026, 6, 1), 0),
])
def test_calendar_months_apart(start, later, months):
    assert calendar_months_apart(start, later) == months
    assert add_months(start, months) >= later


@pytest.mark.parametrize(("value", "unit", "target", "expected"), [
    ("1400", "/uL", "10*9/L", "1.4"), ("9.0", "g/dL", "g/L", "90"),
    ("950", "mg/(24.h)", "g/d", "0.95"), ("1", "mg/d", "g/d", "0.001"),
    ("160", "[lb_av]", "kg", "72.5747792"), ("1.5", "10*3/mm3", "10*9/L", "1.5"),
    ("3", "x10^9/L", "10*9/L", "3"), ("12", "µmol/L", "umol/L", "12"),
])
def test_unit_conversion_is_exact(value, unit, target, expected):
    assert convert(Decimal(value), unit, target) == Decimal(expected)


def test_molar_conversion_uses_molar_mass():
    result = convert(Decimal("1"), "mg/dL", "umol/L", Decimal("113.1179"))
    assert abs(result - Decimal("88.4") ) < Decimal("0.01")


def test_spellings():
    assert ucum_spelling("IU/L") == "[IU]/L" and ucum_spelling("×10⁹/L") == "10*9/L"


def test_derived_values_link_to_their_sources():
    graph = patient_graph(PatientRecord.model_validate(BASE), assessment_for("2026-11-20"))
    (clearance,) = graph.objects(None, QL.creatinineClearance)
    sources = set(graph.objects(clearance, PROV.wasDerivedFrom))
    assert len(sources) == 3 and graph.value(clearance, QL.method) == QL.CockcroftGault
    (age,) = graph.objects(None, QL.age)
    assert graph.value(age, QL.normalisedValue).toPython() == 56


def test_arbitrary_units_are_never_converted_to_other_units():
    """UCUM: IU is commensurable with nothing else; IU/L is no count per litre."""
    from ql1706kg.protocol.units import compute_factor

    assert compute_factor("[IU]/L", "10*9/L", None) is None
