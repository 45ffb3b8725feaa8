"""Screen an OMOP CDM database in place: DuckDB or PostgreSQL, one neutral SQL for both.

An :class:`OmopInput` is an input like a file: given among the paths of ``read_paths`` (the CLI's
``--omop URL``), its candidates are read in batches, each batch's facts in one query
(``sql/facts.sql``), and each person is assembled into the project's record, so screening,
explanations, what-if, the report and SPARQL are those of every other input. The modules:

* :mod:`.connect` opens the database read-only (the URL, no password on the command line);
* :mod:`.schema` detects CDM v5.3/v5.4 and the optional tables, renders the SQL files;
* :mod:`.relevance` pushes the terminology's codes down into the SQL;
* :mod:`.vocab` reads ``mapping.toml`` (the OMOP -> record mapping, one file) and concepts;
* :mod:`.assemble`, :mod:`.disease`, :mod:`.treatment` turn facts into the record;
* :mod:`.supplement` joins the site's long table of what the CDM cannot hold;
* :mod:`.spec` says what to read, :mod:`.read` runs it;
* :mod:`.write` and :mod:`.etl` write records into a CDM (tests, benchmarks).

This module imports nothing heavy: screening JSON records never loads a database driver.
"""

from __future__ import annotations

from .spec import BATCH_PERSONS, OmopInput

__all__ = ["BATCH_PERSONS", "OmopInput"]
