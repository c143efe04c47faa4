"""Runs: judge runs newest first, and the judgments of one run."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reviewer.app import _data, _views
from reviewer.app._state import context

PAGE_SIZE = 20
_PAGES = "runs_pages"


def main() -> None:
    ctx = context()
    st.title("Judge runs")
    pages: list[int | None] = st.session_state.setdefault(_PAGES, [None])
    runs = _data.runs(ctx.db_url, PAGE_SIZE + 1, pages[-1])
    more, runs = len(runs) > PAGE_SIZE, runs[:PAGE_SIZE]
    if not runs:
        st.info("No judge runs yet: `tastevin judge --once`.")
        return
    judged_by = _data.runs_rules_only(ctx.db_url, tuple(r.id for r in runs))
    st.dataframe(pd.DataFrame([{
        "run": r.id, "status": r.status, "mode": r.mode, "trigger": r.trigger, "rubrics": ", ".join(r.rubric_names),
        "judge": judged_by[r.id].judge_label,
        "created": r.created_at, "finished": r.finished_at, "judged": r.judged, "passed": r.passed,
        "failed": r.failed, "unscored": r.unscored, "errored": r.errored, "tokens in": r.input_tokens,
        "tokens out": r.output_tokens, "cost_usd": r.cost_usd, "budget_usd": r.budget_usd,
        "avg latency ms": r.avg_latency_ms, "stop": r.stop_reason, "error": r.error,
    } for r in runs]), hide_index=True, width="stretch")
    if any(counts.any for counts in judged_by.values()):
        st.caption(f"{_views.RULES_ONLY_BADGE} judge 'rules only': the run judged without ANTHROPIC_API_KEY, so its "
                   "verdicts rest on rule checks alone.")
    newer, older = st.columns(2)
    if newer.button("← Newer", disabled=len(pages) == 1, key="runs_prev"):
        pages.pop()
        st.rerun()
    if older.button("Older →", disabled=not more, key="runs_next"):
        pages.append(runs[-1].id)
        st.rerun()

    st.subheader("Cases of a run")
    left, right = st.columns(2)
    run_id = left.selectbox("Run", [r.id for r in runs], key="runs_selected")
    verdict = right.selectbox("Verdict", [_views.ANY, "pass", "fail", "unscored"], key="runs_verdict")
    cases = _data.run_cases(ctx.db_url, int(run_id), None if verdict == _views.ANY else verdict)
    if not cases:
        st.info("This run stored no judgments (of this verdict).")
        return
    st.dataframe(pd.DataFrame([{
        "sample_id": c.sample_id, "category": c.category, "rubric": c.rubric, "verdict": _views.verdict_label(c.verdict),
        "reason": c.unscored_reason, "latency_ms": c.latency_ms, "cost_usd": c.cost_usd,
        "output": c.output_preview,
    } for c in cases]), hide_index=True, width="stretch")
    st.caption(f"{len(cases)} judgments shown (at most 200). Open one on the Samples page by its id.")


main()
