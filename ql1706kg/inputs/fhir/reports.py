"""What DiagnosticReports say of their results, as queries over the run's index.

Results often carry no date of their own: the DiagnosticReport that lists them does (the first
report that lists one). A result without a subject that the report of a patient lists is that
patient's (R4: DiagnosticReport.result holds the report's observations), dated by that report
when it has no date of its own; a result listed by reports of two different patients is given
to neither (it is not guessed). Step 3 of :class:`~.grouping.Grouping`, whose look-ups and
index it uses (a row is the index's :data:`~.index.ROW`).
"""

from __future__ import annotations

import pickle
from typing import Any

from .index import LIGHT, MALFORMED, columns, dec, enc


def date_and_adopt(grouping: Any) -> None:
    """Date the results of every report, then give the subject-less ones their patient."""
    db, lookups = grouping.db, grouping.lookups
    query = (f"SELECT d.date, d.refs, {LIGHT} FROM reports d JOIN res r USING (seq) "
             "ORDER BY seq")
    for when, refs, *row in db.execute(query):
        if when:
            for ref in pickle.loads(refs):
                if isinstance(ref, str) and not ref.startswith("#"):
                    hit = lookups.resolve(ref, row[5], row[6], dec(row[7]))
                    if hit is not None:
                        db.execute("INSERT OR IGNORE INTO dated VALUES (?, ?)", (hit[0], when))
    order = 0
    for _, refs, *row in db.execute(query):
        patient = grouping.patient_of(row)
        for ref in pickle.loads(refs):
            target = _listed(grouping, ref, row) if isinstance(ref, str) else None
            if target is None:
                continue
            kind, has_subject = db.execute("SELECT kind, has_subject FROM res WHERE seq = ?",
                                           (target,)).fetchone()
            if kind != "Observation" or has_subject:
                continue
            order += 1
            db.execute("INSERT INTO owners VALUES (?, ?, ?, ?) ON CONFLICT(target) DO UPDATE "
                       "SET patient = CASE WHEN patient IS excluded.patient THEN patient END, "
                       "report = excluded.report", (target, order, patient, row[0]))
    _adopt(grouping)


def _adopt(grouping: Any) -> None:
    """A result with one patient takes the subject that names that patient from where the
    result is (the patient's fullUrl, else its 'Patient/id'), and the report's date."""
    db, lookups = grouping.db, grouping.lookups
    owners = db.execute(f"SELECT o.patient, o.report, d.date, {columns('r', light=True)} FROM "
                        "owners o JOIN res r ON r.seq = o.target LEFT JOIN reports d ON "
                        "d.seq = o.report WHERE o.patient IS NOT NULL ORDER BY o.ord")
    for patient, report, when, *target in owners:
        url, key = db.execute("SELECT url, key FROM res WHERE seq = ?", (patient,)).fetchone()
        for reference in (dec(url), dec(key)):
            hit = lookups.resolve(reference, target[5], target[6], dec(target[7])) \
                if reference is not None else None
            if hit is not None and hit[0] == patient:
                (report_key,) = db.execute("SELECT key FROM res WHERE seq = ?",
                                           (report,)).fetchone()
                db.execute("INSERT INTO adopted VALUES (?, ?, ?)",
                           (target[0], report_key, patient))
                if when:
                    db.execute("INSERT OR IGNORE INTO dated VALUES (?, ?)", (target[0], when))
                break


def _listed(grouping: Any, reference: str, report: list) -> int | None:
    """The resource a report's result reference names, looked up among the Observations
    of the report's own Bundle first (its relative or full URL, the last one so named):
    the examples of one folder reuse fullUrls such as
    https://example.com/base/Observation/o3 in several bundles."""
    tail = "/".join(reference.split("/_history/")[0].rstrip("/").split("/")[-2:])
    base = (dec(report[7]) or "").rsplit("/", 2)[0]
    for name in (reference, f"{base}/{tail}" if base else None, tail):
        if not name:
            continue
        found = [grouping.db.execute(
            f"SELECT max(seq) FROM res WHERE scope = ? AND {column} = ? AND kind = "
            "'Observation' AND state < ?", (report[5], enc(name), MALFORMED)).fetchone()[0]
            for column in ("key", "url")]  # two look-ups: each has its index
        if found != [None, None]:
            return max(seq for seq in found if seq is not None)
    hit = grouping.lookups.resolve(reference, report[5], report[6], dec(report[7]))
    return hit[0] if hit is not None else None
