"""``tastevin evals``: replay datasets on a candidate model or prompt, judge them, list and show the runs."""

from __future__ import annotations

import json
from typing import Any

import click

from reviewer.errors import ConfigError
from reviewer.store import DB_URL_ENV, DEFAULT_DB_URL

_db_option = click.option(
    "--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
    help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.",
)


def _engine(db_url: str) -> Any:
    from reviewer.store import ensure_schema, make_engine

    engine = make_engine(db_url)
    ensure_schema(engine)
    return engine


@click.group()
def evals() -> None:
    """Eval runs: replay datasets on a candidate model or prompt and judge every case."""


@evals.command("list")
@_db_option
@click.option("--name", default=None, help="Only runs with this name.")
@click.option("--page-size", default=20, show_default=True, type=click.IntRange(1, 1000), help="Runs per page.")
@click.option("--page-token", default=None, help="Continue after the page that printed this token.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {evals: [...], next_page_token, total_count}.")
def list_command(db_url: str, name: str | None, page_size: int, page_token: str | None, as_json: bool) -> None:
    """Eval runs, newest first, a page at a time."""
    from .evals.store import list_runs
    from .evals.views import run_json

    engine = _engine(db_url)
    try:
        page, next_token, total = list_runs(engine, page_size=page_size, page_token=page_token, name=name)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"evals": [run_json(r) for r in page], "next_page_token": next_token,
                               "total_count": total}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "status", "candidate", "datasets", "cases", "pass", "fail", "unscored", "errored",
                  "pass rate", "cost $", "created")
    for run in page:
        table.add_row(str(run.id), run.name, run.status + (f" ({run.stop_reason})" if run.stop_reason else ""),
                      run.candidate_model, ", ".join(f"{d['name']}@{d['version'][:8]}" for d in run.datasets),
                      str(run.total_cases), str(run.passed_cases), str(run.failed_cases), str(run.unscored_cases),
                      str(run.errored_cases), "—" if run.pass_rate is None else f"{run.pass_rate:.1%}",
                      f"{run.generation_cost_usd + run.judge_cost_usd:.4f}", f"{run.created_at:%Y-%m-%d %H:%M}")
    Console(width=200).print(table)
    click.echo(f"{total} run{'s' if total != 1 else ''} in all")
    if next_token:
        click.echo(f"next page: tastevin evals list --page-token {next_token}")


@evals.command("show")
@click.argument("run_id", type=int)
@_db_option
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most this many cases.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {run: {...}, cases: [...]}.")
def show_command(run_id: int, db_url: str, limit: int | None, as_json: bool) -> None:
    """One eval run: totals, metrics and the per-case table (verdict, preview, latency, cost)."""
    from .evals.store import get_run, run_cases
    from .evals.views import case_json, run_json

    engine = _engine(db_url)
    try:
        run = get_run(engine, run_id)
        if run is None:
            raise ConfigError(f"no eval run {run_id}: see `tastevin evals list`")
        cases = run_cases(engine, run_id, limit=limit)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"run": run_json(run), "cases": [case_json(c) for c in cases]}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    click.echo(summary(run))
    table = Table("case", "category", "verdict", "inference ms", "cost $", "output (first 200 characters)")
    for case in cases:
        verdict = case.verdict or case.state
        note = case.error or (case.unscored_reason if case.verdict == "unscored" else None)
        table.add_row(case.case_id, case.category, verdict, format_ms(case.inference_ms),
                      "—" if case.cost_usd is None else f"{case.cost_usd:.4f}",
                      (case.output_preview or "") + (f" [{note}]" if note else ""))
    Console(width=200).print(table)


@evals.command("cancel")
@click.argument("run_id", type=int)
@_db_option
def cancel_command(run_id: int, db_url: str) -> None:
    """Cancel a pending or running eval run; its workers stop after the calls in flight.

    Finished cases are kept; `tastevin evals run --resume RUN_ID` continues the run later.
    """
    from .evals.store import cancel_run

    engine = _engine(db_url)
    try:
        run = cancel_run(engine, run_id)
    finally:
        engine.dispose()
    click.echo(f"eval run {run.id} cancelled; its workers stop at their next heartbeat")


# `run` and `compare` live in their own modules (kept apart for size).
from .cli_evals_compare import compare  # noqa: E402
from .cli_evals_run import format_ms, run_command, summary  # noqa: E402

evals.add_command(run_command)
evals.add_command(compare)
