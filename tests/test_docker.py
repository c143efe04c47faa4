"""docker/ cannot be run here (no Docker engine): check it against the CLI instead.

Every tastevin command the compose file runs exists with those flags; every TASTEVIN_*
variable it sets is one a command or the sampler reads; ports, credentials and the image
agree between the services and with the Dockerfile.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reviewer.cli import cli
from tests.cli_helpers import envvars, find_command

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()
SERVICES: dict[str, Any] = COMPOSE["services"]
TASTEVIN = {name: spec for name, spec in SERVICES.items() if spec.get("image", "").startswith("tastevin")}


def test_the_tastevin_services_are_the_production_commands() -> None:
    assert set(TASTEVIN) == {"migrate", "ingest", "judge", "alert", "review"}
    assert {"kafka", "postgres"} <= set(SERVICES)


@pytest.mark.parametrize("service", sorted(TASTEVIN))
def test_each_command_exists_with_its_flags(service: str) -> None:
    args = TASTEVIN[service]["command"]
    command, rest = find_command(args)
    assert command is not cli and not isinstance(command, click.Group), f"{service}: no command {args}"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    flags = [arg for arg in rest if arg.startswith("--")]
    assert set(flags) <= known, f"{service}: unknown flags {set(flags) - known}"
    # And click accepts the whole line (types, choices, durations), without running it.
    context = command.make_context(command.name, list(rest), resilient_parsing=False)
    assert context.params is not None


def test_the_judge_refuses_to_run_without_an_llm() -> None:
    """A missing ANTHROPIC_API_KEY must stop the judge, not start one that records rules-only passes."""
    command, rest = find_command(TASTEVIN["judge"]["command"])
    assert command.make_context(command.name, list(rest)).params["require_llm"] is True


def test_every_tastevin_variable_is_read_by_someone() -> None:
    from sampler._settings import SamplerSettings

    read = envvars() | set(re.findall(r"TASTEVIN_[A-Z_]+", SamplerSettings.__doc__ or ""))
    for name, spec in TASTEVIN.items():
        for variable in spec.get("environment", {}):
            if variable.startswith("TASTEVIN_"):
                assert variable in read, f"{name}: {variable} is read by no command"


def test_ports_credentials_and_image_agree() -> None:
    postgres = SERVICES["postgres"]["environment"]
    for name, spec in TASTEVIN.items():
        env = spec["environment"]
        url = env["TASTEVIN_DB_URL"]
        assert url.startswith(f"postgresql://{postgres['POSTGRES_USER']}:${{POSTGRES_PASSWORD")
        assert url.endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
        assert env["TASTEVIN_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert spec["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    kafka = SERVICES["kafka"]["environment"]
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    review = TASTEVIN["review"]
    port = review["command"][review["command"].index("--port") + 1]
    assert review["ports"] == [f"{port}:{port}"] and f"EXPOSE {port}" in DOCKERFILE
    # Bound to 0.0.0.0, the app requires its password: the compose file insists on one.
    assert "--host" in review["command"] and ":?" in review["environment"]["TASTEVIN_REVIEW_PASSWORD"]
    assert set(COMPOSE["volumes"]) == {"kafka-data", "pg-data"}


def test_dockerfile_installs_the_package_and_runs_the_cli() -> None:
    assert re.search(r"^FROM python:3\.11", DOCKERFILE, re.M)
    for package in ("sampler", "reviewer", "judge"):
        assert f"COPY {package} ./{package}" in DOCKERFILE
    assert 'pip install ".[all]"' in DOCKERFILE
    assert 'ENTRYPOINT ["tastevin"]' in DOCKERFILE
    assert re.search(r"^USER (?!root)", DOCKERFILE, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored
