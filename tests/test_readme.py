"""The README stays true: its snippets run, its commands exist, its configuration reference is complete."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from judge.testing import FakeAnthropicServer
from reviewer.cli import cli
from tests.cli_helpers import envvars, find_command, generated_envvars, settings_envvars

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.S)


def test_the_python_snippets_run_against_a_local_messages_api() -> None:
    script = "\n".join(_blocks("python")) + "\nimport sampler\nprint('stats', sampler.stats())\n"
    with FakeAnthropicServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TASTEVIN_", "ANTHROPIC_"))}
        env.update(ANTHROPIC_BASE_URL=server.url, ANTHROPIC_API_KEY="sk-ant-test", PYTHONPATH=str(ROOT),
                   TASTEVIN_SAMPLE_RATE="1")
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                                timeout=60, cwd=ROOT)
        calls = len(server.requests)
    assert result.returncode == 0, result.stderr
    assert calls == 1  # the tagged messages.create
    # Two calls offered (the wrapped create and record_call), both sampled at rate 1.
    assert "'seen': 2" in result.stdout and "'sampled': 2" in result.stdout


def test_every_tastevin_command_in_the_readme_parses() -> None:
    lines = [line.split("#")[0].strip() for block in _blocks("bash") for line in block.splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("tastevin ")]
    assert len(commands) >= 8
    for words in commands:
        command, rest = find_command(words[1:])
        assert not isinstance(command, click.Group), words
        command.make_context(command.name, rest)  # raises on an unknown flag or a bad value


REFERENCE = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]


def _rows_naming(variable: str) -> list[list[str]]:
    """The configuration tables' rows that name ``variable``, as cells (``\\|`` inside a cell is kept)."""
    rows = [line for line in REFERENCE.splitlines() if line.startswith("|") and f"`{variable}`" in line]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().strip("|"))] for row in rows]


# Every variable that is read: each option's declared envvar= and each settings object's.
@pytest.mark.parametrize("variable", sorted(envvars() | settings_envvars()))
def test_every_variable_read_is_in_the_configuration_reference_with_its_default(variable: str) -> None:
    rows = _rows_naming(variable)
    assert rows, f"{variable} is not documented in the configuration reference"
    for cells in rows:
        assert len(cells) == 3 and f"`{variable}`" in cells[1], f"{variable} is not in a variable column: {cells}"
        assert cells[2], f"{variable} has no default in the README"


def test_no_option_reads_an_undeclared_variable() -> None:
    # click's auto_envvar_prefix made ~30 options read TASTEVIN_DEMO_SEED, TASTEVIN_JUDGE_ONCE, …
    # that no document names; every variable an option reads is declared with envvar=.
    assert generated_envvars() == {}


def test_an_undeclared_variable_changes_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    # TASTEVIN_RUNS_LIST_AS_JSON was a generated name that switched `runs list` to JSON.
    url = f"sqlite:///{tmp_path / 'store.db'}"
    result = CliRunner().invoke(cli, ["runs", "list", "--db", url], env={"TASTEVIN_RUNS_LIST_AS_JSON": "1"})
    assert result.exit_code == 0, result.output
    assert '"runs"' not in result.output and "status" in result.output


def test_every_command_is_mentioned() -> None:
    for name in cli.commands:
        assert f"tastevin {name}" in README, name
