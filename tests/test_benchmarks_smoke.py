"""A quick smoke run of each benchmark (the full runs are not part of CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("bench_sampler.py", ("1. Added latency per call", "2. Broker down", "3. Worker throughput",
                              "4. Redaction on the worker thread")),
        ("bench_ingest.py", ("Ingest of 2,000 records", "kafka-python raw consume", "ingest → SQLite")),
        ("bench_judge.py", ("1. Sync judging of 60 samples", "RSS MB", "2. Batch submission")),
        # The generated data has drops in two categories and a latency shift: the queries find them.
        ("bench_reviewer.py", ("Reviewer queries on 20,000 samples", "summary (7-day window)", "failing categories",
                               "mix vs quality", "drift (two full windows)", "('login', 'drop')",
                               "('refunds', 'drop')", "drifted: ['latency_ms']")),
        ("bench_review_app.py", ("Review app queries, 20,000 samples", "time_series, 30 days by day", "export_jsonl")),
        # The same corpus through Tastevin, Presidio (blank spaCy, offline) and detect-secrets.
        ("bench_redaction.py", ("Redaction recall and precision per kind", "presidio≥0.4 R", "detect-secrets P",
                                "Overall", "met on every kind")),
        ("bench_alerts.py", ("1. A/A, one evaluation", "2. A/A, evaluated every 15 min", "3. A/B, one evaluation",
                             "4. A/B stream", "5. End to end", "today's rule", "corrected rule")),
        ("bench_judge_trust.py", ("Corrected pass rates: coverage of 95% intervals", "raw judge rate", "ppi",
                                  "rogan_gladen")),
    ],
    ids=["sampler", "ingest", "judge", "reviewer", "review-app", "redaction", "alerts", "judge-trust"],
)
def test_benchmark_quick_run(script: str, expected: tuple[str, ...]) -> None:
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in expected:
        assert text in result.stdout
