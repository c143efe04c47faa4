"""``tastevin evals compare``: runs side by side — pass rates with intervals, paired tests, flips, cost."""

from __future__ import annotations

import json
from typing import Any

import click

from reviewer.errors import ConfigError
from reviewer.store import DB_URL_ENV, DEFAULT_DB_URL


def _rate(cell: Any) -> str:
    if cell is None or cell.rate is None:
        return "—"
    return f"{cell.rate:.1%} [{cell.low:.1%}, {cell.high:.1%}] n={cell.scored}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


@click.command("compare")
@click.argument("run_ids", nargs=-1, type=int, required=True, metavar="BASELINE RUN [RUN…]")
@click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
              help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.")
@click.option("--flips", "max_flips", type=click.IntRange(0), default=20, show_default=True,
              help="Show at most this many flipped cases per run.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: runs, categories, paired tests, flips.")
def compare(run_ids: tuple[int, ...], db_url: str, max_flips: int, as_json: bool) -> None:
    """Compare eval runs with the first one: per-category pass rates (95% Wilson intervals), the exact
    McNemar test on shared cases with pass→fail / fail→pass flips, cost per 1,000 requests, latency, tokens.
    """
    from reviewer.store import ensure_schema, make_engine

    from .evals.compare import compare_outcomes, load_outcomes
    from .evals.store import get_run

    if len(run_ids) < 2:
        raise click.UsageError("give at least two run ids: the baseline first")
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        runs = []
        for run_id in run_ids:
            run = get_run(engine, run_id)
            if run is None:
                raise ConfigError(f"no eval run {run_id}: see `tastevin evals list`")
            runs.append(run)
        comparison = compare_outcomes(runs, [load_outcomes(engine, run_id) for run_id in run_ids])
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(comparison.to_json(), indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    cost = Table("run", "name", "model", "status", "pass rate [95% CI]", "unscored", "errored", "cost $",
                 "per 1,000 requests", "p50 ms", "p95 ms", "tokens in/out", title="cost and quality")
    for row in comparison.runs:
        cell = comparison.categories["(all)"][row["id"]]
        cost.add_row(str(row["id"]), row["name"], row["model"], row["status"], _rate(cell), str(row["unscored"]),
                     str(row["errored"]), f"{row['cost_usd']:.4f}", _money(row["cost_per_1k_requests_usd"]),
                     "—" if row["p50_inference_ms"] is None else f"{row['p50_inference_ms']:.0f}",
                     "—" if row["p95_inference_ms"] is None else f"{row['p95_inference_ms']:.0f}",
                     f"{row['input_tokens']}/{row['output_tokens']}")
    console.print(cost)
    categories = Table("category", *(f"run {run_id}" for run_id in run_ids), title="pass rate by category")
    for category, cells in comparison.categories.items():
        categories.add_row(category, *(_rate(cells.get(run_id)) for run_id in run_ids))
    console.print(categories)
    for test in comparison.paired:
        console.print(f"run {run_ids[0]} → run {test.run_id}: {test.paired} shared scored cases, "
                      f"{test.pass_to_fail} pass→fail, {test.fail_to_pass} fail→pass; exact McNemar "
                      f"p = {test.p_value:.4g}")
        if test.flips and max_flips:
            flips = Table("case", "category", "flip", "baseline output", "this run's output")
            for flip in test.flips[:max_flips]:
                flips.add_row(flip.case_id, flip.category, f"{flip.before}→{flip.after}", flip.before_preview or "",
                              flip.after_preview or "")
            console.print(flips)
