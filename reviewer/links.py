"""Links into the review app: the query parameters that set its windows, so a URL reproduces a view.

The review app reads these parameters from its URL (``st.query_params``) and writes them
back whenever its sidebar changes, so the address bar always holds a link to what is on
screen. ``tastevin demo`` and ``tastevin alert`` build links with :func:`app_link`.

===================  ==================================================================
parameter            meaning
===================  ==================================================================
``window``           length of the current window (``90m``, ``6h``, ``7d``), ending now
``baseline``         length of the baseline, just before the current window
``latest``           ``1``: the current window ends at the newest sample, not now
``start``, ``end``   absolute bounds of the current window (ISO 8601; no zone = UTC)
``baseline_start``,  absolute bounds of the baseline; its end defaults to the current
``baseline_end``     window's start
``min_samples``      scored samples a rate needs before it is shown
``alpha``            significance level of the tests
===================  ==================================================================

Any absolute bound switches the app to absolute windows; a missing one is filled from
the lengths (``end`` defaults to now, ``start`` to ``end - window``, ``baseline_start`` to
``baseline_end - baseline``). Pure functions, no Streamlit: the pages import it, so do
the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import click

from .duration import parse_duration
from .errors import ConfigError

__all__ = [
    "ABSOLUTE_PARAMS", "APP_URL_ENV", "DEFAULT_BASELINE", "DEFAULT_WINDOW", "LinkError", "PAGE_OF_KIND", "WindowQuery",
    "app_link", "format_time", "parse_time",
]

APP_URL_ENV = "TASTEVIN_APP_URL"
DEFAULT_WINDOW = "7d"
DEFAULT_BASELINE = "28d"
ABSOLUTE_PARAMS = ("start", "end", "baseline_start", "baseline_end")
PAGE_OF_KIND = {"score_drop": "categories", "drift": "drift", "volume": ""}
"""The app page an alert of each kind links to (``""`` is the Overview)."""


class LinkError(ConfigError):
    """A window parameter does not parse (a duration, a time, a number); the message says which."""


def parse_time(text: str, *, name: str = "time") -> datetime:
    """An aware UTC datetime from ISO 8601 (``2026-12-02T17:58:03Z``; no zone means UTC).

    Raises :class:`LinkError` naming ``name`` for anything else.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise LinkError(f"{name} {text!r} is not an ISO 8601 time such as 2026-12-02T17:58:03Z") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_time(moment: datetime) -> str:
    """``2026-12-02T17:58:03Z`` (UTC; fractions of a second only when there are some)."""
    utc = moment.astimezone(timezone.utc)
    spec = "seconds" if utc.microsecond == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _duration(text: str, name: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(text))
    except (click.BadParameter, ValueError) as exc:
        raise LinkError(f"{name}: {getattr(exc, 'message', None) or exc}") from exc


@dataclass(frozen=True, slots=True)
class WindowQuery:
    """The windows as a URL (or the sidebar) states them, before they are resolved to times.

    Relative (``absolute`` false): ``window`` and ``baseline`` lengths, ending now or at
    the newest sample (``latest``). Absolute: the four bounds, any of which may be
    ``None`` and is then filled from the lengths by :meth:`resolve`.
    """

    window: str = DEFAULT_WINDOW
    baseline: str = DEFAULT_BASELINE
    latest: bool = False
    start: datetime | None = None
    end: datetime | None = None
    baseline_start: datetime | None = None
    baseline_end: datetime | None = None

    @property
    def absolute(self) -> bool:
        return any(getattr(self, name) is not None for name in ABSOLUTE_PARAMS)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> WindowQuery:
        """From query parameters (unknown ones ignored). Raises :class:`LinkError` for a bad value."""
        window = params.get("window") or DEFAULT_WINDOW
        baseline = params.get("baseline") or DEFAULT_BASELINE
        _duration(window, "window")
        _duration(baseline, "baseline")
        bounds = {name: parse_time(params[name], name=name) if params.get(name) else None for name in ABSOLUTE_PARAMS}
        return cls(window=window, baseline=baseline, latest=params.get("latest", "") in ("1", "true", "yes"), **bounds)

    def resolve(self, now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
        """``((start, end), (baseline_start, baseline_end))``; ``now`` is where a window without an end ends.

        Raises :class:`LinkError` for a bad length or a window that does not start before it ends.
        """
        end = self.end or now
        start = self.start or end - _duration(self.window, "window")
        baseline_end = self.baseline_end or start
        baseline_start = self.baseline_start or baseline_end - _duration(self.baseline, "baseline")
        for label, (low, high) in (("current window", (start, end)), ("baseline", (baseline_start, baseline_end))):
            if low >= high:
                raise LinkError(f"the {label} starts at {format_time(low)}, not before its end {format_time(high)}")
        return (start, end), (baseline_start, baseline_end)

    def to_params(self) -> dict[str, str]:
        """The query parameters that state this query (the inverse of :meth:`from_params`)."""
        if self.absolute:
            params = {name: format_time(value) for name in ABSOLUTE_PARAMS
                      if (value := getattr(self, name)) is not None}
            if self.baseline_end is not None and self.baseline_end == self.start:
                del params["baseline_end"]  # the default: the baseline ends where the current window starts
            return params
        params = {"window": self.window, "baseline": self.baseline}
        if self.latest:
            params["latest"] = "1"
        return params


def app_link(
    base_url: str,
    *,
    current: tuple[datetime, datetime],
    baseline: tuple[datetime, datetime],
    page: str = "",
    min_samples: int | None = None,
    alpha: float | None = None,
) -> str:
    """A link to ``page`` of the review app at ``base_url`` showing exactly these two windows."""
    params = WindowQuery(start=current[0], end=current[1], baseline_start=baseline[0],
                         baseline_end=baseline[1]).to_params()
    if min_samples is not None:
        params["min_samples"] = str(min_samples)
    if alpha is not None:
        params["alpha"] = f"{alpha:g}"
    return f"{base_url.rstrip('/')}/{page}?{urlencode(params, safe=':')}"
