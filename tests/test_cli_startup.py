"""`tastevin --help` stays quick: registering the commands must not import the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_import_leaves_heavy_libraries_unloaded() -> None:
    code = (
        "import sys, reviewer.cli; "
        "print(','.join(m for m in ('anthropic', 'scipy', 'streamlit', 'pandas', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


def test_every_command_has_help() -> None:
    from click.testing import CliRunner

    from reviewer.cli import cli

    names = sorted(cli.commands)
    assert {"alert", "broker", "db", "demo", "ingest", "judge", "rubrics", "runs"} <= set(names)
    for name in names:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name
