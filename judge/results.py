"""The one result type shared by rule checks and the LLM judge, and how results combine.

Every criterion of a rubric — a rule check run locally or a question put to the LLM
judge — ends as a :class:`CriterionResult`: ``pass``, ``fail`` or ``unscored``.

``unscored`` means "this criterion could not be judged" (the call failed so there is no
output, the expected value is missing from the record, the judge's reply did not parse
…). It always carries a ``reason``. An unscored criterion never counts as a pass or as a
fail: :func:`combine` skips it and says which it skipped and why (the judgment keeps that
reason, so a pass on rule checks alone never looks like a full pass), and when nothing
could be scored the combined verdict is itself ``unscored``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = ["PARTIAL_PREFIX", "CriterionKind", "CriterionResult", "Verdict", "combine"]

Verdict = Literal["pass", "fail", "unscored"]
CriterionKind = Literal["rule", "llm"]

# How the reason of a pass or a fail that skipped some criteria begins.
PARTIAL_PREFIX = "partial: "

_VERDICTS: tuple[str, ...] = get_args(Verdict)
_KINDS: tuple[str, ...] = get_args(CriterionKind)


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """The outcome of one criterion for one sample.

    ``explanation`` says what was found (``"length 1532 > 1200"``); ``reason`` is set
    exactly when the verdict is ``unscored`` and says why nothing could be judged.
    Raises ValueError on construction when these invariants do not hold.
    """

    id: str
    kind: CriterionKind
    verdict: Verdict
    explanation: str
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {', '.join(_KINDS)}, not {self.kind!r}")
        if self.verdict not in _VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(_VERDICTS)}, not {self.verdict!r}")
        if self.verdict == "unscored" and not self.reason:
            raise ValueError(f"criterion {self.id!r}: an unscored result needs a reason")
        if self.verdict != "unscored" and self.reason is not None:
            raise ValueError(f"criterion {self.id!r}: only an unscored result has a reason")

    @classmethod
    def unscored(cls, id: str, kind: CriterionKind, reason: str) -> CriterionResult:
        """An unscored result; the explanation repeats the reason."""
        return cls(id=id, kind=kind, verdict="unscored", explanation=reason, reason=reason)

    def to_json(self) -> dict[str, Any]:
        """A plain dict for the store's JSON columns (``judgment.checks`` / ``criteria``)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "verdict": self.verdict,
            "explanation": self.explanation,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CriterionResult:
        """The inverse of :meth:`to_json`; raises KeyError / ValueError on a bad dict."""
        return cls(
            id=data["id"],
            kind=data["kind"],
            verdict=data["verdict"],
            explanation=data["explanation"],
            reason=data.get("reason"),
        )


def combine(results: Iterable[CriterionResult], pass_rule: Mapping[str, Any]) -> tuple[Verdict, str | None]:
    """Combine per-criterion results into one verdict under a rubric's pass rule.

    ``pass_rule`` is ``{"mode": "all"}`` (every scored criterion must pass) or
    ``{"mode": "fraction", "min": 0.8}`` (the share of scored criteria that pass must be
    at least ``min``).

    Unscored results are skipped: they never count as a pass or a fail. The returned
    reason is ``None`` when every criterion was scored. Otherwise it names the skipped
    criteria and why: ``partial: 2 of 3 criteria unscored: tone, facts (no judge
    configured)`` beside a pass or a fail decided by the others, ``all 2 criteria
    unscored: …`` when nothing at all could be scored (the verdict is then ``unscored``).
    Raises ValueError for a pass rule it does not know.
    """
    mode = pass_rule.get("mode")
    if mode not in ("all", "fraction"):
        raise ValueError(f"pass rule mode must be 'all' or 'fraction', not {mode!r}")
    minimum: float | None = None
    if mode == "fraction":
        minimum = pass_rule.get("min")
        if not isinstance(minimum, (int, float)) or isinstance(minimum, bool) or not 0 < minimum <= 1:
            raise ValueError(f"pass rule 'fraction' needs a min in (0, 1], not {minimum!r}")

    items = list(results)
    skipped = [r for r in items if r.verdict == "unscored"]
    scored = [r for r in items if r.verdict != "unscored"]
    if not items:
        return "unscored", "no criteria to score"
    if not scored:
        return "unscored", f"all {len(items)} criteria unscored: {_skipped(skipped)}"

    passed = sum(1 for r in scored if r.verdict == "pass")
    if minimum is None:
        verdict: Verdict = "pass" if passed == len(scored) else "fail"
    else:
        # Compare as integers-over-floats with a tolerance: 4/5 against 0.8 must pass.
        verdict = "pass" if passed / len(scored) >= minimum - 1e-9 else "fail"
    if not skipped:
        return verdict, None
    return verdict, f"{PARTIAL_PREFIX}{len(skipped)} of {len(items)} criteria unscored: {_skipped(skipped)}"


def _skipped(results: list[CriterionResult]) -> str:
    """``a, b (no judge configured); c (expected value missing)``: the ids grouped by reason, in order."""
    by_reason: dict[str, list[str]] = {}
    for result in results:
        by_reason.setdefault(result.reason or "", []).append(result.id)
    return "; ".join(f"{', '.join(ids)} ({reason})" for reason, ids in by_reason.items())
