"""Review: people check the judge one sample at a time; judge–human agreement per rubric."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from reviewer.app import _data, _views
from reviewer.app._state import Context, context, fmt_rate
from reviewer.reviews import Agreement, QueueItem, ReviewError

QUEUE_FETCH = 50
_SKIPPED = "review_skipped"
_FLASH = "review_flash"
ANY = _views.ANY
_NEWEST = "newest first"
_AUDIT = "audit (random sample)"


def _audit_items(ctx: Context, rubric: str | None, reviewer: str) -> list[QueueItem]:
    """The audit picks for this reviewer, under a line saying how many more the audit needs."""
    plan = _data.audit_plan(ctx.db_url, rubric)
    needed = sum(p.needed for p in plan)
    if needed:
        st.caption(f"{needed:,} more audits to get ±10 points on false-pass rate in every rubric × category "
                   f"({sum(p.audits.n for p in plan):,} so far). Picks are random and the same for everyone: "
                   "answer them in order.")
        with st.expander("Audits per rubric × category"):
            st.dataframe(pd.DataFrame([{"rubric": p.rubric, "category": p.category, "judged": p.judged,
                                        "audits": p.audits.n, "more needed": p.needed} for p in plan]),
                         hide_index=True, width="stretch")
    return _data.audit_queue(ctx.db_url, rubric, reviewer or None, QUEUE_FETCH)


def _reviewer_name(ctx: Context) -> str:
    default = ctx.reviewer or ""
    if not default and st.user.get("is_logged_in"):
        default = str(st.user.get("email") or st.user.get("name") or "")
    return str(st.sidebar.text_input("Your name (for reviews)", value=default, key="reviewer_name")).strip()


def _record(ctx: Context, item: QueueItem, reviewer: str, verdict: str, note: str, *, from_audit: bool = False) -> None:
    agrees = None if item.verdict not in ("pass", "fail") else verdict == item.verdict
    try:
        review_id = _data.record_review(ctx.db_url, judgment_id=item.judgment_id, reviewer=reviewer, verdict=verdict,
                                        agrees_with_judge=agrees, note=note, from_audit=from_audit)
    except ReviewError as exc:
        st.session_state[_FLASH] = ("error", str(exc))
    else:
        # Said after the answer, so a blind audit reveals the judge's verdict only now.
        st.session_state[_FLASH] = ("success", f"Recorded {'audit ' if from_audit else ''}review {review_id}: "
                                               f"{verdict} ({'agrees' if agrees else 'disagrees' if agrees is False else 'no'} "
                                               f"with the judge, who said {item.verdict}).")
    st.rerun()


def agreement_frame(rows: list[Agreement]) -> pd.DataFrame:
    def kappa(a: Agreement) -> str:
        if a.kappa.value is not None:
            return f"{a.kappa.value:.2f}"
        if a.kappa.undefined:
            return "undefined (one label only)"
        return a.kappa.status.value.replace("_", " ")

    def false_pass(a: Agreement) -> str:
        fp = a.false_pass
        if fp.ok:
            return f"{fmt_rate(fp.rate)} ({fmt_rate(fp.low)} – {fmt_rate(fp.high)})"
        return fp.status.value.replace("_", " ")

    return pd.DataFrame([{
        "rubric": a.rubric, "reviews": a.n, "Cohen's κ": kappa(a), "agreement": fmt_rate(a.agreement_rate),
        "false-pass rate (95% CI)": false_pass(a), "judge pass, human fail": a.judge_pass_human_fail,
        "human fail": a.human_fail, "both pass": a.both_pass, "both fail": a.both_fail,
        "judge fail, human pass": a.judge_fail_human_pass, "reviews of unscored": a.unscored_reviews,
    } for a in rows])


def main() -> None:
    ctx = context()
    st.title("Review")
    flash = st.session_state.pop(_FLASH, None)
    if flash is not None:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    reviewer = _reviewer_name(ctx)
    opts = _data.options(ctx.db_url)
    left, right = st.columns(2)
    rubric = left.selectbox("Rubric", [ANY, *opts.rubrics], key="review_rubric")
    judge_verdict = right.selectbox("The judge said", [ANY, "pass", "fail", "unscored"], key="review_verdict")
    rubric_arg = None if rubric == ANY else rubric
    verdict_arg = None if judge_verdict == ANY else judge_verdict
    is_audit = st.radio("Queue", [_NEWEST, _AUDIT], horizontal=True, key="review_queue_kind") == _AUDIT
    blind = is_audit and st.checkbox("Blind: hide the judge's verdict until I answer", value=True, key="review_blind")
    skipped: set[int] = st.session_state.setdefault(_SKIPPED, set())
    if is_audit:
        items = _audit_items(ctx, rubric_arg, reviewer)
    else:
        size, capped = _data.queue_size(ctx.db_url, rubric_arg, verdict_arg, False)
        st.caption(f"{size:,}{'+' if capped else ''} judgments wait for a review (latest per sample and rubric, "
                   "newest first).")
        items = [i for i in _data.queue(ctx.db_url, rubric_arg, verdict_arg, False, QUEUE_FETCH)
                 if i.judgment_id not in skipped]
    if not items:
        st.success("Nothing left to review here.")
    elif blind:
        item = items[0]
        st.subheader(f"{item.category} · {item.rubric_name}: audit (the judge's verdict is hidden)")
        detail = _data.sample(ctx.db_url, item.sample_id)
        if detail is not None:
            _views.render_conversation(detail.sample)
        note = st.text_area("Note (optional)", key=f"review_note_{item.judgment_id}")
        if not reviewer:
            st.warning("Enter your name in the sidebar to record reviews.")
        answer = st.columns(2)
        for col, (label, verdict, key, icon) in zip(answer, [("It passes", "pass", "audit_pass", ":material/check:"),
                                                         ("It fails", "fail", "audit_fail", ":material/close:")],
                                                    strict=True):
            if col.button(label, key=key, icon=icon, disabled=not reviewer, width="stretch"):
                _record(ctx, item, reviewer, verdict, note, from_audit=True)
    else:
        item = items[0]
        st.subheader(f"{item.category} · {item.rubric_name}: the judge said {_views.verdict_badge(item.verdict)}")
        detail = _data.sample(ctx.db_url, item.sample_id)
        if detail is not None:
            _views.render_sample(detail, highlight_judgment=item.judgment_id)
        note = st.text_area("Note (optional)", key=f"review_note_{item.judgment_id}")
        if not reviewer:
            st.warning("Enter your name in the sidebar to record reviews.")
        cols = st.columns(3)
        if item.verdict in ("pass", "fail"):
            other = "fail" if item.verdict == "pass" else "pass"
            choices = [(f"Agree: {item.verdict}", item.verdict, "review_agree", ":material/thumb_up:"),
                       (f"Disagree: {other}", other, "review_disagree", ":material/thumb_down:")]
        else:
            choices = [("It passes", "pass", "review_pass", ":material/check:"),
                       ("It fails", "fail", "review_fail", ":material/close:")]
        for col, (label, verdict, key, icon) in zip(cols, choices, strict=False):
            if col.button(label, key=key, icon=icon, disabled=not reviewer, width="stretch"):
                _record(ctx, item, reviewer, verdict, note, from_audit=is_audit)
        # An audit is not skipped: skipping what looks hard would bias the random sample.
        if not is_audit and cols[2].button("Skip", key="review_skip", icon=":material/skip_next:", width="stretch"):
            skipped.add(item.judgment_id)
            st.rerun()

    st.subheader("Judge and people, per rubric")
    rows = _data.agreement(ctx.db_url, ctx.min_samples)
    if not rows:
        st.info("No reviews yet.")
    else:
        st.dataframe(agreement_frame(rows), hide_index=True, width="stretch")
        st.caption(f"Cohen's κ over all reviews of scored judgments (1 = perfect, 0 = chance): a convenience "
                   "sample — people pick what they review; only audits enter the corrected pass rates. "
                   f"False-pass rate: of the samples a person failed, the share the judge passed. Below {ctx.min_samples} reviews (or "
                   "person-failed samples): too few samples.")


main()
