"""A protocol folder that uses a term nothing defines is refused (ql1706kg.protocol.terms).

RDF tools ignore an unknown term: each row below is a one-word slip in the SARC028 folder that
the Turtle parser, pySHACL and the SHACL-SHACL shapes all accept, and that would otherwise have
changed outcomes silently (the ``appliesWhen`` slip made IN12.1 apply to every patient; the
path slip made the "no other active cancer" shape met by everyone).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph

from ql1706kg.cli import main
from ql1706kg.protocol.check import ProtocolRefused, folder_files
from ql1706kg.protocol.terms import check_terms

ROOT = Path(__file__).resolve().parents[1]
SARC028 = ROOT / "examples" / "protocols" / "sarc028"

# (file, text to replace, replacement, what the refusal names)
SLIPS = [
    ("ontology/sarc028-conditions.ttl", "ql:appliesWhen s28:CNSDisease",
     "ql:appliesWhne s28:CNSDisease", "ql1706kg#appliesWhne>, but neither"),
    ("shapes/sarc028-attributes.ttl", "sh:path ql:hasOtherActivePrimaryCancer",
     "sh:path ql:hasOtherActivePrimaryCancr", "did you mean <https://w3id.org/ql1706kg#"
     "hasOtherActivePrimaryCancer>?"),
    ("shapes/sarc028-attributes.ttl", "sh:minCount 1 ; sh:minInclusive 10 ]",
     "sh:minCount 1 ; sh:minInclusve 10 ]", "shacl#minInclusve>, but its vocabulary"),
    ("shapes/sarc028-attributes.ttl", "sh:qualifiedValueShape [ sh:class ql:ProtocolHistology ]",
     "sh:qualifiedValueShape [ sh:clas ql:ProtocolHistology ]", "shacl#clas>"),
    ("ontology/sarc028-conditions.ttl", "s28:AgeAtLeast18 a ql:Condition",
     "s28:AgeAtLeast18 a ql:Conditon", "did you mean <https://w3id.org/ql1706kg#Condition>?"),
    ("shapes/sarc028-attributes.ttl", "sh:targetClass ql:Patient ;", "sh:targetClass ql:Patiant ;",
     "did you mean <https://w3id.org/ql1706kg#Patient>?"),
    ("queries/eligible-patients.rq", "ql:verdict \"eligible\"", "ql:verdikt \"eligible\"",
     "ql1706kg#verdikt>"),
    ("shapes/sarc028-attributes.ttl", "sh:qualifiedValueShape [ sh:class ql:ProtocolHistology ]",
     "sh:qualifiedValueShape <https://w3id.org/ql1706kg/sarc028/shapes#Undescribed>",
     "names the shape <https://w3id.org/ql1706kg/sarc028/shapes#Undescribed>, which no"),
]


def graphs_of(folder: Path) -> tuple[dict[Path, Graph], list[Path]]:
    files = folder_files(folder)
    graphs = {f: Graph().parse(f, format="turtle") for f in files if f.suffix == ".ttl"}
    return graphs, [f for f in files if f.suffix == ".rq"]


@pytest.fixture(scope="module")
def sarc028_graphs():
    return graphs_of(SARC028)


def test_the_bundled_protocol_and_sarc028_use_only_defined_terms(exported, sarc028_graphs):
    check_terms(*sarc028_graphs)
    check_terms(*graphs_of(exported))


@pytest.mark.parametrize(("name", "old", "new", "named"), SLIPS,
                         ids=[slip[2].split()[1 if slip[2].startswith("sh:") else 0][:30]
                              for slip in SLIPS])
def test_a_slip_is_refused_naming_the_file_and_the_term(tmp_path, sarc028_graphs,
                                                       name, old, new, named):
    graphs, queries = sarc028_graphs
    target = SARC028 / name
    text = target.read_text(encoding="utf-8")
    assert old in text  # the row still describes the folder
    copy = tmp_path / name
    copy.parent.mkdir(parents=True)
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    if copy.suffix == ".rq":
        queries = [copy if q == target else q for q in queries]
    else:
        graphs = {f: g for f, g in graphs.items() if f != target}
        graphs[copy] = Graph().parse(copy, format="turtle")
    with pytest.raises(ProtocolRefused) as refused:
        check_terms(graphs, queries)
    assert str(copy) in str(refused.value) and named in str(refused.value)


def test_the_screen_command_refuses_such_a_folder_without_a_traceback(tmp_path):
    folder = tmp_path / "sarc028"
    shutil.copytree(SARC028, folder)
    shapes = folder / "shapes" / "sarc028-attributes.ttl"
    shapes.write_text(shapes.read_text(encoding="utf-8").replace(
        "sh:path ql:hasOtherActivePrimaryCancer", "sh:path ql:hasOtherActivePrimaryCancr", 1),
        encoding="utf-8")
    result = CliRunner().invoke(main, ["screen", str(SARC028 / "patients"), "--protocol",
                                       str(folder), "--as-of", "2026-11-20"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "hasOtherActivePrimaryCancr" in result.output and "did you mean" in result.output
