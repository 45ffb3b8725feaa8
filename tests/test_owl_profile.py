"""The ontology and the shapes are OWL 2 DL documents, as the OWL API's profile checker judges.

Two checks:
- every class, property and datatype a document uses is declared in it (OWL 2 Structural
  Specification §5.8.1), found here in Python on the bundled files, each export and the
  protocol folder, so that a term added to ``ontology/terminology-*.ttl`` or the shapes without
  its declaration fails at once, with its name, on any machine;
- the OWL API 5 itself (``OWL2DLProfile``, what Protégé and the ontology portals run) on the
  exports in every syntax and on the files ``protocol export`` writes: 0 violations.
  It runs through ``tests/java/OwlProfile.java`` (the JDK's source launcher) with the jars of
  Debian's ``libowlapi-java`` (``.ci/run`` installs it) or of ``QL1706KG_OWLAPI_CLASSPATH``;
  skipped, with the reason, where Java or the jars are missing.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS

from ql1706kg.cli import main
from ql1706kg.protocol.resources import ontology_files, shape_files
from ql1706kg.semweb import publish

HARNESS = Path(__file__).parent / "java" / "OwlProfile.java"
DEBIAN_JARS = Path("/usr/share/java")
# The vocabularies OWL 2 itself reserves (Structural Specification §2.4): never declared.
RESERVED = ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/2000/01/rdf-schema#",
            "http://www.w3.org/2002/07/owl#", "http://www.w3.org/2001/XMLSchema#")
DECLARING = {OWL.Class: "class", RDFS.Datatype: "datatype", OWL.AnnotationProperty: "property",
             OWL.ObjectProperty: "property", OWL.DatatypeProperty: "property"}
# Triples whose object must be a class (the OWL 2 RDF mapping reads it as a class expression).
CLASS_POSITIONS = (RDF.type, RDFS.subClassOf, OWL.equivalentClass, OWL.disjointWith,
                   RDFS.domain, OWL.someValuesFrom, OWL.allValuesFrom, OWL.onClass)


def undeclared(graph: Graph) -> list[str]:
    """The terms ``graph`` uses without declaring them: predicates, classes (types,
    superclasses, domains, ranges of object properties, restriction fillers) and datatypes."""
    declared: dict[URIRef, set[str]] = {}
    for kind, name in DECLARING.items():
        for subject in graph.subjects(RDF.type, kind):
            declared.setdefault(subject, set()).add(name)
    datatype_properties = set(graph.subjects(RDF.type, OWL.DatatypeProperty))
    found: set[tuple[str, str]] = set()

    def need(term, kind: str) -> None:
        if isinstance(term, URIRef) and not str(term).startswith(RESERVED) \
                and kind not in declared.get(term, ()):
            found.add((kind, str(term)))

    for subject, predicate, obj in graph:
        need(predicate, "property")
        if predicate in CLASS_POSITIONS:
            need(obj, "class")
        if predicate == RDFS.range:
            need(obj, "datatype" if subject in datatype_properties else "class")
        if isinstance(obj, Literal) and obj.datatype is not None:
            need(obj.datatype, "datatype")
    return sorted(f"{kind} {term}" for kind, term in found)


def files_graph(paths) -> Graph:
    graph = Graph()
    for path in paths:
        graph.parse(path, format="turtle")
    return graph


@pytest.mark.parametrize("what", publish.WHATS)
def test_every_term_an_export_uses_is_declared(what):
    assert undeclared(publish.publication_graph(what)) == []


@pytest.mark.parametrize("part", ["ontology", "shapes"])
def test_every_term_the_bundled_files_use_is_declared(part):
    files = ontology_files() if part == "ontology" else shape_files()
    assert undeclared(files_graph(files)) == []


def test_the_finder_finds_an_undeclared_term():
    graph = publish.publication_graph("ontology")
    term = URIRef("https://w3id.org/ql1706kg#NewDrug")
    graph.add((term, RDF.type, URIRef("http://example.org/vocab#Medicine")))
    graph.add((term, URIRef("http://www.w3.org/2004/02/skos/core#scopeNote"), Literal("x")))
    graph.add((term, URIRef("https://w3id.org/ql1706kg#dose"),
               Literal("5", datatype=URIRef("http://example.org/vocab#mgPerKg"))))
    graph.add((BNode(), RDFS.subClassOf, URIRef("http://www.w3.org/ns/prov#Entity")))
    assert undeclared(graph) == [
        "class http://example.org/vocab#Medicine", "class http://www.w3.org/ns/prov#Entity",
        "datatype http://example.org/vocab#mgPerKg",
        "property http://www.w3.org/2004/02/skos/core#scopeNote",
        "property https://w3id.org/ql1706kg#dose"]


# ------------------------------------------------------------------------------ the OWL API


def owlapi_classpath() -> str | None:
    """The OWL API's jars: QL1706KG_OWLAPI_CLASSPATH, else Debian's libowlapi-java."""
    given = os.environ.get("QL1706KG_OWLAPI_CLASSPATH")
    if given:
        return given
    if (DEBIAN_JARS / "owlapi-distribution.jar").is_file():
        return str(DEBIAN_JARS / "*")
    return None


def run_owlapi(paths: list[Path]) -> dict[str, tuple[int, list[str]]]:
    """Run the OWL API's OWL 2 DL profile checker on ``paths`` (one JVM): per file the count of
    violations and the first ones, as the OWL API words them."""
    java, classpath = shutil.which("java"), owlapi_classpath()
    if java is None:
        pytest.skip("the OWL API's profile checker needs Java (a JDK 11 or later)")
    if classpath is None:
        pytest.skip("the OWL API is not installed (Debian package libowlapi-java, which .ci/run "
                    "installs; or set QL1706KG_OWLAPI_CLASSPATH to its jars)")
    done = subprocess.run([java, "-cp", classpath, str(HARNESS), *map(str, paths)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, tuple[int, list[str]]] = {}
    current = None
    for line in done.stdout.splitlines():
        if line.startswith("\t"):
            report[current][1].append(line.strip())
        else:
            current, count = line.rsplit("\t", 1)
            report[current] = (int(count), [])
    return report


@pytest.fixture(scope="module")
def profile_report(tmp_path_factory) -> dict[str, tuple[int, list[str]]]:
    """The checker on the whole publication in each syntax, on each part alone (Turtle: the
    serialisers do not depend on the part) and on the folder ``protocol export`` writes (its
    ontology files and its shapes files, each part as one document, as ``--protocol`` reads
    them)."""
    folder = tmp_path_factory.mktemp("owlapi")
    paths = []
    for what, fmt in [("all", fmt) for fmt in publish.FORMATS] + [("ontology", "ttl"),
                                                                   ("shapes", "ttl")]:
        path = folder / f"{what}.{fmt}"
        path.write_text(publish.export(what, fmt), encoding="utf-8")
        paths.append(path)
    exported = folder / "protocol"
    result = CliRunner().invoke(main, ["protocol", "export", str(exported)])
    assert result.exit_code == 0, result.output
    for part in ("ontology", "shapes"):
        path = folder / f"protocol-{part}.nt"
        files_graph(sorted((exported / part).glob("*.ttl"))).serialize(path, format="nt")
        paths.append(path)
    paths.append(folder / "undeclared.nt")
    without_declarations().serialize(paths[-1], format="nt")
    return {Path(name).name: found for name, found in run_owlapi(paths).items()}


@functools.cache
def expected_documents() -> list[str]:
    return sorted([f"all.{fmt}" for fmt in publish.FORMATS] + [
        "ontology.ttl", "shapes.ttl", "protocol-ontology.nt", "protocol-shapes.nt"])


def without_declarations() -> Graph:
    """The ontology without its declarations of other vocabularies' annotation properties."""
    graph = publish.publication_graph("ontology")
    for term in list(graph.subjects(RDF.type, OWL.AnnotationProperty)):
        if not str(term).startswith("https://w3id.org/ql1706kg"):
            graph.remove((term, RDF.type, OWL.AnnotationProperty))
    return graph


