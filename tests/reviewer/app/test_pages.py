"""Every page of the review app through Streamlit's AppTest, on a seeded SQLite store."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from reviewer.browse import SampleFilters
from reviewer.export import iter_export_rows
from reviewer.store import Review, make_engine
from tests.reviewer.app.seed import Seeded

OpenApp = Callable[..., AppTest]


def _texts(app: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


def _charts(app: AppTest) -> int:
    return len(app.get("vega_lite_chart"))


def test_overview(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded)
    assert _texts(app, "title") == ["Overview"]
    metrics = {metric.label: metric.value for metric in app.metric}
    # current window: 108 samples, 103 judged, 102 scored of which 68 pass; 104 judgments at $0.001
    assert metrics == {"Samples (current window)": "108", "Judged": "103", "Pass rate": "66.7%",
                       "Judge cost": "$0.10"}
    assert _charts(app) == 3
    runs, alerts = app.dataframe
    assert runs.value["run"].tolist() == [seeded.run_id] and runs.value["status"].tolist() == ["completed"]
    assert alerts.value["key"].tolist() == ["score_drop:billing"]
    app.radio(key="overview_bucket").set_value("hour").run()
    assert not app.exception and _charts(app) == 3
    app.checkbox(key="overview_with_baseline").check().run()
    app.radio(key="overview_bucket").set_value("day").run()
    assert not app.exception and _charts(app) == 3
    assert any("days left out" in caption for caption in _texts(app, "caption"))


def test_categories_and_the_failing_samples(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "categories")
    assert _texts(app, "error") == ["1 category dropped significantly (p < 0.05): billing"]
    table = app.dataframe[0].value.set_index("category")
    assert table.loc["billing", "verdict"] == "drop"
    assert table.loc["billing", "baseline scored"] == 60 and table.loc["billing", "current rate"] == 0.5
    assert table.loc["billing", "p-value"] < 1e-5
    assert table.loc["shipping", "verdict"] == "no significant change"
    assert table.loc["refunds", "verdict"] == "too few samples"
    assert table.loc["refunds", "current 95% CI"] == "too few samples"
    assert [metric.label for metric in app.metric] == ["Overall change", "Mix effect", "Quality effect"]
    assert _charts(app) == 2
    failing = app.dataframe[1].value
    assert len(failing) == 30 and set(failing["category"]) == {"billing"} and set(failing["verdict"]) == {"fail"}
    assert app.selectbox(key="categories_drill").value == "billing"
    assert len(app.chat_message) == 3  # system, user, assistant of the opened sample


def test_drift(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "drift")
    assert [metric.value for metric in app.metric][:2] == ["104", "108"]
    assert any("request_model" in warning for warning in _texts(app, "warning"))
    results = app.dataframe[0].value
    psi = results[(results["feature"] == "request_model") & (results["method"] == "psi")]
    assert psi["verdict"].tolist() == ["drift"]
    feature = app.selectbox(key="drift_feature")
    assert feature.value == "category"  # the first drifted feature, in report order
    assert _charts(app) == 1
    feature.select("latency_ms").run()
    assert not app.exception and _charts(app) == 2  # histogram and ECDF
    assert any("**ks**" in text or "**wasserstein_normed**" in text for text in _texts(app, "markdown"))


def test_samples_filter_page_and_open(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "samples")
    assert _texts(app, "caption")[0] == "108 matching samples · page 1 · newest first"
    assert len(app.dataframe[0].value) == 50
    app.button(key="samples_next").click().run()
    assert _texts(app, "caption")[0].startswith("108 matching samples · page 2")
    app.selectbox(key="samples_category").select("billing").run()
    app.selectbox(key="samples_verdict").select("fail").run()
    assert _texts(app, "caption")[0] == "30 matching samples · page 1 · newest first"
    assert set(app.dataframe[0].value["verdict"]) == {"fail"}
    app.text_input(key="samples_open_id").input(seeded.twice_judged).run()
    markdown = " ".join(_texts(app, "markdown"))
    assert "**support**@`v1` · claude-judge-test · :red-badge[fail]" in markdown
    assert "**support**@`v0` · claude-judge-test · :green-badge[pass] · superseded" in markdown
    assert ("- :green-badge[pass] **concise** (rule) — length 470 <= 2000\n"
            "- :green-badge[pass] **acknowledges_issue** (llm) — Says sorry for the delay.\n"
            "- :red-badge[fail] **clear_next_steps** (llm) — No next step is given.") in _texts(app, "markdown")
    app.text_input(key="samples_open_id").input("f" * 32).run()
    assert _texts(app, "warning") == [f"No sample {'f' * 32!r} in the store."]


def _reviews(url: str) -> list[tuple[str, str, bool | None, str | None]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.select(Review.reviewer, Review.verdict, Review.agrees_with_judge, Review.note)
                                      .order_by(Review.id)).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_review_records_agreement_and_disagreement(open_app: OpenApp, fresh_store: Seeded) -> None:
    app = open_app(fresh_store, "review")
    assert app.button(key="review_agree").disabled  # no name yet
    assert "Enter your name in the sidebar to record reviews." in _texts(app, "warning")
    app.sidebar.text_input(key="reviewer_name").input("zoe").run()
    first = app.subheader[0].value
    judge_said = "pass" if "[pass]" in first else "fail"
    app.text_area[0].input("looks right").run()
    app.button(key="review_agree").click().run()
    assert not app.exception
    assert _reviews(fresh_store.url)[-1] == ("zoe", judge_said, True, "looks right")
    assert _texts(app, "success")[0].startswith("Recorded review 4: ")
    second = app.subheader[0].value
    judge_said = "pass" if "[pass]" in second else "fail"
    app.button(key="review_disagree").click().run()
    assert _reviews(fresh_store.url)[-1] == ("zoe", "fail" if judge_said == "pass" else "pass", False, None)
    before = _texts(app, "markdown")
    app.button(key="review_skip").click().run()
    assert len(_reviews(fresh_store.url)) == 5 and _texts(app, "markdown") != before
    agreement = app.dataframe[-1].value.set_index("rubric")
    assert agreement.loc["support", "reviews"] == 5
    assert agreement.loc["support", "Cohen's κ"] == "too few samples"


def test_review_queue_filters(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "review")
    app.selectbox(key="review_verdict").select("unscored").run()
    assert app.subheader[0].value == "refunds · support: the judge said :gray-badge[unscored]"
    assert app.button(key="review_pass").label == "It passes"
    assert _texts(app, "caption")[0].startswith("1 judgments wait")
    app.selectbox(key="review_rubric").select("support").run()
    app.selectbox(key="review_verdict").select("fail").run()
    assert _texts(app, "caption")[0].startswith("38 judgments wait")  # 3 + 4 + 30 + 4 fails, 3 reviewed


def test_runs(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "runs")
    runs, cases = app.dataframe
    assert runs.value["run"].tolist() == [seeded.run_id] and runs.value["judged"].tolist() == [208]
    assert len(cases.value) == 200 and set(cases.value["rubric"]) <= {"support@v1", "support@v0"}
    app.selectbox(key="runs_verdict").select("unscored").run()
    assert app.dataframe[1].value["reason"].tolist() == ["all 2 criteria unscored: reply did not parse"]
    assert app.button(key="runs_next").disabled


def test_alerts(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "alerts")
    table = app.dataframe[0].value
    assert table[["kind", "key", "status", "statistic", "p-value", "delivery"]].values.tolist() == [
        ["score_drop", "score_drop:billing", "firing", "-45.0 pts", "1.2e-07", "delivered"]]
    assert json.loads(app.json[0].value)["z"] == -5.3
    app.radio(key="alerts_status").set_value("all").run()
    assert app.dataframe[0].value["key"].tolist() == ["score_drop:billing", "drift:request_model"]
    assert app.dataframe[0].value["delivery error"].tolist()[1] == "webhook answered 503"
    drift = app.dataframe[0].value.iloc[1]
    assert [drift[c] for c in ("statistic", "threshold", "p-value", "alpha")] == ["PSI 0.31", "≥ 0.1", "—", "—"]
    app.radio(key="alerts_status").set_value("resolved").run()
    app.selectbox(key="alerts_kind").select("volume").run()
    assert _texts(app, "success") == ["No alerts here."]


def test_export_shows_the_cli_lines(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, "export")
    app.selectbox(key="export_category").select("billing").run()
    app.selectbox(key="export_verdict").select("fail").run()
    assert _texts(app, "caption")[0] == "30 samples match; the file will hold 30 lines, oldest first."
    command, preview = app.code
    assert command.value.startswith("tastevin export --out dataset.jsonl --category billing --verdict fail --since ")
    lines = [json.loads(line) for line in preview.value.splitlines()]
    engine = make_engine(seeded.url)
    try:
        filters = SampleFilters(category="billing", verdict="fail", since=_since(command.value),
                                until=_until(command.value))
        expected = list(iter_export_rows(engine, filters, limit=3))
    finally:
        engine.dispose()
    assert lines == json.loads(json.dumps(expected)) and len(lines) == 3
    assert all(line["verdict"] == "fail" and line["category"] == "billing" for line in lines)
    assert len(app.get("download_button")) == 1


def _since(command: str) -> object:
    from reviewer.cli_export import parse_time

    return parse_time(command.split("--since ")[1].split()[0])


def _until(command: str) -> object:
    from reviewer.cli_export import parse_time

    return parse_time(command.split("--until ")[1].split()[0])


def test_password_gate(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, review_auth="password", review_password="s3cret-pw")
    assert _texts(app, "title") == ["Tastevin review"] and not app.metric and not app.sidebar.number_input
    # A form sends its values with the submit, so type and click before running.
    app.text_input(key="login_password").input("wrong")
    app.button[0].click().run()
    assert _texts(app, "error") == ["Wrong password."] and _texts(app, "title") == ["Tastevin review"]
    app.text_input(key="login_password").input("s3cret-pw")
    app.button[0].click().run()
    assert _texts(app, "title") == ["Overview"]
    app.switch_page("pages/review.py").run()
    assert _texts(app, "title") == ["Review"]  # the session stays signed in


@pytest.mark.parametrize("auth", [None, "password"], ids=["started-directly", "password-without-one"])
def test_the_app_refuses_to_render_without_auth_on_an_open_bind(open_app: OpenApp, seeded: Seeded,
                                                                 auth: str | None) -> None:
    # AppTest has no server.address: like `streamlit run` without --server.address, it listens everywhere.
    app = open_app(seeded, review_auth=auth)
    errors = _texts(app, "error")
    assert len(errors) == 1 and not _texts(app, "title")
    assert ("refusing to serve the review app on 0.0.0.0" in errors[0]) if auth is None else (
        "TASTEVIN_REVIEW_PASSWORD is not set" in errors[0])


def test_oidc_mode_shows_only_the_login_button(open_app: OpenApp, seeded: Seeded) -> None:
    app = open_app(seeded, review_auth="oidc")
    assert _texts(app, "title") == ["Tastevin review"]
    assert [button.label for button in app.button] == ["Log in"]
    assert not app.metric and not app.sidebar.number_input
