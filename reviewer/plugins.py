"""The ``tastevin`` CLI as a plugin host: commands come from an entry-point group.

Every ``tastevin`` command other than the host's own (``broker``, ``db``) is declared in
``pyproject.toml`` under ``[project.entry-points."tastevin.commands"]`` as
``name = "module:click_object"``, and :class:`PluginCommands` loads it the first time
it is needed. So ``reviewer`` never imports ``judge``: the judge's commands register
themselves, and any installed distribution can add a command the same way.

Loading is lazy: ``tastevin ingest …`` imports only the ingest command's module, and
``tastevin --help`` imports every command module (for their one-line help) but none of
what they run: command modules import their heavy libraries inside the command body.

A plugin that cannot be loaded (its module raises on import, a dependency of another
extra is missing, the object is not a click command) does not take the CLI down: it is
listed as ``unavailable: <the error>`` in ``tastevin --help``, and running it exits 2
with what failed and how to fix it, without a traceback. The other commands
work as before.

Entry points are read from the installed distributions' metadata, which ``pip install
-e .`` (``scripts/setup``) writes: after adding a command to ``pyproject.toml``, run
``scripts/setup`` again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, MutableMapping
from importlib.metadata import EntryPoint, entry_points

import click

__all__ = ["COMMAND_GROUP", "BrokenCommand", "PluginCommands"]

#: The entry-point group ``tastevin`` loads its commands from.
COMMAND_GROUP = "tastevin.commands"


class BrokenCommand(click.Command):
    """Stands in for a plugin command that could not be loaded: running it exits 2
    with the reason; ``--help`` still lists it, marked unavailable."""

    def __init__(self, name: str, entry_point: str, error: BaseException) -> None:
        self.entry_point = entry_point
        self.error = error
        super().__init__(
            name,
            callback=self._fail,
            help=_reason(name, entry_point, error),
            short_help=f"unavailable: {_one_line(error)}",
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []},
        )

    def reason(self) -> str:
        """What failed and how to fix it, in one line."""
        return _reason(self.name or "?", self.entry_point, self.error)

    def _fail(self) -> None:
        click.echo(f"error: {self.reason()}", err=True)
        sys.exit(2)


def _reason(name: str, entry_point: str, error: BaseException) -> str:
    hint = "reinstall tastevin (scripts/setup, or pip install -e . in a checkout)"
    if isinstance(error, ModuleNotFoundError):
        hint = (f"module {error.name!r} is missing: install the extra that provides it "
                f"(e.g. pip install 'tastevin[all]'), or {hint}")
    return f"the {name!r} command could not be loaded from {entry_point}: {_one_line(error)}. Fix: {hint}."


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def command_entry_points(group: str = COMMAND_GROUP) -> dict[str, EntryPoint]:
    """The group's entry points by command name; the first one found wins a duplicated name."""
    found: dict[str, EntryPoint] = {}
    for entry_point in entry_points(group=group):
        found.setdefault(entry_point.name, entry_point)
    return found


class PluginCommands(MutableMapping[str, click.Command]):
    """A click group's ``commands`` mapping: the host's built-in commands plus every
    entry point of ``group``, each loaded on first access (lookup, iteration of values).

    Built-in commands win over a plugin of the same name. Keys are known without
    loading anything, so ``name in commands`` and ``sorted(commands)`` import nothing.
    Not thread-safe (the CLI is single-threaded).
    """

    def __init__(self, builtin: Mapping[str, click.Command], *, group: str = COMMAND_GROUP) -> None:
        self.group = group
        self._loaded: dict[str, click.Command] = dict(builtin)
        self._pending: dict[str, EntryPoint] = {
            name: ep for name, ep in command_entry_points(group).items() if name not in self._loaded
        }
        #: True when the group has no entry point at all: the installed metadata is stale.
        self.found_none = not self._pending

    def _load(self, name: str) -> click.Command:
        entry_point = self._pending.pop(name)
        try:
            command = entry_point.load()
            if not isinstance(command, click.Command):
                raise TypeError(f"{entry_point.value} is a {type(command).__name__}, not a click command")
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not hide the other commands
            command = BrokenCommand(name, entry_point.value, exc)
        self._loaded[name] = command
        return command

    def __getitem__(self, name: str) -> click.Command:
        if name in self._loaded:
            return self._loaded[name]
        if name in self._pending:
            return self._load(name)
        raise KeyError(name)

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._pending.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name in self._pending:
            del self._pending[name]
        else:
            del self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._pending

    def __iter__(self) -> Iterator[str]:
        return iter([*self._loaded, *self._pending])

    def __len__(self) -> int:
        return len(self._loaded) + len(self._pending)

    def loaded(self) -> list[str]:
        """Names of the commands whose module has been imported so far (for tests)."""
        return sorted(self._loaded)
