"""The pieces of issue 20's semantics on their own: dates as written (When), spans of days and
intervals of numbers (pipeline/uncertain.py), bounds in the record model, the unit spelling
table, and the three-valued evaluation of a shape.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from importlib import resources

import pytest
from rdflib import Literal, URIRef

from ql1706kg.inputs.models import Observation, PatientRecord
from ql1706kg.inputs.when import When, parse_when
from ql1706kg.pipeline.graph import PatientGraph
from ql1706kg.pipeline.literals import when as when_literal
from ql1706kg.pipeline.shacl_uncertain import compile_uncertain
from ql1706kg.pipeline.uncertain import (
    Interval,
    bound,
    describe_interval,
    holds_all,
    holds_some,
    interval_of,
    span_of,
)
from ql1706kg.protocol.namespaces import QL, RDF, SH, XSD
from ql1706kg.protocol.units import convert, spellings, ucum_spelling

D = Decimal


@pytest.mark.parametrize(("text", "first", "last", "instant"), [
    ("2023", "2023-01-01", "2023-12-31", False), ("2024-02", "2024-02-01", "2024-02-29", False),
    ("2023-02", "2023-02-01", "2023-02-28", False), ("2023-05-04", "2023-05-04", "2023-05-04",
                                                     False),
    ("2023-05-04T10:30", "2023-05-04", "2023-05-04", True),
    ("2023-05-04T10:30:15.123+02:00", "2023-05-04", "2023-05-04", True),
    ("2023-05-04T23:59:59Z", "2023-05-04", "2023-05-04", True)])
def test_a_date_as_written_is_an_interval_of_days(text, first, last, instant):
    value = parse_when(text)
    assert (value.first.isoformat(), value.last.isoformat()) == (first, last)
    assert (value.instant is not None) is instant and str(value) == text
    assert span_of(when_literal(value)).first.isoformat() == first


@pytest.mark.parametrize("text", ["2023-13", "2023-02-30", "23-05-04", "2023-5-4", "0000",
                                  "2023-05-04T25:00", "2023-05-04T10:30+15:00", "May 2023", ""])
def test_what_is_not_a_date(text):
    with pytest.raises(ValueError):
        parse_when(text)


def test_a_partial_date_is_never_written_as_its_first_day():
    assert when_literal(parse_when("2023")).datatype == XSD.gYear
    assert when_literal(parse_when("2023-05")).datatype == XSD.gYearMonth
    assert When.of(date(2023, 5, 4)).day == date(2023, 5, 4)


@pytest.mark.parametrize(("value", "comparator", "expected_value", "expected_comparator"), [
    ("<0.5", None, "0.5", "<"), ("≤ 0.5", None, "0.5", "<="), (">=3", None, "3", ">="),
    ("< 1e-3", None, "1e-3", "<"), ("=<2", None, "2", "<="), (2.0, "≥", 2.0, ">="),
    ("<0.5", "<", "0.5", "<"), ("negative", None, "negative", None)])
def test_a_bound_in_the_record(value, comparator, expected_value, expected_comparator):
    obs = Observation.model_validate({"test": "AST", "value": value, "comparator": comparator,
                                      "date": "2026-11-12"})
    assert (obs.value, obs.comparator) == (expected_value, expected_comparator)


@pytest.mark.parametrize("fields", [{"value": "<0.5", "comparator": ">"},
                                    {"value": "negative", "comparator": "<"},
                                    {"value": 2, "comparator": "~"}])
def test_a_bound_that_contradicts_itself_refuses_the_record(fields):
    with pytest.raises(ValueError):
        Observation.model_validate({"test": "AST", "date": "2026-11-12", **fields})


@pytest.mark.parametrize("record", [
    {"supportive_care": [{"product": "filgrastim", "date": "2026-11", "start": "2026-10"}]},
    {"prior_therapies": [{"drugs": ["x"], "end": "2025", "ongoing": True}]},
    {"reproductive": {"pregnancies": [{"end": "2026-01", "ongoing": True}]}},
    {"set_aside": [{"section": "labs", "reason": "x"}]},
    {"set_aside": [{"section": "observations"}]},
])
def test_structural_errors_still_refuse_the_record(record):
    with pytest.raises(ValueError):
        PatientRecord.model_validate({"id": "R", **record})


# -- intervals --------------------------------------------------------------------------------

@pytest.mark.parametrize(("interval", "op", "limit", "every", "some"), [
    (Interval(None, D(2), hi_open=True), "ge", D("1.5"), False, True),
    (Interval(None, D(2), hi_open=True), "ge", D(2), False, False),
    (Interval(None, D(2)), "ge", D(2), False, True),
    (Interval(D(2), None), "ge", D(2), True, True),
    (Interval(D(2), None, lo_open=True), "gt", D(2), True, True),
    (Interval(D(2), None), "gt", D(2), False, True),
    (Interval(D(0), D("2.5"), hi_open=True), "le", D("2.5"), True, True),
    (Interval(D(0), D("2.5"), hi_open=True), "lt", D("2.5"), True, True),
    (Interval(D(0), D("2.5")), "lt", D("2.5"), False, True),
    (Interval(D(3), D(4)), "le", D("2.5"), False, False),
    (Interval.point(D("1.5")), "ge", D("1.5"), True, True),
])
def test_a_comparison_of_an_interval(interval, op, limit, every, some):
    assert holds_all(interval, op, limit) is every
    assert holds_some(interval, op, limit) is some


def test_an_interval_literal_reads_back():
    interval = Interval(D(0), D("2.0"), hi_open=True)
    literal = interval.literal()
    assert literal.datatype == QL.DecimalInterval and interval_of(literal) == interval
    assert interval_of(Interval.point(D(3)).literal()) == Interval.point(D(3))
    assert describe_interval(bound(D(2), "<").clamped(D(0), None)) == "below 2"
    assert describe_interval(Interval(D(65), D(66))) == "65 to 66"


# -- the three-valued shape -------------------------------------------------------------------

def _shape(graph: PatientGraph, node, *pairs) -> None:
    for p, o in pairs:
        graph.add((node, p, o))


def test_must_and_may_of_a_limit_under_negation():
    """A limit inside sh:not turns "must" into "not may": an interval that may reach the limit
    leaves the shape undecided in both modes, never decided the wrong way."""
    s = PatientGraph()
    shape, inner = URIRef("urn:s"), URIRef("urn:inner")
    _shape(s, shape, (RDF.type, SH.NodeShape), (SH.targetClass, QL.Patient),
           (SH["not"], inner))
    _shape(s, inner, (SH.path, QL.value), (SH.maxInclusive, Literal(D(14))))
    compiled = compile_uncertain(s, [])
    for interval, must, may in ((Interval(D(10), D(20)), False, True),
                                (Interval(D(15), D(20)), True, True),
                                (Interval(D(1), D(14)), False, False)):
        g = PatientGraph()
        g.add((URIRef("urn:p"), RDF.type, QL.Patient))
        g.add((URIRef("urn:p"), QL.value, interval.literal()))
        assert compiled.must[shape](g, URIRef("urn:p")) is must
        assert compiled.may[shape](g, URIRef("urn:p")) is may


def test_a_value_reached_only_possibly_counts_for_may_not_must():
    s = PatientGraph()
    shape = URIRef("urn:s")
    _shape(s, shape, (RDF.type, SH.PropertyShape), (SH.targetClass, QL.Patient),
           (SH.path, QL.hasMetastasis), (SH.minCount, Literal(1)))
    compiled = compile_uncertain(s, [])
    g = PatientGraph()
    p, m = URIRef("urn:p"), URIRef("urn:m")
    g.add((p, RDF.type, QL.Patient))
    g.add((p, QL.hasMetastasis, m))
    g.add((m, QL.onlyPossiblyVia, QL.hasMetastasis))
    assert compiled.must[shape](g, p) is False and compiled.may[shape](g, p) is True


# -- unit spellings ---------------------------------------------------------------------------

def _table_rows():
    text = (resources.files("ql1706kg.protocol") / "data" / "unit-spellings.csv").read_text()
    return list(csv.DictReader(io.StringIO(text)))


def test_every_spelling_row_cites_its_source():
    rows = _table_rows()
    assert len(rows) > 40
    assert all(row["source"].startswith("https://") for row in rows)


@pytest.mark.parametrize("row", [r for r in _table_rows() if r["kind"] in ("unit", "exact")],
                         ids=lambda r: r["written"])
def test_each_spelling_reads_as_its_ucum_code(row):
    assert ucum_spelling(row["written"]) == row["ucum"]


@pytest.mark.parametrize(("written", "ucum"), [
    ("K/mcL", "10*3/uL"), ("x10E3/uL", "10*3/uL"), ("10^3/µL", "10*3/uL"),
    ("thou/mm3", "10*3/uL"), ("10(3)/mcL", "10*3/uL"), ("X10(9)/L", "10*9/L"),
    ("10**9/L", "10*9/L"), ("1000/uL", "10*3/uL"), ("M/mcL", "10*6/uL"), ("mcmol/L", "umol/L"),
    ("K/cu mm", "10*3/uL"), ("K/L", "K/L"), ("G/L", "10*9/L"), ("g/L", "g/L")])
def test_counts_and_powers_as_laboratories_write_them(written, ucum):
    assert ucum_spelling(written) == ucum
    assert spellings().multipliers["k"] == "10*3"


def test_a_spelled_count_converts():
    assert convert(Decimal("210"), "K/mcL", "10*9/L") == Decimal("210")
    assert convert(Decimal("150"), "G/L", "10*9/L") == Decimal("150")
