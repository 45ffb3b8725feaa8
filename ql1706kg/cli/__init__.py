"""The ``ql1706kg`` command: a thin layer over the Python API.

Exit codes: 0 every input was screened; 1 some input could not be read (the rest are still
screened and reported); 2 usage error (Click's own, and bad option values).
"""

from __future__ import annotations

import click

from ..version import __version__
from .inspect import criteria_command, lift_command, schema_command
from .publish import docs_command, export_command, publish_command, report_command
from .screen import screen_command
from .semweb import push_command, query_command, serve_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ql1706kg")
def main() -> None:
    """Screen patients against the QL1706 sarcoma protocol, criterion by criterion."""


for _command in (screen_command, criteria_command, schema_command, lift_command, query_command,
                 serve_command, push_command, export_command, docs_command, publish_command,
                 report_command):
    main.add_command(_command)
