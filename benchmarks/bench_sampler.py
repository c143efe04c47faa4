"""Sampler benchmarks: added latency per call, broker-down behaviour, worker throughput.

    .venv/bin/python benchmarks/bench_sampler.py            # full run (~2 minutes)
    .venv/bin/python benchmarks/bench_sampler.py --quick    # smoke run (used by the tests)

Baselines in the same run: the bare anthropic client (real SDK over an in-process
httpx2 transport), the same client with OpenLLMetry's instrumentation and the OTel SDK
at ParentBased(TraceIdRatioBased(0.01)), and kafka-python's raw produce rate.
Targets (issue 2): unsampled ≤ 2 µs, sampled ≤ 50 µs on the calling thread, Tastevin at
1% ≤ 1/10 of OpenLLMetry's added latency; broker down: same bounds, memory flat, every
record accounted for; worker ≥ 20k records/s of ~2 KB into a real broker; redaction
(issue 16) ≤ 30 µs per 2 KB text with nothing to find, ≤ 60 µs with a few matches.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import sampler  # noqa: E402
from reviewer.broker import EmbeddedBroker, free_port  # noqa: E402
from sampler._state import STATE  # noqa: E402
from tests.fake_anthropic import FakeMessagesAPI  # noqa: E402

console = Console()
MESSAGES = [
    {"role": "user", "content": "Hi, I was charged twice for my subscription this month. Can you help?"},
    {"role": "assistant", "content": "I'm sorry about that. Could you share the last four digits of the card?"},
    {"role": "user", "content": "It ends in 4242, and the charges were on the 3rd and the 4th."},
]
_now = time.perf_counter_ns


# -- helpers --------------------------------------------------------------------------
def per_call_ns(fn: Callable[[], Any], n: int) -> list[int]:
    out = []
    for _ in range(n):
        t0 = _now()
        fn()
        out.append(_now() - t0)
    return out


def median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000.0


def p99_us(samples: list[int]) -> float:
    return sorted(samples)[int(len(samples) * 0.99) - 1] / 1000.0


class _StubMessages:
    """The SDK's messages resource reduced to returning a prebuilt Message: isolates the wrapper."""

    def __init__(self, message: Any) -> None:
        self._message = message

    def create(self, **kwargs: Any) -> Any:
        return self._message


class _StubClient:
    def __init__(self, message: Any) -> None:
        self.messages = _StubMessages(message)


def reset_sampler() -> None:
    current = STATE.sampler
    STATE.sampler = None
    if current is not None:
        current.shutdown(5.0)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


# -- 1. added latency ---------------------------------------------------------------------
def isolated_wrapper_cost(bootstrap: str, n: int, repeats: int) -> dict[str, float]:
    """Median per-call cost of the wrapper around a no-op create (µs), unsampled and sampled."""
    message = FakeMessagesAPI().client().messages.create(model="m", max_tokens=5, messages=MESSAGES)
    bare = _StubClient(message)
    wrapped = sampler.instrument(_StubClient(message))

    def call_bare() -> Any:
        return bare.messages.create(model="claude-x", max_tokens=256, messages=MESSAGES)

    def call_wrapped() -> Any:
        return wrapped.messages.create(model="claude-x", max_tokens=256, messages=MESSAGES)

    results: dict[str, list[float]] = {"unsampled": [], "sampled": []}
    for rate, key in ((0.0, "unsampled"), (1.0, "sampled")):
        sampler.init(app="bench", rate=rate, bootstrap_servers=bootstrap, queue_size=max(n * 2, 10_000))
        for _ in range(repeats):
            gc.collect()
            base = median_us(per_call_ns(call_bare, n))
            cost = median_us(per_call_ns(call_wrapped, n))
            results[key].append(cost - base)
            sampler.flush(30)
        reset_sampler()
    return {k: statistics.median(v) for k, v in results.items()}


