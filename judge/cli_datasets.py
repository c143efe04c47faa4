"""``tastevin datasets``: build eval datasets from files or sampled traffic; list, show, export them."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from reviewer.errors import ConfigError
from reviewer.store import DB_URL_ENV, DEFAULT_DB_URL

_db_option = click.option(
    "--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
    help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.",
)


def _time_option(_: click.Context, __: click.Parameter, value: str | None) -> datetime | None:
    from reviewer.cli_export import parse_time

    return None if value is None else parse_time(value)


def _engine(db_url: str) -> Any:
    from reviewer.store import ensure_schema, make_engine

    engine = make_engine(db_url)
    ensure_schema(engine)
    return engine


@click.group()
def datasets() -> None:
    """Eval datasets: immutable, content-hashed lists of cases to replay on candidates.

    A name points at its latest version; NAME@VERSION names an older one.
    """


@datasets.command("create")
@click.argument("name")
@_db_option
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              default=None, help="JSON array or JSONL of cases: the test-set shape {id, category, input, "
                                 "expected_output, expected_*, rubric: [questions]} or `tastevin export` lines.")
@click.option("--from-store", "from_store", is_flag=True,
              help="Cases from the sampled traffic in the store (the filters below, as in `tastevin export`).")
@click.option("--category", default=None, help="--from-store: only samples of this category.")
@click.option("--verdict", type=click.Choice(["pass", "fail", "unscored"]), default=None,
              help="--from-store: only samples with this verdict (with --rubric: that rubric's verdict).")
@click.option("--since", default=None, callback=_time_option, metavar="TIME",
              help="--from-store: only samples from TIME on: ISO 8601 (2026-11-01, 2026-11-01T12:00Z) or ago (7d).")
@click.option("--until", default=None, callback=_time_option, metavar="TIME",
              help="--from-store: only samples before TIME (same forms as --since).")
@click.option("--rubric", default=None, help="--from-store: only samples judged with this rubric.")
@click.option("--model", default=None, help="--from-store: only samples that requested this model.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="--from-store: at most this many cases (the oldest; with --per-category, of the sample).")
@click.option("--per-category", type=click.IntRange(1), default=None, metavar="N",
              help="--from-store: at most N cases per category, chosen deterministically by sample id.")
@click.option("--expected-from", type=click.Choice(["review", "judge"]), default="review", show_default=True,
              help="--from-store: where expected_output comes from: a person's pass only, or also the judge's.")
def create(
    name: str, db_url: str, from_file: Path | None, from_store: bool, category: str | None, verdict: str | None,
    since: datetime | None, until: datetime | None, rubric: str | None, model: str | None, limit: int | None,
    per_category: int | None, expected_from: str,
) -> None:
    """Store a dataset version NAME from a file or from the store, or find the identical one.

    The same cases (by content) always give the same version. A file with any bad line is
    rejected whole, each problem named by line and field; nothing is stored.
    """
    from .dataset_cases import parse_cases
    from .datasets import cases_from_store, store_dataset

    if (from_file is None) == (not from_store):
        raise click.UsageError("give exactly one of --from-file FILE and --from-store")
    store_filters = {"category": category, "verdict": verdict, "since": since, "until": until, "rubric": rubric,
                     "model": model, "limit": limit, "per_category": per_category}
    if from_file is not None and any(v is not None for v in store_filters.values()):
        used = sorted(f"--{k.replace('_', '-')}" for k, v in store_filters.items() if v is not None)
        raise click.UsageError(f"{', '.join(used)} only apply with --from-store")
    if since is not None and until is not None and since >= until:
        raise click.BadParameter("--since is not before --until", param_hint="--since")
    if from_file is not None:
        source_name = "<stdin>" if str(from_file) == "-" else from_file.name
        try:
            raw = sys.stdin.buffer.read() if str(from_file) == "-" else from_file.read_bytes()
            text = raw.decode("utf-8-sig")  # a BOM some editors write is not part of the first line
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source_name}: not UTF-8 text (byte {exc.start})") from exc
        except OSError as exc:
            raise ConfigError(f"{from_file}: cannot read the file: {exc.strerror or exc}") from exc
        cases = parse_cases(text, source=source_name)
        source: dict[str, Any] = {"kind": "file", "path": os.path.abspath(from_file) if source_name != "<stdin>"
                                  else "-"}
    engine = _engine(db_url)
    try:
        if from_store:
            from reviewer.browse import SampleFilters

            filters = SampleFilters(category=category, verdict=verdict, since=since, until=until,  # type: ignore[arg-type]
                                    model=model, rubric=rubric)
            cases = cases_from_store(engine, filters, limit=limit, per_category=per_category,
                                     expected_from=expected_from)  # type: ignore[arg-type]
            if not cases:
                raise ConfigError("no sample matches these filters: nothing to make a dataset of")
            source = {"kind": "store", "filters": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                                   for k, v in store_filters.items() if v is not None},
                      "expected_from": expected_from}
        stored = store_dataset(engine, name, cases, source=source)
    finally:
        engine.dispose()
    what = "stored" if stored.created else "found (already stored)"
    categories = ", ".join(f"{k} {v}" for k, v in stored.categories.items())
    click.echo(f"dataset {stored.name}@{stored.version}: {stored.case_count} cases {what}; categories: {categories}")


def _dataset_json(stored: Any) -> dict[str, Any]:
    return {"name": stored.name, "version": stored.version, "cases": stored.case_count,
            "categories": stored.categories, "source": stored.source, "latest": stored.latest,
            "created_at": stored.created_at.isoformat()}


@datasets.command("list")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {datasets: [...]}.")
def list_command(db_url: str, as_json: bool) -> None:
    """Every dataset with its latest version, case count and categories."""
    from .datasets import list_datasets

    engine = _engine(db_url)
    try:
        found = list_datasets(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"datasets": [_dataset_json(d) for d in found]}, indent=1))
        return
    if not found:
        click.echo("no datasets yet: create one with `tastevin datasets create NAME --from-file FILE`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "version", "cases", "categories", "created")
    for d in found:
        table.add_row(d.name, d.version, str(d.case_count), ", ".join(f"{k} {v}" for k, v in d.categories.items()),
                      d.created_at.strftime("%Y-%m-%d %H:%M"))
    Console(width=160).print(table)


@datasets.command("show")
@click.argument("dataset", metavar="NAME[@VERSION]")
@_db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the version, its categories and versions.")
def show(dataset: str, db_url: str, as_json: bool) -> None:
    """One dataset version: its categories with counts, where it came from, and the name's versions."""
    from .datasets import dataset_versions, find_dataset

    engine = _engine(db_url)
    try:
        stored = find_dataset(engine, dataset)
        versions = dataset_versions(engine, stored.name)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(_dataset_json(stored) | {"versions": [_dataset_json(v) for v in versions]}, indent=1))
        return
    click.echo(f"dataset {stored.name}@{stored.version}{' (latest)' if stored.latest else ''}: "
               f"{stored.case_count} cases, created {stored.created_at:%Y-%m-%d %H:%M} UTC")
    click.echo(f"source: {json.dumps(stored.source)}")
    click.echo("categories:")
    for category, count in stored.categories.items():
        click.echo(f"  {category:<24} {count}")
    click.echo("versions (oldest first): " + ", ".join(v.version + (" (latest)" if v.latest else "") for v in versions))


@datasets.command("export")
@click.argument("dataset", metavar="NAME[@VERSION]")
@_db_option
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True, allow_dash=True, path_type=Path),
              default=Path("-"), show_default="stdout", help="File to write; '-' writes to stdout.")
def export_command(dataset: str, db_url: str, out_path: Path) -> None:
    """Write a dataset version as JSONL in the test-set shape (`datasets create --from-file` reads it back)."""
    from .datasets import export_dataset, find_dataset

    engine = _engine(db_url)
    try:
        stored = find_dataset(engine, dataset)
        if str(out_path) == "-":
            sys.stdout.flush()
            count = export_dataset(engine, stored.id, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            partial = out_path.with_name(f".{out_path.name}.partial")
            try:
                with partial.open("wb") as handle:
                    count = export_dataset(engine, stored.id, handle)
                os.replace(partial, out_path)
            finally:
                partial.unlink(missing_ok=True)
    finally:
        engine.dispose()
    click.echo(f"exported {count} cases of {stored.name}@{stored.version} to {out_path}", err=True)
