from __future__ import annotations

import logging

import pytest

from sampler._settings import DEFAULT_TOPIC, resolve_settings


def test_arguments_override_environment_override_defaults() -> None:
    env = {"TASTEVIN_SAMPLE_RATE": "0.5", "TASTEVIN_TOPIC": "from-env", "TASTEVIN_APP": "env-app"}
    settings = resolve_settings({"rate": 0.25}, env)
    assert settings.rate == 0.25
    assert settings.topic == "from-env"
    assert settings.app == "env-app"
    defaults = resolve_settings({}, {"OTEL_SERVICE_NAME": "svc"})
    assert (defaults.rate, defaults.topic, defaults.app, defaults.queue_size) == (0.01, DEFAULT_TOPIC, "svc", 10_000)
    assert defaults.max_record_bytes == 256 * 1024 and defaults.sample_errors and defaults.redact


def test_app_from_otel_resource_attributes() -> None:
    settings = resolve_settings({}, {"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,service.name=bot"})
    assert settings.app == "bot"


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"rate": 1.5}, "between 0 and 1"),
        ({"rate": "x"}, "must be a number"),
        ({"queue_size": 0}, "at least 1"),
        ({"max_record_bytes": 100}, "at least 4096"),
        ({"bootstrap_servers": "nohostport"}, "host:port"),
        ({"category_rates": {"billing": 2}}, "rate for category 'billing'"),
        ({"redact_patterns": {"Bad Kind": "x"}}, "must match"),
        ({"nonsense": 1}, "unknown sampler setting"),
        ({"kafka": {"bogus_option": 1}}, "unsupported kafka option"),
    ],
    ids=["rate-range", "rate-type", "queue", "record-bytes", "servers", "category-rate", "kind", "unknown", "kafka"],
)
def test_bad_argument_raises_value_error(argument: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_settings(argument, {})


def test_bad_environment_value_warns_and_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    env = {"TASTEVIN_SAMPLE_RATE": "lots", "TASTEVIN_QUEUE_SIZE": "-3", "TASTEVIN_APP": "a"}
    with caplog.at_level(logging.WARNING):
        settings = resolve_settings({}, env)
    assert settings.rate == 0.01 and settings.queue_size == 10_000
    assert "TASTEVIN_SAMPLE_RATE" in caplog.text and "TASTEVIN_QUEUE_SIZE" in caplog.text


def test_env_forms_for_maps_and_kafka_security() -> None:
    env = {
        "TASTEVIN_APP": "a",
        "TASTEVIN_CATEGORY_RATES": "billing=0.1, refunds=1",
        "TASTEVIN_REDACT_PATTERNS": r"ticket=TCK-\d+;order=ORD-\d+",
        "TASTEVIN_KAFKA_BOOTSTRAP_SERVERS": "k1:9092, k2:9093",
        "TASTEVIN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "TASTEVIN_KAFKA_SASL_MECHANISM": "PLAIN",
        "TASTEVIN_KAFKA_SASL_USERNAME": "u",
        "TASTEVIN_KAFKA_SASL_PASSWORD": "hunter2",
        "TASTEVIN_KAFKA_ACKS": "all",
    }
    settings = resolve_settings({"ssl_cafile": "/ca.pem"}, env)
    assert settings.category_rates == {"billing": 0.1, "refunds": 1.0}
    assert settings.redact_patterns == {"ticket": r"TCK-\d+", "order": r"ORD-\d+"}
    assert settings.bootstrap_servers == ("k1:9092", "k2:9093")
    assert settings.kafka == {
        "acks": "all",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": "hunter2",
        "ssl_cafile": "/ca.pem",
    }
    assert "hunter2" not in repr(settings)
