"""Units as US laboratory interfaces send them (issue 12, class 7): thousands per microlitre
written K/uL or thou/uL, UCUM annotations ({ratio}, {INR}, {cells}), and the arbitrary unit
of hCG with prefixes (m[IU]/mL = [IU]/L, clinical-rules.md §2). A unit that stays ambiguous is
never guessed: it is unconvertible, and the criterion is unknown.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ql1706kg.errors import UnitError
from ql1706kg.protocol.units import compute_factor, convert, ucum_spelling


@pytest.mark.parametrize("unit", ["K/uL", "K/ul", "k/µL", "thou/uL", "thou/mm3", "Thous/uL",
                                  "x10^3/uL", "10^3/uL", "x10E3/uL", "10e3/µl", "10*3/ul",
                                  "×10³/µL", "K/cumm", "10*3{cells}/uL"])
def test_thousands_per_microlitre_spellings(unit):
    assert ucum_spelling(unit) == "10*3/uL"
    assert convert(Decimal("84"), unit, "10*9/L") == Decimal("84")


@pytest.mark.parametrize(("unit", "spelled"), [
    ("{ratio}", "1"), ("{INR}", "1"), ("{score}", "1"), ("{cells}/uL", "/uL"),
    ("{cells}/ul", "/uL"), ("ratio", "1")])
def test_ucum_annotations_are_dimensionless(unit, spelled):
    assert ucum_spelling(unit) == spelled


@pytest.mark.parametrize("unit", ["{ratio}", "{INR}", "1", None, "ratio"])
def test_an_inr_in_any_dimensionless_spelling_is_the_inr(unit):
    assert convert(Decimal("1.4"), unit, "{INR}") == Decimal("1.4")


def test_an_annotation_standing_as_a_factor_is_not_dropped():
    """mL/min/{1.73_m2} is a clearance normalised to body surface: reading the annotation as 1
    would take it for a raw clearance, so it stays unconvertible (unknown, never compared)."""
    assert ucum_spelling("mL/min/{1.73_m2}") == "mL/min/{1.73_m2}"
    with pytest.raises(UnitError):
        convert(Decimal("60"), "mL/min/{1.73_m2}", "mL/min")


def test_kelvin_is_not_thousands_outside_a_count_per_volume():
    assert ucum_spelling("K") == "K"
    assert ucum_spelling("K/L") == "K/L"


@pytest.mark.parametrize(("source", "target", "expected"), [
    ("m[IU]/mL", "[IU]/L", Decimal(1)), ("[IU]/L", "m[IU]/mL", Decimal(1)),
    ("[IU]/mL", "[IU]/L", Decimal(1000))])
def test_prefixes_of_one_arbitrary_unit_convert(source, target, expected):
    assert compute_factor(source, target, None) == expected


@pytest.mark.parametrize(("source", "target"), [
    ("[IU]/L", "U/L"), ("m[IU]/mL", "10*9/L"), ("[IU]/mL", "[arb'U]/mL"), ("10*9/L", "[IU]/L")])
def test_an_arbitrary_unit_is_commensurable_with_itself_only(source, target):
    assert compute_factor(source, target, None) is None
