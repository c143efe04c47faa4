"""mypy on the sampler package (the part that runs inside other people's apps)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_sampler() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "sampler"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:]
