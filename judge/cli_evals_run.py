"""``tastevin evals run``: replay datasets on one or more candidates, judge every case, gate CI on the result."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import click

from reviewer.errors import ConfigError
from reviewer.store import DB_URL_ENV, DEFAULT_DB_URL

from .cli_rubrics import RUBRICS_ENV
from .progress import ProgressReport

_db_option = click.option(
    "--db", "db_url", default=DEFAULT_DB_URL, show_default=True, envvar=DB_URL_ENV, show_envvar=True,
    help="Store URL: sqlite:///FILE or postgresql://user:password@host:5432/dbname.",
)


def _engine(db_url: str) -> Any:
    from reviewer.store import ensure_schema, make_engine

    engine = make_engine(db_url)
    ensure_schema(engine)
    return engine


def format_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def summary(run: Any) -> str:
    """The run in a few lines: status, totals, pass rate, latency, tokens and costs."""
    rate = "n/a" if run.pass_rate is None else f"{run.pass_rate:.1%}"
    per_1k = "n/a" if run.cost_per_1k_requests_usd is None else f"${run.cost_per_1k_requests_usd:.4f}"
    datasets = ", ".join(f"{d['name']}@{d['version']}" for d in run.datasets)
    lines = [
        f"eval run {run.id} {run.name!r} {run.status}{f' ({run.stop_reason})' if run.stop_reason else ''}: "
        f"{run.candidate_model} on {datasets}",
        f"  cases {run.total_cases}: pass {run.passed_cases}, fail {run.failed_cases}, unscored {run.unscored_cases}, "
        f"errored {run.errored_cases}; pass rate {rate}",
        f"  inference ms avg {format_ms(run.avg_inference_ms)} / p50 {format_ms(run.p50_inference_ms)} / p95 "
        f"{format_ms(run.p95_inference_ms)}; tokens {run.input_tokens} in / {run.output_tokens} out",
        f"  cost: generation ${run.generation_cost_usd:.4f}, judge ${run.judge_cost_usd:.4f}; "
        f"per 1,000 requests {per_1k}",
    ]
    if run.error:
        lines.append(f"  note: {run.error}")
    return "\n".join(lines)


def _params(values: tuple[str, ...]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--param")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    return params


def _read(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc}") from exc


@click.command("run")
@click.argument("dataset_refs", nargs=-1, metavar="DATASET[@VERSION]...")
@_db_option
@click.option("--model", "models", multiple=True, metavar="MODEL",
              help="The candidate: an Anthropic model (claude-…, or anthropic:MODEL), or `reference` to judge the "
                   "datasets' reference outputs (what production answered) without generating anything. Repeat it "
                   "to run several candidates as sibling runs of one group, one after the other.")
@click.option("--name", default=None, help="The run's name (the baseline of a gate is the last run with the same "
                                           "name). Default: the dataset names; with several --model, NAME:MODEL.")
@click.option("--system-prompt", "system_prompt_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File whose text replaces each case's recorded system prompt.")
@click.option("--template", "template_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Prompt template file: one user turn with {field} placeholders filled from the case (input, "
                   "category, id, system_prompt, expected_output, reference_output, any attribute).")
@click.option("--max-tokens", type=click.IntRange(1), default=1024, show_default=True,
              help="max_tokens of each candidate call.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Passed to the candidate in extra_body (VALUE parsed as JSON when it is JSON), e.g. "
                   "temperature=0 for a model that still accepts it. None by default: current Claude models "
                   "reject sampling parameters.")
@click.option("--rubrics", "rubrics_dir", envvar=RUBRICS_ENV, show_envvar=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Rubric files (*.yaml); each judges the cases of its categories. Default: the shipped examples.")
@click.option("--judge-model", default=None, metavar="MODEL",
              help="Judge model for rubrics that name none and for the cases' own criteria. "
                   "[default: claude-sonnet-5-5]")
@click.option("--output", "output", type=click.Choice(["json_schema", "tool"]), default="json_schema",
              show_default=True, help="How the judge's verdicts are forced into their schema.")
@click.option("--match", type=click.Choice(["normalized", "strict"]), default="normalized", show_default=True,
              help="Exact match against expected_output: case- and whitespace-insensitive, or byte for byte.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 1024),
              help="Cases in flight at once.")
@click.option("--budget-usd", type=click.FloatRange(0, min_open=True), default=None,
              help="Stop before generation plus judging would cost more than this (the run ends cancelled, "
                   "stop reason budget, finished cases kept; with --resume: the run's new budget). "
                   "Default: no budget.")
@click.option("--prices", "prices_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, envvar="TASTEVIN_JUDGE_PRICES", show_envvar=True,
              help="YAML/JSON price table (model: {input, output, …} USD per million tokens) extending the "
                   "built-in one.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(1), default=120.0, show_default=True, metavar="SECONDS",
              help="Client timeout of one call attempt (candidate and judge).")
@click.option("--max-retries", type=click.IntRange(0, 20), default=4, show_default=True,
              help="Retries with exponential backoff on 408/409/429/5xx/529 and timeouts.")
@click.option("--stale-after", "stale_after_s", type=click.FloatRange(1), default=120.0, show_default=True,
              metavar="SECONDS", help="A case claimed by a worker silent for this long is taken over.")
@click.option("--resume", "resume_id", type=int, default=None, metavar="RUN_ID",
              help="Resume (or join as a second worker) eval run RUN_ID instead of creating one; finished cases "
                   "are not called again.")
@click.option("--base-url", default=None, envvar="ANTHROPIC_BASE_URL", show_envvar=True,
              help="Anthropic API base URL (a compatible gateway). The key is read from ANTHROPIC_API_KEY.")
@click.option("--gate-against", "gate_against", default=None, metavar="latest|RUN_ID",
              help="CI gate: compare with this baseline (latest: the newest completed run of the same name) and "
                   "exit 1 when the pass rate dropped by more than --max-drop and significantly.")
@click.option("--max-drop", type=click.FloatRange(0, 1), default=0.05, show_default=True,
              help="Gate: the largest drop of the pass rate allowed (0.05 = 5 points).")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="Gate: significance level of the exact McNemar test on the paired cases.")
@click.option("--min-paired", type=click.IntRange(1), default=30, show_default=True,
              help="Gate: with fewer paired cases than this, the drop alone decides (and the summary says so).")
@click.option("--json", "as_json", is_flag=True, help="Print the finished run as JSON.")
def run_command(
    dataset_refs: tuple[str, ...], db_url: str, models: tuple[str, ...], name: str | None,
    system_prompt_file: Path | None, template_file: Path | None, max_tokens: int, params: tuple[str, ...],
    rubrics_dir: Path | None, judge_model: str | None, output: str, match: str, concurrency: int,
    budget_usd: float | None, prices_file: Path | None, timeout_s: float, max_retries: int, stale_after_s: float,
    resume_id: int | None, base_url: str | None, gate_against: str | None, max_drop: float, alpha: float,
    min_paired: int, as_json: bool,
) -> None:
    """Replay DATASET(s) on a candidate and judge every case: generation, rubrics, own criteria, exact match.

    Cases are judged by the rubrics of their category, their own criteria and, when they
    have one, an exact match against expected_output; a case whose generation failed is
    errored, never failed. Ctrl-C stops cleanly (the run ends cancelled and can be
    resumed with --resume). Exits 0 when the run(s) completed, 1 when one was cancelled
    (budget, Ctrl-C), 2 on a configuration, API or store error. With --gate-against:
    0 when the gate passes, 1 when it fails, 2 when it cannot decide (the run did not
    complete, an error); the gate's JSON summary goes to stdout.
    """
    from .evals.gate import GateResult, gate_run
    from .evals.runner import EvalOptions, run_eval
    from .evals.store import get_run
    from .evals.views import run_json
    from .llm import make_client
    from .pricing import PriceTable
    from .runner import DEFAULT_JUDGE_MODEL

    if resume_id is not None and (dataset_refs or models):
        raise click.UsageError("--resume RUN_ID continues a run as created: give no DATASET and no --model")
    if resume_id is None and (not dataset_refs or not models):
        raise click.UsageError("give one or more DATASET and --model (or --resume RUN_ID)")
    if system_prompt_file is not None and template_file is not None:
        raise click.UsageError("give --system-prompt or --template, not both")
    prices = PriceTable.load(prices_file)
    api_key = os.environ.get("ANTHROPIC_API_KEY") or None
    client = make_client(api_key=api_key, base_url=base_url, timeout_s=timeout_s, max_retries=max_retries)
    options = EvalOptions(concurrency=concurrency, judge_model=judge_model or DEFAULT_JUDGE_MODEL,
                          output=output, match=match, stale_after_s=stale_after_s)  # type: ignore[arg-type]
    engine = _engine(db_url)
    finished: list[tuple[Any, GateResult | None]] = []
    try:
        if resume_id is None:
            planned = _create_runs(
                engine, dataset_refs, models, name=name, system_prompt=_read(system_prompt_file, "system prompt"),
                template=_read(template_file, "template"), max_tokens=max_tokens, params=_params(params),
                rubrics_dir=rubrics_dir, options=options, prices=prices, budget_usd=budget_usd,
                judged=client is not None)
        else:
            planned = [_resume_plan(engine, resume_id, options=options, budget_usd=budget_usd)]
        stop = threading.Event()

        def on_signal(signum: int, frame: object) -> None:
            click.echo(f"received signal {signum}: finishing the calls in flight, then stopping", err=True)
            stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for run_id, rubrics, run_options in planned:
                if stop.is_set():
                    click.echo(f"eval run {run_id}: not started (stopped); run it with "
                               f"`tastevin evals run --resume {run_id}`", err=True)
                    continue
                click.echo(f"eval run {run_id}: running; resume with `tastevin evals run --resume {run_id}`",
                           err=True)
                progress = ProgressReport(f"eval run {run_id}", unit="cases", line_when_done=True)
                try:
                    final = run_eval(engine, run_id, client=client, judge_client=client, rubrics=rubrics,
                                     prices=prices, options=run_options, stop=stop, progress=progress)
                finally:
                    progress.close()
                gate = None
                if gate_against is not None:
                    try:
                        gate = gate_run(engine, final, against=gate_against, max_drop=max_drop, alpha=alpha,
                                        min_paired=min_paired)
                    except ConfigError:
                        click.echo(summary(final), err=True)
                        raise
                    final = get_run(engine, run_id) or final
                finished.append((final, gate))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        engine.dispose()
    if as_json:
        runs = [run_json(final) for final, _ in finished]
        click.echo(json.dumps(runs[0] if len(runs) == 1 else {"group_id": finished[0][0].group_id, "evals": runs},
                              indent=1))
    for final, gate in finished:
        if not as_json:
            click.echo(summary(final))
        if final.status == "running":
            left = final.total_cases - (final.passed_cases + final.failed_cases + final.unscored_cases
                                        + final.errored_cases)
            click.echo(f"eval run {final.id} is still running: {left} cases are held by another worker (taken over "
                       f"after --stale-after if it died: `tastevin evals run --resume {final.id}`)", err=True)
        if gate is not None:
            click.echo(f"gate {gate.verdict.upper()} (run {final.id}): {gate.reason}", err=True)
            if not as_json:
                click.echo(json.dumps({"gate": gate.to_json()}))
    gated = [gate for _, gate in finished if gate is not None]
    if gate_against is not None:
        raise SystemExit(1 if any(g.verdict == "fail" for g in gated) else 0)
    if any(final.status == "cancelled" for final, _ in finished) or len(finished) < len(planned):
        raise SystemExit(1)


def _create_runs(
    engine: Any, dataset_refs: tuple[str, ...], models: tuple[str, ...], *, name: str | None,
    system_prompt: str | None, template: str | None, max_tokens: int, params: dict[str, Any], rubrics_dir: Path | None,
    options: Any, prices: Any, budget_usd: float | None, judged: bool,
) -> list[tuple[int, Any, Any]]:
    """Create one run per candidate (siblings of one group when several); nothing is created on a bad setting."""
    import uuid

    from .claims import sync_rubrics
    from .datasets import dataset_cases, find_dataset
    from .evals.candidates import CandidateSpec, check_template, parse_model
    from .evals.store import create_run
    from .rubric import example_rubrics_dir, load_rubrics

    rubrics = load_rubrics(rubrics_dir if rubrics_dir is not None else example_rubrics_dir())
    stored = [find_dataset(engine, ref) for ref in dataset_refs]
    specs = []
    for model in dict.fromkeys(models):
        provider, model_name = parse_model(model)
        reference = provider == "reference"
        spec = CandidateSpec(provider=provider, model=model_name, system_prompt=None if reference else system_prompt,
                             template=None if reference else template, max_tokens=max_tokens,
                             params={} if reference else params)
        if spec.generates and not judged:
            raise ConfigError("an Anthropic candidate needs ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL "
                              "(or use --model reference)")
        if budget_usd is not None:
            _require_prices(prices, spec, rubrics, options.judge_model, judged=judged)
        specs.append(spec)
    if template is not None:
        check_template(template, [c for d in stored for _, c in dataset_cases(engine, d.id)])
    sync_rubrics(engine, rubrics)
    base = name or "+".join(d.name for d in stored)
    group = uuid.uuid4().hex if len(specs) > 1 else None
    planned = []
    for spec in specs:
        run_id = create_run(engine, name=f"{base}:{spec.model}" if group else base, datasets=stored, candidate=spec,
                            rubrics=[{"name": r.name, "version": r.version} for r in rubrics],
                            judge_model=options.judge_model if judged else None, settings=options.settings(),
                            budget_usd=budget_usd, group_id=group)
        planned.append((run_id, rubrics, options))
    return planned


def _resume_plan(engine: Any, run_id: int, *, options: Any, budget_usd: float | None) -> tuple[int, Any, Any]:
    from dataclasses import replace

    from .evals.runner import run_rubrics
    from .evals.store import get_run, set_budget

    found = get_run(engine, run_id)
    if found is None:
        raise ConfigError(f"no eval run {run_id}: see `tastevin evals list`")
    if budget_usd is not None:
        set_budget(engine, run_id, budget_usd)
    settings = found.settings
    resumed = replace(options, judge_model=found.judge_model or options.judge_model,
                      judge_max_tokens=int(settings.get("judge_max_tokens", options.judge_max_tokens)),
                      output=settings.get("output", options.output), match=settings.get("match", options.match))
    return run_id, run_rubrics(engine, found), resumed


def _require_prices(prices: Any, spec: Any, rubrics: Any, judge_model: str, *, judged: bool) -> None:
    if spec.generates and prices.get(spec.model) is None:
        raise ConfigError(f"no price for the candidate model {spec.model!r}: a budget needs one; add it to a price "
                          f"file (`{spec.model}: {{input: USD_PER_MTOK, output: USD_PER_MTOK}}`) given with --prices")
    if judged:
        for model in {r.judge_model or judge_model for r in rubrics if r.criteria} | {judge_model}:
            prices.require(model)


