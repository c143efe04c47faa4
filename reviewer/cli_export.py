"""``tastevin export``: samples and their verdicts as a JSONL eval dataset (registered in ``reviewer.cli``).

The line format is documented in :mod:`reviewer.export`; the Export page of the review
app writes the same lines with the same function.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click

from .duration import parse_time
from .store import DB_URL_ENV, DEFAULT_DB_URL

__all__ = ["export", "parse_time"]

def _time_option(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    return None if value is None else parse_time(value)


@click.command()
@click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
              help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
              default=Path("-"), show_default="stdout",
              help="File to write; it appears only when the export is complete. '-' writes to stdout.")
@click.option("--category", default=None, help="Only samples of this category.")
@click.option("--verdict", type=click.Choice(["pass", "fail", "unscored"]), default=None,
              help="Only samples with this verdict (with --rubric: that rubric's verdict).")
@click.option("--since", default=None, callback=_time_option, metavar="TIME",
              help="Only samples from TIME on: ISO 8601 (2026-11-01, 2026-11-01T12:00Z; naive is UTC) or ago "
                   "(36h, 7d, 2w, 1d12h).")
@click.option("--until", default=None, callback=_time_option, metavar="TIME",
              help="Only samples before TIME (same forms as --since).")
@click.option("--rubric", default=None,
              help="Only samples judged with this rubric, and only its verdicts in the lines.")
@click.option("--model", default=None, help="Only samples that requested this model.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Write at most this many lines. Default: all.")
@click.option("--expected-from", type=click.Choice(["review", "judge"]), default="review", show_default=True,
              help="Where expected_output comes from: a person's pass only, or also the judge's pass when no one "
                   "reviewed the sample.")
def export(
    db_url: str,
    out_path: Path,
    category: str | None,
    verdict: str | None,
    since: datetime | None,
    until: datetime | None,
    rubric: str | None,
    model: str | None,
    limit: int | None,
    expected_from: str,
) -> None:
    """Write samples with their verdicts as a JSONL eval dataset, oldest first.

    One line per sample: id, category, input, output, expected_output, rubric, verdict,
    verdicts (the judge's per-criterion results), review. Streams: memory stays flat
    however many samples match. A summary goes to stderr.
    """
    from .browse import SampleFilters
    from .export import export_jsonl
    from .store import display_url, ensure_schema, make_engine

    if since is not None and until is not None and since >= until:
        raise click.BadParameter(f"--since {since.isoformat()} is not before --until {until.isoformat()}",
                                 param_hint="--since")
    filters = SampleFilters(category=category, verdict=verdict, since=since, until=until,  # type: ignore[arg-type]
                            model=model, rubric=rubric)
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        expected: Any = expected_from
        if str(out_path) == "-":
            sys.stdout.flush()
            count = export_jsonl(engine, filters, sys.stdout.buffer, limit=limit, expected_from=expected)
            sys.stdout.buffer.flush()
            where = "stdout"
        else:
            count = _export_to_file(engine, filters, out_path, limit=limit, expected_from=expected)
            where = str(out_path)
    finally:
        engine.dispose()
    click.echo(f"exported {count} sample{'s' if count != 1 else ''} from {display_url(engine.url)} to {where}",
               err=True)
    sys.stderr.flush()


def _export_to_file(engine: Any, filters: Any, out_path: Path, *, limit: int | None, expected_from: Any) -> int:
    """Write to a temporary file beside ``out_path`` and rename it on success: no half-written dataset."""
    from .export import export_jsonl

    partial = out_path.with_name(f".{out_path.name}.partial")
    handle: IO[bytes]
    done = False
    try:
        with partial.open("wb") as handle:
            count = export_jsonl(engine, filters, handle, limit=limit, expected_from=expected_from)
        os.replace(partial, out_path)
        done = True
    finally:
        if not done:
            partial.unlink(missing_ok=True)
    return count
