"""The dataset ``query`` and ``serve`` read, in an Oxigraph store: the ontology
(``<https://w3id.org/ql1706kg>``), the shapes (``<https://w3id.org/ql1706kg/shapes>``) and the
verdicts, one named graph per assessment.

Nothing here builds a graph of the cohort in Python. Patient inputs are screened in worker
processes that encode each patient's assessment graph as N-Quads
(:func:`~ql1706kg.outputs.rdf_stream.patient_nquads`); this process only writes those bytes
to a scratch file as they arrive, which Oxigraph's bulk loader then reads. Verdict files are
checked (:mod:`.rdf_input`: UTF-8, no JSON-LD context or import by reference, no RDF/XML
DOCTYPE) and loaded as they are; ``serve`` (``split``) instead reads them with rdflib and
splits them into one graph per assessment, as it always has. An unreadable input is an
error entry; the others are used.
"""

from __future__ import annotations

import codecs
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from rdflib import Graph, URIRef

from ..errors import InputError
from ..leftovers import make_owned_folder
from ..pipeline.results import EncodedResult, ScreeningError
from ..protocol.namespaces import QL, QLP, RDF
from ..protocol.texts import rendered_file
from .rdf_input import OXIGRAPH_FORMATS, checked_chunks, is_rdf, read_rdf, syntax
from .store import LoadError, Store, StoreError

ONTOLOGY_GRAPH = "https://w3id.org/ql1706kg"
SHAPES_GRAPH = "https://w3id.org/ql1706kg/shapes"
# Formats whose statements name their graphs (Oxigraph's --graph applies to the others only).
DATASET_FORMATS = ("nq", "trig")

OnError = Callable[[ScreeningError], None]
# A store kept for many queries (serve, query --store) is compacted once loaded from this many
# patients on: ~110 s for 100,000 patients, named queries ~10× faster. Below it the queries
# already answer in well under a second (10,000 patients: 0.4 s at most) and the time to be
# ready matters more.
OPTIMIZE_FROM = 20_000


def input_error(error: InputError) -> ScreeningError:
    """An unreadable verdict file, as the error entry every command prints and reports."""
    return ScreeningError(error.source, error.detail, error.record, error.field)


def assessment_graphs(verdicts: Graph) -> dict[URIRef, Graph]:
    """Split a verdict graph into one graph per assessment: the assessment, its results and
    the patient facts they cite, named by the assessment's IRI."""
    facts: dict[str, list] = {}
    for triple in verdicts:
        subject = str(triple[0])
        if subject.startswith(str(QLP)):
            patient = str(QLP) + subject[len(str(QLP)):].split("/", 1)[0]
            facts.setdefault(patient, []).append(triple)
    out: dict[URIRef, Graph] = {}
    for assessment in verdicts.subjects(RDF.type, QL.Assessment):
        graph = Graph()
        for node in (assessment, *verdicts.objects(assessment, QL.hasResult)):
            for triple in verdicts.triples((node, None, None)):
                graph.add(triple)
        for triple in facts.get(str(verdicts.value(assessment, QL.assessedPatient)), ()):
            graph.add(triple)
        out[URIRef(str(assessment))] = graph
    return out


def load_protocol(store: Store) -> None:
    """The ontology and the shapes, each in its named graph, their texts rendered (a text
    that states a limit shows the limit's literal: :mod:`ql1706kg.protocol.texts`)."""
    for part, graph in (("ontology", ONTOLOGY_GRAPH), ("shapes", SHAPES_GRAPH)):
        try:
            store.load_files([rendered_file(part, store.scratch)], graph)
        except LoadError as exc:
            raise StoreError(f"oxigraph could not load the bundled {graph}: {exc}") from None


def load_inputs(store: Store, inputs: Iterable[str | Path], as_of: date | str | None,
                window_days: int | None, jobs: int = 0, split: bool = False,
                on_error: OnError | None = None) -> list[ScreeningError]:
    """Screen the patient inputs and read the verdict files into ``store``; return the error
    entries (each also given to ``on_error`` as it is found)."""
    errors: list[ScreeningError] = []

    def failed(error: ScreeningError) -> None:
        errors.append(error)
        if on_error is not None:
            on_error(error)

    patients = []
    for item in inputs:
        if not isinstance(item, str | Path):  # an OMOP database, read in place (--omop)
            patients.append(item)
            continue
        path = Path(item)
        if path.is_file() and is_rdf(path):
            try:
                (_load_split if split else _load_file)(store, path)
            except InputError as exc:
                failed(input_error(exc))
        else:
            patients.append(path)
    if patients:
        load_patients(store, patients, as_of, window_days, jobs, failed)
    return errors


