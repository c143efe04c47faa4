"""Durations on the command line: ``90`` (seconds), ``30s``, ``15m``, ``1h``, ``7d``."""

from __future__ import annotations

import re
from datetime import timedelta

import click

_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d)?")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises click.BadParameter for anything else or zero."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or float(match["n"]) <= 0:
        raise click.BadParameter(f"{text!r} is not a duration such as 30s, 15m, 1h, 7d")
    return float(match["n"]) * _UNITS[match["unit"]]


class Duration(click.ParamType):
    """A click parameter type giving a ``timedelta``."""

    name = "duration"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return timedelta(seconds=parse_duration(str(value)))
        except click.BadParameter as exc:
            self.fail(str(exc), param, ctx)
