"""Building blocks the pages share: a sample's conversation, the judge's verdicts, the filters."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pandas as pd
import streamlit as st

from reviewer.browse import JudgmentView, SampleDetail, SampleFilters, SampleRow, Verdict
from reviewer.rules_only import RULES_ONLY_LABEL
from reviewer.trust import describe

from . import _data
from ._state import Context

VERDICT_LABELS = {"pass": "pass", "fail": "fail", "unscored": "unscored", None: "not judged"}
BADGE_COLORS = {"pass": "green", "fail": "red", "unscored": "gray", None: "gray"}
ANY = "(any)"
_VERDICTS: dict[str, Verdict] = {"pass": "pass", "fail": "fail", "unscored": "unscored"}


def verdict_label(verdict: str | None) -> str:
    """The plain label of a verdict (for tables): pass, fail, unscored, not judged."""
    return VERDICT_LABELS.get(verdict, str(verdict))


def verdict_badge(verdict: str | None) -> str:
    """The verdict as a coloured Markdown badge (for text)."""
    return f":{BADGE_COLORS.get(verdict, 'gray')}-badge[{verdict_label(verdict)}]"


RULES_ONLY_BADGE = f":orange-badge[{RULES_ONLY_LABEL}]"


def rules_only_notice(ctx: Context) -> None:
    """A warning, led by the "rules only" badge, when verdicts of the current or baseline window
    were made on rule checks alone (no LLM judge configured when they were judged); nothing otherwise."""
    shares = [share for name, window in (("current", ctx.current), ("baseline", ctx.baseline))
              if (share := _data.window_rules_only(ctx.db_url, *window).share(f"in the {name} window"))]
    if shares:
        lines = [share[:1].upper() + share[1:] + "." for share in shares]
        st.warning(f"{RULES_ONLY_BADGE} " + "  \n".join(lines) + "  \nTheir pass rates are the rule checks' alone: "
                   "give the judge ANTHROPIC_API_KEY (and --require-llm) to judge the LLM criteria.",
                   icon=":material/rule:")


def judge_trust(ctx: Context, *, per_category: bool = False) -> None:
    """The judge's raw pass rate beside the rate corrected for its audited errors, per rubric with
    audits (and per category with ``per_category``); nothing when no rubric has audits."""
    audited = [r for r in _data.judge_trust(ctx.db_url, *ctx.current, ctx.min_samples) if r.audited]
    if not audited:
        return
    st.markdown("##### Corrected for the judge's errors (audits)")
    if per_category:
        st.dataframe(pd.DataFrame([{"rubric": r.rubric, "category": s.category, "audits": s.corrected.audits.n,
                                    "raw vs corrected": describe(s.corrected)} for r in audited for s in r.strata]),
                     hide_index=True, width="stretch")
    else:
        for r in audited:
            st.caption(f"**{r.rubric}**: {describe(r.overall)}")
    st.caption("Corrected by prediction-powered inference from the audit queue's random reviews (95% interval, "
               "including the uncertainty of the judge's measured errors); the raw rate is the judge's opinion.")


def _parts(parts: Any) -> None:
    for part in parts or ():
        if isinstance(part, dict) and part.get("type") == "text":
            st.markdown(str(part.get("content", "")))
        else:
            st.json(part, expanded=False)


def render_conversation(sample: dict[str, Any]) -> None:
    """System instructions, input and output messages (semconv shapes) as a chat transcript."""
    if sample.get("system_instructions"):
        with st.chat_message("system", avatar=":material/settings:"):
            st.caption("System instructions")
            _parts(sample["system_instructions"])
    for message in [*(sample.get("input_messages") or ()), *(sample.get("output_messages") or ())]:
        role = str(message.get("role", "?")) if isinstance(message, dict) else "?"
        known = role in ("user", "assistant")
        with st.chat_message(role, avatar=None if known else ":material/build:"):
            if not known:
                st.caption(role)
            _parts(message.get("parts") if isinstance(message, dict) else None)
    if sample.get("error_type"):
        st.error(f"The call failed: {sample['error_type']}: {sample.get('error_message') or ''}")
    if sample.get("truncated"):
        st.warning("The sampler truncated this record to its size cap.")


def _call_details(sample: dict[str, Any]) -> dict[str, Any]:
    keys = ("sample_id", "trace_id", "ts", "app", "env", "release", "category", "provider", "operation",
            "request_model", "response_model", "finish_reason", "input_tokens", "output_tokens", "latency_ms",
            "ttft_ms", "sampling_rate", "sampling_rule", "params", "redactions", "attributes")
    return {key: (sample[key].isoformat() if isinstance(sample.get(key), datetime) else sample.get(key)) for key in keys}


def criteria_lines(judgment: JudgmentView) -> list[str]:
    """Rule checks then LLM criteria of one judgment, one Markdown line each: verdict, id, kind, explanation."""
    lines = []
    for source, items in (("checks", judgment.checks), ("criteria", judgment.criteria)):
        for item in items:
            kind = item.get("kind", "rule" if source == "checks" else "llm")
            text = item.get("reason") if item.get("verdict") == "unscored" else item.get("explanation")
            lines.append(f"- {verdict_badge(item.get('verdict'))} **{item.get('id')}** ({kind}) — {text or ''}")
    return lines


def render_judgment(judgment: JudgmentView, *, highlight: bool = False) -> None:
    with st.container(border=True):
        state = "" if judgment.latest else " · superseded"
        marker = ":material/arrow_forward: " if highlight else ""
        rules_only = f" {RULES_ONLY_BADGE}" if judgment.rules_only else ""
        st.markdown(f"{marker}**{judgment.rubric_name}**@`{judgment.rubric_version}` · {judgment.judge_model} · "
                    f"{verdict_badge(judgment.verdict)}{rules_only}{state}")
        st.caption(f"judged {judgment.created_at:%Y-%m-%d %H:%M:%S} UTC · run {judgment.run_id or '—'} · "
                   f"cost ${judgment.cost_usd or 0:.4f}")
        if judgment.unscored_reason:  # unscored: why; a pass or a fail: the criteria it skipped ("partial: …")
            reason = judgment.unscored_reason
            st.warning(f"Unscored: {reason}" if judgment.verdict == "unscored" else reason[:1].upper() + reason[1:])
        lines = criteria_lines(judgment)
        if lines:
            st.markdown("\n".join(lines))
        if judgment.raw_reply:
            with st.expander("The judge's raw reply"):
                st.code(judgment.raw_reply, language="json")


def render_sample(detail: SampleDetail, *, highlight_judgment: int | None = None) -> None:
    """A whole sample: conversation, the judgments (latest per rubric first), the reviews."""
    sample = detail.sample
    rules_only = f" {RULES_ONLY_BADGE}" if any(j.latest and j.rules_only for j in detail.judgments) else ""
    st.markdown(f"**{sample['category']}** · {sample['request_model']} · {sample['ts']:%Y-%m-%d %H:%M:%S} UTC · "
                f"verdict {verdict_badge(detail.verdict)}{rules_only}  \n`{sample['sample_id']}`")
    conversation, verdicts = st.columns([3, 2])
    with conversation:
        render_conversation(sample)
        with st.expander("Call details"):
            st.json(_call_details(sample), expanded=False)
    with verdicts:
        st.markdown("##### The judge")
        if not detail.judgments:
            st.info("Not judged yet.")
        for judgment in detail.judgments:
            render_judgment(judgment, highlight=judgment.id == highlight_judgment)
        if detail.reviews:
            st.markdown("##### People")
            for review in detail.reviews:
                agrees = {True: "agrees with the judge", False: "disagrees with the judge", None: ""}[
                    review.agrees_with_judge]
                st.markdown(f"- **{review.reviewer}**: {verdict_badge(review.verdict)} {agrees}"
                            + (f" — {review.note}" if review.note else ""))


def samples_frame(rows: tuple[SampleRow, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"ts": r.ts, "category": r.category, "verdict": verdict_label(r.verdict), "model": r.request_model,
          "latency_ms": r.latency_ms, "output": r.output_preview, "sample_id": r.sample_id} for r in rows],
        columns=["ts", "category", "verdict", "model", "latency_ms", "output", "sample_id"],
    )


def filter_widgets(prefix: str, ctx: Context, *, categories: tuple[str, ...], models: tuple[str, ...],
                   rubrics: tuple[str, ...]) -> SampleFilters:
    """Filter widgets (keys prefixed with ``prefix``) and the :class:`SampleFilters` they describe."""
    first, second, third = st.columns(3)
    category = first.selectbox("Category", [ANY, *categories], key=f"{prefix}_category")
    verdict = second.selectbox("Verdict", [ANY, "pass", "fail", "unscored"], key=f"{prefix}_verdict")
    rubric = third.selectbox("Rubric", [ANY, *rubrics], key=f"{prefix}_rubric")
    first, second, third = st.columns(3)
    default = (ctx.current[0].date(), (ctx.current[1] - timedelta(microseconds=1)).date())
    days = first.date_input("Days (UTC)", value=default, key=f"{prefix}_days")
    model = second.selectbox("Model", [ANY, *models], key=f"{prefix}_model")
    text = third.text_input("Text or sample id", key=f"{prefix}_text").strip()
    since = until = None
    if isinstance(days, (tuple, list)) and days:
        since = _midnight(days[0])
        until = _midnight(days[-1]) + timedelta(days=1)
    elif isinstance(days, date):
        since, until = _midnight(days), _midnight(days) + timedelta(days=1)
    return SampleFilters(
        category=None if category == ANY else category,
        verdict=_VERDICTS.get(verdict),
        rubric=None if rubric == ANY else rubric,
        model=None if model == ANY else model,
        text=text or None,
        since=since,
        until=until,
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=timezone.utc)


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


FIGURES_CAPTION = ("statistic: the effect measured (score drop: change in pass rate; drift: the method's distance, "
                   "for KS its D; volume: arrived over expected) · threshold: the bound on it that fires · "
                   "p-value: of the rule's test · alpha: the bound on the p-value (— where the rule has none).")


def alerts_frame(alerts: list[Any], *, delivery: bool = False) -> pd.DataFrame:
    """Alert rows with the same columns for every kind (:mod:`reviewer.alerts.table`)."""
    from reviewer.alerts.table import figures

    rows = []
    for a in alerts:
        figure = figures(a.kind, a.statistic, observed=a.observed, expected=a.expected, p_value=a.p_value)
        row: dict[str, Any] = {"id": a.id, "kind": a.kind, "key": a.key, "status": a.status, "fired": a.fired_at}
        if delivery:
            row["resolved"] = a.resolved_at
        row.update({"statistic": figure.statistic, "threshold": figure.threshold, "p-value": figure.p_value,
                    "alpha": figure.alpha, "message": a.message})
        if delivery:
            row.update({"delivery": a.delivery_status, "attempts": a.delivery_attempts,
                        "delivery error": a.last_delivery_error})
        else:
            row["delivery"] = a.delivery_status
        rows.append(row)
    return pd.DataFrame(rows)
