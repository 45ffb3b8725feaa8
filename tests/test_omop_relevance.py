"""What an OMOP run pushes down (ql1706kg/inputs/omop/relevance.py): each class's codes and
names are those of every term the closure puts in the class (read once a terminology), and
the concepts of every rule's codes are looked up in one statement, each row given to the rules
that hold its own code (a collation that folds case: each rule's codes on their own)."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pytest

from ql1706kg.inputs.fhir.disease_observations import disease_codes, system_key
from ql1706kg.inputs.fhir.values import reading_rules
from ql1706kg.inputs.omop.connect import Database, parse_url
from ql1706kg.inputs.omop.relevance import _by_code, _by_codes, class_codes, class_names
from ql1706kg.inputs.omop.vocab import Vocabulary, mapping
from ql1706kg.protocol.namespaces import QL
from ql1706kg.protocol.terminology import terminology

CLASSES = sorted({rule["class"] for rule in mapping()["facts"]} | {"Sarcoma"})


@pytest.mark.parametrize("name", CLASSES)
def test_a_class_has_the_codes_and_names_of_every_term_in_it(name):
    term, cls, rules = terminology(), QL[name], reading_rules()

    def within(iri) -> bool:
        return iri == cls or term.is_a(iri, cls)

    codes = {(str(prop), code) for (prop, code), iri in term.by_code.items()
             if prop is not None and within(iri)}
    codes |= {key for key, iri in disease_codes().codings.items() if within(iri)}
    codes |= {(system_key(system), code) for (system, code), iri in rules.codings.items()
              if within(iri) or rules.is_a(iri, cls)}
    assert class_codes(term, cls) == codes
    assert class_names(term, cls) == {n for n, iris in term.by_name.items()
                                      if any(map(within, iris))}
    assert class_codes(term, cls) is class_codes(term, cls)  # read once


@pytest.fixture(params=["exact", "folding case"])
def vocabulary_db(request):
    collation = " COLLATE NOCASE" if request.param == "folding case" else ""
    connection = duckdb.connect()
    connection.execute(f"""CREATE TABLE concept (concept_id INTEGER, vocabulary_id VARCHAR,
        concept_code VARCHAR{collation}, concept_name VARCHAR, concept_class_id VARCHAR)""")
    connection.execute("""INSERT INTO concept VALUES (1, 'LOINC', '1920-8', 'AST', 'Lab'),
        (2, 'LOINC', '1742-6', 'ALT', 'Lab'), (3, 'ICDO3', 'c49.9', 'soft tissue', 'Site')""")
    yield Database(parse_url("duckdb:///memory.duckdb"), connection), bool(collation)
    connection.close()


def test_each_rule_gets_the_concepts_of_its_own_codes(vocabulary_db):
    vocabulary_db, folds = vocabulary_db
    schema = SimpleNamespace(vocabulary="main")
    lists = [[("LOINC", "1920-8")], [("LOINC", "1742-6"), ("LOINC", "1920-8")], [],
             [("ICDO3", "C49.9")], [("LOINC", "0000-0")]]
    alone = [_by_code(vocabulary_db, schema, Vocabulary(None, "main"), some) for some in lists]
    statements = vocabulary_db.queries
    vocabulary = Vocabulary(None, "main")
    assert _by_codes(vocabulary_db, schema, vocabulary, lists) == alone
    assert set(vocabulary.concepts) == set().union(*alone)
    assert bool(alone[3]) == folds  # C49.9 finds c49.9 only where the collation folds case
    assert vocabulary_db.queries - statements == (1 + 4 if folds else 1)
