"""Reviews: Cohen's kappa by hand, the review queue, recording reviews, judge-human agreement."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reviewer.reviews import (
    ReviewError,
    agreement_by_rubric,
    cohens_kappa,
    queue_size,
    record_review,
    review_queue,
)
from reviewer.stats import Status, wilson_interval
from reviewer.store import Judgment, Review, make_engine, utc_now
from tests.reviewer.app.seed import Seeded, seed_store

# --- Cohen's kappa, worked by hand --------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "kappa"),
    [
        # po = 35/50 = .7; rows .5/.5, columns .6/.4 → pe = .3 + .2 = .5; κ = .2/.5 = .4 (Cohen's textbook case)
        ([[20, 5], [10, 15]], 0.4),
        ([[10, 0], [0, 10]], 1.0),  # perfect agreement
        ([[25, 25], [25, 25]], 0.0),  # po = pe = .5: chance level
        ([[0, 10], [10, 0]], -1.0),  # po = 0, pe = .5: always the other label
        # po = 2/3; judge always fails: pe = 1·(2/3) → κ = 0 although two thirds agree
        ([[0, 0], [1, 2]], 0.0),
        # 3×3: po = 23/30; rows 12,10,8; cols 11,13,6; pe = 310/900 → κ = (690−310)/(900−310) = 380/590
        ([[10, 2, 0], [1, 8, 1], [0, 3, 5]], 380 / 590),
    ],
    ids=["textbook-0.4", "perfect", "chance", "opposite", "one-sided-judge", "three-labels"],
)
def test_cohens_kappa_hand_worked(table: list[list[int]], kappa: float) -> None:
    result = cohens_kappa(table)
    assert result.status is Status.OK
    assert result.value == pytest.approx(kappa, abs=1e-12)
    assert result.n == sum(map(sum, table))


def test_cohens_kappa_observed_and_expected_agreement() -> None:
    result = cohens_kappa([[20, 5], [10, 15]])
    assert result.observed == pytest.approx(0.7, abs=1e-12)
    assert result.expected == pytest.approx(0.5, abs=1e-12)


def test_cohens_kappa_undefined_when_both_raters_use_one_label() -> None:
    result = cohens_kappa([[12, 0], [0, 0]])
    assert (result.status, result.value, result.undefined, result.observed, result.expected) == (
        Status.OK, None, True, 1.0, 1.0)


@pytest.mark.parametrize(
    ("table", "min_samples", "status"),
    [([[0, 0], [0, 0]], 1, Status.NO_DATA), ([[3, 1], [0, 2]], 7, Status.TOO_FEW_SAMPLES)],
    ids=["empty", "too-few"],
)
def test_cohens_kappa_says_why_there_is_no_number(table: list[list[int]], min_samples: int, status: Status) -> None:
    result = cohens_kappa(table, min_samples=min_samples)
    assert (result.status, result.value) == (status, None)


@pytest.mark.parametrize("table", [[[1, 2]], [[1, 2], [3]], [], [[1, -1], [0, 2]]], ids=["1x2", "ragged", "empty", "neg"])
def test_cohens_kappa_rejects_bad_tables(table: list[list[int]]) -> None:
    with pytest.raises(ValueError):
        cohens_kappa(table)


# --- the store -----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, Engine]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('reviews') / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    info = seed_store(url)
    engine = make_engine(url)
    yield info, engine
    engine.dispose()


def test_queue_holds_latest_scored_unreviewed_judgments_newest_first(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    queue = review_queue(engine, limit=1000)
    ids = [item.judgment_id for item in queue]
    assert not set(ids) & set(info.reviewed_judgments)
    assert info.unreviewed_fail_judgment in ids
    assert {item.verdict for item in queue} == {"pass", "fail"}
    assert [item.judged_at for item in queue] == sorted((item.judged_at for item in queue), reverse=True)
    # The twice-judged sample appears once, with its newer (fail) judgment.
    twice = [item for item in queue if item.sample_id == info.twice_judged]
    assert [(item.verdict, item.rubric_version) for item in twice] == [("fail", "v1")]
    # 57+3 + 36+4 + 4 baseline, 30+30 + 36+4 + 2 current judged scored; minus 3 reviewed
    assert queue_size(engine) == (206 - 3, False)
    assert queue_size(engine, cap=10) == (10, True)
    assert len(review_queue(engine, include_unscored=True, limit=1000)) == 206 - 3 + 1
    fails = review_queue(engine, verdict="fail", category="billing", rubric="support", limit=1000)
    assert len(fails) == 3 + 30 - 3 and {item.category for item in fails} == {"billing"}
    assert review_queue(engine, rubric="no-such-rubric") == []


def test_record_review_derives_agreement_and_leaves_the_queue(seeded: tuple[Seeded, Engine]) -> None:
    info, engine = seeded
    judgment_id = info.unreviewed_fail_judgment
    review_id = record_review(engine, judgment_id=judgment_id, reviewer="  bo ", verdict="pass", note="  fine  ")
    with Session(engine) as session:
        review = session.get(Review, review_id)
        assert review is not None
        assert (review.reviewer, review.verdict, review.agrees_with_judge, review.note, review.judgment_id) == (
            "bo", "pass", False, "fine", judgment_id)
    assert judgment_id not in [item.judgment_id for item in review_queue(engine, limit=1000)]
    with pytest.raises(ReviewError, match="already reviewed"):
        record_review(engine, judgment_id=judgment_id, reviewer="bo", verdict="fail")
    # Another person may review it too.
    record_review(engine, judgment_id=judgment_id, reviewer="cy", verdict="fail", agrees_with_judge=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verdict": "maybe"}, "must be 'pass' or 'fail'"),
        ({"reviewer": "  "}, "reviewer's name"),
        ({"agrees_with_judge": True, "verdict": "pass"}, "judge said fail and you said pass"),
        ({"judgment_id": 10**9}, "no judgment"),
        ({"note": "x" * 10_001}, "longer than"),
    ],
    ids=["verdict", "reviewer", "contradiction", "unknown-judgment", "long-note"],
)
def test_record_review_refuses_bad_input(seeded: tuple[Seeded, Engine], kwargs: dict[str, object], message: str) -> None:
    info, engine = seeded
    arguments: dict[str, object] = {"judgment_id": info.unreviewed_fail_judgment, "reviewer": "bo", "verdict": "fail"}
    arguments.update(kwargs)
    with pytest.raises(ReviewError, match=message):
        record_review(engine, **arguments)  # type: ignore[arg-type]
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(Review)).scalar_one() == 3


def test_a_review_of_an_unscored_judgment_has_no_agreement(seeded: tuple[Seeded, Engine]) -> None:
    _, engine = seeded
    unscored = review_queue(engine, verdict="unscored")[0]
    with pytest.raises(ReviewError, match="no verdict to agree with"):
        record_review(engine, judgment_id=unscored.judgment_id, reviewer="bo", verdict="pass", agrees_with_judge=True)
    review_id = record_review(engine, judgment_id=unscored.judgment_id, reviewer="bo", verdict="pass")
    with Session(engine) as session:
        review = session.get(Review, review_id)
        assert review is not None and review.agrees_with_judge is None
    [row] = agreement_by_rubric(engine, min_samples=1)
    assert (row.n, row.unscored_reviews) == (3, 1)


def test_agreement_of_the_seeded_reviews(seeded: tuple[Seeded, Engine]) -> None:
    _, engine = seeded
    # Judge failed all three; people failed two and passed one.
    [row] = agreement_by_rubric(engine, min_samples=1)
    assert (row.rubric, row.n, row.both_pass, row.both_fail, row.judge_pass_human_fail, row.judge_fail_human_pass) == (
        "support", 3, 0, 2, 0, 1)
    assert row.kappa.value == 0.0  # the judge used one label: pe = po = 2/3
    assert (row.false_pass.rate, row.false_pass.n) == (0.0, 2)
    assert row.agreement_rate == pytest.approx(2 / 3)
    [row] = agreement_by_rubric(engine)  # default min_samples = 30
    assert (row.kappa.status, row.false_pass.status) == (Status.TOO_FEW_SAMPLES, Status.TOO_FEW_SAMPLES)
    assert agreement_by_rubric(engine, since=utc_now() + timedelta(days=1)) == []


def test_agreement_matches_a_hand_worked_table(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('agreement') / 'store.db'}"
    info = seed_store(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            session.execute(sa.delete(Review))
            judgments = list(session.exec(
                select(Judgment).where(Judgment.rubric_version == "v1", col(Judgment.verdict).in_(("pass", "fail")))
                .order_by(col(Judgment.id))
            ))
            passes = [j for j in judgments if j.verdict == "pass"][:25]
            fails = [j for j in judgments if j.verdict == "fail"][:25]
            # Textbook table: judge pass → 20 human pass, 5 human fail; judge fail → 10 human pass, 15 human fail.
            human = [(j, "pass") for j in passes[:20]] + [(j, "fail") for j in passes[20:]]
            human += [(j, "pass") for j in fails[:10]] + [(j, "fail") for j in fails[10:]]
            for judgment, verdict in human:
                session.add(Review(sample_id=judgment.sample_id, judgment_id=judgment.id, reviewer="ana",
                                   verdict=verdict, agrees_with_judge=verdict == judgment.verdict))
            session.commit()
        [row] = agreement_by_rubric(engine)
        assert (row.n, row.both_pass, row.judge_pass_human_fail, row.judge_fail_human_pass, row.both_fail) == (
            50, 20, 5, 10, 15)
        assert row.kappa.value == pytest.approx(0.4, abs=1e-12)
        # False-pass rate: of 20 samples people failed, the judge passed 5 — needs 20 ≥ min_samples.
        [row] = agreement_by_rubric(engine, min_samples=20)
        assert row.false_pass.rate == 0.25
        assert (row.false_pass.low, row.false_pass.high) == wilson_interval(5, 20)
        assert info.run_id == 1
    finally:
        engine.dispose()
