"""Samples: filter, page through, and open one sample with the judge's verdicts."""

from __future__ import annotations

import streamlit as st

from reviewer.app import _data, _views
from reviewer.app._state import context

PAGE_SIZE = 50
COUNT_CAP = 1_000  # counting stops here ("1,000+"): a verdict or text filter reads every sample it counts
_CURSORS = "samples_cursors"
_FILTERS = "samples_filters_seen"


def main() -> None:
    ctx = context()
    st.title("Samples")
    opts = _data.options(ctx.db_url)
    filters = _views.filter_widgets("samples", ctx, categories=opts.categories, models=opts.models,
                                    rubrics=opts.rubrics)
    if st.session_state.get(_FILTERS) != filters:  # new filters: back to the first page
        st.session_state[_FILTERS] = filters
        st.session_state[_CURSORS] = [None]
    cursors: list[str | None] = st.session_state[_CURSORS]
    page = _data.samples_page(ctx.db_url, filters, cursors[-1], PAGE_SIZE)
    count, capped = _data.samples_count(ctx.db_url, filters, COUNT_CAP)
    st.caption(f"{count:,}{'+' if capped else ''} matching samples · page {len(cursors)} · newest first")
    if not page.rows:
        st.info("No sample matches these filters.")
    else:
        st.dataframe(_views.samples_frame(page.rows), hide_index=True, width="stretch",
                     column_config={"latency_ms": st.column_config.NumberColumn(format="%.0f")})
    previous, following = st.columns(2)
    if previous.button("← Newer", disabled=len(cursors) == 1, key="samples_prev"):
        cursors.pop()
        st.rerun()
    if following.button("Older →", disabled=page.next_cursor is None, key="samples_next"):
        cursors.append(page.next_cursor)
        st.rerun()

    st.subheader("Sample")
    ids = [row.sample_id for row in page.rows]
    labels = {row.sample_id: f"{row.ts:%Y-%m-%d %H:%M:%S} · {row.category} · {_views.verdict_label(row.verdict)} · "
              f"{row.sample_id[:12]}" for row in page.rows}
    pasted = st.text_input("Sample id", key="samples_open_id", placeholder="paste an id, or choose below").strip()
    chosen = pasted or (st.selectbox("Open", ids, format_func=lambda i: labels[i], key="samples_open") if ids else None)
    if not chosen:
        return
    detail = _data.sample(ctx.db_url, chosen)
    if detail is None:
        st.warning(f"No sample {chosen!r} in the store.")
        return
    _views.render_sample(detail)


main()