def load_patients(store: Store, inputs: list[Path], as_of: date | str | None,
                  window_days: int | None, jobs: int, on_error: OnError) -> None:
    """Screen the inputs (``jobs`` worker processes; 0: one per core), write each patient's
    assessment graph, encoded where it was screened, to an N-Quads file in the store's scratch
    folder, and bulk-load it. Why a file and not a pipe into the loader as patients come:
    Oxigraph parses a line-based file in parallel; measured on 10,000 patients (5.6 million
    quads), 26 s from a file against 44 s through a pipe, and screening takes less than the
    difference. The file (~120 KB a patient) is removed once loaded."""
    from ..api import assessment_for, iter_screen, protocol_version
    from ..outputs.rdf_stream import patient_nquads, rdf_run

    assessment = (assessment_for(as_of) if window_days is None else
                  assessment_for(as_of, window_days))
    shared = rdf_run(assessment.as_of.isoformat(), protocol_version())
    encode = functools.partial(patient_nquads, run=shared)
    with tempfile.NamedTemporaryFile(dir=store.scratch, prefix="verdicts-", suffix=".nq",
                                     buffering=1 << 20) as handle:
        for item in iter_screen(inputs, assessment, jobs=jobs or os.cpu_count() or 1,
                                keep_graphs=False, encode=encode):
            if isinstance(item, ScreeningError):
                on_error(item)
            elif isinstance(item, EncodedResult):  # (encode given)
                handle.write(item.data)
                store.patients += 1
        handle.flush()
        try:
            store.load_files([Path(handle.name)], fmt="nq")
        except LoadError as exc:  # the N-Quads are ours: a bug, not an input error
            raise StoreError(f"oxigraph refused the verdicts: {exc}") from None


def _load_file(store: Store, path: Path) -> None:
    """A verdict file as it is (its quads in their graphs; a graph file's triples in the named
    graph of the file's ``file:`` IRI, so that the named queries' ``GRAPH ?g`` patterns read
    them as they read the assessment graphs), checked first
    (:func:`~.rdf_input.checked_chunks`); then Oxigraph reads the file itself (in parallel for
    the line-based formats), or, when a byte-order mark must be left out, from a pipe."""
    fmt = OXIGRAPH_FORMATS[syntax(path)]
    base = path.resolve().as_uri()
    graph = None if fmt in DATASET_FORMATS else base
    try:
        with path.open("rb") as handle:
            marked = handle.read(3) == codecs.BOM_UTF8
        if marked or fmt in ("jsonld", "rdf"):  # read whole, checked, then given as read
            with store.loader(fmt, graph=graph, base=base) as pipe:
                for chunk in checked_chunks(path):
                    pipe.write(chunk)
        else:
            for _chunk in checked_chunks(path):
                pass
            store.load_files([path], graph=graph, fmt=fmt, base=base)
    except OSError as exc:
        raise InputError(str(path), f"cannot be read: {exc.strerror or exc}") from None
    except LoadError as exc:
        raise InputError(str(path), f"not valid {_named(path)}: {exc}") from None


def _load_split(store: Store, path: Path) -> None:
    """A verdict file read with rdflib and split into one graph per assessment."""
    from ..outputs.rdf_stream import nquads_block

    graphs = assessment_graphs(read_rdf(path))
    try:
        with store.loader("nq") as pipe:
            for name, graph in graphs.items():
                pipe.write(nquads_block(graph, str(name)))
    except LoadError as exc:
        raise InputError(str(path), f"not valid {_named(path)}: {exc}") from None


def _named(path: Path) -> str:
    return syntax(path)


class QueryStore(Store):
    """The store ``query`` reads: by default a temporary one, removed on :meth:`close` (a
    context manager); or the store at ``location``, kept, which is made with the ontology
    and shapes if it does not hold a store yet (load once, query many times). ``errors`` are
    the inputs that could not be read."""

    def __init__(self, inputs: Iterable[str | Path] = (), as_of: date | str | None = None,
                 window_days: int | None = None, jobs: int = 0,
                 on_error: OnError | None = None, location: Path | None = None) -> None:
        self._folder = make_owned_folder("query")
        try:
            root = self._folder
            new = location is None or not location.exists() or not any(location.iterdir())
            super().__init__(location or root / "store", root / "scratch")
            if new:
                load_protocol(self)
            self.errors = load_inputs(self, inputs, as_of, window_days, jobs,
                                      on_error=on_error)
            if location is not None and self.patients >= OPTIMIZE_FROM:
                self.optimize()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> QueryStore:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
