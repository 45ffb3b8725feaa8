"""Who is who, as queries over the run's index: people, the dates and subjects reports give their
results, and whose each resource is.

After the first pass (:mod:`.index`) every rule of "which resources belong together"
(docs/fhir.md) is applied here, in this order, as the in-memory reader applied it:
  1. resources that share an id or a fullUrl in a scope are checked against their models, so
     that a reference names the first usable one;
  2. Patients become people: Patients of different scopes are one person when an identifier
     (system and value) matches, or when they are the same resource shipped twice; two people
     who share an id keep it, qualified by where each came from (``1@a.json``);
  3. DiagnosticReports date the results they list, and give a result without a subject the
     report's patient (a result listed by reports of two patients is given to neither);
  4. every other resource goes to the person its subject names, or is an orphan: checked if a
     criterion could use it (a malformed one is an error), else named in a note per file.
A hit of a look-up is the row's (seq, kind).
"""

from __future__ import annotations

import pickle
import sqlite3
from collections.abc import Callable, Iterator

from ...errors import InputError, InputNote
from ...protocol.terminology import Terminology
from .conformance import model_problem
from .index import (
    CHECKED,
    INDEXES,
    LIGHT,
    MALFORMED,
    RESOURCES,
    ROW,
    UNCHECKED,
    FhirIndex,
    RowReader,
    dec,
    enc,
)
from .pool import IDENTIFIER, _base, read_types, resolve
from .relevance import can_be_used
from .reports import date_and_adopt

Hit = tuple[int, str]
OWNED_ELSEWHERE = ("Patient", "Medication", "DiagnosticReport")


class Lookups:
    """The look-ups of :func:`.pool.resolve` over the index. A resource not checked yet counts
    as usable unless ``usable`` says otherwise (the parent never needs to know: resources
    that share a name were checked first)."""

    def __init__(self, db: sqlite3.Connection,
                 usable: Callable[[int], bool] | None = None) -> None:
        self.db, self.usable = db, usable
        self.any_url = db.execute("SELECT 1 FROM res WHERE url IS NOT NULL LIMIT 1").fetchone()

    def by_url(self, scope: object, url: str) -> Hit | None:
        if not self.any_url:
            return None
        if scope is None:
            return self._first(self.db.execute(
                "SELECT seq, kind, state FROM res WHERE url = ? ORDER BY seq", (enc(url),)))
        return self._first(self.db.execute(
            "SELECT seq, kind, state FROM res WHERE scope = ? AND url = ? ORDER BY seq",
            (scope, enc(url))))

    def by_key(self, scope: object, key: str) -> Hit | None:
        return self._first(self.db.execute(
            "SELECT seq, kind, state FROM res WHERE scope = ? AND key = ? ORDER BY seq",
            (scope, enc(key))))

    def _first(self, rows: Iterator[tuple]) -> Hit | None:
        for seq, kind, state in rows:
            if state == CHECKED or (state == UNCHECKED and (self.usable is None
                                                            or self.usable(seq))):
                return seq, kind
        return None

    def resolve(self, reference: str | None, scope: int, folder: int, url: str | None
                ) -> Hit | None:
        if not isinstance(reference, str):
            return None
        return resolve(reference, scope, folder, url, self.by_url, self.by_key)


