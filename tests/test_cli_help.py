"""Help a new user finds (issue 23): every option explained, every command with examples,
--version and -V, ``python -m ql1706kg``, the environment and shell completion named, a short
``query --list``, a progress bar that promises no time left before it knows, a placeholder URL
published with a warning."""

from __future__ import annotations

import io
import runpy
import sys
import time

import click
import pytest
from click.testing import CliRunner

from ql1706kg.cli import main
from ql1706kg.version import __version__


def commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    found = []

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            found.append((f"{prefix}{name}", command))
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")

    walk(main, "")
    return found


COMMANDS = commands()


def test_every_command_is_listed():
    assert {name for name, _ in COMMANDS} >= {
        "screen", "query", "serve", "push", "export", "docs", "publish", "report", "criteria",
        "lift", "schema", "generate", "protocol", "protocol export", "compare"}


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_option_has_help_and_every_command_an_example(name, command):
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help and len(param.help) > 10, (name, param.opts)
    assert command.epilog and "Examples:" in command.epilog, name
    examples = command.epilog.split("Examples:", 1)[1]
    assert f"ql1706kg {name.split()[0]}" in examples, name
    shown = CliRunner().invoke(main, [*name.split(), "--help"])
    assert shown.exit_code == 0 and "Examples:" in shown.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    result = CliRunner().invoke(main, [flag])
    assert result.exit_code == 0 and result.stdout == f"ql1706kg {__version__}\n"


def test_python_dash_m_runs_the_program(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["ql1706kg", "--version"])
    with pytest.raises(SystemExit) as ended:
        runpy.run_module("ql1706kg", run_name="__main__")
    assert ended.value.code == 0
    assert capsys.readouterr().out == f"ql1706kg {__version__}\n"


def test_help_names_the_environment_and_completion():
    text = CliRunner().invoke(main, ["--help"]).stdout
    for name in ("QL1706KG_CACHE", "QL1706KG_SHACL_ENGINE", "QL1706KG_PUSH_TOKEN",
                 "QL1706KG_PUSH_USER", "QL1706KG_PUSH_PASSWORD", "TMPDIR",
                 "_QL1706KG_COMPLETE=bash_source ql1706kg"):
        assert name in text, name


def test_shell_completion_completes_commands():
    result = CliRunner().invoke(main, [], env={"_QL1706KG_COMPLETE": "bash_complete",
                                               "COMP_WORDS": "ql1706kg scr", "COMP_CWORD": "1"},
                                prog_name="ql1706kg")
    assert "plain,screen" in result.stdout


def test_query_list_is_one_short_line_per_query():
    lines = CliRunner().invoke(main, ["query", "--list"]).stdout.splitlines()
    assert len(lines) == 6 and lines[-1].startswith("Run one: ql1706kg query NAME")
    assert all(len(line) <= 120 for line in lines), max(map(len, lines))
    assert lines[0].startswith("attrition ")


def test_the_bar_shows_no_time_left_until_it_has_one():
    from ql1706kg.cli.common import SETTLE_SECONDS, progress_bar

    bar = progress_bar(total=10_000, file=io.StringIO(), unit=" patients")
    bar.update(1)  # the first patient, after the workers' start-up: no rate to trust yet
    assert "<?, ? patients/s" in str(bar)
    bar.update(999)
    bar.start_t = time.time() - SETTLE_SECONDS - 1
    assert "<?" not in str(bar) and "patients/s" in str(bar)
    bar.close()


@pytest.mark.parametrize(("args", "warned"), [
    (["--as", "dcat"], ["--endpoint-url", "--files-url"]),
    (["--as", "w3id"], ["--files-url"]),
    (["--as", "dcat", "--files-url", "https://data.site.org/f/", "--endpoint-url",
      "https://sub.example.com/sparql"], ["--endpoint-url"]),
    (["--as", "dcat", "--files-url", "https://data.site.org/f/", "--endpoint-url",
      "https://data.site.org/sparql"], []),
    (["--as", "medical-trial"], []),
])
def test_a_placeholder_url_is_published_with_a_warning(args, warned):
    result = CliRunner().invoke(main, ["publish", *args])
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert [line.split()[1] for line in warnings] == warned
    assert all("is a placeholder" in line for line in warnings)
