"""FHIR input into patient records: the order of reading, on top of the modules of each step.

Resources are indexed as their files are read (:mod:`.index`, the first pass), then grouped
into people and given to their person by queries over the index (:mod:`.grouping`); each
person is then assembled on its own (:mod:`.person`): here, one at a time, or in the worker
process that screens them (:class:`~.person.FhirPerson`). Memory stays bounded whatever the
size of the input; the index lives in a :class:`~.workspace.Workspace` removed at the end.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from typing import cast

from ...errors import InputError, InputNote
from ...protocol.terminology import terminology
from ..records import RawRecord
from .entries import Entry, FhirReport, ReportLine
from .grouping import Grouping, orphan_items
from .handle import FhirPerson
from .index import (
    CHECKED,
    REFERENCED,
    FhirIndex,
    RowReader,
    dec,
    release_memory,
)
from .person import assemble
from .workspace import Workspace

RELEASE_FROM = 1_000  # people


class FhirInput:
    """One run's FHIR input: indexed as its files are read, then given out person by person.
    ``report``: keep a line per resource (``lift --report``)."""

    def __init__(self, workspace: Workspace, report: bool = False) -> None:
        self.workspace, self.report = workspace, report
        self.index: FhirIndex | None = None
        self.lines: list[tuple] = []
        self.people_count = 0  # known once people() has grouped the input

    def extend(self, items: Iterable[Entry | InputError], path: str | None = None) -> None:
        """Index the resources read from one file (``path``; None: each item's source)."""
        if self.index is None:
            self.index = FhirIndex(self.workspace.folder(), self.report)
        self.index.extend(items, path)

    def files(self) -> list[str]:
        """The FHIR files read, to name each when the whole input cannot be read."""
        if self.index is None:
            return []
        return [dec(path) for (path,) in self.index.db.execute("SELECT path FROM files ORDER "
                                                               "BY id")]

    def people(self) -> Iterator[InputError | InputNote | FhirPerson]:
        """Group the input, then yield its errors, its notes and one :class:`FhirPerson` per
        person, in input order (of each person's first Patient)."""
        if self.index is None:
            return
        grouping = Grouping(self.index, terminology())
        grouping.run()
        self.people_count = grouping.people
        db = self.index.reopen()
        rows = RowReader(db)
        if grouping.people >= RELEASE_FROM:  # what a large first pass freed, before workers
            release_memory()  # are forked from here (a small one is not worth a collection)
        for (error,) in db.execute("SELECT error FROM errors ORDER BY seq").fetchall():
            yield pickle.loads(error)  # the run's own scratch file
        yield from orphan_items(db, any_patient=grouping.people > 0)
        path = str(self.index.path)
        last = 0
        while batch := db.execute(
                "SELECT p.num, p.final_id, r.key, r.file, r.line FROM persons p JOIN res r ON "
                "r.seq = p.first WHERE p.num > ? ORDER BY p.num LIMIT 1000", (last,)).fetchall():
            last = batch[-1][0]
            for num, final_id, key, file_id, line in batch:
                source = rows.path(file_id) + (f":{line}" if line is not None else "")
                yield FhirPerson(path, num, f"{source}#{dec(key)}", dec(final_id).strip())

    def records(self) -> Iterator[InputError | InputNote | RawRecord]:
        """:meth:`people`, each person assembled here, one at a time."""
        for item in self.people():
            if not isinstance(item, FhirPerson):
                yield item
                continue
            parts, lines = assemble(item.index, item.person, item.source, item.id, self.report)
            self.lines.extend(lines)
            yield from parts

    def report_lines(self) -> list[ReportLine]:
        """Every resource's line, in the order the report lists them: as read (ignored types,
        malformed resources), the patients, the other resources, then those read through
        references (Medications, DiagnosticReports); each group in input order."""
        if self.index is None:
            return []
        rows = self.index.db.execute(
            "SELECT seq, kind, key, file, line FROM res WHERE kind IN ('Medication', "
            "'DiagnosticReport') AND state = ? ORDER BY seq", (CHECKED,)).fetchall()
        paths = {}
        tail = []
        for seq, kind, key, file_id, line in rows:
            if file_id not in paths:
                paths[file_id] = dec(self.index.db.execute("SELECT path FROM files WHERE id = ?",
                                                           (file_id,)).fetchone()[0])
            source = paths[file_id] + (f":{line}" if line is not None else "")
            reason = ("read through the resources that reference it" if kind == "Medication"
                      else "its date dates those of its results that have none")
            tail.append((REFERENCED, seq, ReportLine(source, dec(key), True, reason)))
        own = [(phase, seq, order, line) for phase, seq, order, line in self.index.lines or []]
        found = [(phase, seq, len(own) + n, line)
                 for n, (phase, seq, line) in enumerate([*self.lines, *tail])]
        return [line for *_, line in sorted([*own, *found], key=lambda item: item[:3])]

    def close(self) -> None:
        if self.index is not None:
            self.index.close()


def read_fhir(items: Iterable[Entry | InputError], jobs: int = 1
              ) -> tuple[list[dict | InputError | InputNote], FhirReport]:
    """Assemble one record dict (project JSON form) per person, with the errors and notes,
    and the report of every resource (the whole input in memory: for small inputs and tests;
    :func:`~ql1706kg.inputs.read.read_paths` streams). ``jobs`` is accepted and unused."""
    del jobs
    with Workspace() as workspace:
        fhir = FhirInput(workspace, report=True)
        fhir.extend(items)
        out: list[dict | InputError | InputNote] = []
        try:
            for item in fhir.records():
                out.append({"__source__": item.source, **cast(dict, item.raw)}
                           if isinstance(item, RawRecord) else item)
            return out, FhirReport(fhir.report_lines())
        finally:
            fhir.close()
