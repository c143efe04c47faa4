"""``tastevin judge`` (score samples on a schedule) and ``tastevin runs`` (list / show runs)."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reviewer.duration import parse_duration
from reviewer.errors import ConfigError
from reviewer.store import DB_URL_ENV, DEFAULT_DB_URL

from .cli_rubrics import RUBRICS_ENV
from .progress import ProgressReport

if TYPE_CHECKING:  # imported when used: `tastevin --help` stays light
    from sqlalchemy.engine import Engine

    from reviewer.rules_only import RulesOnly

logger = logging.getLogger(__name__)

_db_option = click.option(
    "--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
    help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.",
)


def _summary(run: Any, rules_only: RulesOnly | None = None) -> str:
    """The one-paragraph summary of a run; ``rules_only`` adds a line when some of its verdicts
    were made without the LLM their rubric asks for."""
    scored = run.passed + run.failed
    rate = f"{run.passed / scored:.1%}" if scored else "n/a"
    latency = f"{run.avg_latency_ms:.0f} ms" if run.avg_latency_ms is not None else "n/a"
    line = (f"run {run.id} {run.status} ({run.stop_reason}): judged {run.judged} — pass {run.passed}, fail {run.failed}, "
            f"unscored {run.unscored}; pass rate {rate}; errored {run.errored}; tokens {run.input_tokens} in / "
            f"{run.output_tokens} out; cost ${run.cost_usd:.4f}; avg judge latency {latency}")
    note = rules_only.note(f"of run {run.id}") if rules_only is not None else None
    return line + (f"\n  note: {run.error}" if run.error else "") + (f"\n  {note}" if note else "")


def _rules_only(engine: Engine, run_ids: list[int | None]) -> dict[int | None, RulesOnly]:
    from reviewer.rules_only import runs_rules_only

    found = runs_rules_only(engine, [run_id for run_id in run_ids if run_id is not None])
    return {run_id: counts for run_id, counts in found.items()}


@click.command()
@_db_option
@click.option("--rubrics", "rubrics_dir", envvar=RUBRICS_ENV, show_envvar=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory of rubric files (*.yaml). Default: the example rubrics shipped with tastevin.")
@click.option("--once", "once", is_flag=True, help="Run once and exit (the default when --every is not given).")
@click.option("--every", "every", metavar="DURATION", envvar="TASTEVIN_JUDGE_EVERY", show_envvar=True,
              help="Run on a schedule, e.g. 15m, until SIGINT/SIGTERM.")
@click.option("--mode", type=click.Choice(["sync", "batch"]), default="sync", show_default=True,
              envvar="TASTEVIN_JUDGE_MODE", show_envvar=True,
              help="sync: call the judge now, concurrently. batch: submit through the Message Batches API "
                   "(half price) and collect the results on a later tick.")
@click.option("--model", "model", default=None, envvar="TASTEVIN_JUDGE_MODEL", show_envvar=True,
              help="Judge model for rubrics that do not name one. [default: claude-sonnet-5-5]")
@click.option("--output", "output", type=click.Choice(["json_schema", "tool"]), default="json_schema",
              show_default=True, envvar="TASTEVIN_JUDGE_OUTPUT", show_envvar=True,
              help="How the verdicts are forced into their schema: structured outputs, or a forced tool call "
                   "(for older models and gateways).")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(1, 1024),
              envvar="TASTEVIN_JUDGE_CONCURRENCY", show_envvar=True, help="Judge calls in flight at once (sync mode).")
@click.option("--budget-usd", type=click.FloatRange(0, min_open=True), default=None,
              envvar="TASTEVIN_JUDGE_BUDGET_USD", show_envvar=True,
              help="Stop a run before its judge cost would exceed this many US dollars. Default: no budget.")
@click.option("--max-samples", type=click.IntRange(1), default=None, envvar="TASTEVIN_JUDGE_MAX_SAMPLES",
              show_envvar=True, help="Judge at most this many (sample, rubric) pairs per run. Default: all.")
@click.option("--max-tokens", type=click.IntRange(256), default=4096, show_default=True,
              envvar="TASTEVIN_JUDGE_MAX_TOKENS", show_envvar=True, help="max_tokens of each judge call.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1), default=120.0, show_default=True,
              envvar="TASTEVIN_JUDGE_TIMEOUT_S", show_envvar=True, metavar="SECONDS",
              help="Client timeout of one judge call attempt.")
@click.option("--max-retries", type=click.IntRange(0, 20), default=4, show_default=True,
              envvar="TASTEVIN_JUDGE_MAX_RETRIES", show_envvar=True,
              help="Retries with exponential backoff on 408/409/429/5xx/529 and timeouts.")
@click.option("--prices", "prices_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, envvar="TASTEVIN_JUDGE_PRICES", show_envvar=True,
              help="YAML/JSON price table (model: {input, output, cache_read, cache_write} USD per million "
                   "tokens) extending the built-in one.")
@click.option("--stale-after", "stale_after_s", type=click.FloatRange(1), default=120.0, show_default=True,
              envvar="TASTEVIN_JUDGE_STALE_AFTER_S", show_envvar=True, metavar="SECONDS",
              help="A running run without a heartbeat for this long is taken over (its worker died).")
@click.option("--base-url", default=None, envvar="ANTHROPIC_BASE_URL", show_envvar=True,
              help="Anthropic API base URL (a compatible gateway). The key is read from ANTHROPIC_API_KEY.")
@click.option("--require-llm", is_flag=True, default=False, envvar="TASTEVIN_JUDGE_REQUIRE_LLM", show_envvar=True,
              help="Refuse to start (exit 2) when no LLM judge is configured (no ANTHROPIC_API_KEY or "
                   "ANTHROPIC_BASE_URL), instead of recording rules-only verdicts. Use it in production.")
@click.option("--canary", is_flag=True, default=False,
              help="Re-judge each rubric's golden set with the current judge and rubric version instead of a run; "
                   "stores the agreement per (rubric version, judge model) and prints it (see `tastevin golden`).")
def judge(
    db_url: str, rubrics_dir: Path | None, once: bool, every: str | None, mode: str, model: str | None, output: str,
    concurrency: int, budget_usd: float | None, max_samples: int | None, max_tokens: int, timeout_s: float,
    max_retries: int, prices_file: Path | None, stale_after_s: float, base_url: str | None, require_llm: bool,
    canary: bool = False,
) -> None:
    """Score sampled calls against the rubrics: rule checks, and the LLM judge when configured.

    Every judgment is unique per (sample, rubric version, judge model): re-running never
    judges twice, a crashed run is resumed by the next one, and several workers can share
    one PostgreSQL store. Without ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL) the LLM
    criteria are skipped (unscored, "no judge configured") and verdicts rest on rule
    checks alone: judge_model "none", a "partial: …" reason on each, "rules only" in the
    app, `tastevin runs` and `tastevin alert`; samples an LLM already judged are left
    alone. --require-llm refuses to start that way.
    Exits 0 when the run(s) ended, 2 on a configuration or store error.
    """
    from reviewer.store import ensure_schema, make_engine

    from .batch import collect_batches, submit_batch
    from .llm import make_client
    from .pricing import PriceTable
    from .rubric import example_rubrics_dir, load_rubrics
    from .runner import DEFAULT_JUDGE_MODEL, RunOptions, run_sync

    if once and every:
        raise click.UsageError("give either --once or --every, not both")
    interval_s = parse_duration(every) if every else None
    rubrics = load_rubrics(rubrics_dir if rubrics_dir is not None else example_rubrics_dir())
    prices = PriceTable.load(prices_file)
    api_key = os.environ.get("ANTHROPIC_API_KEY") or None
    async_client = make_client(api_key=api_key, base_url=base_url, timeout_s=timeout_s, max_retries=max_retries)
    if async_client is None and require_llm:
        raise ConfigError("--require-llm (TASTEVIN_JUDGE_REQUIRE_LLM) is set but no LLM judge is configured: set "
                          "ANTHROPIC_API_KEY (or ANTHROPIC_BASE_URL for a compatible gateway), or drop --require-llm "
                          "to record rules-only verdicts")
    if async_client is None:
        click.echo("note: no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL: LLM criteria are recorded as unscored "
                   "('no judge configured') and verdicts rest on rule checks alone (judge_model 'none'); "
                   "use --require-llm to refuse to start without a judge.", err=True)
    options = RunOptions(
        trigger="schedule" if interval_s else "manual", default_model=model or DEFAULT_JUDGE_MODEL,
        max_tokens=max_tokens, output=output,  # type: ignore[arg-type]
        concurrency=concurrency, budget_usd=budget_usd, max_samples=max_samples, stale_after_s=stale_after_s,
    )
    engine = make_engine(db_url)
    ensure_schema(engine)
    if canary:
        _canary(engine, rubrics, async_client, prices, options)
        return

    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        click.echo(f"received signal {signum}: finishing the calls in flight, then stopping", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def tick() -> None:
        if mode == "sync":
            progress = ProgressReport("judging", unit="judged")
            try:
                result = run_sync(engine, rubrics, client=async_client, prices=prices, options=options, stop=stop,
                                  progress=progress)
            finally:
                progress.close()
            click.echo(_summary(result.run, _rules_only(engine, [result.run.id])[result.run.id]))
            return
        import anthropic

        sync_client = None
        if async_client is not None:
            sync_client = anthropic.Anthropic(api_key=api_key or "not-needed", base_url=base_url or None,
                                              timeout=timeout_s, max_retries=max_retries)
            collected, pending = collect_batches(engine, client=sync_client, prices=prices,
                                                 worker_id=options.worker_id, lease_s=stale_after_s)
            found = _rules_only(engine, [run.id for run in collected])
            for run in collected:
                click.echo(_summary(run, found.get(run.id)))
            for batch_id in pending:
                click.echo(f"batch {batch_id} is still processing; collected on a later tick", err=True)
        submitted = submit_batch(engine, rubrics, client=sync_client, prices=prices, options=options)
        if submitted is not None:
            if submitted.provider_batch_id:
                click.echo(f"run {submitted.id}: submitted batch {submitted.provider_batch_id} "
                           f"({submitted.judged} judged locally); run again later to collect the results")
            else:
                click.echo(_summary(submitted, _rules_only(engine, [submitted.id])[submitted.id]))

    try:
        while True:
            tick()
            if interval_s is None or stop.is_set():
                break
            click.echo(f"next run in {every}", err=True)
            if stop.wait(interval_s):
                break
    finally:
        engine.dispose()


def _canary(engine: Any, rubrics: Any, client: Any, prices: Any, options: Any) -> None:
    from reviewer.cli_golden import describe_check

    from .canary import run_canary

    try:
        checks = run_canary(engine, rubrics, client=client, prices=prices, options=options)
    finally:
        engine.dispose()
    for check in checks:
        click.echo(describe_check(check))
    if not checks:
        click.echo("no golden set for these rubrics: `tastevin golden add --from-reviews --rubric R`", err=True)


@click.group()
def runs() -> None:
    """List judge runs and show their results."""


def _engine(db_url: str) -> Any:
    from reviewer.store import ensure_schema, make_engine

    engine = make_engine(db_url)
    ensure_schema(engine)
    return engine


def _run_json(run: Any, rules_only: RulesOnly | None) -> dict[str, Any]:
    data = run.model_dump(mode="json")
    scored = run.passed + run.failed
    data["pass_rate"] = run.passed / scored if scored else None
    # Of the run's judgments of rubrics with LLM criteria, how many were made without an LLM.
    data["llm_rubric_judgments"] = rules_only.judgments if rules_only else 0
    data["rules_only_judgments"] = rules_only.rules_only if rules_only else 0
    return data


@runs.command("list")
@_db_option
@click.option("--page-size", default=20, show_default=True, type=click.IntRange(1, 1000), help="Runs per page.")
@click.option("--page-token", default=None, help="Continue after the page that printed this token.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {runs: [...], next_page_token}.")
def runs_list(db_url: str, page_size: int, page_token: str | None, as_json: bool) -> None:
    """Judge runs, newest first."""
    from .runs import list_runs

    engine = _engine(db_url)
    try:
        page, next_token = list_runs(engine, page_size=page_size, page_token=page_token)
        rules_only = _rules_only(engine, [run.id for run in page])
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"runs": [_run_json(r, rules_only.get(r.id)) for r in page], "next_page_token": next_token},
                              indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    from reviewer.rules_only import RULES_ONLY_LABEL

    table = Table("id", "status", "mode", "trigger", "started", "judged", "pass", "fail", "unscored", "pass rate",
                  "judge", "cost $", "stop")
    for run in page:
        scored = run.passed + run.failed
        table.add_row(str(run.id), run.status, run.mode, run.trigger,
                      (run.started_at or run.created_at).strftime("%Y-%m-%d %H:%M"), str(run.judged), str(run.passed),
                      str(run.failed), str(run.unscored), f"{run.passed / scored:.1%}" if scored else "—",
                      rules_only[run.id].judge_label, f"{run.cost_usd:.4f}", run.stop_reason or "")
    Console(width=160).print(table)
    if any(counts.any for counts in rules_only.values()):
        click.echo(f"judge 'rules only': {RULES_ONLY_LABEL} (no ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL when the "
                   "run judged); its pass rate rests on rule checks alone")
    if next_token:
        click.echo(f"next page: tastevin runs list --page-token {next_token}")


@runs.command("show")
@_db_option
@click.argument("run_id", type=int)
@click.option("--limit", type=click.IntRange(1), default=None, help="Show at most this many cases.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {run: {...}, cases: [...]}.")
def runs_show(db_url: str, run_id: int, limit: int | None, as_json: bool) -> None:
    """One run: its totals and per-case results (verdict, reason, output preview, judge latency).

    The reason says why a case is unscored, or which criteria a pass or a fail skipped
    (``partial: …``); a line under the totals says when verdicts are rules-only.
    """
    from reviewer.activity import run_cases

    from .runs import get_run

    engine = _engine(db_url)
    try:
        run = get_run(engine, run_id)
        if run is None:
            raise ConfigError(f"no judge run {run_id}: see `tastevin runs list`")
        found = run_cases(engine, run_id, limit=limit)
        rules_only = _rules_only(engine, [run_id])[run_id]
    finally:
        engine.dispose()
    if as_json:
        cases = [{"sample_id": c.sample_id, "category": c.category, "rubric": c.rubric, "verdict": c.verdict,
                  "reason": c.unscored_reason, "latency_ms": c.latency_ms, "cost_usd": c.cost_usd,
                  "output_preview": c.output_preview, "criteria": c.results} for c in found]
        click.echo(json.dumps({"run": _run_json(run, rules_only), "cases": cases}, indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    click.echo(_summary(run, rules_only))
    table = Table("verdict", "sample", "category", "rubric", "reason", "latency ms", "output (first 200 characters)")
    for case in found:
        table.add_row(case.verdict, case.sample_id[:12], case.category, case.rubric, case.unscored_reason or "",
                      f"{case.latency_ms:.0f}" if case.latency_ms is not None else "—", case.output_preview)
    Console(width=200).print(table)
