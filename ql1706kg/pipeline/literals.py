"""RDF literals of the values patients repeat (dates, decimals, booleans, labels), made once.

rdflib's Literal constructor is ~8 µs and a cohort repeats the same dates and numbers many
times, so lifting and deriving share these cached constructors.
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from decimal import Decimal

from rdflib import Literal

from ..protocol.namespaces import XSD


# Literals are immutable, and a cohort repeats the same dates and numbers many times: making
# each once saves ~1.5 ms a patient (rdflib's Literal constructor is ~8 µs).
@functools.lru_cache(maxsize=8192)
def d(value: date) -> Literal:
    """Return an xsd:date literal."""
    return Literal(value.isoformat(), datatype=XSD.date)


def when(value) -> Literal:
    """A record's date (:class:`~ql1706kg.inputs.when.When`) as the XSD literal of its
    precision: ``xsd:date`` for a day (an instant's day as written), ``xsd:gYearMonth`` for a
    month, ``xsd:gYear`` for a year; never a partial date read as its first day."""
    if value.first == value.last:
        return d(value.first)
    return _partial(value.written[:7] if len(value.written) >= 7 else value.written[:4])


@functools.lru_cache(maxsize=4096)
def _partial(written: str) -> Literal:
    return Literal(written, datatype=XSD.gYearMonth if len(written) == 7 else XSD.gYear)


@functools.lru_cache(maxsize=4096)
def instant(value: datetime) -> Literal:
    """Return an xsd:dateTime literal (the moment that orders results of one day)."""
    return Literal(value.isoformat(), datatype=XSD.dateTime)


def dec(value: float | Decimal | str) -> Literal:
    """Return an xsd:decimal literal that keeps the value as written (no binary rounding)."""
    # Keyed by the written form: Decimal("1.0") == Decimal("1") but their literals differ.
    return _decimal(str(value))


@functools.lru_cache(maxsize=8192)
def _decimal(written: str) -> Literal:
    return Literal(Decimal(written), datatype=XSD.decimal)


_TRUE, _FALSE = Literal(True, datatype=XSD.boolean), Literal(False, datatype=XSD.boolean)


def boolean(value: bool) -> Literal:
    """Return an xsd:boolean literal."""
    return _TRUE if value else _FALSE


@functools.lru_cache(maxsize=8192)
def text(value: str) -> Literal:
    """Return a plain string literal of a value that recurs (labels, units, test names)."""
    return Literal(value)


@functools.lru_cache(maxsize=8192)
def integer(value: int) -> Literal:
    """Return an xsd:integer literal (day counts, months)."""
    return Literal(value)
