"""Every `fidelis …` command the README documents exists in the command line.

A command group that is written but not registered in `workflow/cli/__init__.py` would otherwise
only show up when a user types it (CI once failed that way for `report` and `import`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from workflow.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
# `fidelis` followed by one or two lowercase words, alternatives written with `|`.
MENTION = re.compile(r"\bfidelis ([a-z][a-z-]*)(?: ([a-z][a-z|-]*))?")


def documented() -> set[tuple[str, str | None]]:
    found: set[tuple[str, str | None]] = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        for command, second in MENTION.findall(line):
            for sub in second.split("|") if second else [""]:
                found.add((command, sub or None))
    return found


def subcommands(command: Any) -> dict[str, Any] | None:
    return getattr(command, "commands", None)


def test_the_readme_documents_many_commands() -> None:
    # The parser itself must find the commands: an empty set would make the next test vacuous.
    names = {command for command, _ in documented()}
    assert {"case", "contract", "nightly", "import", "export", "report", "forecast"} <= names


def test_every_documented_command_is_registered() -> None:
    root = typer.main.get_command(app)
    commands = subcommands(root)
    assert commands is not None
    missing = []
    for command, sub in sorted(documented(), key=lambda pair: (pair[0], pair[1] or "")):
        if command not in commands:
            missing.append(f"fidelis {command}")
            continue
        group = subcommands(commands[command])
        # A group's second word must be one of its commands; a leaf command's second word is an
        # argument (`fidelis export cases`), a group's own word may be a noun of the prose.
        if group and sub is not None and sub not in group and sub != "help":
            missing.append(f"fidelis {command} {sub}")
    assert missing == []
