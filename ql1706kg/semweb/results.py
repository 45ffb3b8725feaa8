"""Query results as a table for people, CSV for spreadsheets, JSON for programs.

JSON follows the W3C *SPARQL 1.1 Query Results JSON Format*: ``{"head": {"vars": [...]},
"results": {"bindings": [...]}}`` with each bound value typed ``"uri"``, ``"literal"`` (with
``"datatype"`` or ``"xml:lang"`` when it has one) or ``"bnode"``; an unbound variable is left
out of its binding; an ASK query gives ``{"head": {}, "boolean": true|false}``.

CSV follows the W3C SPARQL 1.1 CSV results (one header row of variable names, values as plain
text, blank nodes as ``_:label``), made safe to open in a spreadsheet (OWASP's rule against
formula injection): a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is written with a single quote in front and in double quotes, so a spreadsheet shows it
as text and never evaluates it. A cell that is a plain number (``-12``, ``+3.5``, ``-1.2E-3``:
an optional sign, digits, an optional decimal part and exponent, nothing else) is left as it
is: a negative clearance or a day difference must stay a number a spreadsheet can sum, and a
number alone cannot carry a formula.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from ..protocol.visible import visible

FORMATS = ("table", "csv", "json")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CSV_SPECIAL = re.compile(r"[\",\n\r]")


@dataclass
class QueryResult:
    """The answer of a SELECT (variables and rows of RDF terms, ``None`` where unbound) or
    of an ASK (``boolean``)."""

    variables: list[str] = field(default_factory=list)
    rows: list[list[Node | None]] = field(default_factory=list)
    boolean: bool | None = None

    def as_strings(self) -> tuple[list[str], list[list[str]]]:
        """Column names and rows of plain strings ("" where unbound); an ASK is one cell."""
        if self.boolean is not None:
            return ["ask"], [[str(self.boolean).lower()]]
        return list(self.variables), [[text(value) for value in row] for row in self.rows]


def text(value: Node | None) -> str:
    """The plain text of a term: an IRI or a literal's lexical form, ``_:label`` for a blank
    node, "" when unbound."""
    if value is None:
        return ""
    if isinstance(value, BNode):
        return f"_:{value}"
    return str(value)


def json_term(value: Node) -> dict[str, str]:
    """One RDF term as the W3C SPARQL results JSON format writes it."""
    if isinstance(value, URIRef):
        return {"type": "uri", "value": str(value)}
    if isinstance(value, BNode):
        return {"type": "bnode", "value": str(value)}
    if isinstance(value, Literal):
        out = {"type": "literal", "value": str(value)}
        if value.language:
            out["xml:lang"] = value.language
        elif value.datatype is not None:
            out["datatype"] = str(value.datatype)
        return out
    return {"type": "literal", "value": str(value)}


def csv_cell(value: str) -> str:
    """One CSV cell: quoted when needed, and neutralised when a spreadsheet would read it as
    a formula (see the module's docstring; plain numbers, negative ones included, are kept)."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return '"' + ("'" + value).replace('"', '""') + '"'
    if _CSV_SPECIAL.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


def format_result(result: QueryResult, fmt: str) -> str:
    """The result in one of :data:`FORMATS`."""
    if fmt == "json":
        if result.boolean is not None:
            document: dict = {"head": {}, "boolean": result.boolean}
        else:
            bindings = [{name: json_term(value)
                         for name, value in zip(result.variables, row, strict=True)
                         if value is not None} for row in result.rows]
            document = {"head": {"vars": list(result.variables)},
                        "results": {"bindings": bindings}}
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    names, rows = result.as_strings()
    return format_rows(names, rows, fmt)


def format_rows(names: list[str], rows: list[list[str]], fmt: str) -> str:
    """Rows of plain strings as a table or CSV (JSON needs the terms: :func:`format_result`)."""
    if fmt == "json":
        return format_result(QueryResult(names, [[Literal(v) if v != "" else None for v in row]
                                                 for row in rows]), "json")
    # text for a terminal or a spreadsheet: no control character raw (a line break in a
    # criterion id of a protocol folder must not forge a row)
    names, rows = [visible(n) for n in names], [[visible(v) for v in row] for row in rows]
    if fmt == "csv":
        return "".join(",".join(csv_cell(cell) for cell in line) + "\n"
                       for line in [names, *rows])
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines) + f"\n({len(rows)} row{'s' * (len(rows) != 1)})\n"
