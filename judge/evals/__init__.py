"""Eval runs: replay dataset cases on a candidate, judge them with the judge's machinery, store the results.

* :mod:`.candidates` — the candidate (an Anthropic model or the production reference)
  and its one generation call per case;
* :mod:`.scoring` — a case judged against the rubrics of its category, its own criteria
  and its expected output;
* :mod:`.store` — the ``eval_run`` / ``eval_case`` rows: create, claim, store, finish, list;
* :mod:`.runner` — the concurrent, resumable, budgeted run loop;
* :mod:`.views` — the run and its cases as JSON (CLI and HTTP API).
"""

from __future__ import annotations

from .candidates import REFERENCE, CandidateRejected, CandidateSpec, Generation, parse_model
from .runner import EvalOptions, run_eval, run_rubrics
from .scoring import case_targets, score_case
from .store import create_run, finish_run, get_run, list_runs, run_cases
from .views import case_json, run_json

__all__ = [
    "REFERENCE",
    "CandidateRejected",
    "CandidateSpec",
    "EvalOptions",
    "Generation",
    "case_json",
    "case_targets",
    "create_run",
    "finish_run",
    "get_run",
    "list_runs",
    "parse_model",
    "run_cases",
    "run_eval",
    "run_json",
    "run_rubrics",
    "score_case",
]
