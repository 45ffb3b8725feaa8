"""Commands of the semantic-web face: ``query``, ``serve``, ``push``.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from datetime import date
from pathlib import Path

import click

from .common import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    as_of_option,
    output_option,
    paths_argument,
    protocol_option,
    window_option,
    write_output,
)
from .omop import database_options, inputs_with_database, paths_or_database
from .pseudonymise import pseudonymise_option, read_key_option
from .summary import RunSummary

LISTED_CHARS = 96  # query --list: the first words of why each query exists

jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=0), default=0, show_default=True,
    help="Worker processes screening patient inputs; 0 means one per CPU core.")


def _store_folder(_ctx, _param, value: Path | None) -> Path | None:
    """A folder for an Oxigraph store: new, empty, or a store already (never a folder of
    other files, which Oxigraph would write into)."""
    if value is not None and value.is_dir() and any(value.iterdir()) and not (
            value / "CURRENT").is_file():
        raise click.BadParameter(f"{value} holds files and no Oxigraph store; give a new or "
                                 "empty folder, or a store made with --store")
    return value


def timeout_option(what: str):
    return click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30,
                        show_default=True, metavar="SECONDS",
                        help=f"Stop a query that runs longer than this ({what}).")


@click.command("query", epilog="""\b
Examples:
  ql1706kg query --list
  ql1706kg query eligible-patients examples/patients --as-of 2026-11-20
  ql1706kg query attrition verdicts.nq --format csv -o attrition.csv
  ql1706kg query my-question.rq verdicts.ttl --format json
  ql1706kg query attrition examples/patients --as-of 2026-11-20 --store store/
  ql1706kg query unknown-worklist --store store/
