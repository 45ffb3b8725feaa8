"""FHIR resources into patient records: the pool filled, each resource given to its patient.

This is the one place that knows the order of reading (pool and check every resource, date
results by their reports, build one record per Patient, give every other resource to its
patient's builder, account for the rest), so it sits on top of the modules that do each step.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...errors import InputError
from ...protocol.terminology import terminology
from .builder import RecordBuilder
from .entries import Entry, FhirReport
from .pool import Pool


def read_fhir(items: Iterable[Entry | InputError], jobs: int = 1
              ) -> tuple[list[dict | InputError], FhirReport]:
    """Assemble one record dict (project JSON form) per Patient; errors kept in order.
    ``jobs`` processes check the resources against their models."""
    pool = Pool()
    pool.add_all(items, jobs)
    term = terminology()
    _date_results_by_their_reports(pool)
    builders: dict[str, RecordBuilder] = {}
    for entry in pool.entries:
        if entry.type == "Patient":
            builder = RecordBuilder(entry, pool, term)
            builders[entry.key] = builder
            pool.report.add(entry, True, "; ".join(["the patient", *builder.notes]))
    for entry in pool.entries:
        if entry.type in ("Patient", "Medication", "DiagnosticReport"):
            continue
        owner = builders.get(pool.patient_key(entry) or "")
        if owner is None:
            pool.report.add(entry, False, "its subject is not a Patient in the input")
            continue
        used, reason = owner.take(entry)
        pool.report.add(entry, used, reason)
    for entry in pool.entries:
        if entry.type == "Medication":
            pool.report.add(entry, True, "read through the resources that reference it")
        elif entry.type == "DiagnosticReport":
            pool.report.add(entry, True, "its date dates those of its results that have none")
    out: list[dict | InputError] = [*pool.errors]
    out.extend(builder.record() for builder in builders.values())
    return out, pool.report


def _date_results_by_their_reports(pool: Pool) -> None:
    """Results often carry no date of their own: the DiagnosticReport that lists them does."""
    for entry in pool.entries:
        if entry.type != "DiagnosticReport":
            continue
        data = entry.data
        when = data.get("effectiveDateTime") or (data.get("effectivePeriod") or {}).get("start")
        if not when:
            continue
        for result in data.get("result") or []:
            target = pool.resolve(result.get("reference"), entry)
            if target is not None:
                pool.report_dates.setdefault(id(target), when)
