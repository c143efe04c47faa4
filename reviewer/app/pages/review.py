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


def _reviewer_name(ctx: Context) -> str:
    default = ctx.reviewer or ""
    if not default and st.user.get("is_logged_in"):
        default = str(st.user.get("email") or st.user.get("name") or "")
    return str(st.sidebar.text_input("Your name (for reviews)", value=default, key="reviewer_name")).strip()


def _record(ctx: Context, item: QueueItem, reviewer: str, verdict: str, note: str) -> None:
    agrees = None if item.verdict not in ("pass", "fail") else verdict == item.verdict
    try:
        review_id = _data.record_review(ctx.db_url, judgment_id=item.judgment_id, reviewer=reviewer, verdict=verdict,
                                        agrees_with_judge=agrees, note=note)
    except ReviewError as exc:
        st.session_state[_FLASH] = ("error", str(exc))
    else:
        st.session_state[_FLASH] = ("success", f"Recorded review {review_id}: {verdict} "
                                               f"({'agrees' if agrees else 'disagrees' if agrees is False else 'no'} "
                                               "with the judge).")
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
    size, capped = _data.queue_size(ctx.db_url, rubric_arg, verdict_arg, False)
    st.caption(f"{size:,}{'+' if capped else ''} judgments wait for a review (latest per sample and rubric, "
               "newest first).")
    skipped: set[int] = st.session_state.setdefault(_SKIPPED, set())
    items = [i for i in _data.queue(ctx.db_url, rubric_arg, verdict_arg, False, QUEUE_FETCH)
             if i.judgment_id not in skipped]
    if not items:
        st.success("Nothing left to review here.")
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
                _record(ctx, item, reviewer, verdict, note)
        if cols[2].button("Skip", key="review_skip", icon=":material/skip_next:", width="stretch"):
            skipped.add(item.judgment_id)
            st.rerun()

    st.subheader("Judge and people, per rubric")
    rows = _data.agreement(ctx.db_url, ctx.min_samples)
    if not rows:
        st.info("No reviews yet.")
    else:
        st.dataframe(agreement_frame(rows), hide_index=True, width="stretch")
        st.caption(f"Cohen's κ over reviews of scored judgments (1 = perfect, 0 = chance). False-pass rate: of the "
                   f"samples a person failed, the share the judge passed. Below {ctx.min_samples} reviews (or "
                   "person-failed samples): too few samples.")


main()
