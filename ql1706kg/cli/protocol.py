"""``ql1706kg protocol export DIR``: the protocol as editable files (ontology, shapes,
queries), which ``--protocol DIR`` then screens with."""

from __future__ import annotations

from pathlib import Path

import click

from ..outputs.protocol_folder import export_protocol
from ..outputs.visible import visible
from .common import protocol_option


@click.group("protocol", epilog="""\b
Examples:
  ql1706kg protocol export amended
  ql1706kg screen examples/patients --protocol amended --as-of 2026-11-20
""")
def protocol_group() -> None:
    """The protocol as data: export it as files to edit, then use it with --protocol DIR."""


@protocol_group.command("export", epilog="""\b
Examples:
  ql1706kg protocol export amended
  ql1706kg protocol export amended --force     (the protocol files replaced)
""")
@protocol_option()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (the "
                                            "protocol's files are replaced).")
def protocol_export_command(folder: Path, force: bool) -> None:
    """Write the protocol (ontology/*.ttl, shapes/*.ttl, queries/*.rq and a manifest) to
    FOLDER, which must be new or empty unless --force."""
    if folder.exists() and not folder.is_dir():
        raise click.BadParameter(f"{visible(folder)} is not a folder", param_hint="'FOLDER'")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise click.BadParameter(f"{visible(folder)} is not empty; choose a new folder, or "
                                 "give --force to replace the protocol files in it",
                                 param_hint="'FOLDER'")
    manifest = export_protocol(folder)
    click.echo(f"protocol {manifest['version']} (content {manifest['content_hash']}) "
               f"written to {visible(folder)}: {manifest['files']} files")
