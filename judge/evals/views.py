"""The eval run and its cases as plain JSON: the one shape ``tastevin evals … --json`` prints
and the HTTP API serves.

``run_json`` keeps the ``eval_run`` columns under their names and groups them::

    {"id", "name", "group_id", "status", "stop_reason", "error", "datasets": [{"name", "version", "cases"}],
     "candidate": {"provider", "model", "system_prompt_hash", "template_hash", "max_tokens", "params"},
     "rubrics": [{"name", "version"}], "judge_model", "judge_mode", "settings", "labels", "submitted_by",
     "budget_usd", "created_at", "started_at", "completed_at",
     "totals": {"total_cases", "passed_cases", "failed_cases", "unscored_cases", "errored_cases", "pass_rate"},
     "metrics": {"avg_inference_ms", "p50_inference_ms", "p95_inference_ms", "input_tokens", "output_tokens",
                 "generation_cost_usd", "judge_cost_usd", "cost_usd", "cost_per_1k_requests_usd"},
     "gate": {"verdict", "reason", "baseline_id", "drop", "p_value", …} | null}

Timestamps are RFC 3339 UTC. ``pass_rate`` is passed / (passed + failed): unscored and
errored cases are counted apart, never as failures.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from reviewer.store import EvalCase, EvalRun

__all__ = ["case_json", "run_json"]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def run_json(run: EvalRun) -> dict[str, Any]:
    """The run as the module docstring shows it."""
    return {
        "id": run.id, "name": run.name, "group_id": run.group_id, "status": run.status,
        "stop_reason": run.stop_reason, "error": run.error, "datasets": run.datasets, "candidate": run.candidate,
        "rubrics": run.rubrics, "judge_model": run.judge_model, "judge_mode": run.judge_mode,
        "settings": run.settings, "labels": run.labels, "submitted_by": run.submitted_by,
        "budget_usd": run.budget_usd, "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
        "completed_at": _iso(run.completed_at),
        "totals": {"total_cases": run.total_cases, "passed_cases": run.passed_cases,
                   "failed_cases": run.failed_cases, "unscored_cases": run.unscored_cases,
                   "errored_cases": run.errored_cases, "pass_rate": run.pass_rate},
        "metrics": {"avg_inference_ms": run.avg_inference_ms, "p50_inference_ms": run.p50_inference_ms,
                    "p95_inference_ms": run.p95_inference_ms, "input_tokens": run.input_tokens,
                    "output_tokens": run.output_tokens, "generation_cost_usd": run.generation_cost_usd,
                    "judge_cost_usd": run.judge_cost_usd,
                    "cost_usd": run.generation_cost_usd + run.judge_cost_usd,
                    "cost_per_1k_requests_usd": run.cost_per_1k_requests_usd},
        "gate": run.gate,
    }


def case_json(case: EvalCase, *, full: bool = True) -> dict[str, Any]:
    """One case's result; ``full=False`` leaves out the output, the raw reply and the per-criterion results."""
    data: dict[str, Any] = {
        "id": case.id, "case_id": case.case_id, "dataset": case.dataset, "dataset_version": case.dataset_version,
        "category": case.category, "state": case.state, "verdict": case.verdict,
        "passed": None if case.verdict not in ("pass", "fail") else case.verdict == "pass",
        "unscored_reason": case.unscored_reason, "error": case.error, "output_preview": case.output_preview,
        "inference_ms": case.inference_ms, "input_tokens": case.input_tokens, "output_tokens": case.output_tokens,
        "generation_cost_usd": case.generation_cost_usd, "judge_cost_usd": case.judge_cost_usd,
        "cost_usd": case.cost_usd, "judge_ms": case.judge_ms, "finished_at": _iso(case.finished_at),
    }
    if full:
        data |= {"output": case.output, "criteria": case.criteria, "checks": case.checks,
                 "judgments": case.judgments, "raw_reply": case.raw_reply}
    return data
