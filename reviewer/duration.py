"""Durations and points in time on the command line: one parser for every command.

A duration is a number with a unit — ``30s``, ``15m``, ``36h``, ``7d``, ``2w`` — or
several run together (``1h30m``, ``1d12h``); a bare number is seconds (``90``). A point
in time is ISO 8601 (``2026-11-01``, ``2026-11-01T12:00:00Z``, with or without an
offset; naive means UTC) or a duration ago (``36h``, ``2w``). Every window option
(``alert``, ``drift``, ``export``, the review app) goes through these functions, so they
all accept the same spellings.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import click

__all__ = ["UNIT_S", "Duration", "PointInTime", "format_duration", "parse_duration", "parse_time"]

# Seconds per unit, largest first (format_duration picks the largest that divides).
UNIT_S: dict[str, int] = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}

_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})\s*([wdhms])")
_WITH_UNITS = re.compile(rf"(?:{_NUMBER}\s*[wdhms]\s*)+")
_BARE = re.compile(_NUMBER)
_EXAMPLES = "30s, 15m, 36h, 7d, 2w or 1h30m"


def _seconds(text: str) -> float | None:
    """Seconds in a duration, or None if ``text`` is not one (zero included)."""
    value = text.strip().lower()
    if _BARE.fullmatch(value):
        return float(value)
    if not _WITH_UNITS.fullmatch(value):
        return None
    return sum(float(number) * UNIT_S[unit] for number, unit in _PART.findall(value))


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (see the module docstring); raises click.BadParameter for anything else or zero."""
    seconds = _seconds(text)
    if seconds is None or seconds <= 0:
        raise click.BadParameter(f"{text!r} is not a duration such as {_EXAMPLES}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest spelling :func:`parse_duration` reads back: ``604800`` → ``1w``, ``5400`` → ``90m``."""
    if seconds > 0 and float(seconds).is_integer():
        whole = int(seconds)
        for unit, size in UNIT_S.items():
            if whole % size == 0:
                return f"{whole // size}{unit}"
    return f"{seconds:g}s"


def parse_time(text: str, *, now: datetime | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 or a duration ago (``90m``, ``36h``, ``7d``, ``2w``).

    A bare number is not read as "seconds ago" (``2026`` would be ambiguous); an ago
    needs its unit. Raises ``click.BadParameter`` naming the accepted forms otherwise.
    """
    value = text.strip()
    if _WITH_UNITS.fullmatch(value.lower()):
        seconds = parse_duration(value)
        return (now or datetime.now(timezone.utc)) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an ISO 8601 date/time (2026-11-01, 2026-11-01T12:00:00Z) nor a time ago (36h, 7d, 2w)"
        ) from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


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


class PointInTime(click.ParamType):
    """A click parameter type giving an aware UTC ``datetime`` (:func:`parse_time`), relative to now."""

    name = "time"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        try:
            return parse_time(str(value))
        except click.BadParameter as exc:
            self.fail(str(exc), param, ctx)