def end_to_end(bootstrap: str, n: int, rounds: int) -> dict[str, list[int]]:
    """Per-call latency through the real SDK: bare, Tastevin at 1%, OpenLLMetry at 1%."""
    from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    class NullExporter(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    fake = FakeMessagesAPI()
    bare = fake.client()
    tastevin_client = sampler.instrument(fake.client())
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.01)))
    provider.add_span_processor(BatchSpanProcessor(NullExporter()))
    instrumentor = AnthropicInstrumentor()
    openllmetry_client = fake.client()

    def call(client: Any) -> Callable[[], Any]:
        return lambda: client.messages.create(model="claude-x", max_tokens=256, messages=MESSAGES)

    out: dict[str, list[int]] = {"bare": [], "tastevin": [], "openllmetry": []}
    sampler.init(app="bench", rate=0.01, bootstrap_servers=bootstrap)
    for _ in range(30):  # warm up every path
        call(bare)()
        call(tastevin_client)()
    for _ in range(rounds):
        gc.collect()
        out["bare"] += per_call_ns(call(bare), n)
        out["tastevin"] += per_call_ns(call(tastevin_client), n)
        instrumentor.instrument(tracer_provider=provider)
        out["openllmetry"] += per_call_ns(call(openllmetry_client), n)
        instrumentor.uninstrument()
    reset_sampler()
    provider.shutdown()
    return out


# -- 2. broker down -------------------------------------------------------------------------
def broker_down(n: int) -> dict[str, Any]:
    port = free_port()  # nothing listens here for the whole run
    bootstrap = f"127.0.0.1:{port}"
    message = FakeMessagesAPI().client().messages.create(model="m", max_tokens=5, messages=MESSAGES)
    wrapped = sampler.instrument(_StubClient(message))
    bare = _StubClient(message)
    results: dict[str, Any] = {}

    def call_wrapped() -> Any:
        return wrapped.messages.create(model="claude-x", max_tokens=256, messages=MESSAGES)

    def call_bare() -> Any:
        return bare.messages.create(model="claude-x", max_tokens=256, messages=MESSAGES)

    for rate, key in ((0.01, "rate 0.01"), (1.0, "rate 1.0")):
        sampler.init(app="bench", rate=rate, bootstrap_servers=bootstrap)
        per_call_ns(call_wrapped, 2000)
        rss = []
        costs = []
        bases = []
        chunk = n // 10
        for _ in range(10):
            bases.append(median_us(per_call_ns(call_bare, chunk)))
            costs.append(median_us(per_call_ns(call_wrapped, chunk)))
            rss.append(rss_mb())
        sampler.shutdown(3.0)
        stats = sampler.stats()
        reset_sampler()
        results[key] = {
            "added_us": statistics.median(costs) - statistics.median(bases),
            "rss_first_mb": rss[1],
            "rss_last_mb": rss[-1],
            "stats": stats,
            "accounted": stats["sent"] + sum(stats["dropped"].values()) + stats["queued"] + stats["in_flight"]
            == stats["sampled"],
        }
    return results


# -- 3. worker throughput ------------------------------------------------------------------
def _record_call_payload(i: int) -> dict[str, Any]:
    text = (
        "Hello, my order #%d arrived damaged. The box was crushed and the blender jar is cracked. "
        "I would like a replacement rather than a refund if possible, as I need it for a party on Saturday. "
        % i
    ) * 6
    answer = (
        "I'm sorry your blender arrived damaged. I've arranged a replacement to ship today with express "
        "delivery at no cost, so it should reach you by Friday. "
    ) * 4
    return {"text": text, "answer": answer}


def raw_produce_rate(bootstrap: str, values: list[bytes]) -> float:
    from kafka import KafkaProducer

    from sampler._transport import _trace_id_partitioner_class

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        api_version=(2, 8),
        acks=1,
        enable_idempotence=False,
        linger_ms=20,
        batch_size=512 * 1024,
        metrics_enabled=False,
        partitioner=_trace_id_partitioner_class()(),
    )
    producer.send("raw-baseline", value=b"warm", key=b"0").get(10)
    t0 = time.perf_counter()
    for i, value in enumerate(values):
        producer.send("raw-baseline", value=value, key=b"%032x" % i, headers=[("content-type", b"application/json")])
    producer.flush(60)
    elapsed = time.perf_counter() - t0
    producer.close()
    return len(values) / elapsed


