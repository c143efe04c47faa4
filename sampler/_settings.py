"""Sampler settings: constructor arguments, then ``TASTEVIN_*`` environment, then defaults.

The sampler runs inside someone else's production app, so the two kinds of bad
input are treated differently (STYLE habit 4): a bad *argument* is a programming
error and raises ``ValueError`` at ``init``; a bad *environment value* logs one
warning and falls back to the safe default, because an ops typo must never take
the host app down.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_TOPIC = "tastevin.samples"
DEFAULT_RATE = 0.01
DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_MAX_RECORD_BYTES = 256 * 1024
MIN_RECORD_BYTES = 4 * 1024

# kafka-python options a user may pass through (SASL/SSL and a few tuning knobs).
KAFKA_PASSTHROUGH = frozenset(
    {
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
        "sasl_kerberos_service_name",
        "sasl_kerberos_domain_name",
        "sasl_oauth_token_provider",
        "ssl_context",
        "ssl_check_hostname",
        "ssl_cafile",
        "ssl_certfile",
        "ssl_keyfile",
        "ssl_password",
        "ssl_crlfile",
        "client_id",
        "acks",
        "compression_type",
        "linger_ms",
        "batch_size",
        "max_request_size",
        "request_timeout_ms",
        "delivery_timeout_ms",
        "api_version",
        "enable_idempotence",
    }
)

# Environment variables → (setting, parser). Parsers raise ValueError on bad input.
# SASL/SSL: the same variables configure the sampler's producer and the ingest consumer.
KAFKA_SECURITY_ENV = {
    "TASTEVIN_KAFKA_SECURITY_PROTOCOL": "security_protocol",
    "TASTEVIN_KAFKA_SASL_MECHANISM": "sasl_mechanism",
    "TASTEVIN_KAFKA_SASL_USERNAME": "sasl_plain_username",
    "TASTEVIN_KAFKA_SASL_PASSWORD": "sasl_plain_password",
    "TASTEVIN_KAFKA_SSL_CAFILE": "ssl_cafile",
    "TASTEVIN_KAFKA_SSL_CERTFILE": "ssl_certfile",
    "TASTEVIN_KAFKA_SSL_KEYFILE": "ssl_keyfile",
}
_ENV_KAFKA = {
    **KAFKA_SECURITY_ENV,
    "TASTEVIN_KAFKA_ACKS": "acks",
    "TASTEVIN_KAFKA_COMPRESSION": "compression_type",
}

_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _parse_rate(value: Any, what: str = "rate") -> float:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= rate <= 1.0 or rate != rate:
        raise ValueError(f"{what} must be between 0 and 1, got {value!r}")
    return rate


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _parse_int(value: Any, *, minimum: int, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {number}")
    return number


def _parse_category_rates(value: Any) -> dict[str, float]:
    """``{"billing": 0.1}`` or the env form ``"billing=0.1,refunds=0.5"``."""
    if isinstance(value, str):
        pairs: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in value.split(","))):
            name, sep, rate = item.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"category rates must look like 'billing=0.1,refunds=0.5', got {value!r}")
            pairs[name.strip()] = rate
        value = pairs
    if not isinstance(value, Mapping):
        raise ValueError(f"category_rates must be a mapping of category → rate, got {type(value).__name__}")
    return {str(k): _parse_rate(v, f"rate for category {k!r}") for k, v in value.items()}


def _parse_servers(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items = [s.strip() for s in value.split(",")]
    else:
        items = [str(s).strip() for s in value]
    servers = tuple(s for s in items if s)
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"bootstrap server must be host:port, got {server!r}")
    return servers


def _parse_patterns(value: Any) -> dict[str, Any]:
    """``{"ticket": r"TCK-\\d+"}`` or the env form ``"ticket=TCK-\\d+;order=ORD-\\d+"``."""
    if isinstance(value, str):
        pairs = {}
        for item in filter(None, (p.strip() for p in value.split(";"))):
            name, sep, pattern = item.partition("=")
            if not sep:
                raise ValueError(f"redaction patterns must look like 'kind=regex;kind2=regex', got {item!r}")
            pairs[name.strip()] = pattern
        value = pairs
    if not isinstance(value, Mapping):
        raise ValueError("redact_patterns must be a mapping of kind → regex")
    out = {}
    for kind, pattern in value.items():
        if not _KIND_RE.match(str(kind)):
            raise ValueError(f"redaction kind {kind!r} must match [a-z][a-z0-9_]{{0,31}}")
        out[str(kind)] = pattern if isinstance(pattern, re.Pattern) else str(pattern)
    return out


def _parse_redactors(value: Any) -> tuple[Any, ...]:
    """Extra redaction detectors: a list of callables (text -> spans); code only, no env var."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(
            f"redactors must be a list of callables (text -> [(start, end, kind), ...]), got {type(value).__name__}"
        )
    for detector in value:
        if not callable(detector):
            raise ValueError(f"redactor {detector!r} is not callable: it must map a str to (start, end, kind) spans")
    return tuple(value)


def _default_app(environ: Mapping[str, str]) -> str:
    """OTel ``service.name`` (env or the global tracer provider's resource), else the script name."""
    name = environ.get("OTEL_SERVICE_NAME")
    if name:
        return name
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            return value.strip()
    try:
        from opentelemetry import trace

        resource = getattr(trace.get_tracer_provider(), "resource", None)
        service = resource.attributes.get("service.name") if resource is not None else None
        if isinstance(service, str) and service and not service.startswith("unknown_service"):
            return service
    except Exception:  # noqa: BLE001 - an odd tracer provider must not break init
        pass
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    script = script.removesuffix(".py")
    return script or "unknown_service"