""")
@protocol_option()
@click.argument("name", required=False)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--list", "list_queries", is_flag=True, help="List the named queries, one line "
                                                           "each.")
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="An aligned table, CSV (cells a spreadsheet would read as "
                                      "a formula are quoted) or the W3C SPARQL 1.1 Query "
                                      "Results JSON Format.")
@timeout_option("exit 3")
@jobs_option
@click.option("--store", "store", type=click.Path(path_type=Path, file_okay=False),
              callback=_store_folder,
              help="Query the Oxigraph store kept in this folder, after adding PATHS to it "
                   "(made, with the ontology and shapes, if new; serve --store makes one "
                   "too): load once, query many times. Default: a temporary store.")
@output_option
def query_command(name: str | None, paths: tuple[Path, ...], list_queries: bool, as_of: date,
                  window_days: int, fmt: str, timeout: float, jobs: int, store: Path | None,
                  output: Path | None) -> None:
    """Run a named SPARQL query (or a .rq file) over PATHS: patient inputs, which are screened
    first, or verdict graphs (Turtle, N-Triples, N-Quads, TriG, JSON-LD, RDF/XML, recognised
    by name or content). The ontology and shapes are always there; the query runs in
    Oxigraph over the union of all graphs.

    SERVICE, FROM, LOAD and updates are refused (exit 2); a query still running after
    --timeout seconds is stopped (exit 3). CSV cells a spreadsheet would read as a formula
    are quoted and prefixed with a single quote.
    """
    from ..semweb.query import (
        QueryError,
        evaluate,
        format_result,
        named_queries,
        query_store,
        query_text,
        safe_text,
    )

    if list_queries or name is None:
        for query in named_queries().values():
            click.echo(f"{query.name:<22} {textwrap.shorten(query.purpose, LISTED_CHARS)}")
        click.echo("Run one: ql1706kg query NAME PATH...; the full text of each is in "
                   "ql1706kg/queries/NAME.rq.")
        return
    try:
        text = safe_text(query_text(name))  # the engine runs the text that was checked
    except QueryError as exc:
        raise click.UsageError(str(exc)) from None
    summary = RunSummary.of_command()
    with query_store(paths, as_of=as_of, window_days=window_days, jobs=jobs,
                     on_error=summary.error, location=store) as opened:
        try:
            result = evaluate(text, opened, timeout)
        except QueryError as exc:
            raise click.UsageError(str(exc)) from None
        patients = opened.patients
    write_output(format_result(result, fmt), output)
    rows = len(getattr(result, "rows", None) or ())
    summary.counted = f"{rows} row(s)" + (f" over {patients} patient(s) screened" if patients
                                          else "")
    summary.wrote(output, fmt)
    summary.finish()
    sys.exit(summary.exit_code)


@click.command("serve", epilog="""\b
Examples:
  ql1706kg serve examples/patients --as-of 2026-11-20
      (then: curl --data-urlencode 'query=SELECT * WHERE { ?s ?p ?o } LIMIT 3'
             http://127.0.0.1:7878/query)
  ql1706kg serve verdicts.nq --store store/ --port 8000
  ql1706kg serve verdicts.nq --host 0.0.0.0 --token-file token.txt
""")
@protocol_option()
@paths_or_database
@database_options
@as_of_option
@window_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; loopback unless told otherwise (any other address "
                   "needs a bearer token).")
@click.option("--port", type=click.IntRange(1, 65535), default=7878, show_default=True,
              help="Port to listen on (in use: exit 3 before anything is screened).")
@timeout_option("answered 504")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="File whose first line is the bearer token every request must carry "
                   "(default beyond loopback: a new token, printed once).")
@click.option("--store", "store", type=click.Path(path_type=Path, file_okay=False),
              callback=_store_folder,
              help="Keep the Oxigraph store in this folder (default: a temporary one); "
                   "query --store reads it later.")
@jobs_option
def serve_command(paths: tuple[Path, ...], as_of: date, window_days: int, host: str,
                  port: int, timeout: float, token_file: Path | None,
                  store: Path | None, jobs: int) -> None:
    """Screen PATHS (or the OMOP CDM of --omop) and serve ontology, shapes and verdicts
    read-only over SPARQL 1.1.

    Queries go to http://HOST:PORT/query; each assessment is a named graph (its IRI), the
    ontology is <https://w3id.org/ql1706kg>, the shapes <https://w3id.org/ql1706kg/shapes>,
    and the default graph is their union. SERVICE and updates are refused (403); a query still
    running after --timeout seconds is stopped (504). Runs until Ctrl-C, SIGTERM or SIGHUP.
    """
    from ..semweb.dataset import load_inputs
    from ..semweb.serve import (
        SettingError,
        is_loopback,
        new_token,
        open_gate,
        read_token,
        run_endpoint,
    )

    inputs = inputs_with_database(paths)
    try:
        token = read_token(token_file) if token_file else None
        gate = open_gate(host, port)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from None
    started = False
    errors: list = []
    summary = RunSummary.of_command()
    try:
        shown_token = None
        if token is None and not is_loopback(gate):
            token = shown_token = new_token()

        def fill(into) -> None:
            errors.extend(load_inputs(into, inputs, as_of, window_days, jobs, split=True,
                                      on_error=summary.error))

        def announce() -> None:
            nonlocal started
            started = True
            summary.finish(summary=False)  # repeated ids, said once, before serving
            where = f"[{host}]" if ":" in host else host
            guard = " (bearer token required)" if token else ""
            click.echo(f"SPARQL endpoint (read-only): http://{where}:{port}/query{guard}",
                       err=True)
            if shown_token:
                click.echo(f"token (shown once; send 'Authorization: Bearer TOKEN'): "
                           f"{shown_token}", err=True)

        run_endpoint(gate, fill, timeout, token, announce, store)
    except KeyboardInterrupt:
        if not started:
            raise
        click.echo("stopped", err=True)
        sys.exit(EXIT_INPUT_ERROR if errors else EXIT_OK)
    finally:
        gate.server_close()


@click.command("push", epilog="""\b
Examples:
  ql1706kg push examples/patients --as-of 2026-11-20 --endpoint http://127.0.0.1:7878/store
  QL1706KG_PUSH_TOKEN=... ql1706kg push verdicts.nq --endpoint https://store.example.net/store
  ql1706kg push examples/patients --as-of 2026-11-20 --pseudonymise site.key \\
      --credentials-file registry.cred --endpoint https://registry.example.net/store
""")
@protocol_option()
@paths_argument
@as_of_option
@window_option
@click.option("--endpoint", required=True, metavar="URL",
              help="SPARQL 1.1 Graph Store Protocol endpoint, e.g. http://host:7878/store.")
@click.option("--credentials-file", type=click.Path(path_type=Path, dir_okay=False,
                                                    exists=True),
              help="File whose first line is a bearer token or user:password (default: "
                   "QL1706KG_PUSH_TOKEN, or QL1706KG_PUSH_USER and QL1706KG_PUSH_PASSWORD).")
@pseudonymise_option
@click.option("--deadline", type=click.FloatRange(min=0, min_open=True), default=3600,
              show_default=True, metavar="SECONDS",
              help="Stop the whole push after this long (exit 3, saying how many graphs were "
                   "stored); each request also ends within 30 s, however slowly the store "
                   "answers.")
@jobs_option
def push_command(paths: tuple[Path, ...], as_of: date, window_days: int, endpoint: str,
                 credentials_file: Path | None, key_file: Path | None, deadline: float,
                 jobs: int) -> None:
    """Screen PATHS (or read verdict graphs) and PUT the ontology, the shapes and one named
    graph per assessment (with --pseudonymise, no identity: see the README's table).

    Credentials are never given on the command line: see --credentials-file and the
    QL1706KG_PUSH_* variables. An unreachable or refusing store exits 3.
    """
    key = read_key_option(key_file)
    from ..semweb.push import (
        PROTOCOL_GRAPHS,
        check_endpoint,
        cohort_graphs,
        credentials_from,
        plain_http_beyond_loopback,
        protocol_graphs,
        put_graphs,
        shown,
    )
    from ..semweb.serve import SettingError

    try:
        check_endpoint(endpoint)
        credentials = credentials_from(file=credentials_file)
    except SettingError as exc:
        raise click.UsageError(str(exc)) from None
    if credentials and plain_http_beyond_loopback(endpoint):
        click.echo(f"warning: the {credentials.kind} goes to {shown(endpoint)} over plain "
                   "http, unencrypted", err=True)
    summary = RunSummary.of_command()
    pushed = put_graphs(itertools.chain(protocol_graphs(), cohort_graphs(
        paths, as_of, window_days, jobs, on_error=summary.error, key=key)), endpoint,
        credentials, deadline=deadline)
    click.echo(f"{len(pushed) - len(PROTOCOL_GRAPHS)} assessment graph(s) stored at "
               f"{shown(endpoint)}, with the ontology and shapes graphs"
               + (" (pseudonymised)" if key else ""))
    summary.finish(summary=False)  # the line above is the summary
    sys.exit(summary.exit_code)
