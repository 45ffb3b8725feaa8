"""No protocol in the code: no file of the package outside the protocol's own data folders
names a trial, a criterion id of the bundled protocol or of the SARC028 example folder, or a
drug of the bundled terminology. The package's name (``ql1706kg``) and its environment
variables (``QL1706KG_…``) are the only exceptions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rdflib import RDF, RDFS, Graph, Namespace

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ql1706kg"
FOLDERS = (ROOT / "ontology", ROOT / "examples" / "protocols" / "sarc028" / "ontology")
# The protocol's own data inside the package: the engine's data files and the bundled
# protocol's named queries (a protocol folder has its own queries/), and the installed copy
# of ontology/ and shapes/.
DATA = (PACKAGE / "protocol" / "data", PACKAGE / "queries", PACKAGE / "data")
ALLOWED = re.compile(r"ql1706kg|QL1706KG_\w*", re.IGNORECASE)
QL = Namespace("https://w3id.org/ql1706kg#")


def _graph(folder: Path) -> Graph:
    graph = Graph()
    for path in sorted(folder.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def names() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(trial and drug names, case-insensitive whole words; criterion ids, as written)."""
    graphs = [_graph(folder) for folder in FOLDERS]
    ids = {str(i) for g in graphs for i in g.objects(None, QL.criterionId)}
    trials = {"QL1706", "SARC028"} | {str(n) for g in graphs
                                      for n in g.objects(None, QL.trialShortName)}
    bundled = graphs[0]
    classes = set(bundled.transitive_subjects(RDFS.subClassOf, QL.Drug)) - {QL.Drug}
    members = classes | {i for c in classes for i in bundled.subjects(RDF.type, c)}
    drugs = {str(label) for m in members for label in bundled.objects(m, RDFS.label)}
    assert len(ids) > 40 and len(drugs) > 100  # both protocols' ids, the drug terminology

    def alternatives(words: set[str]) -> str:
        return "|".join(map(re.escape, sorted(words, key=len, reverse=True)))

    # an id inside a longer name counts too (``ForA2``), but not inside another id or code
    return (re.compile(rf"(?<!\w)({alternatives(trials | drugs)})(?!\w)", re.IGNORECASE),
            re.compile(rf"(?<![A-Z0-9])({alternatives(ids)})(?!\w)"))


def _scanned() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if p.is_file()
                  and "__pycache__" not in p.parts and p.suffix != ".pyc"
                  and not any(p.is_relative_to(d) for d in DATA))


def test_the_scan_covers_the_code():
    files = _scanned()
    assert len([p for p in files if p.suffix == ".py"]) > 100
    assert any(p.suffix == ".json" for p in files)


def test_no_file_names_a_trial_a_criterion_or_a_drug(names):
    found = []
    for path in _scanned():
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            line = ALLOWED.sub("", line)
            found += [f"{path.relative_to(ROOT)}:{number}: {m.group(0)}"
                      for pattern in names for m in pattern.finditer(line)]
    assert found == []


def test_the_scan_finds_what_it_looks_for(names):
    """The patterns catch each kind of name (so an empty result above means something)."""
    words, ids = names
    assert words.search("QL1706 screening") and words.search("given DOXOrubicin")
    assert ids.search("the rule ql:AgeDateForIC2") and ids.search("(IC9.1-ANC)")
    assert ids.search("EX1 is met") and ids.search("see IC10").group(0) == "IC10"
    assert not ids.search("MIN3 or IC9x")
    assert not words.search(ALLOWED.sub("", "ql1706kg QL1706KG_CACHE"))
