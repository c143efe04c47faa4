"""Tastevin judge: rubrics, rule checks, the Anthropic LLM judge and the periodic scoring job.

Typical use::

    rubrics = judge.load_rubrics(judge.example_rubrics_dir())
    results = judge.run_checks(rubrics[0], sample)      # rule checks only, no LLM

The names below are loaded on first use (PEP 562): importing ``judge`` imports neither
the anthropic SDK nor SQLAlchemy, and ``tastevin --help`` stays quick. Every error the
judge raises on purpose is a :class:`TastevinError` (the tree is drawn in
:mod:`reviewer.errors`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reviewer.errors import ConfigError, TastevinError

if TYPE_CHECKING:
    from .checks import Check, run_checks
    from .llm import BudgetExhausted, JudgeRejected
    from .prompt import BadReply
    from .results import CriterionResult, Verdict, combine
    from .rubric import Criterion, Rubric, RubricError, example_rubrics_dir, lint, load_rubrics
    from .runner import DEFAULT_JUDGE_MODEL, RunOptions, RunResult, run_sync

_LAZY = {
    **dict.fromkeys(("Check", "run_checks"), "checks"),
    **dict.fromkeys(("BudgetExhausted", "JudgeRejected"), "llm"),
    "BadReply": "prompt",
    **dict.fromkeys(("CriterionResult", "Verdict", "combine"), "results"),
    **dict.fromkeys(("Criterion", "Rubric", "RubricError", "example_rubrics_dir", "lint", "load_rubrics"), "rubric"),
    **dict.fromkeys(("DEFAULT_JUDGE_MODEL", "RunOptions", "RunResult", "run_sync"), "runner"),
}

__all__ = [
    "DEFAULT_JUDGE_MODEL",
    "BadReply",
    "BudgetExhausted",
    "Check",
    "ConfigError",
    "Criterion",
    "CriterionResult",
    "JudgeRejected",
    "Rubric",
    "RubricError",
    "RunOptions",
    "RunResult",
    "TastevinError",
    "Verdict",
    "combine",
    "example_rubrics_dir",
    "lint",
    "load_rubrics",
    "run_checks",
    "run_sync",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
