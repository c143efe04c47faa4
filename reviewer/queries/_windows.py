"""Time windows of samples: ``[start, end)`` on ``sample.ts``, timezone-aware."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from ..errors import ConfigError

T = TypeVar("T")


class WindowError(ConfigError):
    """A time window is empty, reversed or not timezone-aware; the message says which."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Samples with ``start <= ts < end``. Both ends are aware datetimes (naive ones are refused).

    Raises ``WindowError`` when ``start >= end``.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise WindowError(
                    f"the window {name} {value.isoformat()} has no time zone: give one, e.g. "
                    f"{value.replace(tzinfo=timezone.utc).isoformat()} for UTC"
                )
        if self.start >= self.end:
            raise WindowError(
                f"the window starts at {self.start.isoformat()}, not before its end {self.end.isoformat()}: "
                "swap them or widen the window"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def overlaps(self, other: TimeWindow) -> bool:
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def trailing_windows(*, now: datetime, current_days: float, reference_days: float) -> tuple[TimeWindow, TimeWindow]:
    """``(current, reference)``: the last ``current_days`` before ``now`` and the ``reference_days`` before that.

    Raises ``WindowError`` for a non-positive number of days or a naive ``now``.
    """
    for name, days in (("current", current_days), ("reference", reference_days)):
        if not days > 0:
            raise WindowError(f"the {name} window must last more than 0 days, got {days!r}")
    current_start = now - timedelta(days=current_days)
    current = TimeWindow(current_start, now)
    return current, TimeWindow(current_start - timedelta(days=reference_days), current_start)


def per_window(engine: Engine, load: Callable[[TimeWindow], T], windows: Sequence[TimeWindow]) -> list[T]:
    """``[load(window) for window in windows]``, the windows queried concurrently, each on its own connection.

    Two windows are two independent queries, so the database works on both at once
    (PostgreSQL: two backends; SQLite in WAL mode: two readers, the driver releases the
    GIL while it steps). An in-memory SQLite database lives in a single connection, so
    there they run one after the other. The first exception raised is re-raised.
    """
    if len(windows) < 2 or isinstance(engine.pool, (SingletonThreadPool, StaticPool)):
        return [load(window) for window in windows]
    with ThreadPoolExecutor(max_workers=len(windows), thread_name_prefix="tastevin-query") as pool:
        return list(pool.map(load, windows))
