"""Serve verdicts over the SPARQL 1.1 Protocol, and push them to any SPARQL store.

``serve`` loads the ontology, the shapes and one named graph per patient assessment into an
Oxigraph store and runs Oxigraph's own server on it, read-only. Oxigraph is a real SPARQL 1.1
server (Query, Update and Graph Store protocols) shipped as a single binary in the ``oxigraph``
wheel: no Java, no service to install, and a read-only mode, which a home-made HTTP handler
over rdflib would have to re-implement (and get wrong) for content negotiation, streaming and
timeouts.

``push`` sends each assessment graph with an HTTP PUT of the SPARQL 1.1 Graph Store Protocol
(``?graph=IRI``), which every conforming store accepts, so results live where the hospital's
knowledge graph lives; a PUT replaces that graph, so re-screening a patient is idempotent.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

from rdflib import Dataset, Graph, URIRef

from ..errors import Ql1706kgError
from ..pipeline.validate import load_shapes_graph
from ..protocol.namespaces import QL, QLP, RDF
from ..protocol.terminology import load_ontology

ONTOLOGY_GRAPH = URIRef("https://w3id.org/ql1706kg")
SHAPES_GRAPH = URIRef("https://w3id.org/ql1706kg/shapes")


class ServeError(Ql1706kgError):
    """The server or the remote store could not be reached or refused the data."""


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


def dataset(verdicts: Graph) -> Dataset:
    """Ontology, shapes and every assessment as named graphs."""
    data = Dataset()
    data.graph(ONTOLOGY_GRAPH).__iadd__(load_ontology())
    data.graph(SHAPES_GRAPH).__iadd__(load_shapes_graph())
    for name, graph in assessment_graphs(verdicts).items():
        data.graph(name).__iadd__(graph)
    return data


def oxigraph_binary() -> str:
    """The ``oxigraph`` executable of this environment."""
    beside = Path(sys.executable).parent / "oxigraph"
    found = str(beside) if beside.exists() else shutil.which("oxigraph")
    if not found:
        raise ServeError("the oxigraph server is not installed (pip install oxigraph)")
    return found


def build_store(verdicts: Graph, location: Path) -> Path:
    """Load the dataset into an Oxigraph store at ``location``."""
    location.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        quads = Path(tmp) / "data.nq"
        quads.write_text(dataset(verdicts).serialize(format="nquads"), encoding="utf-8")
        proc = subprocess.run([oxigraph_binary(), "load", "--location", str(location),
                               "--file", str(quads)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ServeError(f"oxigraph could not load the data: {proc.stderr.strip()}")
    return location


def serve_command_line(location: Path, host: str, port: int) -> list[str]:
    """The read-only server, with the union of all graphs as the default graph."""
    return [oxigraph_binary(), "serve-read-only", "--location", str(location), "--bind",
            f"{host}:{port}", "--union-default-graph"]


def push(verdicts: Graph, endpoint: str, timeout: float = 30) -> list[str]:
    """PUT each assessment graph to a Graph Store Protocol endpoint; return the graph IRIs."""
    if urllib.parse.urlsplit(endpoint).scheme not in ("http", "https"):
        raise ServeError(f"'{endpoint}' is not an http(s) Graph Store endpoint")
    pushed = []
    for name, graph in assessment_graphs(verdicts).items():
        body = graph.serialize(format="turtle").encode("utf-8")
        separator = "&" if "?" in endpoint else "?"
        url = f"{endpoint}{separator}graph={urllib.parse.quote(str(name), safe='')}"
        request = urllib.request.Request(url, data=body, method="PUT",
                                         headers={"Content-Type": "text/turtle"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise ServeError(f"{endpoint} refused graph {name}: HTTP {exc.code} "
                             f"{exc.read()[:200].decode(errors='replace')}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServeError(f"cannot reach {endpoint}: {getattr(exc, 'reason', exc)}") from None
        pushed.append(str(name))
    return pushed


def verdicts_for(inputs: Iterable[str | Path], as_of, window_days: int) -> tuple[Graph, list]:
    """Verdict graph of patient inputs (screened) and verdict files (read)."""
    from ..api import screen
    from ..outputs.render import verdict_graph
    from .query import is_rdf, read_rdf

    graph, errors, patients = Graph(), [], []
    for item in inputs:
        path = Path(item)
        if path.is_file() and is_rdf(path):
            graph += read_rdf(path)
        else:
            patients.append(path)
    if patients:
        screening = screen(patients, as_of=as_of, window_days=window_days)
        graph += verdict_graph(screening)
        errors.extend(screening.errors)
    return graph, errors
