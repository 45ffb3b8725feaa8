"""``--omop URL`` and its options, shared by ``screen``, ``lift``, ``report`` and ``serve``.

The database is one more input beside the PATHS (which become optional with it): an
:class:`~ql1706kg.inputs.omop.OmopInput` given to the readers with them. A malformed URL, a URL
that carries a password, or an option that needs ``--omop`` without it is a usage error
(exit 2); an unreachable database exits 3 naming the host (docs/omop.md).
"""

from __future__ import annotations

import functools
import re
from array import array
from pathlib import Path

import click

from ..outputs.visible import visible

_META = "ql1706kg.omop"
_NEEDS_OMOP = ("person_ids", "cohort_id", "cohort_schema", "supplement", "closed_world")

paths_or_database = click.argument("paths", nargs=-1, required=False,
                                   type=click.Path(path_type=Path))


def _remember(ctx: click.Context, param: click.Parameter, value):
    """Keep an --omop option's value for :func:`inputs_with_database`."""
    ctx.meta.setdefault(_META, {})[param.name] = value
    return value


def _url(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is not None:
        from ..inputs.omop.connect import UrlError, parse_url

        try:
            parse_url(value)
        except UrlError as exc:
            raise click.BadParameter(visible(exc), ctx=ctx, param=param) from None
    return _remember(ctx, param, value)


def _person_ids(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return _remember(ctx, param, None)
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {visible(value[1:])}: {exc}", ctx=ctx,
                                     param=param) from None
    try:
        ids = person_ids(text)
    except ValueError as exc:
        raise click.BadParameter(visible(str(exc)), ctx=ctx, param=param) from None
    if not ids:
        raise click.BadParameter("no person_id given", ctx=ctx, param=param)
    return _remember(ctx, param, ids)


# a word of an id list: ids are separated by white space or commas; '#' starts a comment to
# the end of its line (any line break str.splitlines knows)
_ID_WORDS = re.compile(r"#[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]*|[^\s,#]+")


def person_ids(text: str) -> array:
    """The person_ids a list gives, in order, as 64-bit integers read word by word (8 bytes
    an id: a list of a million persons never becomes a million strings and a million Python
    integers); ValueError naming the first word that is not one."""
    out = array("q")
    for found in _ID_WORDS.finditer(text):
        word = found.group()
        if word.startswith("#"):
            continue
        try:
            out.append(int(word))
        except (ValueError, OverflowError):
            raise ValueError(f"'{word}' is not a person_id (an integer of at most 64 bits)"
                             ) from None
    return out


def _schema(ctx: click.Context, param: click.Parameter, value: str | None):
    from ..inputs.omop.connect import is_identifier

    if value is not None and not is_identifier(value):
        raise click.BadParameter(f"'{visible(value)}' is not a schema name", ctx=ctx,
                                 param=param)
    return _remember(ctx, param, value)


def database_options(command):
    """The --omop option and its companions (values kept for :func:`inputs_with_database`)."""
    options = [
        click.option("--omop", "omop", metavar="URL", callback=_url, expose_value=False,
                     help="Screen an OMOP CDM in place: duckdb:///path/cdm.duckdb or "
                          "postgresql://host/db?schema=cdm (?service=NAME, PG* variables; "
                          "never a password on the command line). Read-only."),
        click.option("--person-ids", "person_ids", metavar="IDS|@FILE", callback=_person_ids,
                     expose_value=False, help="With --omop: these person_ids (comma-separated, "
                                              "or @FILE with one per line) instead of everyone "
                                              "with a sarcoma on record."),
        click.option("--cohort-id", "cohort_id", type=int, callback=_remember,
                     expose_value=False, help="With --omop: the subjects of this ATLAS cohort "
                                              "(cohort_definition_id of the cohort table)."),
        click.option("--cohort-schema", "cohort_schema", metavar="SCHEMA", callback=_schema,
                     expose_value=False, help="With --cohort-id: the schema of the cohort "
                                              "table (the results schema); default the CDM's."),
        click.option("--supplement", "supplement", callback=_remember, expose_value=False,
                     type=click.Path(path_type=Path, dir_okay=False, exists=True),
                     help="With --omop: the site's long table (.csv/.xlsx, patient = "
                          "person_id) of what the CDM cannot hold: ICF, the investigator's "
                          "judgements, intolerance, lactation, contraception ..."),
        click.option("--closed-world", "closed_world", is_flag=True, callback=_remember,
                     expose_value=False, help="With --omop: no metastasis, prior therapy or "
                                              "support product in the CDM means none (for a "
                                              "person with an observation period); off: "
                                              "unknown."),
    ]
    return functools.reduce(lambda cmd, option: option(cmd), reversed(options), command)


def database() -> object | None:
    """The run's OMOP database (an OmopInput), or None without --omop; usage errors for
    companions given without it or together."""
    values = click.get_current_context().meta.get(_META, {})
    url = values.get("omop")
    given = [name for name in _NEEDS_OMOP if values.get(name) not in (None, False)]
    if url is None:
        if given:
            raise click.UsageError(f"--{given[0].replace('_', '-')} needs --omop URL")
        return None
    if values.get("person_ids") is not None and values.get("cohort_id") is not None:
        raise click.UsageError("--person-ids and --cohort-id choose the candidates two ways: "
                               "give one")
    if values.get("cohort_schema") is not None and values.get("cohort_id") is None:
        raise click.UsageError("--cohort-schema needs --cohort-id")
    from ..inputs.omop import OmopInput

    return OmopInput(url, person_ids=values.get("person_ids"), cohort_id=values.get("cohort_id"),
                     cohort_schema=values.get("cohort_schema"),
                     supplement=values.get("supplement"),
                     closed_world=bool(values.get("closed_world")))


def inputs_with_database(paths: tuple[Path, ...]) -> tuple:
    """PATHS and the --omop database; a usage error when neither is given."""
    source = database()
    if not paths and source is None:
        raise click.UsageError("give PATHS (files or folders), or --omop URL")
    return (*paths, source) if source is not None else tuple(paths)


def database_files() -> tuple[Path, ...]:
    """The DuckDB file of --omop, which no output may overwrite."""
    url = click.get_current_context().meta.get(_META, {}).get("omop")
    if url is None:
        return ()
    from ..inputs.omop.connect import parse_url

    parsed = parse_url(url)
    return (Path(parsed.target),) if parsed.engine == "duckdb" else ()
