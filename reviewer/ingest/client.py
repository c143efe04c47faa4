"""The Kafka side of ``tastevin ingest``: its settings object, the librdkafka settings of
its consumer and the factory that builds the consumer (confluent-kafka, imported on use)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .decode import DEFAULT_MAX_RECORD_BYTES

__all__ = ["CONSUMER_FETCH_SETTINGS", "KAFKA_SECURITY_SETTINGS", "IngestConfig", "consumer_settings", "make_consumer"]


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    """Everything ``tastevin ingest`` needs, resolved from flags, environment and defaults.

    ``kafka`` holds extra librdkafka consumer settings (dotted names, e.g.
    ``security.protocol``); they override the ones :func:`make_consumer` sets.
    """

    bootstrap_servers: tuple[str, ...]
    topic: str = "tastevin.samples"
    group_id: str = "tastevin-ingest"
    batch_size: int = 2000
    until_idle_s: float | None = None
    assignment_timeout_s: float = 60.0
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 3_000
    progress_every_s: float = 10.0
    kafka: dict[str, Any] = field(default_factory=dict)


#: ``tastevin ingest``'s security settings: environment variable (the sampler's, see
#: ``sampler._settings.KAFKA_SECURITY_ENV``) → librdkafka setting.
KAFKA_SECURITY_SETTINGS: dict[str, str] = {
    "TASTEVIN_KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "TASTEVIN_KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "TASTEVIN_KAFKA_SASL_USERNAME": "sasl.username",
    "TASTEVIN_KAFKA_SASL_PASSWORD": "sasl.password",
    "TASTEVIN_KAFKA_SSL_CAFILE": "ssl.ca.location",
    "TASTEVIN_KAFKA_SSL_CERTFILE": "ssl.certificate.location",
    "TASTEVIN_KAFKA_SSL_KEYFILE": "ssl.key.location",
}

#: librdkafka fetch settings of the ingest consumer (``IngestConfig.kafka`` may
#: override them); the benchmark's raw-consume baselines use the same ones. Up to 32 MB
#: of records are fetched ahead of the loop.
CONSUMER_FETCH_SETTINGS: dict[str, Any] = {
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "queued.max.messages.kbytes": 32 * 1024,
}


def consumer_settings(config: IngestConfig) -> dict[str, Any]:
    """The librdkafka settings of the ingest consumer (without callbacks)."""
    return {
        "bootstrap.servers": ",".join(config.bootstrap_servers),
        "group.id": config.group_id,
        "client.id": "tastevin-ingest",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": config.session_timeout_ms,
        "heartbeat.interval.ms": config.heartbeat_interval_ms,
        "enable.partition.eof": False,
        **CONSUMER_FETCH_SETTINGS,
        **config.kafka,
    }


def make_consumer(
    config: IngestConfig,
    *,
    on_assign: Callable[[Any, list[Any]], None] | None = None,
    on_revoke: Callable[[Any, list[Any]], None] | None = None,
    on_lost: Callable[[Any, list[Any]], None] | None = None,
    on_error: Callable[[Any], None] | None = None,
) -> Any:
    """A confluent-kafka consumer in ``config.group_id``, subscribed to ``config.topic``."""
    from confluent_kafka import Consumer

    settings = consumer_settings(config)
    # The loop needs the end-of-partition events to know it has caught up (--until-idle).
    settings["enable.partition.eof"] = True
    # librdkafka logs through Python logging (delivered while consume runs), not stderr.
    settings["logger"] = logging.getLogger("reviewer.ingest.kafka")
    if on_error is not None:
        settings["error_cb"] = on_error
    consumer = Consumer(settings)
    callbacks: dict[str, Any] = {}
    if on_assign is not None:
        callbacks["on_assign"] = on_assign
    if on_revoke is not None:
        callbacks["on_revoke"] = on_revoke
    if on_lost is not None:
        callbacks["on_lost"] = on_lost
    consumer.subscribe([config.topic], **callbacks)
    return consumer
