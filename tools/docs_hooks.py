"""mkdocs hooks (mkdocs.yml ``hooks:``): the documentation pages that must not go stale are made
from the project itself when the site is built.

- ``<!-- generated: criteria -->`` becomes the table of the 28 atomic criteria, read from the
  ontology (id, name, protocol text, rule as read, what to collect, whether the screening
  window applies) with the limits the shapes apply (the named query ``protocol-criteria``).
- ``<!-- generated: queries -->`` becomes each named query: why it exists and its text.
- ``changelog.md`` is CHANGELOG.md.
- ``<!-- generated: cli -->`` becomes every command's help, exactly as ``ql1706kg COMMAND
  --help`` prints it (usage, description, options with their defaults, the examples).
- A link from a page to a file outside ``docs/`` (``../ql1706kg/x.py``) is written as the
  file's path: the site holds no source files, and ``--strict`` fails on a dead link.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_OUTSIDE = re.compile(r"\[([^\]]+)\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")


def on_files(files, config):
    from mkdocs.structure.files import File

    files.append(File.generated(config, "changelog.md",
                                content=(ROOT / "CHANGELOG.md").read_text(encoding="utf-8")))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    if "<!-- generated: criteria -->" in markdown:
        markdown = markdown.replace("<!-- generated: criteria -->", criteria_table())
    if "<!-- generated: queries -->" in markdown:
        markdown = markdown.replace("<!-- generated: queries -->", named_queries())
    if "<!-- generated: cli -->" in markdown:
        markdown = markdown.replace("<!-- generated: cli -->", cli_reference())
    return _OUTSIDE.sub(lambda m: _outside(m, page), markdown)


def _outside(found: re.Match, page) -> str:
    """A link leaving docs/: kept if it still lands in docs/, else the repository path."""
    target = (Path(page.file.abs_src_path).parent / found[2]).resolve()
    docs = (ROOT / "docs").resolve()
    if target.is_relative_to(docs):
        return found[0]
    return f"{found[1]} (`{target.relative_to(ROOT).as_posix()}` in the repository)" \
        if target.is_relative_to(ROOT) else found[1]


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def criteria_table() -> str:
    from ql1706kg.protocol.terminology import terminology

    limits = _limits()
    rows = ["| id | name | protocol text | limits the shapes apply | rule as read | to collect "
            "when unknown | window |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for crit in terminology().criteria.values():
        rows.append("| " + " | ".join(_cell(value) for value in (
            f"`{crit['id']}`", crit.get("name", crit["id"]), crit["text"],
            "; ".join(limits.get(crit["id"], [])) or "–", crit["rule"], crit["collect"],
            "yes" if crit["window"] else "no")) + " |")
    return "\n".join(rows) + "\n"


def _limits() -> dict[str, list[str]]:
    """The limits per criterion, as the named query protocol-criteria reads them."""
    from ql1706kg.semweb.query import evaluate, query_store, query_text

    with query_store([]) as store:
        result = evaluate(query_text("protocol-criteria"), store)
    names, rows = result.as_strings()
    column = {name: index for index, name in enumerate(names)}
    found: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row[column["limit"]]:
            found[row[column["criterion"]]].append(row[column["limit"]])
    return found


def named_queries() -> str:
    from ql1706kg.semweb.query import named_queries as queries

    parts = []
    for query in queries().values():
        parts.append(f"### `{query.name}`\n\n{query.purpose[:1].upper()}{query.purpose[1:]}\n\n"
                     f"```sparql\n{query.text.strip()}\n```\n")
    return "\n".join(parts)


HELP_WIDTH = 100


def cli_reference() -> str:
    """Each command's --help, in the order ``ql1706kg --help`` lists them (groups, then
    their commands)."""
    import click

    from ql1706kg.cli import main

    parts = []

    def add(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        settings = {**command.context_settings, "terminal_width": HELP_WIDTH,
                    "max_content_width": HELP_WIDTH}
        ctx = click.Context(command, info_name=path[-1], parent=parent, **settings)
        title = " ".join(path)
        parts.append(f"### `{title}`\n\n```text\n{command.get_help(ctx)}\n```\n")
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                add(command.get_command(ctx, name), [*path, name], ctx)

    add(main, ["ql1706kg"], None)
    return "\n".join(parts)
