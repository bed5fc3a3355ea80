"""Session 67: `atri memory show/reset/purge SCOPE` showed no word about what a scope is.
Every argument of every `atri` command says what it takes in `--help`."""

from __future__ import annotations

from collections.abc import Iterator

import click
import typer.main

from atri.cli import app


def commands(group: click.Command, path: str = "atri") -> Iterator[tuple[str, click.Command]]:
    yield path, group
    for name, command in getattr(group, "commands", {}).items():  # a group's
        yield from commands(command, f"{path} {name}")


def test_every_argument_says_what_it_takes() -> None:
    silent = [
        f"{path} {param.name}"
        for path, command in commands(typer.main.get_command(app))
        for param in command.params
        if param.param_type_name == "argument" and not getattr(param, "help", None)
    ]
    assert silent == []
