"""Every unit spelling of clinical-rules.md §1, converted by UCUM to the unit a criterion uses.

Factors come from ucumvert (UCUM on pint) through the shipped cache; the expected numbers
below are the ones clinical-rules.md §2 derives by hand, so a wrong cache entry fails here.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ql1706kg.errors import UnitError
from ql1706kg.protocol.units import compute_factor, convert

CREATININE, BILIRUBIN = Decimal("113.1179"), Decimal("584.6621")


@pytest.mark.parametrize(("value", "unit", "target", "mass", "expected"), [
    ("11.8", "g/dL", "g/L", None, "118"),
    ("118", "g/L", "g/L", None, "118"),
    ("1.5", "10*9/L", "10*9/L", None, "1.5"),
    ("1.5", "10*3/uL", "10*9/L", None, "1.5"),
    ("1500", "/uL", "10*9/L", None, "1.5"),
    ("1500", "/mm3", "10*9/L", None, "1.5"),
    ("90", "10*3/mm3", "10*9/L", None, "90"),
    ("1", "mg/dL", "umol/L", CREATININE, "88.403"),
    ("1", "mg/dL", "umol/L", BILIRUBIN, "17.104"),
    ("88.4", "umol/L", "umol/L", CREATININE, "88.4"),
    ("40", "U/L", "U/L", None, "40"),
    ("12.5", "s", "s", None, "12.5"),
    ("55", "%", "%", None, "55"),
    ("600", "mg/(24.h)", "g/d", None, "0.6"),
    ("0.6", "g/(24.h)", "g/d", None, "0.6"),
    ("600", "mg/d", "g/d", None, "0.6"),
    ("70", "kg", "kg", None, "70"),
    ("100", "[lb_av]", "kg", None, "45.359237"),
    ("1.1", "{INR}", "{INR}", None, "1.1"),
])
def test_spelling_converts(value, unit, target, mass, expected):
    got = convert(Decimal(value), unit, target, mass)
    assert got.quantize(Decimal(expected)) == Decimal(expected)


def test_iu_per_litre_is_accepted_for_transaminases_only_through_the_ontology_alias():
    """[IU]/L is an arbitrary unit in UCUM; the AST/ALT tests declare it an alias of U/L."""
    assert convert(Decimal("40"), "[IU]/L", "U/L", None, ("[IU]/L",)) == Decimal("40")
    with pytest.raises(UnitError):
        convert(Decimal("40"), "[IU]/L", "U/L")


@pytest.mark.parametrize(("unit", "target"), [("mg", "U/L"), ("furlong", "g/L"),
                                              ("mmol/L", "g/L"), ("%", "10*9/L")])
def test_units_that_cannot_be_converted_raise(unit, target):
    with pytest.raises(UnitError):
        convert(Decimal("1"), unit, target)


def test_haemoglobin_in_mmol_is_not_converted_without_a_sourced_factor():
    """clinical-rules.md marks the g/dL -> mmol/L factor unverified: no molar mass, no guess."""
    assert compute_factor("mmol/L", "g/L", None) is None
