"""Every command and option of the CLI is documented with its help text: docs/cli.md, the command
reference, is made from the commands themselves. When a command or option changes, write it again:

    HF_HUB_OFFLINE=1 .venv/bin/python tests/cli/test_docs.py --write
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader.cli import cli  # noqa: E402

REFERENCE = ROOT / "docs" / "cli.md"
HEADER = """# Command reference

Every `grader` command and option with its help text, as `grader COMMAND --help` shows them.
README.md and the other pages in docs/ say how to use them together. This page is written from
the commands themselves (`tests/cli/test_docs.py --write`); a test fails when it falls behind.
"""


def _commands() -> list[tuple[str, click.Command]]:
    context = click.Context(cli)
    found = [(name, cli.get_command(context, name)) for name in cli.list_commands(context)]
    return [(name, command) for name, command in found if command is not None]


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _names(option: click.Option) -> str:
    return " / ".join(f"`{name}`" for name in [*option.opts, *option.secondary_opts])


def _help(option: click.Option) -> str:
    text = _one_line(option.help or "")
    if isinstance(option.type, click.Choice):
        text += " One of: " + ", ".join(f"`{choice}`" for choice in option.type.choices) + "."
    if option.show_default and option.default not in (None, False, ()):
        text += f" Default: `{option.default}`."
    return text


def _row(option: click.Option) -> str:
    return f"| {_names(option)} | {_help(option)} |"


def _usage(name: str, command: click.Command) -> str:
    arguments = " ".join(
        p.human_readable_name + ("..." if p.nargs == -1 else "")
        for p in command.params
        if isinstance(p, click.Argument)
    )
    return f"grader {name} [OPTIONS] {arguments}".rstrip()


def reference() -> str:
    parts = [HEADER]
    for name, command in _commands():
        summary = _one_line((command.help or "").split("\n\n")[0])
        parts.append(f"## grader {name}\n\n{summary}\n\n    {_usage(name, command)}\n")
        options = _options(command)
        if options:
            rows = "\n".join(_row(option) for option in options)
            parts.append(f"| option | what it does |\n|---|---|\n{rows}\n")
    return "\n".join(parts)


def _documentation() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


@pytest.mark.parametrize("name", [name for name, _ in _commands()])
def test_every_command_and_option_is_documented_with_its_help(name: str) -> None:
    command = dict(_commands())[name]
    documentation = _documentation()
    assert command.help, f"grader {name} has no help text"
    assert f"## grader {name}\n" in documentation, f"grader {name} is not in docs/cli.md"
    for option in _options(command):
        assert option.help, f"grader {name} {option.opts[0]} has no help text"
        assert _row(option) in documentation, (
            f"grader {name} {option.opts[0]} is not documented with its help text: run "
            "tests/cli/test_docs.py --write"
        )


def test_the_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is behind the commands: run tests/cli/test_docs.py --write"
    )


def test_an_option_without_help_is_caught() -> None:
    """The check itself: an option with no help text and no row would fail it."""
    bare = click.Option(["--bare"])
    assert not bare.help
    assert _row(bare) not in _documentation()


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        REFERENCE.write_text(reference(), encoding="utf-8")
        print(f"Wrote {REFERENCE}")
    else:
        print(reference())
