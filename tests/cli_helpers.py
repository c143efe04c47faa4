"""Looking into the click command tree: used by the tests that keep the docs and docker/ true."""

from __future__ import annotations

import click

from reviewer.cli import cli


def find_command(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command a `tastevin ...` argument list names (without `tastevin`), and its arguments."""
    command: click.Command = cli
    rest = list(words)
    while isinstance(command, click.Group) and rest and rest[0] in command.commands:
        command = command.commands[rest.pop(0)]
    return command, rest


def envvars(command: click.Command = cli) -> set[str]:
    """Every environment variable an option of ``command`` (and its subcommands) reads."""
    names: set[str] = set()
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            names |= envvars(sub)
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        names |= {envvar} if isinstance(envvar, str) else set(envvar or ())
    return names
