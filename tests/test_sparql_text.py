"""The gate and the engine read a query alike: it is read once by Oxigraph's lexical rules
and given to both parsers (and to the engine) in one canonical form. Every lexical difference
between rdflib and Oxigraph that could hide a SERVICE from the gate is refused or made
harmless; legitimate queries keep their meaning (the named queries give the same rows through
the canonical text: tests/test_query.py, tests/test_serve.py)."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph
import pytest

from ql1706kg.semweb.query import named_queries
from ql1706kg.semweb.safety import QueryError, QueryRefused, checked_query
from ql1706kg.semweb.sparql_text import canonical
from ql1706kg.semweb.store import oxigraph_binary

EVIL = "<http://127.0.0.1:9/sparql>"

REFUSED = [
    f"SELECT * WHERE {{ ?s ?p ?o #comment\r SERVICE {EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ ?s ?p ?o #comment\r.SERVICE {EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ ?s ?p ?o . #x\r\tsErViCe {EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ \\u0053ERVICE {EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ \\U00000053ERVICE {EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ SERVICE{EVIL}{{?a ?b ?c}} }}",
    f"SELECT * WHERE {{ SERVICE SILENT {EVIL} {{ ?a ?b ?c }} }}",
    "PREFIX x: <http://127.0.0.1:9/> SELECT * WHERE { SERVICEx:y { ?a ?b ?c } }",
    "PREFIX : <http://127.0.0.1:9/> SELECT * WHERE { service:x { ?a ?b ?c } }",
    f"SELECT * WHERE {{ ?s ?p true SERVICE {EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ ?s ?p trueSERVICE{EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ ?s ?p 1SERVICE{EVIL} {{ ?a ?b ?c }} }}",
    f"SELECT * WHERE {{ BIND({EVIL} AS ?e) SERVICE ?e {{ ?a ?b ?c }} }}",
    "PREFIX e: <http://127.0.0.1:9/> SELECT * WHERE { ?s ?p e:a.b.SERVICE <x:> { } }",
]


@pytest.mark.parametrize("query", REFUSED)
def test_service_in_any_lexical_disguise_is_refused(query):
    with pytest.raises(QueryError) as caught:
        checked_query(query)
    assert isinstance(caught.value, QueryRefused) or "not a valid" in str(caught.value)


@pytest.mark.parametrize(("query", "kept"), [
    ('SELECT ?s WHERE { ?s ?p "a # not a comment" }', '"a # not a comment"'),
    ("SELECT ?s WHERE { ?s <http://x/a#b> ?o }", "<http://x/a#b>"),
    ("PREFIX e: <http://x/> SELECT ?s WHERE { ?s e:a\\#b ?o }", "e:a\\#b"),
    ('SELECT ?s WHERE { ?s ?p "SERVICE <http://e/> {}" }', '"SERVICE <http://e/> {}"'),
    ('SELECT ?s WHERE { ?s ?p """two\nlines\r""" }', '"two\\nlines\\r"'),
    ("SELECT ?s WHERE { ?s ?p '\\u0041' }", '"A"'),
    ("SELECT ?s WHERE { ?s <http://x/\\u0041> ?o }", "<http://x/A>"),
    ('SELECT ?s WHERE { ?s ?p "x"@en-GB }', '"x"@en-GB'),
    ("SELECT ?service WHERE { ?service ?p ?o }", "?service"),
])
def test_what_is_inside_strings_iris_and_names_stays_there(query, kept):
    _tree, text = checked_query(query)
    assert kept in text
    assert "#" not in text.replace(kept, "")  # no comment is left anywhere else
    assert "\r" not in text and "\\u" not in text


def test_the_canonical_text_has_no_comment_and_keeps_touching_tokens_together():
    text = canonical("SELECT ?x WHERE { BIND(COALESCE(?a, 1) AS ?x) } # end\r\n")
    assert text == "SELECT\n?x\nWHERE\n{\nBIND(COALESCE(?a,\n1)\nAS\n?x)\n}\n"


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_oxigraph_reads_each_named_query_in_its_canonical_form(name, tmp_path):
    """The engine's own parser accepts the text it is given (a syntax error would be a 400
    at the endpoint, never a different query)."""
    _tree, text = checked_query(named_queries()[name].text)
    pyoxigraph.Store().query(text)  # serve's engine: a SyntaxError here would fail the test
    (tmp_path / "empty.nq").write_text("")
    query = tmp_path / "q.rq"
    query.write_text(text, encoding="utf-8")
    for command in (["load", "--file", str(tmp_path / "empty.nq")],
                    ["query", "--query-file", str(query), "--results-format", "csv"]):
        run = subprocess.run([oxigraph_binary(), command[0], "--location",
                              str(tmp_path / "store"), *command[1:]],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr


def test_the_check_is_safe_from_many_threads():
    """rdflib's grammar is shared state: unguarded, queries checked at once failed (400)."""
    queries = [q.text for q in named_queries().values()] + REFUSED
    alone = [_outcome(q) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _round in range(5):
            assert list(pool.map(_outcome, queries * 2)) == alone * 2


def _outcome(query: str) -> str:
    try:
        return checked_query(query)[1]
    except QueryError as exc:
        return type(exc).__name__

