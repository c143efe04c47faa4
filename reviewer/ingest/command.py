"""The ``tastevin ingest`` command (registered on the CLI group in ``reviewer.cli``)."""

from __future__ import annotations

import sys

import click

from ..store import DEFAULT_DB_URL


@click.command()
@click.option("--bootstrap-servers", default="127.0.0.1:9092", show_default=True, show_envvar=True,
              envvar="TASTEVIN_KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers, comma-separated.")
@click.option("--topic", default="tastevin.samples", show_default=True, show_envvar=True, envvar="TASTEVIN_TOPIC",
              help="Topic the samplers write to.")
@click.option("--group-id", default="tastevin-ingest", show_default=True, show_envvar=True,
              envvar="TASTEVIN_INGEST_GROUP_ID",
              help="Consumer group; processes with the same group split the partitions.")
@click.option("--db", "db_url", default=DEFAULT_DB_URL, show_default=True, show_envvar=True,
              envvar="TASTEVIN_DB_URL", help="Store URL: sqlite:///FILE or postgresql://USER@HOST/DB.")
@click.option("--batch-size", default=2000, show_default=True, show_envvar=True, envvar="TASTEVIN_INGEST_BATCH_SIZE",
              type=click.IntRange(1, 100_000), help="Records per poll and per database transaction.")
@click.option("--until-idle", "until_idle_s", type=click.FloatRange(0), default=None, show_envvar=True,
              envvar="TASTEVIN_INGEST_UNTIL_IDLE", metavar="SECONDS",
              help="Exit 0 once this consumer holds partitions, has read every one to its end and SECONDS "
                   "passed with nothing new (for jobs and tests); the clock does not run while the group "
                   "forms. Exit 3 if no partition is assigned within --assignment-timeout. "
                   "Default: run until stopped.")
@click.option("--assignment-timeout", "assignment_timeout_s", type=click.FloatRange(0.1), default=60.0,
              show_default=True, show_envvar=True, envvar="TASTEVIN_INGEST_ASSIGNMENT_TIMEOUT", metavar="SECONDS",
              help="Warn, with the likely causes, when this consumer has held no partition for SECONDS "
                   "(other members hold them all, the group is stuck rebalancing, no such topic); "
                   "with --until-idle, exit 3 instead.")
@click.option("--max-record-bytes", default=1024 * 1024, show_default=True, show_envvar=True,
              envvar="TASTEVIN_INGEST_MAX_RECORD_BYTES", type=click.IntRange(1024),
              help="Larger messages go to the dead-letter table as 'oversize'.")
@click.option("--session-timeout-ms", default=10_000, show_default=True, show_envvar=True,
              envvar="TASTEVIN_INGEST_SESSION_TIMEOUT_MS", type=click.IntRange(1000),
              help="Consumer group session timeout; the heartbeat is a third of it.")
@click.option("--workers", default=1, show_default=True, show_envvar=True, envvar="TASTEVIN_INGEST_WORKERS",
              type=click.IntRange(1, 64),
              help="Consumer processes in the group, started and supervised by this one. Up to one per "
                   "core (decoding is Python) and no more than the topic's partitions.")
@click.option("--progress-every", "progress_every_s", default=10.0, show_default=True, show_envvar=True,
              envvar="TASTEVIN_INGEST_PROGRESS_EVERY", type=click.FloatRange(0.1), metavar="SECONDS",
              help="Print a progress line (records/s, lag, dead-lettered) this often.")
def ingest(
    bootstrap_servers: str,
    topic: str,
    group_id: str,
    db_url: str,
    batch_size: int,
    until_idle_s: float | None,
    assignment_timeout_s: float,
    max_record_bytes: int,
    session_timeout_ms: int,
    workers: int,
    progress_every_s: float,
) -> None:
    """Consume sampled calls from Kafka into the store.

    Offsets are committed only after the database commit: a crash loses nothing and a
    redelivery duplicates nothing. Malformed records go to the dead_letter table with
    a reason. --workers N runs N consumer processes; more processes (anywhere) with the
    same --group-id split the partitions too. Exit codes: 0 stopped or idle, 1 stopped with
    the database down, 3 --until-idle without partitions.
    SASL/SSL: TASTEVIN_KAFKA_SECURITY_PROTOCOL, _SASL_MECHANISM, _SASL_USERNAME,
    _SASL_PASSWORD, _SSL_CAFILE, _SSL_CERTFILE, _SSL_KEYFILE.
    """
    import os

    from ..store import ensure_schema, make_engine
    from .client import KAFKA_SECURITY_SETTINGS, IngestConfig
    from .workers import echo_line, run_ingester, run_workers

    servers = tuple(s.strip() for s in bootstrap_servers.split(",") if s.strip())
    if not servers:
        raise click.BadParameter("give at least one host:port", param_hint="--bootstrap-servers")
    security = {option: os.environ[env] for env, option in KAFKA_SECURITY_SETTINGS.items() if os.environ.get(env)}
    config = IngestConfig(
        bootstrap_servers=servers,
        topic=topic,
        group_id=group_id,
        batch_size=batch_size,
        until_idle_s=until_idle_s,
        assignment_timeout_s=assignment_timeout_s,
        max_record_bytes=max_record_bytes,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(300, session_timeout_ms // 3),
        progress_every_s=progress_every_s,
        kafka=security,
    )
    engine = make_engine(db_url)
    ensure_schema(engine)  # once, here: before any worker starts, rather than in each
    shown = engine.url.render_as_string(hide_password=True)
    engine.dispose()
    echo_line(f"ingest: {','.join(servers)} topic {topic} group {group_id} → {shown}"
              + (f", {workers} workers" if workers > 1 else ""))
    sys.exit(run_ingester(config, db_url, echo_line) if workers == 1 else run_workers(config, db_url, workers, echo_line))