def worker_throughput(bootstrap: str, n: int) -> dict[str, Any]:
    payloads = [_record_call_payload(i) for i in range(n)]
    sampler.init(app="bench", rate=1.0, bootstrap_servers=bootstrap, queue_size=n + 10)
    sampler.record_call(model="warm", input_messages="warm", output_messages="up")
    sampler.flush(30)
    base_sent = sampler.stats()["sent"]
    s = STATE.sampler
    assert s is not None
    # Fill the queue first with the worker held off, then time the worker alone.
    s._wakeup.clear()
    t_offer = time.perf_counter()
    for p in payloads:
        sampler.record_call(
            model="claude-x",
            input_messages=[{"role": "user", "content": p["text"]}],
            output_messages=p["answer"],
            usage={"input_tokens": 512, "output_tokens": 96},
            latency_ms=812.0,
            category="shipping",
        )
    offer_s = time.perf_counter() - t_offer
    t0 = time.perf_counter()
    sampler.flush(300)
    elapsed = time.perf_counter() - t0
    stats = sampler.stats()
    reset_sampler()
    sent = stats["sent"] - base_sent
    size = len(json.dumps({"m": payloads[0]}))
    return {
        "records": n,
        "sent": sent,
        "seconds": elapsed,
        "rate": sent / (elapsed + offer_s) if elapsed else 0.0,
        "worker_rate": sent / elapsed if elapsed else 0.0,
        "approx_bytes": size,
        "dropped": stats["dropped"],
    }


# -- 4. redaction -------------------------------------------------------------------------
REDACTION_PROSE = (
    "Hello, my order #48213 arrived damaged on Tuesday. The box was crushed and the blender jar is cracked, "
    "so I would like a replacement rather than a refund if possible: I need it for a party on Saturday. "
    "Your assistant said version 2.4 of the app fixes the tracking page; it still shows 3-5 business days. "
)