@dataclass(frozen=True, kw_only=True)
class SamplerSettings:
    """Every sampler setting, with its environment variable and default.

    | setting | env | default |
    |---|---|---|
    | app | TASTEVIN_APP (else OTEL_SERVICE_NAME / service.name) | script name |
    | env | TASTEVIN_ENV | ``"production"`` |
    | release | TASTEVIN_RELEASE | ``""`` |
    | rate | TASTEVIN_SAMPLE_RATE | 0.01 |
    | category_rates | TASTEVIN_CATEGORY_RATES (``billing=0.1,refunds=1``) | {} |
    | sample_errors | TASTEVIN_SAMPLE_ERRORS | True |
    | bootstrap_servers | TASTEVIN_KAFKA_BOOTSTRAP_SERVERS (comma-separated) | none → nothing is sent |
    | topic | TASTEVIN_TOPIC | ``tastevin.samples`` |
    | kafka | TASTEVIN_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME, _SASL_PASSWORD, _SSL_CAFILE, _SSL_CERTFILE, _SSL_KEYFILE, _ACKS, _COMPRESSION | acks=1 |
    | queue_size | TASTEVIN_QUEUE_SIZE | 10000 |
    | max_record_bytes | TASTEVIN_MAX_RECORD_BYTES | 262144 |
    | redact | TASTEVIN_REDACT | True |
    | redact_patterns | TASTEVIN_REDACT_PATTERNS (``kind=regex;kind2=regex``) | {} |
    | redactors | (code only: callables, see :class:`sampler.redact.Redactor`) | () |
    | enabled | TASTEVIN_ENABLED | True |
    """

    app: str
    env: str = "production"
    release: str = ""
    rate: float = DEFAULT_RATE
    category_rates: Mapping[str, float] = field(default_factory=dict)
    sample_errors: bool = True
    bootstrap_servers: tuple[str, ...] = ()
    topic: str = DEFAULT_TOPIC
    kafka: Mapping[str, Any] = field(default_factory=dict)
    queue_size: int = DEFAULT_QUEUE_SIZE
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    redact: bool = True
    redact_patterns: Mapping[str, Any] = field(default_factory=dict)
    redactors: tuple[Any, ...] = ()
    enabled: bool = True

    def __repr__(self) -> str:  # never print secrets
        kafka = {k: ("***" if "password" in k or "token" in k else v) for k, v in self.kafka.items()}
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.name != "kafka")
        return f"SamplerSettings({shown}, kafka={kafka!r})"


# name → (env var, parser for arguments and env values)
_SCALARS: dict[str, tuple[str, Any]] = {
    "app": ("TASTEVIN_APP", str),
    "env": ("TASTEVIN_ENV", str),
    "release": ("TASTEVIN_RELEASE", str),
    "rate": ("TASTEVIN_SAMPLE_RATE", _parse_rate),
    "category_rates": ("TASTEVIN_CATEGORY_RATES", _parse_category_rates),
    "sample_errors": ("TASTEVIN_SAMPLE_ERRORS", _parse_bool),
    "bootstrap_servers": ("TASTEVIN_KAFKA_BOOTSTRAP_SERVERS", _parse_servers),
    "topic": ("TASTEVIN_TOPIC", str),
    "queue_size": ("TASTEVIN_QUEUE_SIZE", lambda v: _parse_int(v, minimum=1, what="queue_size")),
    "max_record_bytes": (
        "TASTEVIN_MAX_RECORD_BYTES",
        lambda v: _parse_int(v, minimum=MIN_RECORD_BYTES, what="max_record_bytes"),
    ),
    "redact": ("TASTEVIN_REDACT", _parse_bool),
    "redact_patterns": ("TASTEVIN_REDACT_PATTERNS", _parse_patterns),
    "enabled": ("TASTEVIN_ENABLED", _parse_bool),
}


def resolve_settings(arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> SamplerSettings:
    """Merge arguments over environment over defaults.

    Raises ``ValueError`` for an unknown or invalid *argument*; logs one warning and
    uses the default for an invalid *environment* value.
    """
    environ = os.environ if environ is None else environ
    unknown = set(arguments) - set(_SCALARS) - {"kafka", "redactors"} - KAFKA_PASSTHROUGH
    if unknown:
        raise ValueError(
            f"unknown sampler setting(s): {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(set(_SCALARS) | {'kafka', 'redactors'}))} and kafka-python options "
            f"({', '.join(sorted(KAFKA_PASSTHROUGH))})"
        )
    values: dict[str, Any] = {}
    for name, (env_var, parse) in _SCALARS.items():
        if arguments.get(name) is not None:
            values[name] = parse(arguments[name])  # bad argument → ValueError to the developer
            continue
        raw = environ.get(env_var)
        if raw is None or raw == "":
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            logger.warning("tastevin: ignoring %s (%s); using the default", env_var, exc)

    kafka: dict[str, Any] = {"acks": 1}
    for env_var, option in _ENV_KAFKA.items():
        raw = environ.get(env_var)
        if raw:
            kafka[option] = int(raw) if option == "acks" and raw.lstrip("-").isdigit() else raw
    kafka.update(arguments.get("kafka") or {})
    for option in KAFKA_PASSTHROUGH & set(arguments):
        kafka[option] = arguments[option]
    bad = set(kafka) - KAFKA_PASSTHROUGH
    if bad:
        raise ValueError(f"unsupported kafka option(s): {', '.join(sorted(bad))}")
    values["kafka"] = kafka
    if arguments.get("redactors") is not None:
        values["redactors"] = _parse_redactors(arguments["redactors"])

    if "app" not in values:
        values["app"] = _default_app(environ)
    if not values.get("topic", DEFAULT_TOPIC):
        raise ValueError("topic must not be empty")
    return SamplerSettings(**values)
