"""Commands of the semantic-web face: ``query``, ``serve``, ``push``.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click

from .common import (
    EXIT_INPUT_ERROR,
    EXIT_OK,
    as_of_option,
    output_option,
    paths_argument,
    window_option,
    write_output,
)


@click.command("query")
@click.argument("name", required=False)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--list", "list_queries", is_flag=True, help="List the named queries and why "
                                                           "each exists.")
@as_of_option
@window_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@output_option
def query_command(name: str | None, paths: tuple[Path, ...], list_queries: bool, as_of: date,
                  window_days: int, fmt: str, output: Path | None) -> None:
    """Run a named SPARQL query (or a .rq file) over PATHS: patient inputs, which are screened
    first, or verdict graphs (.ttl, .jsonld, .nt). The ontology and shapes are always there."""
    from ..semweb.query import QueryError, format_rows, named_queries, query_graph, query_text, run

    if list_queries or name is None:
        for query in named_queries().values():
            click.echo(f"{query.name:<22} {query.purpose}")
        return
    try:
        text = query_text(name)
        graph, errors = query_graph(paths, as_of=as_of, window_days=window_days)
        names, rows = run(text, graph)
    except QueryError as exc:
        raise click.UsageError(str(exc)) from None
    write_output(format_rows(names, rows, fmt), output)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_INPUT_ERROR if errors else EXIT_OK)


@click.command("serve")
@paths_argument
@as_of_option
@window_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; loopback unless told otherwise.")
@click.option("--port", type=click.IntRange(1, 65535), default=7878, show_default=True)
@click.option("--store", "store", type=click.Path(path_type=Path, file_okay=False),
              help="Keep the Oxigraph store in this folder (default: a temporary one).")
def serve_command(paths: tuple[Path, ...], as_of: date, window_days: int, host: str,
                  port: int, store: Path | None) -> None:
    """Screen PATHS and serve ontology, shapes and verdicts read-only over SPARQL 1.1.

    Queries go to http://HOST:PORT/query; each assessment is a named graph (its IRI), the
    ontology is <https://w3id.org/ql1706kg>, the shapes <https://w3id.org/ql1706kg/shapes>,
    and the default graph is their union.
    """
    import subprocess
    import tempfile

    from ..semweb.serve import ServeError, build_store, serve_command_line, verdicts_for

    verdicts, errors = verdicts_for(paths, as_of, window_days)
    for error in errors:
        click.echo(f"error: {error}", err=True)
    with tempfile.TemporaryDirectory() as tmp:
        location = store or Path(tmp) / "store"
        try:
            build_store(verdicts, location)
            command = serve_command_line(location, host, port)
        except ServeError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"SPARQL endpoint (read-only): http://{host}:{port}/query", err=True)
        try:
            sys.exit(subprocess.run(command, check=False).returncode)
        except KeyboardInterrupt:
            sys.exit(EXIT_OK)


@click.command("push")
@paths_argument
@as_of_option
@window_option
@click.option("--endpoint", required=True, metavar="URL",
              help="SPARQL 1.1 Graph Store Protocol endpoint, e.g. http://host:7878/store.")
def push_command(paths: tuple[Path, ...], as_of: date, window_days: int, endpoint: str) -> None:
    """Screen PATHS (or read verdict graphs) and PUT one named graph per assessment."""
    from ..semweb.serve import ServeError, push, verdicts_for

    verdicts, errors = verdicts_for(paths, as_of, window_days)
    try:
        pushed = push(verdicts, endpoint)
    except ServeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(pushed)} assessment graph(s) stored at {endpoint}")
    for error in errors:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_INPUT_ERROR if errors else EXIT_OK)
