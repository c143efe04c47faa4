"""A quick smoke run of each benchmark (the full runs are not part of CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sampler_benchmark_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_sampler.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for title in ("1. Added latency per call", "2. Broker down", "3. Worker throughput"):
        assert title in result.stdout


@pytest.mark.slow
def test_ingest_benchmark_quick_run() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/bench_ingest.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ingest of 2,000 records" in result.stdout
    assert "kafka-python raw consume" in result.stdout and "ingest → SQLite" in result.stdout
