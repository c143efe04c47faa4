"""Looking into the click command tree: used by the tests that keep the docs and docker/ true."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

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


class _RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every name looked up in it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def settings_envvars() -> set[str]:
    """Every ``TASTEVIN_*`` variable the settings objects read: the sampler's (asked for by
    ``resolve_settings`` itself), the review app's pydantic settings, ingest's SASL/SSL map."""
    from reviewer.app.settings import ReviewSettings
    from reviewer.ingest.consumer import KAFKA_SECURITY_SETTINGS
    from sampler._settings import resolve_settings

    environ = _RecordingEnviron()
    resolve_settings({}, environ)
    names = {name for name in environ.asked if name.startswith("TASTEVIN_")}
    prefix = str(ReviewSettings.model_config.get("env_prefix", ""))
    for field_name, info in ReviewSettings.model_fields.items():
        alias = info.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{field_name}".upper())
    return names | set(KAFKA_SECURITY_SETTINGS)


def generated_envvars(command: click.Command = cli) -> dict[str, str]:
    """Variables an option would read without declaring them (click's ``auto_envvar_prefix``):
    generated name → the option's command path and flag. Empty when nothing is generated."""
    found: dict[str, str] = {}

    def walk(cmd: click.Command, ctx: click.Context) -> None:
        for param in cmd.params:
            if not isinstance(param, click.Option) or param.envvar or not param.allow_from_autoenv:
                continue
            if ctx.auto_envvar_prefix is not None and param.name is not None:
                found[f"{ctx.auto_envvar_prefix}_{param.name.upper()}"] = f"{ctx.command_path} {param.opts[0]}"
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, click.Context(sub, parent=ctx, info_name=name, **sub.context_settings))

    walk(command, click.Context(command, info_name="tastevin", **command.context_settings))
    return found