def redaction_cost(n: int, blocks: int) -> dict[str, tuple[float, float]]:
    """(best block, median block) µs per redact_text call on ~2 KB of prose, with nothing
    to find and with a few matches (an e-mail, a phone number, a card, an SSN after its
    context word). The best block is the cost without neighbours' interference (as timeit
    reports it); the median shows how much a shared machine adds."""
    from sampler.redact import Redactor

    redactor = Redactor()
    clean = (REDACTION_PROSE * 8)[:2048]
    few = (
        clean[:500] + " mail jane.doe@example.com " + clean[500:1000] + " call (415) 555-0132 "
        + clean[1000:1500] + " card 4111 1111 1111 1111, SSN 536-22-1987 " + clean[1500:1900]
    )  # fmt: skip
    texts = {"no match": clean, "a few matches": few}
    samples: dict[str, list[float]] = {key: [] for key in texts}
    for _ in range(blocks):  # alternate the two texts block by block (shared, noisy machine)
        for key, text in texts.items():
            t0 = _now()
            for _ in range(n):
                redactor.redact_text(text, {})
            samples[key].append((_now() - t0) / n / 1000.0)
    return {key: (min(values), statistics.median(values)) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    args = parser.parse_args()
    n_calls, repeats, rounds, n_down, n_records = (
        (300, 2, 2, 2000, 2000) if args.quick else (20_000, 5, 10, 50_000, 50_000)
    )

    with EmbeddedBroker() as broker:
        console.print(f"[bold]Tastevin sampler benchmarks[/] ({os.cpu_count()} cores, broker {broker.bootstrap_servers})")
        iso = isolated_wrapper_cost(broker.bootstrap_servers, n_calls, repeats)
        e2e = end_to_end(broker.bootstrap_servers, max(n_calls // 10, 100), rounds)
        down = broker_down(n_down)
        throughput = worker_throughput(broker.bootstrap_servers, n_records)
        payload = json.dumps({"x": "a" * 1900}).encode()
        raw = raw_produce_rate(broker.bootstrap_servers, [payload] * n_records)
    redaction = redaction_cost(200 if args.quick else 2000, 5 if args.quick else 21)

    bare_med = median_us(e2e["bare"])
    t_added = median_us(e2e["tastevin"]) - bare_med
    o_added = median_us(e2e["openllmetry"]) - bare_med
    expected_at_1pct = 0.99 * iso["unsampled"] + 0.01 * iso["sampled"]

    table = Table(title="1. Added latency per call (calling thread)")
    for col in ("path", "median µs", "p99 µs", "added µs", "target", "ok"):
        table.add_column(col)
    table.add_row("bare anthropic client (baseline)", f"{bare_med:.1f}", f"{p99_us(e2e['bare']):.1f}", "—", "", "")
    table.add_row(
        "+ tastevin instrument, rate 0.01",
        f"{median_us(e2e['tastevin']):.1f}",
        f"{p99_us(e2e['tastevin']):.1f}",
        f"{t_added:+.2f}",
        "",
        "",
    )
    table.add_row(
        "+ OpenLLMetry + OTel SDK, ParentBased(TraceIdRatioBased(0.01))",
        f"{median_us(e2e['openllmetry']):.1f}",
        f"{p99_us(e2e['openllmetry']):.1f}",
        f"{o_added:+.2f}",
        "",
        "",
    )
    table.add_row("tastevin wrapper alone, unsampled call", "", "", f"{iso['unsampled']:.2f}", "≤ 2", _ok(iso["unsampled"] <= 2))
    table.add_row("tastevin wrapper alone, sampled call", "", "", f"{iso['sampled']:.2f}", "≤ 50", _ok(iso["sampled"] <= 50))
    ratio = expected_at_1pct / o_added if o_added > 0 else float("inf")
    table.add_row(
        "tastevin at 1% (0.99·unsampled + 0.01·sampled) vs OpenLLMetry",
        "",
        "",
        f"{expected_at_1pct:.2f} vs {o_added:.2f}",
        "≤ 1/10",
        f"{_ok(ratio <= 0.1)} ({ratio:.3f})",
    )
    console.print(table)

    table = Table(title="2. Broker down for the whole run (wrapper alone, real KafkaTransport to a closed port)")
    for col in ("rate", "added µs", "RSS early → late MB", "sampled", "sent", "dropped", "accounted", "ok"):
        table.add_column(col)
    for key, r in down.items():
        bound = 2 if key == "rate 0.01" else 50
        flat = r["rss_last_mb"] - r["rss_first_mb"] < 20
        table.add_row(
            key,
            f"{r['added_us']:.2f}",
            f"{r['rss_first_mb']:.0f} → {r['rss_last_mb']:.0f}",
            str(r["stats"]["sampled"]),
            str(r["stats"]["sent"]),
            json.dumps(r["stats"]["dropped"]),
            str(r["accounted"]),
            _ok(r["accounted"] and flat and (r["added_us"] <= bound)),
        )
    console.print(table)

    table = Table(title="3. Worker throughput into a real broker (tansu), ~2 KB records")
    for col in ("path", "records/s", "target", "ok"):
        table.add_column(col)
    table.add_row("kafka-python raw produce, same broker (ceiling)", f"{raw:,.0f}", "", "")
    table.add_row(
        "tastevin worker: build + redact + serialise + produce",
        f"{throughput['worker_rate']:,.0f}",
        "≥ 20,000",
        _ok(throughput["worker_rate"] >= 20_000),
    )
    table.add_row("  (records sent / offered)", f"{throughput['sent']:,} / {throughput['records']:,}", "", "")
    console.print(table)

    table = Table(title="4. Redaction on the worker thread, ~2 KB of text (alternating blocks)")
    for col in ("text", "µs per text (best block)", "median block", "target", "ok"):
        table.add_column(col)
    for key, bound in (("no match", 30), ("a few matches", 60)):
        best, median = redaction[key]
        table.add_row(key, f"{best:.1f}", f"{median:.1f}", f"≤ {bound}", _ok(best <= bound))
    console.print(table)


def _ok(flag: bool) -> str:
    return "[green]yes[/]" if flag else "[red]NO[/]"


if __name__ == "__main__":
    main()
