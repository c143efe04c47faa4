"""`tastevin` is a plugin host: commands come from the `tastevin.commands` entry points,
load lazily (so `tastevin --help` stays quick) and a broken plugin hides nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "pandas", "scipy", "numpy", "anthropic", "streamlit",
         "confluent_kafka", "kafka", "opentelemetry")

# Runs `tastevin ARGS` in this interpreter and reports the heavy modules and the loaded commands.
_PROBE = """
import json, sys
wanted = set(json.loads(sys.argv[2]))
sys.argv = ["tastevin", *json.loads(sys.argv[1])]
from reviewer.cli import cli, main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & wanted)
print("PROBE " + json.dumps({"code": code, "heavy": heavy, "loaded": cli.commands.loaded(),
                  "judge": sorted(m for m in sys.modules if m == "judge" or m.startswith("judge."))}))
"""


def _probe(args: list[str], env: dict[str, str] | None = None) -> tuple[dict[str, object], str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    reports = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    assert reports, result.stdout + result.stderr
    return json.loads(reports[0].removeprefix("PROBE ")), result.stdout + result.stderr


def _declared_commands() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["entry-points"]["tastevin.commands"])


def test_help_lists_every_command_without_loading_heavy_libraries() -> None:
    report, output = _probe(["--help"])
    assert report["code"] == 0, output
    assert report["heavy"] == [], output
    for name in _declared_commands() | {"broker", "db"}:
        assert f"  {name} " in output, name
    assert "unavailable" not in output and "warning" not in output


def test_a_reviewer_command_imports_nothing_of_judge() -> None:
    report, output = _probe(["ingest", "--help"])
    assert report["code"] == 0, output
    assert report["loaded"] == ["broker", "db", "ingest"]
    assert report["judge"] == []
    assert report["heavy"] == [], output


def test_commands_are_declared_as_entry_points_and_installed() -> None:
    """pyproject declares them; the installed metadata (scripts/setup) has the same ones."""
    from importlib.metadata import entry_points

    from reviewer.plugins import COMMAND_GROUP

    declared = _declared_commands()
    assert {"alert", "demo", "drift", "export", "ingest", "judge", "review", "rubrics", "runs"} <= declared
    installed = {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert installed == project["entry-points"][COMMAND_GROUP], "stale install: run scripts/setup"


def test_every_command_has_help() -> None:
    from click.testing import CliRunner

    from reviewer.cli import cli

    names = sorted(cli.commands)
    assert _declared_commands() | {"broker", "db"} <= set(names)
    for name in names:
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


@pytest.fixture
def broken_plugins(tmp_path: Path) -> dict[str, str]:
    """A second installed distribution (a .dist-info on the path) adding three commands:
    one whose module raises on import, one naming a missing module, one not a command."""
    dist = tmp_path / "tastevin_extra-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tastevin-extra\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[tastevin.commands]\n"
        "crashes = tastevin_extra_crash:command\n"
        "missing = tastevin_extra_absent:command\n"
        "notacommand = tastevin_extra_plain:command\n"
    )
    (tmp_path / "tastevin_extra_crash.py").write_text("raise RuntimeError('plugin exploded at import')\n")
    (tmp_path / "tastevin_extra_plain.py").write_text("command = 42\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    return env


def test_broken_plugins_are_listed_unavailable_and_hide_nothing(broken_plugins: dict[str, str]) -> None:
    report, output = _probe(["--help"], env=broken_plugins)
    assert report["code"] == 0, output
    assert "Traceback" not in output
    for name in _declared_commands() | {"broker", "db"}:
        assert f"  {name} " in output, name
    assert "  crashes      unavailable: RuntimeError: plugin exploded at import\n" in output
    assert "  missing      unavailable: ModuleNotFoundError: No module named" in output
    assert "  notacommand  unavailable: TypeError: tastevin_extra_plain:command is" in output


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("crashes", "the 'crashes' command could not be loaded from tastevin_extra_crash:command: "
                    "RuntimeError: plugin exploded at import. Fix: reinstall tastevin"),
        ("missing", "the 'missing' command could not be loaded from tastevin_extra_absent:command: "
                    "ModuleNotFoundError: No module named 'tastevin_extra_absent'. Fix: module "
                    "'tastevin_extra_absent' is missing: install the extra that provides it"),
    ],
    ids=["raises-on-import", "missing-module"],
)
def test_running_a_broken_plugin_exits_2_with_the_reason(
    broken_plugins: dict[str, str], name: str, expected: str
) -> None:
    report, output = _probe([name, "--flag", "x"], env=broken_plugins)
    assert report["code"] == 2, output
    assert f"error: {expected}" in output
    assert "Traceback" not in output
    assert report["loaded"] == sorted(["broker", "db", name])
    assert output.count(expected) == 1


def test_working_commands_still_run_beside_a_broken_plugin(broken_plugins: dict[str, str]) -> None:
    report, output = _probe(["rubrics", "--help"], env=broken_plugins)
    assert report["code"] == 0, output
    assert "Usage: tastevin rubrics" in output and "warning" not in output


def test_the_command_mapping_knows_names_without_loading_and_flags_a_stale_install() -> None:
    import click

    from reviewer.plugins import COMMAND_GROUP, PluginCommands

    builtin = click.Command("db")
    commands = PluginCommands({"db": builtin}, group=COMMAND_GROUP)
    assert "ingest" in commands and "judge" in commands and commands.loaded() == ["db"]
    assert not commands.found_none
    commands["db"] = builtin
    del commands["judge"]
    assert "judge" not in commands and commands.loaded() == ["db"]

    stale = PluginCommands({"db": builtin}, group="tastevin.no-such-group")
    assert stale.found_none and list(stale) == ["db"] and len(stale) == 1
