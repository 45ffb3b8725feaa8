"""The ``--pseudonymise KEYFILE`` option of ``push`` and ``export --what verdicts``."""

from __future__ import annotations

from pathlib import Path

import click

pseudonymise_option = click.option(
    "--pseudonymise", "key_file", type=click.Path(path_type=Path, dir_okay=False),
    metavar="KEYFILE",
    help="Send no identity: patient IRIs and ids as HMAC-SHA256 pseudonyms keyed with this "
         "file's bytes (at least 32), age at consent instead of the birth date, no free text "
         "or file names (the README lists what leaves).")


def read_key_option(key_file: Path | None) -> bytes | None:
    """The key of ``--pseudonymise`` (None without it); a usage error (exit 2) if the file
    is missing, unreadable, empty or shorter than 32 bytes."""
    if key_file is None:
        return None
    from ..outputs.pseudonym import KeyFileError, read_key

    try:
        return read_key(key_file)
    except KeyFileError as exc:
        raise click.BadParameter(str(exc), param_hint="'--pseudonymise'") from None
