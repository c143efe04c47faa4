"""Eval runs: replay dataset cases on a candidate, judge them with the judge's machinery, store the results.

* :mod:`.candidates` — the candidate (an Anthropic model or the production reference)
  and its one generation call per case;
* :mod:`.scoring` — a case judged against the rubrics of its category, its own criteria
  and its expected output;
* :mod:`.store` — the ``eval_run`` / ``eval_case`` rows: create, claim, store, finish, list;
* :mod:`.runner` — the concurrent, resumable, budgeted run loop;
* :mod:`.views` — the run and its cases as JSON (CLI and HTTP API);
* :mod:`.compare` / :mod:`.gate` — runs side by side, and the CI gate against a baseline.
"""

from __future__ import annotations

from .candidates import REFERENCE, CandidateRejected, CandidateSpec, Generation, parse_model
from .compare import Comparison, compare_outcomes, load_outcomes, mcnemar_exact
from .gate import GateResult, evaluate_gate, gate_run
from .runner import EvalOptions, run_eval, run_rubrics
from .scoring import case_targets, score_case
from .store import cancel_run, create_run, finish_run, get_run, list_runs, run_cases
from .views import case_json, run_json

__all__ = [
    "REFERENCE",
    "CandidateRejected",
    "CandidateSpec",
    "Comparison",
    "EvalOptions",
    "GateResult",
    "Generation",
    "cancel_run",
    "case_json",
    "case_targets",
    "compare_outcomes",
    "create_run",
    "evaluate_gate",
    "finish_run",
    "gate_run",
    "get_run",
    "list_runs",
    "load_outcomes",
    "mcnemar_exact",
    "parse_model",
    "run_cases",
    "run_eval",
    "run_json",
    "run_rubrics",
    "score_case",
]
