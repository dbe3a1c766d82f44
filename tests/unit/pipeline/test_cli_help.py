"""Every ``headwater`` command answers ``--help`` with a description; shell completion is offered."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from pipeline.cli import app


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if hasattr(command, "commands"):
            found += _commands(command, (*prefix, name))
    return found


def test_every_command_has_help_and_a_description() -> None:
    runner = CliRunner()
    root = typer.main.get_command(app)
    commands = _commands(root)

    answers = {path: runner.invoke(app, [*path, "--help"]) for path in commands}

    assert len(commands) > 40
    failed = {" ".join(path): answer.output[-200:] for path, answer in answers.items() if answer.exit_code}
    assert not failed
    undescribed = [" ".join(path) for path in commands if not _help_of(root, path)]
    assert not undescribed


def _help_of(root: Any, path: tuple[str, ...]) -> str:
    command: Any = root
    for name in path:
        assert hasattr(command, "commands")
        command = command.commands[name]
    return (command.help or command.short_help or "").strip()


def test_shell_completion_is_offered() -> None:
    answer = CliRunner().invoke(app, ["--show-completion", "bash"], env={"SHELL": "/bin/bash"})

    assert answer.exit_code == 0 and "complete" in answer.output
