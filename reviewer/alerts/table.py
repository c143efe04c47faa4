"""The alert table: the same four columns for every kind, for the terminal and for the app.

Every check or alert row reads as

* **statistic** — the effect measured, named: ``-87.0 pts`` (score drop: the change in
  pass rate), ``PSI 0.242`` / ``JS 0.206`` / ``W/σ 0.31`` (drift: the effect size that
  must pass its threshold besides the test; older rows: ``KS D 0.41``), ``ratio 0.45``
  (volume: arrived over expected), ``+12.0 pts`` (judge health: the rise of a share);
* **threshold** — the bound on that statistic the rule fires at (``≤ -5.0 pts``,
  ``≥ 0.1``, ``< 0.50``), ``—`` when the rule bounds only the p-value (KS);
* **p-value** — of the rule's test (two-proportion z, KS, chi-square, Poisson), adjusted
  for the evaluation's family of tests (Holm by default: ``--correction``) when the row
  was corrected; ``—`` for a check without a test;
* **alpha** — the bound on that p-value the rule fires below (``alpha``, divided by the
  looks of a scheduled evaluation), ``—`` without a test.

The figures come from the row's ``statistic`` document as :mod:`reviewer.alerts.rules`
writes it, so alerts stored before this table existed read the same way.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..links import PAGE_OF_KIND, app_link

__all__ = ["COLUMNS", "Figures", "alert_link", "figures", "format_p", "render_table"]

COLUMNS = ("statistic", "threshold", "p-value", "alpha")
NONE = "—"
METHOD_NAMES = {"psi": "PSI", "jensen_shannon": "JS", "ks": "KS D", "wasserstein_normed": "W/σ", "wasserstein": "W"}
_WINDOW = re.compile(r"\[(?P<start>[^,]+), (?P<end>[^)]+)\)")


@dataclass(frozen=True, slots=True)
class Figures:
    """One row's four columns, as text (see the module docstring)."""

    statistic: str = NONE
    threshold: str = NONE
    p_value: str = NONE
    alpha: str = NONE

    def cells(self) -> tuple[str, str, str, str]:
        return self.statistic, self.threshold, self.p_value, self.alpha


def format_p(p_value: float | None) -> str:
    """Two significant digits: ``0.52``, ``0.0031``, ``7.2e-09``; ``—`` for none."""
    if p_value is None or math.isnan(p_value):
        return NONE
    if p_value == 0:
        return "0"
    return f"{p_value:.2g}" if p_value >= 1e-4 else f"{p_value:.1e}"


def _number(value: float | None) -> str:
    return NONE if value is None or math.isnan(value) else f"{value:.3g}"


def _tested(statistic: Mapping[str, Any], p_value: float | None) -> tuple[float | None, float | None]:
    """The p-value and the level a row fires at: adjusted and ``level`` when it was corrected, else raw and alpha."""
    if statistic.get("p_adjusted") is not None:
        return statistic["p_adjusted"], statistic.get("level", statistic.get("alpha"))
    return p_value, statistic.get("alpha")


def _score_drop(statistic: Mapping[str, Any], observed: float | None, expected: float | None,
                p_value: float | None) -> Figures:
    min_drop = statistic.get("min_drop")
    p_value, alpha = _tested(statistic, p_value)
    change = None if observed is None or expected is None else observed - expected
    return Figures(statistic=NONE if change is None else f"{change * 100:+.1f} pts",
                   threshold=NONE if min_drop is None else f"≤ {-min_drop * 100:.1f} pts",
                   p_value=format_p(p_value), alpha=NONE if alpha is None else f"{alpha:.2g}")


def _drift(statistic: Mapping[str, Any], observed: float | None, expected: float | None,
           p_value: float | None) -> Figures:
    effects, thresholds = statistic.get("effects"), statistic.get("thresholds") or {}
    if effects:  # a test and its effect sizes: the first effect is the one the message leads with
        name, value = next(iter(effects.items()))
        bound = thresholds.get(name)
        p_value, alpha = _tested(statistic, p_value)
        return Figures(statistic=f"{METHOD_NAMES.get(name, name)} {_number(value)}",
                       threshold=NONE if bound is None else f"≥ {bound:g}", p_value=format_p(p_value),
                       alpha=NONE if alpha is None else f"{alpha:.2g}")
    results = [r for r in statistic.get("results", []) if r.get("value") is not None]
    if not results:  # a row without the per-method results: what it stored is all there is
        method = str(statistic.get("method", ""))
        name = METHOD_NAMES.get(method, method)
        return Figures(statistic=f"{name} {_number(observed)}".strip() if observed is not None else NONE,
                       threshold=NONE if expected is None else f"≥ {expected:g}", p_value=format_p(p_value))
    drifted = [r for r in results
               if (r["drifted"] if "drifted" in r else r.get("verdict") in ("drift", "moderate_drift"))]
    worst = (drifted or results)[0]
    method = str(worst["method"])
    if method == "ks":  # the value is the test's p-value; the threshold bounds it
        d = worst.get("statistic")
        return Figures(statistic=NONE if d is None else f"KS D {d:.3g}", p_value=format_p(worst["value"]),
                       alpha=f"{worst['threshold']:g}")
    bound = "> 0" if method == "wasserstein" else f"≥ {worst['threshold']:g}"
    return Figures(statistic=f"{METHOD_NAMES.get(method, method)} {_number(worst['value'])}", threshold=bound)