def test_the_owl_api_checks_every_document(profile_report):
    assert sorted(profile_report) == sorted([*expected_documents(), "undeclared.nt"])


@pytest.mark.parametrize("document", expected_documents())
def test_the_owl_api_finds_no_owl_2_dl_violation(profile_report, document):
    count, shown = profile_report[document]
    assert count == 0, f"{count} OWL 2 DL violations, e.g.: " + "; ".join(shown[:10])


def test_the_owl_api_checker_does_report_violations(profile_report):
    """The harness is not vacuous: without the declarations of other vocabularies' terms the
    ontology has the violations the issue counted (1,550 of them then)."""
    count, shown = profile_report["undeclared.nt"]
    assert count > 1000
    assert any("UseOfUndeclaredAnnotationProperty" in line and "skos/core#definition" in line
               for line in shown)


@pytest.mark.parametrize("what", publish.WHATS)
def test_another_trials_publication_declares_the_engine_terms_it_uses(what):
    """A protocol folder need not copy the engine's declarations (a copy goes stale): its
    publication declares every engine and SHACL term it uses, as the engine's files do."""
    from ql1706kg.protocol.resources import protocol

    with protocol(Path(__file__).resolve().parents[1] / "examples/protocols/sarc028"):
        assert undeclared(publish.publication_graph(what)) == []
