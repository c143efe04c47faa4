"""A quick smoke run of benchmarks/bench_reviewer.py (the 1M-sample run is not part of CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_bench_reviewer_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_reviewer.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for text in ("Reviewer queries on 20,000 samples", "summary (7-day window)", "failing categories",
                 "mix vs quality", "drift (two full windows)", "SQLite"):
        assert text in result.stdout
    # the generated data has drops in two categories and a latency shift: the queries find them
    assert "('login', 'drop')" in result.stdout and "('refunds', 'drop')" in result.stdout
    assert "drifted: ['latency_ms']" in result.stdout
