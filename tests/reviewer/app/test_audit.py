"""The audit queue on the Review page (blind and not), and corrected rates on Overview and Categories."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from reviewer.app import _data
from reviewer.reviews import audit_queue, record_review
from reviewer.store import make_engine
from tests.reviewer.app.seed import Seeded

OpenApp = Callable[..., AppTest]


def _texts(app: AppTest, kind: str) -> list[str]:
    return [str(element.value) for element in getattr(app, kind)]


def _audit_reviews(url: str) -> list[tuple[int | None, str, str, bool]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT judgment_id, reviewer, verdict, from_audit FROM review "
                                              "ORDER BY id")).all()
    finally:
        engine.dispose()
    return [(row.judgment_id, row.reviewer, row.verdict, bool(row.from_audit)) for row in rows if row.from_audit]


def _picks(url: str, reviewer: str, limit: int = 5) -> list[tuple[int, str]]:
    engine = make_engine(url)
    try:
        return [(i.judgment_id, i.verdict) for i in audit_queue(engine, reviewer=reviewer, limit=limit)]
    finally:
        engine.dispose()


def test_blind_audit_hides_the_judge_until_the_answer(open_app: OpenApp, fresh_store: Seeded) -> None:
    app = open_app(fresh_store, "review")
    app.sidebar.text_input(key="reviewer_name").input("zoe").run()
    app.radio(key="review_queue_kind").set_value("audit (random sample)").run()
    assert not app.exception
    assert app.checkbox(key="review_blind").value is True
    assert app.subheader[0].value.endswith("audit (the judge's verdict is hidden)")
    assert not any("##### The judge" in text for text in _texts(app, "markdown"))
    assert not any("-badge[pass]" in t or "-badge[fail]" in t for t in _texts(app, "markdown"))
    assert any("more audits to get ±10 points on false-pass rate" in c for c in _texts(app, "caption"))
    assert "review_skip" not in {b.key for b in app.button}  # an audit is answered in order, not skipped
    (first, judge_said), (second, _) = _picks(fresh_store.url, "zoe", 2)
    app.button(key="audit_fail").click().run()
    assert _audit_reviews(fresh_store.url) == [(first, "zoe", "fail", True)]
    assert _texts(app, "success")[0].endswith(f"with the judge, who said {judge_said}).")
    # The next pick is the same one another reviewer gets first.
    assert _picks(fresh_store.url, "ann", 1)[0][0] == second
    # Not blind: the judge's verdict shows and agreeing records an audit review too.
    app.checkbox(key="review_blind").uncheck().run()
    assert "the judge said" in app.subheader[0].value
    app.button(key="review_agree").click().run()
    assert [row[0] for row in _audit_reviews(fresh_store.url)] == [first, second]


def test_corrected_rates_show_beside_the_raw_rate(open_app: OpenApp, fresh_store: Seeded) -> None:
    overview = open_app(fresh_store)
    assert not any("Corrected for the judge" in t for t in _texts(overview, "markdown"))  # no audits yet
    engine = make_engine(fresh_store.url)
    try:
        record_review(engine, judgment_id=audit_queue(engine, limit=1)[0].judgment_id, reviewer="ann",
                      verdict="fail", from_audit=True)
        _data.clear_after_review()  # written behind the app's back: drop its cached results
        overview = open_app(fresh_store)
        (line,) = [c for c in _texts(overview, "caption") if c.startswith("**support**")]
        assert "too few audits (1) for a corrected rate" in line and "more audits to get ±10 points" in line
        # People agree with the judge on every further audit except one false pass in ten.
        for n, item in enumerate(audit_queue(engine, limit=400)):
            verdict = "fail" if item.verdict == "fail" or n % 10 == 0 else "pass"
            record_review(engine, judgment_id=item.judgment_id, reviewer="ann", verdict=verdict, from_audit=True)
    finally:
        engine.dispose()
    _data.clear_after_review()
    overview = open_app(fresh_store)
    (line,) = [c for c in _texts(overview, "caption") if c.startswith("**support**")]
    assert line.startswith("**support**: judge says 67%, corrected ") and "audits)" in line
    categories = open_app(fresh_store, "categories")
    table = categories.dataframe[1].value.set_index("category")
    assert table.loc["billing", "raw vs corrected"].startswith("judge says 50%, corrected ")
    assert table.loc["billing", "audits"] > 30
