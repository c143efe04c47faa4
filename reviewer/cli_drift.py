"""The ``tastevin drift`` command: what drifted between a baseline window and the current one.

Registered on the CLI group in ``reviewer.cli``. Windows are ``[start, end)`` on the
samples' ``ts`` and are spelled as in ``tastevin alert``: the current window is the last
``--window`` (a duration: ``7d``, ``36h``, ``2w``) before ``--now``, the baseline the
``--baseline`` just before it; ``--window-start/--window-end`` and
``--baseline-start/--baseline-end`` set them explicitly (both ends of a window together).

The spellings of the previous release (``--current-days``, ``--reference-days``,
``--as-of``, ``--current-start/-end``, ``--reference-start/-end`` and their variables) still
work for one release: hidden from ``--help``, each use prints a deprecation note.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from .duration import Duration, PointInTime
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
TIME = PointInTime()
_DAYS = click.FloatRange(min=0, min_open=True)

# Old flag → the flag that replaces it (the old ones are hidden aliases for one release).
DEPRECATED_FLAGS = {
    "--current-days": "--window",
    "--reference-days": "--baseline",
    "--as-of": "--now",
    "--current-start": "--window-start",
    "--current-end": "--window-end",
    "--reference-start": "--baseline-start",
    "--reference-end": "--baseline-end",
}


def _deprecated(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Print the deprecation note when an old spelling was given (flag or variable)."""
    source = ctx.get_parameter_source(param.name or "")
    if value is not None and source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        flag = param.opts[0]
        new = DEPRECATED_FLAGS[flag]
        given = f"{param.envvar}" if source is ParameterSource.ENVIRONMENT else flag
        unit = " (a duration now: 7d, 36h, 2w)" if flag.endswith("-days") else ""
        click.echo(f"note: {given} is deprecated and will be removed in the next release; use {new}{unit}",
                   err=True)
    return value


def _pick(ctx: click.Context, new_name: str, new: Any, old_flag: str, old: Any) -> Any:
    """The new option's value, or the deprecated one's when only that was given; both is a usage error."""
    if old is None:
        return new
    source = ctx.get_parameter_source(new_name)
    if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        raise click.UsageError(f"give {DEPRECATED_FLAGS[old_flag]} or the deprecated {old_flag}, not both")
    return old


def _explicit(start: datetime | None, end: datetime | None, name: str) -> TimeWindow | None:
    from .queries import TimeWindow

    if start is None and end is None:
        return None
    if start is None or end is None:
        raise click.UsageError(f"give both --{name}-start and --{name}-end, or neither (then --{name} is used)")
    return TimeWindow(start, end)


def resolve_windows(
    *,
    now: datetime,
    window: timedelta,
    baseline: timedelta,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    baseline_start: datetime | None = None,
    baseline_end: datetime | None = None,
) -> tuple[TimeWindow, TimeWindow]:
    """``(current, baseline)`` from the command's options (see the module docstring).

    Raises ``click.UsageError`` for half a window, ``WindowError`` for an empty or
    reversed one.
    """
    from .queries import TimeWindow

    current = _explicit(window_start, window_end, "window") or TimeWindow(now - window, now)
    before = _explicit(baseline_start, baseline_end, "baseline") or TimeWindow(
        current.start - baseline, current.start
    )
    return current, before


# Compact labels keep the table inside 80 columns; --json has the full method names.
_METHOD_LABELS = {"psi": "PSI", "jensen_shannon": "JS", "ks": "KS", "wasserstein_normed": "W/sd", "wasserstein": "W"}
_METHOD_LEGEND = {
    "PSI": "population stability index",
    "JS": "Jensen-Shannon distance",
    "KS": "two-sample Kolmogorov-Smirnov p-value",
    "W/sd": "Wasserstein distance / the baseline's standard deviation",
    "W": "Wasserstein distance",
}
_VERDICT_LABELS = {"no_drift": "ok", "moderate_drift": "moderate", "drift": "DRIFT",
                   "too_few_samples": "too few", "no_data": "no data"}


