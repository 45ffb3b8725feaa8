"""The FHIR element table: what the reader does with every element FHIR R4 marks as a modifier
or as changing what a value means, kept as data (``elements.json`` beside this module).

The table drives the reader, it does not only document it: the status codes of each resource
type and what each means (:meth:`ElementTable.category`), which elements date a resource and in
which order (:meth:`ElementTable.times`), where a ``modifierExtension`` sets a resource aside
and where it changes nothing the reader reads, what an ``interpretation`` code or a List's
``emptyReason`` says, which resource types the reader does not read but could carry a fact a
criterion depends on, and which elements and types only FHIR R5 has. ``docs/fhir.md`` renders
it (:func:`markdown`; a test keeps the page current), and a test checks that it names every
isModifier element of the R4 StructureDefinitions of the types read.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib import resources

# Worst first: when several status elements of one resource speak (Condition's clinical and
# verification status, a request's status, intent and doNotPerform), the first of these wins.
CATEGORY_ORDER = ("removed", "not-given", "retired", "planned", "uncertain", "resolved",
                  "ongoing", "ended", "counts")


@dataclass(frozen=True)
class Row:
    """One element of the table."""

    path: str
    modifier: bool
    types: tuple[str, ...]
    action: str
    text: str
    values: dict[str, str] = field(default_factory=dict)
    role: str = ""

    @functools.cached_property
    def owner(self) -> str:
        return self.path.split(".", 1)[0]

    @functools.cached_property
    def element(self) -> str:
        """The path without its type ('component.modifierExtension')."""
        return self.path.split(".", 1)[1] if "." in self.path else ""


@dataclass(frozen=True)
class ElementTable:
    """The table, indexed the ways the reader asks it (see the module's text)."""

    rows: tuple[Row, ...]
    resource_types: tuple[str, ...]
    categories: dict[str, str]
    sections: dict[str, tuple[str, ...]]
    subjects: dict[str, str | None]
    interpretation_system: str
    interpretation: dict[str, str]
    date_accuracy: dict
    unread: dict[str, dict]
    r5_types: frozenset[str]
    r5_elements: dict[str, frozenset[str]]
    r5_text: str
    qualifiers: dict[str, dict[str, str]] = field(default_factory=dict)
    qualifiers_text: str = ""
    therapy_procedures: dict = field(default_factory=dict)
    plans: frozenset[str] = frozenset()  # types whose planned status is the fact (Appointment)
    # types a protocol's declared fact kind may name (ql:fhirResourceType): the reader can
    # tell by the table whether a resource of the type counts
    declarable: tuple[str, ...] = ()

    def rows_of(self, kind: str) -> list[Row]:
        return [row for row in self.rows if row.owner == kind]

    @functools.cached_property
    def _status(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            if row.action == "status":
                out.setdefault(row.owner, []).append(row)
        return out

    def status_rows(self, kind: str) -> list[Row]:
        """The elements whose codes say whether a resource of this type counts."""
        return self._status.get(kind, [])

    @functools.cached_property
    def _modifier_paths(self) -> dict[str, dict[str, str]]:
        """type -> element path that holds a modifierExtension (or implicitRules) -> action."""
        out: dict[str, dict[str, str]] = {}
        for row in self.rows:
            if row.path.endswith((".modifierExtension", ".implicitRules")):
                out.setdefault(row.owner, {})[row.element] = row.action
        return out

    def modifier_action(self, kind: str, element: str) -> str:
        """What a modifier extension (or implicitRules) at ``element`` (indices dropped, e.g.
        'component.modifierExtension') does: 'set-aside' or 'not-read'. An element the table
        does not name sets the resource aside: the reader cannot know it changes nothing."""
        return self._modifier_paths.get(kind, {}).get(element, "set-aside")

    @functools.cached_property
    def _times(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for row in self.rows:
            if row.action == "time" and row.owner in self.resource_types:
                out.setdefault(row.owner, []).append(row)
        return out

    def times(self, kind: str, role: str | None = None) -> list[Row]:
        """The elements that date a resource of this type, in the table's order."""
        return [row for row in self._times.get(kind, []) if role is None or row.role == role]

    def row(self, path: str) -> Row | None:
        return next((row for row in self.rows if row.path == path), None)

    def values(self, path: str) -> dict[str, str]:
        found = self.row(path)
        return found.values if found is not None else {}


def _rows(block: dict) -> list[Row]:
    return [Row(item["path"], bool(item["modifier"]), tuple(item["types"]), item["action"],
                item["text"], dict(item.get("values") or {}), item.get("role", ""))
            for item in block["elements"]]


@functools.cache
def element_table() -> ElementTable:
    """The bundled table, read once per process."""
    text = (resources.files("ql1706kg.inputs.fhir") / "elements.json").read_text(
        encoding="utf-8")
    data = json.loads(text)
    rows: list[Row] = []
    for block in data["resources"].values():
        rows += _rows(block)
    for block in data["datatypes"].values():
        rows += _rows(block)
    interpretation = data["interpretation"]
    r5 = data["r5"]
    return ElementTable(
        rows=tuple(rows), resource_types=tuple(data["resources"]),
        categories=dict(data["categories"]),
        sections={kind: tuple(block["sections"]) for kind, block in data["resources"].items()},
        subjects={kind: block["subject"] for kind, block in data["resources"].items()},
        interpretation_system=interpretation["system"],
        interpretation=dict(interpretation["codes"]), date_accuracy=dict(data["date_accuracy"]),
        unread=dict(data["unread"]), r5_types=frozenset(r5["types"]),
        r5_elements={kind: frozenset(names) for kind, names in r5["elements"].items()},
        r5_text=r5["text"],
        qualifiers={url: dict(codes) for url, codes in data["coding_qualifiers"].items()
                    if url != "text"},
        qualifiers_text=data["coding_qualifiers"]["text"],
        therapy_procedures=dict(data["therapy_procedures"]),
        plans=frozenset(kind for kind, block in data["resources"].items() if block.get("plan")),
        declarable=tuple(kind for kind, block in data["resources"].items()
                         if block.get("declarable", True)))


def markdown() -> str:
    """The table as ``docs/fhir.md`` shows it (one table per resource type and datatype)."""
    table = element_table()
    out = ["| element | modifier | types | what the reader does |",
           "| --- | --- | --- | --- |"]
    for row in table.rows:
        values = (" (" + ", ".join(f"{code}: {meaning}" for code, meaning in row.values.items())
                  + ")") if row.values and row.action == "status" else ""
        out.append(f"| `{row.path}` | {'isModifier' if row.modifier else 'meaning'} | "
                   f"{', '.join(row.types)} | {_cell(row.text + values)} |")
    out += ["", "Status categories (the words used above):", ""]
    out += [f"- **{name}**: {text}" for name, text in table.categories.items()]
    out += ["", "Resource types not read that could carry a fact a criterion depends on:", ""]
    out += [f"- **{kind}**: {_cell(item['text'])}" for kind, item in table.unread.items()]
    out += ["", f"Dates with extensions: {table.date_accuracy['text']}", "",
            f"Codings with extensions: {table.qualifiers_text}", "",
            f"Procedures: {table.therapy_procedures['text']}", "",
            f"FHIR R5: {table.r5_text}"]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":  # python -m ql1706kg.inputs.fhir.elements: print the doc table
    print(markdown(), end="")