def _volume(statistic: Mapping[str, Any], observed: float | None, expected: float | None,
            p_value: float | None) -> Figures:
    ratio = statistic.get("ratio")
    p_value, alpha = _tested(statistic, p_value)
    share = None if observed is None or not expected else observed / expected
    return Figures(statistic=NONE if share is None else f"ratio {share:.2f}",
                   threshold=NONE if ratio is None else f"< {ratio:.2f}",
                   p_value=format_p(p_value), alpha=NONE if alpha is None else f"{alpha:.2g}")


def _judge_health(statistic: Mapping[str, Any], observed: float | None, expected: float | None,
                  p_value: float | None) -> Figures:
    rise = statistic.get("min_rise")
    if rise is None:  # rules-only: no test, the share of rule-only judgments
        return Figures(statistic=NONE if observed is None else f"share {observed:.2f}")
    p_value, alpha = _tested(statistic, p_value)
    change = None if observed is None or expected is None else observed - expected
    return Figures(statistic=NONE if change is None else f"{change * 100:+.1f} pts",
                   threshold=f"≥ {rise * 100:+.1f} pts", p_value=format_p(p_value),
                   alpha=NONE if alpha is None else f"{alpha:.2g}")


_BY_KIND = {"score_drop": _score_drop, "drift": _drift, "volume": _volume, "judge_health": _judge_health}


def figures(kind: str, statistic: Mapping[str, Any] | None, *, observed: float | None, expected: float | None,
            p_value: float | None) -> Figures:
    """The four columns of a check or a stored alert of ``kind``."""
    derive = _BY_KIND.get(kind)
    if derive is None:
        return Figures(statistic=_number(observed), p_value=format_p(p_value))
    return derive(statistic or {}, observed, expected, p_value)


def _windows(statistic: Mapping[str, Any]) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]] | None:
    spans = []
    for name in ("window", "baseline_window"):
        match = _WINDOW.fullmatch(str(statistic.get(name, "")))
        if match is None:
            return None
        try:
            spans.append((datetime.fromisoformat(match["start"]), datetime.fromisoformat(match["end"])))
        except ValueError:
            return None
    return spans[0], spans[1]


def alert_link(app_url: str | None, kind: str, statistic: Mapping[str, Any] | None) -> str | None:
    """The review app's page for this kind, on the windows the check compared; None without an app URL."""
    if not app_url or not statistic:
        return None
    windows = _windows(statistic)
    if windows is None:
        return None
    current, baseline = windows
    min_samples, alpha = statistic.get("min_samples"), statistic.get("alpha")
    return app_link(app_url, page=PAGE_OF_KIND.get(kind, ""), current=current, baseline=baseline,
                    min_samples=int(min_samples) if min_samples is not None else None,
                    alpha=float(alpha) if alpha is not None else None)


def render_table(rows: Sequence[tuple[str, str, Figures, str | None]], *, width: int = 80) -> list[str]:
    """Lines of ``(state, key, figures, note)`` rows; a note (the message) is wrapped under its row.

    Nothing is cut: a key longer than its column gets a line of its own, the figures
    follow on the next.
    """
    header = ("state", "key", *COLUMNS)
    cells = [figure.cells() for _, _, figure, _ in rows]
    widths = [max([len(header[i + 2])] + [len(c[i]) for c in cells]) for i in range(len(COLUMNS))]
    state_w = max([len(header[0])] + [len(state) for state, *_ in rows])
    figures_w = sum(widths) + 2 * len(widths)
    key_w = max(len(header[1]), min(max([len(key) for _, key, _, _ in rows], default=0),
                                    width - state_w - 2 - figures_w))

    def line(state: str, key: str, values: Sequence[str]) -> str:
        figures_part = "  ".join(value.ljust(w) for value, w in zip(values, widths, strict=True))
        return f"{state:<{state_w}}  {key:<{key_w}}  {figures_part}".rstrip()

    lines = [line(header[0], header[1], header[2:])]
    indent = " " * (state_w + 2)
    for (state, key, _, note), values in zip(rows, cells, strict=True):
        if len(key) > key_w:
            lines.append(f"{state:<{state_w}}  {key}")
            lines.append(line("", "", values))
        else:
            lines.append(line(state, key, values))
        if note:
            lines += textwrap.wrap(note, width=width, initial_indent=indent, subsequent_indent=indent + "  ",
                                   break_on_hyphens=False)
    return lines
