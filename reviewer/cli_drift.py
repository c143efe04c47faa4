"""The ``tastevin drift`` command: what drifted between a reference window and the current one.

Registered on the CLI group in ``reviewer.cli``. Windows are ``[start, end)`` on the
samples' ``ts``. By default the current window is the last ``--current-days`` before
``--as-of`` (now) and the reference window the ``--reference-days`` just before it;
``--current-start/--current-end`` and ``--reference-start/--reference-end`` set them
explicitly (both ends of a window together).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import click

from .errors import ConfigError, StoreError
from .store import DB_URL_ENV, DEFAULT_DB_URL

if TYPE_CHECKING:
    from .queries import DriftReport, TimeWindow

# Mirrors reviewer.queries (imported lazily: SQLAlchemy takes a while to import).
_DEFAULT_MAX_VALUES = 20_000
_MIN_MAX_VALUES = 1_001


class IsoDateTime(click.ParamType):
    """An ISO 8601 date or date-time (``2026-01-08``, ``2026-01-08T12:00:00+02:00``, ``…Z``); no offset means UTC."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            parsed = value
        else:
            try:
                parsed = datetime.fromisoformat(str(value).strip())
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 date-time, e.g. 2026-01-08 or 2026-01-08T12:00:00Z", param, ctx)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


ISO_DATETIME = IsoDateTime()
_DAYS = click.FloatRange(min=0, min_open=True)


def _explicit(start: datetime | None, end: datetime | None, name: str) -> TimeWindow | None:
    from .queries import TimeWindow

    if start is None and end is None:
        return None
    if start is None or end is None:
        raise click.UsageError(f"give both --{name}-start and --{name}-end, or neither (then --{name}-days is used)")
    return TimeWindow(start, end)


def resolve_windows(
    *,
    as_of: datetime,
    current_days: float,
    reference_days: float,
    current_start: datetime | None = None,
    current_end: datetime | None = None,
    reference_start: datetime | None = None,
    reference_end: datetime | None = None,
) -> tuple[TimeWindow, TimeWindow]:
    """``(current, reference)`` from the command's options (see the module docstring).

    Raises ``click.UsageError`` for half a window, ``WindowError`` for an empty or
    reversed one.
    """
    from .queries import TimeWindow

    current = _explicit(current_start, current_end, "current") or TimeWindow(
        as_of - timedelta(days=current_days), as_of
    )
    reference = _explicit(reference_start, reference_end, "reference") or TimeWindow(
        current.start - timedelta(days=reference_days), current.start
    )
    return current, reference


def _render(report: DriftReport) -> None:
    from rich.console import Console
    from rich.table import Table

    styles = {"drift": "bold red", "moderate_drift": "yellow", "no_drift": "green"}
    table = Table(
        title=f"Drift: current {report.current} ({report.current_samples:,} samples) "
        f"vs reference {report.reference} ({report.reference_samples:,} samples)",
        title_justify="left",
    )
    for column in ("feature", "kind", "method", "value", "threshold", "verdict", "ref n", "cur n", "note"):
        table.add_column(column, justify="right" if column in ("value", "threshold", "ref n", "cur n") else "left")
    for result in report.results:
        verdict = result.verdict.value
        table.add_row(
            result.feature,
            result.kind.value,
            result.method.value,
            "—" if result.value is None else f"{result.value:.4g}",
            f"{result.threshold:g}",
            f"[{styles.get(verdict, 'dim')}]{verdict.replace('_', ' ')}[/]",
            f"{result.reference_n:,}",
            f"{result.current_n:,}",
            "; ".join(part for part in result.note.split("; ") if "subsampled" not in part),
        )
    console = Console()
    console.print(table)
    for name, fraction, samples in (
        ("reference", report.reference_fraction, report.reference_samples),
        ("current", report.current_fraction, report.current_samples),
    ):
        if fraction < 1.0:
            console.print(f"{name}: a deterministic random {fraction:.1%} of its {samples:,} samples was read")
    drifted = report.drifted_features
    console.print(f"drifted: {', '.join(drifted)}" if drifted else "no feature drifted")


@click.command()
@click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
              help="Store URL: sqlite:///FILE (a file in the working directory) or "
                   "postgresql://user:password@host:5432/dbname.")
@click.option("--current-days", default=7.0, show_default=True, type=_DAYS, envvar="TASTEVIN_DRIFT_CURRENT_DAYS",
              show_envvar=True, metavar="DAYS", help="The current window: the last DAYS before --as-of.")
@click.option("--reference-days", default=7.0, show_default=True, type=_DAYS, envvar="TASTEVIN_DRIFT_REFERENCE_DAYS",
              show_envvar=True, metavar="DAYS", help="The reference window: the DAYS just before the current one.")
@click.option("--as-of", type=ISO_DATETIME, default=None,
              help="End of the current window (ISO 8601, UTC without an offset). Default: now.")
@click.option("--current-start", type=ISO_DATETIME, default=None, help="Explicit current window start (inclusive).")
@click.option("--current-end", type=ISO_DATETIME, default=None, help="Explicit current window end (exclusive).")
@click.option("--reference-start", type=ISO_DATETIME, default=None, help="Explicit reference window start (inclusive).")
@click.option("--reference-end", type=ISO_DATETIME, default=None, help="Explicit reference window end (exclusive).")
@click.option("--max-values", default=_DEFAULT_MAX_VALUES, show_default=True, type=click.IntRange(_MIN_MAX_VALUES),
              envvar="TASTEVIN_DRIFT_MAX_VALUES", show_envvar=True,
              help="Samples read per window at most; larger windows use a deterministic random subsample.")
@click.option("--min-samples", default=30, show_default=True, type=click.IntRange(1),
              envvar="TASTEVIN_DRIFT_MIN_SAMPLES", show_envvar=True,
              help="Fewer values than this in either window: 'too few samples' instead of a number.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
def drift(
    db_url: str,
    current_days: float,
    reference_days: float,
    as_of: datetime | None,
    current_start: datetime | None,
    current_end: datetime | None,
    reference_start: datetime | None,
    reference_end: datetime | None,
    max_values: int,
    min_samples: int,
    as_json: bool,
) -> None:
    """Show which sample features drifted between a reference window and the current one.

    Categorical features (category, request_model, app, finish_reason, error_type) are
    compared with PSI and the Jensen-Shannon distance; numeric ones (tokens, latency,
    text lengths, judge cost) with the KS test for up to 1,000 reference values, else
    the Wasserstein distance over the reference's standard deviation. Read-only.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .queries import drift_report
    from .store import display_url, ensure_schema, make_engine
    from .store.migrate import current_revision

    current, reference = resolve_windows(
        as_of=as_of or datetime.now(timezone.utc),
        current_days=current_days,
        reference_days=reference_days,
        current_start=current_start,
        current_end=current_end,
        reference_start=reference_start,
        reference_end=reference_end,
    )
    engine = make_engine(db_url)
    where = display_url(engine.url)
    try:
        if current_revision(engine) is None:
            raise ConfigError(
                f"there is no Tastevin store at {where}: point --db (or {DB_URL_ENV}) at the store that "
                "`tastevin ingest` writes to, or run `tastevin demo` to create one"
            )
        ensure_schema(engine)
        try:
            report = drift_report(
                engine, reference=reference, current=current, max_values=max_values, min_samples=min_samples
            )
        except SQLAlchemyError as exc:
            raise StoreError(
                f"reading the store {where} failed: {exc.__class__.__name__}: {str(exc).splitlines()[0]}; "
                "check that the database is reachable and try again"
            ) from exc
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _render(report)