class Grouping:
    """The second pass over the index (see the module's text), in the process that read it."""

    def __init__(self, index: FhirIndex, term: Terminology) -> None:
        self.index, self.db, self.term = index, index.db, term
        # resources tied to no patient are set aside for the people they may be about
        self.untied_types = read_types(term) - set(OWNED_ELSEWHERE)
        self.rows = RowReader(self.db)
        self.lookups: Lookups | None = None
        self.people = 0
        self._owner_cache: dict[tuple, int | None] = {}
        self._scope_people: dict[int, list] = {}  # scope -> people with a Patient in it

    def run(self) -> None:
        self.index.flush()
        self.db.executescript(INDEXES)  # commits what the first pass wrote
        self.db.execute("BEGIN")
        self.lookups = Lookups(self.db)
        self.apply_effects()
        self.check_shared_names()
        self.people_of_patients()
        self.tell_apart()
        date_and_adopt(self)
        self.give_resources()
        self.orphans()
        self.db.execute("COMMIT")
        self.rows.close()

    # -- 1. resources that share a name --------------------------------------------------------
    def check_shared_names(self) -> None:
        """Check every unchecked resource that shares its 'Type/id' or fullUrl with another in a
        scope, or its fullUrl anywhere: which of them a reference names depends on which are
        usable."""
        self.db.execute("INSERT INTO shared(scope, key) SELECT scope, key FROM res "
                        "GROUP BY scope, key HAVING count(*) > 1")
        assert self.lookups is not None  # made when the index is opened
        if self.lookups.any_url:
            self.db.execute("INSERT INTO shared(scope, url) SELECT scope, url FROM res WHERE "
                            "url IS NOT NULL GROUP BY scope, url HAVING count(*) > 1")
            self.db.execute("INSERT INTO shared(url) SELECT url FROM res WHERE url IS NOT NULL "
                            "GROUP BY url HAVING count(*) > 1")
        last = 0
        while batch := self.db.execute("SELECT n, scope, key, url FROM shared WHERE n > ? "
                                       "ORDER BY n LIMIT 500", (last,)).fetchall():
            last = batch[-1][0]
            for _, scope, key, url in batch:
                where, values = (("scope = ? AND key = ?", (scope, key)) if key is not None
                                 else ("scope = ? AND url = ?", (scope, url))
                                 if scope is not None else ("url = ?", (url,)))
                for row in self.db.execute(f"SELECT {ROW} FROM res WHERE {where} AND state = ? "
                                           "AND aside IS NULL ORDER BY seq",
                                           (*values, UNCHECKED)).fetchall():
                    self.check(row)

    def check(self, row: tuple) -> bool:
        """Check one resource against its model now; False (and an error) if it breaks it."""
        entry = self.rows.entry(row)
        if self.index.malformed(entry.seq, entry, model_problem(entry.type, entry.data)):
            self.db.execute("UPDATE res SET state = ? WHERE seq = ?", (MALFORMED, entry.seq))
            return False
        self.db.execute("UPDATE res SET state = ? WHERE seq = ?", (CHECKED, entry.seq))
        return True

    # -- 2. people -----------------------------------------------------------------------------
    def people_of_patients(self) -> None:
        """One person per Patient, but Patients of different scopes are one person when an
        identifier (or the whole resource) matches."""
        rows = self.db.execute("SELECT p.seq, p.rec_id, p.keys, p.scope_name, r.scope FROM "
                               "patients p JOIN res r USING (seq) ORDER BY p.seq")
        for seq, rec_id, keys, scope_name, scope in rows:
            keys = pickle.loads(keys)  # the run's own scratch file
            same = None
            for key in keys:
                found = self.db.execute("SELECT person FROM idents WHERE key = ?",
                                        (key,)).fetchone()
                if found is not None:
                    same = found[0]
                    break
            if same is None or self.db.execute("SELECT scope FROM persons WHERE num = ?",
                                               (same,)).fetchone()[0] == scope:
                self.people += 1
                same = self.people
                self.db.execute("INSERT INTO persons VALUES (?, ?, ?, ?, ?, ?)",
                                (same, seq, scope, rec_id, rec_id, scope_name))
            self.db.execute("INSERT INTO people VALUES (?, ?)", (seq, same))
            self.db.execute("INSERT INTO owned VALUES (?, ?)", (same, seq))
            self.db.executemany("INSERT OR IGNORE INTO idents VALUES (?, ?)",
                                [(key, same) for key in keys])

    def tell_apart(self) -> None:
        """Two people who share an id (``Patient/1`` in two bundles) keep it, qualified by
        where each came from, so neither is merged into nor mistaken for the other."""
        shared = self.db.execute("SELECT num, rec_id, scope_name FROM persons WHERE rec_id IN "
                                 "(SELECT rec_id FROM persons GROUP BY rec_id HAVING "
                                 "count(*) > 1)").fetchall()
        self.db.executemany("UPDATE persons SET final_id = ? WHERE num = ?",
                            [(enc(f"{dec(rec_id)}@{dec(name)}"), num)
                             for num, rec_id, name in shared])

    def patient_of(self, row: list | tuple) -> int | None:
        """The Patient (its seq) a resource is about, if its subject names one of the input."""
        ref, scope, folder, url = dec(row[11]), row[5], row[6], dec(row[7])
        if not isinstance(ref, str):
            return None
        if ref.startswith(IDENTIFIER):  # a logical reference: the Patient with that identifier
            system, _, value = ref[len(IDENTIFIER):].partition("|")
            found = self.db.execute(
                "SELECT p.first FROM idents i JOIN persons p ON p.num = i.person WHERE "
                "i.key = ?", (pickle.dumps((system, value)),)).fetchone()
            return found[0] if found is not None else None
        cache_key = (ref, scope, folder, _base(url))
        if cache_key in self._owner_cache:
            return self._owner_cache[cache_key]
        assert self.lookups is not None
        hit = self.lookups.resolve(ref, scope, folder, url)
        found = hit[0] if hit is not None and hit[1] == "Patient" else None
        if len(self._owner_cache) > 4_096:
            self._owner_cache.clear()
        self._owner_cache[cache_key] = found
        return found

    # -- 4. whose each resource is -------------------------------------------------------------
    def give_resources(self) -> None:
        """Every resource (but Patients, Medications and reports) to its person, or an
        orphan."""
        person_of: dict[int, int] = {}
        cursor = self.db.execute(
            f"SELECT a.patient, {LIGHT} FROM res r LEFT JOIN adopted a USING (seq) WHERE "
            f"r.state < ? AND r.kind NOT IN {OWNED_ELSEWHERE} ORDER BY r.seq", (MALFORMED,))
        while batch := cursor.fetchmany(2_000):
            owned, orphaned = [], []
            for adopted, *row in batch:
                patient = adopted if adopted is not None else self.patient_of(row)
                person = None
                if patient is not None:
                    person = person_of.get(patient)
                    if person is None:
                        person = self.db.execute("SELECT person FROM people WHERE seq = ?",
                                                 (patient,)).fetchone()[0]
                        if len(person_of) > 4_096:
                            person_of.clear()
                        person_of[patient] = person
                if person is not None:
                    owned.append((person, row[0]))
                elif row[11] is None and row[1] in self.untied_types and self.untie(row):
                    continue  # tied to no one: set aside for every person it may be about
                else:
                    orphaned.append((row[0], "", row[2]))
            self.db.executemany("INSERT INTO owned VALUES (?, ?)", owned)
            self.db.executemany("INSERT INTO orphans VALUES (?, ?, ?)", orphaned)

    def untie(self, row: list | tuple) -> bool:
        """A resource that names no patient (no subject, or a display only) may be about any
        person whose Patient is in its bundle (or, outside bundles, its folder): it is set aside
        for each of them, so its absence makes none of them eligible. False when there is
        none."""
        if len(self._scope_people) > 4_096:
            self._scope_people.clear()
        people = self._scope_people.get(row[5])
        if people is None:
            people = self._scope_people[row[5]] = self.db.execute(
                "SELECT DISTINCT pe.person FROM res r JOIN people pe ON pe.seq = r.seq WHERE "
                "r.kind = 'Patient' AND r.scope = ?", (row[5],)).fetchall()
        self.db.executemany("INSERT INTO untied VALUES (?, ?)",
                            [(person, row[0]) for (person,) in people])
        return bool(people)

    def apply_effects(self) -> None:
        """A DELETE or PATCH, in a transaction or history Bundle, of a resource that is in
        another file of the same folder: which came first cannot be told from files, so the
        resource is neither read as current nor dropped: it is set aside, naming the
        request."""
        for seq, key, folder, effect, source in self.db.execute(
                "SELECT seq, key, folder, effect, source FROM effects ORDER BY seq").fetchall():
            aside = pickle.dumps(("Bundle.entry.request", f"a {effect.upper()} of it in "
                                  f"{dec(source)}: its current state is not known"))
            self.db.execute("UPDATE res SET aside = ? WHERE key = ? AND folder = ? AND "
                            "aside IS NULL AND seq != ?", (aside, key, folder, seq))

    def orphans(self) -> None:
        """Resources whose patient is not in the input: checked if a criterion could use them
        (a malformed one is reported as such, not as an orphan), then named per file."""
        last = 0
        while batch := self.db.execute(f"SELECT {ROW} FROM res WHERE seq IN (SELECT seq FROM "
                                       "orphans WHERE seq > ? ORDER BY seq LIMIT 500) ORDER BY "
                                       "seq", (last,)).fetchall():
            last = batch[-1][0]
            for row in batch:
                entry = self.rows.entry(row)
                if row[13] == UNCHECKED and can_be_used(self.term, entry.type, entry.data) \
                        and not self.check(row):
                    self.db.execute("DELETE FROM orphans WHERE seq = ?", (entry.seq,))
                    continue
                self.db.execute("UPDATE orphans SET file = ? WHERE seq = ?",
                                (enc(file_of(entry.source)), entry.seq))
                self.index.line(RESOURCES, entry.seq, entry, False,
                                "its subject is not a Patient in the input")


def file_of(source: str) -> str:
    """The file a source names (an NDJSON source carries ':line')."""
    head, _, tail = source.rpartition(":")
    return head if head and tail.isdigit() else source


def orphan_items(db: sqlite3.Connection, any_patient: bool) -> Iterator[InputError | InputNote]:
    """Resources whose patient is not in the input are not screened, and said so per file: a
    note beside the patients that were screened (an export may hold resources of people it
    does not include), an error when the FHIR input holds no patient at all (nothing of it
    could be screened: never a silent success)."""
    files = db.execute("SELECT file, count(*) FROM orphans GROUP BY file ORDER BY min(seq)")
    for file, count in files.fetchall():
        keys = [dec(key) for (key,) in db.execute(
            "SELECT key FROM orphans WHERE file = ? ORDER BY seq LIMIT 3", (file,))]
        file = dec(file)
        shown = ", ".join(keys) + (f" and {count - 3} more" if count > 3 else "")
        message = (f"{count} resource(s) are about a patient that is not in the input "
                   f"({shown}): they were not screened")
        yield (InputNote(file, message) if any_patient else
               InputError(file, message + "; give the file with their Patient too"))
