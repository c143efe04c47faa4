"""One rule for a sample's verdict: the Samples page, the sample detail, the export, the review queue
and the statistics (window counts, time series) agree, also when judgments tie at the same instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.engine import Engine

from reviewer.browse import SampleFilters, count_samples, get_sample, list_samples
from reviewer.export import iter_export_rows
from reviewer.queries import TimeWindow, load_category_counts
from reviewer.reviews import review_queue
from reviewer.series import time_series
from reviewer.store import Judgment, Sample, ensure_schema, make_engine
from tests.reviewer.stats.conftest import make_judgment, make_sample, store

T0 = datetime(2026, 2, 2, 9, tzinfo=timezone.utc)
JUDGED = T0 + timedelta(hours=1)
WINDOW = TimeWindow(T0 - timedelta(days=1), T0 + timedelta(days=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    url = str(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    created = make_engine(url)
    ensure_schema(created, auto_upgrade=True)
    yield created
    created.dispose()


# (name, the judgments of one sample in insertion order — so in id order — as (rubric, model, verdict,
# minutes after JUDGED), the sample's verdict, the verdict of the judgment that counts per rubric)
CASES = [
    ("fail-then-pass-at-one-instant", [("r", "m1", "fail", 0), ("r", "m2", "pass", 0)], "fail", {"r": "fail"}),
    ("pass-then-fail-at-one-instant", [("r", "m1", "pass", 0), ("r", "m2", "fail", 0)], "fail", {"r": "fail"}),
    ("pass-then-unscored-at-one-instant", [("r", "m1", "pass", 0), ("r", "m2", "unscored", 0)], "pass", {"r": "pass"}),
    ("newer-pass-supersedes-fail", [("r", "m1", "fail", 0), ("r", "m2", "pass", 5)], "pass", {"r": "pass"}),
    ("any-rubric-failing-fails", [("r", "m1", "pass", 0), ("q", "m1", "fail", 0)], "fail", {"q": "fail", "r": "pass"}),
]


def _seed(engine: Engine) -> dict[str, tuple[Sample, str, dict[str, str]]]:
    samples: dict[str, tuple[Sample, str, dict[str, str]]] = {}
    judgments: list[Judgment] = []
    for index, (name, rows, verdict, counting) in enumerate(CASES):
        sample = make_sample(T0 + timedelta(seconds=index), category=name)
        samples[name] = (sample, verdict, counting)
        judgments += [make_judgment(sample, v, rubric=rubric, model=model, at=JUDGED + timedelta(minutes=minutes))
                      for rubric, model, v, minutes in rows]
    store(engine, [sample for sample, _, _ in samples.values()], [])
    for judgment in judgments:  # one by one: the ids follow the order of CASES
        store(engine, [], [judgment])
    return samples


def test_every_reader_gives_a_sample_the_same_verdict(engine: Engine) -> None:
    samples = _seed(engine)
    expected = {sample.sample_id: verdict for sample, verdict, _ in samples.values()}

    # The Samples page: its listing, its verdict filter, its count, and the sample detail.
    listed = {row.sample_id: row.verdict for row in list_samples(engine, SampleFilters(), page_size=50).rows}
    assert listed == expected
    for verdict in ("pass", "fail"):
        matching = {r.sample_id for r in list_samples(engine, SampleFilters(verdict=verdict), page_size=50).rows}
        assert matching == {sample_id for sample_id, v in expected.items() if v == verdict}
        assert count_samples(engine, SampleFilters(verdict=verdict)) == (len(matching), False)
    for sample, verdict, counting in samples.values():
        detail = get_sample(engine, sample.sample_id)
        assert detail is not None
        assert detail.verdict == verdict
        assert {j.rubric_name: j.verdict for j in detail.judgments if j.latest} == counting
        assert sum(j.latest for j in detail.judgments) == len(counting)

    # The export: the sample's verdict and the judgments that count.
    lines = {line["id"]: line for line in iter_export_rows(engine, SampleFilters())}
    assert {sample_id: line["verdict"] for sample_id, line in lines.items()} == expected
    for sample, _, counting in samples.values():
        assert {v["rubric"]: v["verdict"] for v in lines[sample.sample_id]["verdicts"]} == counting

    # The statistics (table sample_verdict): per-category counts and the time series.
    counts = {c.category: c for c in load_category_counts(engine, WINDOW)}
    for name, (_, verdict, _) in samples.items():
        c = counts[name]
        assert (c.judged, c.passed, c.failed, c.unscored) == (1, int(verdict == "pass"), int(verdict == "fail"),
                                                             int(verdict == "unscored")), name
    (point,) = time_series(engine, WINDOW, bucket="day")
    assert (point.passed, point.failed) == (sum(v == "pass" for v in expected.values()),
                                            sum(v == "fail" for v in expected.values()))

    # The review queue offers the judgment that counts, not the one it outranks.
    queued = {(item.sample_id, item.rubric_name): item.verdict for item in review_queue(engine, limit=100)}
    assert queued == {(sample.sample_id, rubric): verdict
                      for sample, _, counting in samples.values() for rubric, verdict in counting.items()}


def test_a_rubric_filter_applies_the_same_rule_to_that_rubric_only(engine: Engine) -> None:
    samples = _seed(engine)
    mixed, _, _ = samples["any-rubric-failing-fails"]
    rows = list_samples(engine, SampleFilters(rubric="r"), page_size=50).rows
    assert {row.sample_id: row.verdict for row in rows}[mixed.sample_id] == "pass"
    (line,) = [line for line in iter_export_rows(engine, SampleFilters(rubric="r")) if line["id"] == mixed.sample_id]
    assert (line["verdict"], [v["verdict"] for v in line["verdicts"]]) == ("pass", ["pass"])
