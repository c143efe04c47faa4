"""The sampler installs and imports with its own extra only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import importlib.util, json, sys
import sampler
absent = [m for m in ("sqlmodel", "streamlit", "anthropic", "alembic", "scipy", "click", "pydantic")
          if importlib.util.find_spec(m) is not None]
t = sampler.MemoryTransport()
sampler.init(app="probe", rate=1.0, transport=t)
sampler.record_call(model="m", input_messages="hi from bob@example.com", output_messages="hello")
assert sampler.flush(5)
record = t.records()[0]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("reviewer", "judge"))
print(json.dumps({"present": absent, "loaded": loaded, "text": record["input_messages"][0]["parts"][0]["content"]}))
"""


@pytest.mark.slow
def test_sampler_extra_alone_installs_and_imports(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*uv, "pip", "install", "-q", "-p", str(python), f"{ROOT}[sampler]"], check=True, cwd=tmp_path, timeout=600
    )
    result = subprocess.run(
        [str(python), "-c", PROBE], check=True, capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    import json

    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe == {"present": [], "loaded": [], "text": "hi from [REDACTED:email]"}
