"""RDF recognised by its name or its content (inputs/sniff.py): query, serve and push load it
however the file is named; screen and lift refuse it with what it is and which command reads
it (issue 23: a .turtle file was not recognised, a verdict graph given to screen was "invalid
JSON at line 1")."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.inputs.sniff import SUFFIXES, rdf_syntax, sniff

from .conftest import AS_OF, DATA_DIR

IRI = "<https://w3id.org/ql1706kg/patient/X>"
CONTENTS = {
    "turtle": "# a comment\n@prefix ql: <https://w3id.org/ql1706kg#> .\n" + IRI + " a ql:P .\n",
    "turtle-sparql-prefix": "PREFIX ql: <https://w3id.org/ql1706kg#>\n" + IRI + " a ql:P .\n",
    "nt": IRI + ' <http://www.w3.org/2000/01/rdf-schema#label> "x \\" y"@en .\n',
    "nquads": IRI + " <http://p> _:b1 <https://w3id.org/g> .\n",
    "trig": "@prefix ql: <https://w3id.org/ql1706kg#> .\n<https://g> { " + IRI + " a ql:P . }\n",
    "trig-bare": "<https://g> {\n " + IRI + " <http://p> <http://o> .\n}\n",
    "json-ld": '{"@context": {"ql": "https://w3id.org/ql1706kg#"}, "@graph": []}',
    "json-ld-list": '[{"@id": "https://w3id.org/x", "@type": ["https://w3id.org/T"]}]',
    "xml": '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
}
NOT_RDF = {
    "record": json.dumps({"id": "P-1", "sex": "male"}),
    "fhir": json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []}),
    "csv": "patient,element,value\nP-1,sex,male\n",
    "html": "<!DOCTYPE html><html><body>hello</body></html>",
    "text": "nothing to see here\n",
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_each_syntax_is_recognised_by_its_first_bytes(name):
    expected = name.split("-")[0] if name not in ("json-ld", "json-ld-list") else "json-ld"
    assert sniff(("\ufeff" if name == "nt" else "") .encode() + CONTENTS[name].encode()) \
        == expected


@pytest.mark.parametrize("name", sorted(NOT_RDF))
def test_other_content_is_not_taken_for_rdf(name):
    assert sniff(NOT_RDF[name].encode()) is None


@pytest.mark.parametrize("suffix", sorted(SUFFIXES))
def test_a_suffix_names_its_syntax_whatever_the_content(tmp_path, suffix):
    path = tmp_path / f"graph{suffix.upper()}"
    path.write_text("")
    assert rdf_syntax(path) == SUFFIXES[suffix]


def test_patient_inputs_are_never_sniffed_as_rdf(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text(CONTENTS["turtle"])
    assert rdf_syntax(path) is None


def _verdicts(tmp_path):
    out = tmp_path / "v.nq"
    result = CliRunner().invoke(main, ["screen", str(DATA_DIR / "base-eligible.json"),
                                       "--as-of", AS_OF, "--format", "nquads", "-o", str(out)])
    assert result.exit_code == 0
    return out


@pytest.mark.parametrize("name", ["verdicts.n-quads", "verdicts", "verdicts.txt"])
def test_query_loads_verdict_graphs_however_named(tmp_path, name):
    renamed = tmp_path / name
    renamed.write_bytes(_verdicts(tmp_path).read_bytes())
    result = CliRunner().invoke(main, ["query", "eligible-patients", str(renamed),
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert "BASE-001" in result.stdout


def test_query_loads_turtle_named_turtle_and_json_ld_named_json(tmp_path):
    from rdflib import Dataset

    data = Dataset()
    data.parse(_verdicts(tmp_path), format="nquads")
    turtle, jsonld = tmp_path / "a.turtle", tmp_path / "b.json"
    graph = next(g for g in data.graphs() if "result" in str(g.identifier))
    turtle.write_text(graph.serialize(format="turtle"))
    jsonld.write_text(graph.serialize(format="json-ld"))
    for path in (turtle, jsonld):
        result = CliRunner().invoke(main, ["query", "eligible-patients", str(path),
                                           "--format", "csv"])
        assert result.exit_code == 0, result.output
        assert "BASE-001" in result.stdout, path


@pytest.mark.parametrize("command", ["screen", "lift"])
@pytest.mark.parametrize(("name", "said"), [("g.ttl", "RDF (Turtle)"), ("g", "RDF (Turtle)"),
                                            ("g.json", "RDF (JSON-LD)"),
                                            ("g.nq", "RDF (N-Quads)")])
def test_screen_and_lift_refuse_rdf_saying_what_it_is(tmp_path, command, name, said):
    path = tmp_path / name
    path.write_text(CONTENTS["json-ld" if name.endswith(".json") else "turtle"])
    result = CliRunner().invoke(main, [command, str(path), str(DATA_DIR / "base-eligible.json"),
                                       "--as-of", AS_OF])
    assert result.exit_code == 1
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith(f"error: {path}: is {said}, not a patient record")
    assert "'ql1706kg query'" in error
