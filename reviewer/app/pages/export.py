"""Export: the chosen samples as a JSONL eval dataset — the same lines as `tastevin export`."""

from __future__ import annotations

import io
import shlex
from datetime import timedelta

import streamlit as st

from reviewer.app import _data, _views
from reviewer.app._state import context
from reviewer.browse import SampleFilters
from reviewer.export import iter_export_rows, write_jsonl

PREVIEW_LINES = 3
MAX_LINES = 10_000  # the download is built in memory; the CLI streams any size


def build_dataset(db_url: str, filters: SampleFilters, limit: int, expected_from: str) -> bytes:
    """The JSONL bytes of at most ``limit`` lines (reviewer.export, as the CLI writes them)."""
    buffer = io.BytesIO()
    write_jsonl(iter_export_rows(_data.engine(db_url), filters, limit=limit,
                                 expected_from="judge" if expected_from == "judge" else "review"), buffer)
    return buffer.getvalue()


def cli_equivalent(filters: SampleFilters, limit: int, expected_from: str) -> str:
    args = ["tastevin", "export", "--out", "dataset.jsonl"]
    for flag, value in (("--category", filters.category), ("--verdict", filters.verdict),
                        ("--rubric", filters.rubric), ("--model", filters.model)):
        if value:
            args += [flag, value]
    if filters.since:
        args += ["--since", filters.since.strftime("%Y-%m-%dT%H:%M:%SZ")]
    if filters.until:
        args += ["--until", filters.until.strftime("%Y-%m-%dT%H:%M:%SZ")]
    args += ["--limit", str(limit), "--expected-from", expected_from]
    return shlex.join(args)


def main() -> None:
    ctx = context()
    st.title("Export an eval dataset")
    opts = _data.options(ctx.db_url)
    filters = _views.filter_widgets("export", ctx, categories=opts.categories, models=opts.models,
                                    rubrics=opts.rubrics)
    left, right = st.columns(2)
    limit = int(left.number_input("At most (lines)", min_value=1, max_value=MAX_LINES, value=1000, step=100,
                                  key="export_limit"))
    expected_from = str(right.radio("expected_output from", ["review", "judge"], horizontal=True,
                                    key="export_expected",
                                    help="review: a person's pass only. judge: also the judge's pass when no one "
                                         "reviewed the sample."))
    count, capped = _data.samples_count(ctx.db_url, filters, MAX_LINES)
    lines = min(count, limit)
    st.caption(f"{count:,}{'+' if capped else ''} samples match; the file will hold {lines:,} lines, oldest first.")
    if count > MAX_LINES:
        st.caption(f"The app downloads at most {MAX_LINES:,} lines; the command line below writes any number.")
    if filters.text:
        st.caption("The free-text filter is not a `tastevin export` option; the CLI line below leaves it out.")
    preview = build_dataset(ctx.db_url, filters, min(PREVIEW_LINES, limit), expected_from)
    day = (filters.until - timedelta(days=1)).date() if filters.until else "all"
    st.download_button(
        "Download JSONL", key="export_download", type="primary", icon=":material/download:", disabled=lines == 0,
        data=lambda: build_dataset(ctx.db_url, filters, limit, expected_from),
        file_name=f"tastevin-eval-{day}.jsonl", mime="application/x-ndjson", on_click="ignore",
    )
    st.markdown("##### The same from the command line")
    st.code(cli_equivalent(filters, limit, expected_from), language="bash")
    st.markdown(f"##### First {PREVIEW_LINES} lines")
    if preview:
        st.code(preview.decode("utf-8"), language="json", wrap_lines=True)
    else:
        st.info("No sample matches these filters.")


main()