def _render(report: DriftReport) -> None:
    """The report as a table that fits a standard 80-column terminal; notes and the legend go below it."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    styles = {"drift": "bold red", "moderate_drift": "yellow", "no_drift": "green"}
    console = Console()
    console.print(f"current  {report.current}  {report.current_samples:,} samples")
    console.print(f"baseline {report.reference}  {report.reference_samples:,} samples")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for column in ("feature", "method", "value", "limit", "verdict", "base n", "cur n"):
        numeric = column in ("value", "limit", "base n", "cur n")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=True)
    notes: list[str] = []
    methods: list[str] = []
    for result in report.results:
        verdict = result.verdict.value
        method = _METHOD_LABELS.get(result.method.value, result.method.value)
        if method not in methods:
            methods.append(method)
        table.add_row(
            result.feature,
            method,
            "—" if result.value is None else f"{result.value:.3g}",
            f"{result.threshold:g}",
            f"[{styles.get(verdict, 'dim')}]{_VERDICT_LABELS.get(verdict, verdict)}[/]",
            f"{result.reference_n:,}",
            f"{result.current_n:,}",
        )
        note = "; ".join(part for part in result.note.split("; ") if part and "subsampled" not in part)
        if note:
            notes.append(f"{result.feature} ({method}): {note}")
    console.print(table)
    for note in notes:
        console.print(f"note: {note}", highlight=False)
    console.print("methods: " + "; ".join(f"{m} {_METHOD_LEGEND[m]}" for m in methods if m in _METHOD_LEGEND),
                  highlight=False)
    for name, fraction, samples in (
        ("baseline", report.reference_fraction, report.reference_samples),
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
@click.option("--window", type=Duration(), default="7d", show_default=True, envvar="TASTEVIN_DRIFT_WINDOW",
              show_envvar=True, help="The current window: this long (30m, 36h, 7d, 2w), ending at --now.")
@click.option("--baseline", type=Duration(), default="7d", show_default=True, envvar="TASTEVIN_DRIFT_BASELINE",
              show_envvar=True, help="The baseline window: this long, just before the current window.")
@click.option("--now", type=TIME, default=None, metavar="TIME",
              help="End of the current window: ISO 8601 (UTC without an offset) or ago (2d). Default: now.")
@click.option("--window-start", type=TIME, default=None, metavar="TIME",
              help="Explicit current window start (inclusive), with --window-end.")
@click.option("--window-end", type=TIME, default=None, metavar="TIME", help="Explicit current window end (exclusive).")
@click.option("--baseline-start", type=TIME, default=None, metavar="TIME",
              help="Explicit baseline window start (inclusive), with --baseline-end.")
@click.option("--baseline-end", type=TIME, default=None, metavar="TIME", help="Explicit baseline window end (exclusive).")
@click.option("--max-values", default=_DEFAULT_MAX_VALUES, show_default=True, type=click.IntRange(_MIN_MAX_VALUES),
              envvar="TASTEVIN_DRIFT_MAX_VALUES", show_envvar=True,
              help="Samples read per window at most; larger windows use a deterministic random subsample.")
@click.option("--min-samples", default=30, show_default=True, type=click.IntRange(1),
              envvar="TASTEVIN_DRIFT_MIN_SAMPLES", show_envvar=True,
              help="Fewer values than this in either window: 'too few samples' instead of a number.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON instead of a table.")
# Deprecated spellings (one release): hidden, still working, with a note on use.
@click.option("--current-days", type=_DAYS, default=None, envvar="TASTEVIN_DRIFT_CURRENT_DAYS", hidden=True,
              callback=_deprecated)
@click.option("--reference-days", type=_DAYS, default=None, envvar="TASTEVIN_DRIFT_REFERENCE_DAYS", hidden=True,
              callback=_deprecated)
@click.option("--as-of", type=ISO_DATETIME, default=None, hidden=True, callback=_deprecated)
@click.option("--current-start", type=ISO_DATETIME, default=None, hidden=True, callback=_deprecated)
@click.option("--current-end", type=ISO_DATETIME, default=None, hidden=True, callback=_deprecated)
@click.option("--reference-start", type=ISO_DATETIME, default=None, hidden=True, callback=_deprecated)
@click.option("--reference-end", type=ISO_DATETIME, default=None, hidden=True, callback=_deprecated)
@click.pass_context
def drift(
    ctx: click.Context,
    db_url: str,
    window: timedelta,
    baseline: timedelta,
    now: datetime | None,
    window_start: datetime | None,
    window_end: datetime | None,
    baseline_start: datetime | None,
    baseline_end: datetime | None,
    max_values: int,
    min_samples: int,
    as_json: bool,
    current_days: float | None,
    reference_days: float | None,
    as_of: datetime | None,
    current_start: datetime | None,
    current_end: datetime | None,
    reference_start: datetime | None,
    reference_end: datetime | None,
) -> None:
    """Show which sample features drifted between a baseline window and the current one.

    Categorical features (category, request_model, app, finish_reason, error_type) are
    compared with PSI and the Jensen-Shannon distance; numeric ones (tokens, latency,
    text lengths, judge cost) with the KS test for up to 1,000 baseline values, else
    the Wasserstein distance over the baseline's standard deviation. Read-only.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from .queries import drift_report
    from .store import display_url, ensure_schema, make_engine
    from .store.migrate import current_revision

    old_window = None if current_days is None else timedelta(days=current_days)
    old_baseline = None if reference_days is None else timedelta(days=reference_days)
    current, reference = resolve_windows(
        now=_pick(ctx, "now", now, "--as-of", as_of) or datetime.now(timezone.utc),
        window=_pick(ctx, "window", window, "--current-days", old_window),
        baseline=_pick(ctx, "baseline", baseline, "--reference-days", old_baseline),
        window_start=_pick(ctx, "window_start", window_start, "--current-start", current_start),
        window_end=_pick(ctx, "window_end", window_end, "--current-end", current_end),
        baseline_start=_pick(ctx, "baseline_start", baseline_start, "--reference-start", reference_start),
        baseline_end=_pick(ctx, "baseline_end", baseline_end, "--reference-end", reference_end),
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


__all__ = ["DEPRECATED_FLAGS", "drift", "resolve_windows"]
