"""The simulated model as a server: latency, token counts, determinism, failures, clean shutdown."""

from __future__ import annotations

import random
import statistics
import threading
from typing import Any

import anthropic
import pytest

from reviewer.errors import ConfigError
from judge.demo import LatencyModel, ModelBehaviour, SimulatedModel, estimate_tokens, plan_call

from .conftest import CLEAN


def _client(model: SimulatedModel, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=model.url, max_retries=0, **options)


def test_latency_is_lognormal_around_the_configured_median_and_capped() -> None:
    latency = LatencyModel(base_ms=400, ms_per_output_token=8, sigma=0.4, scale=1.0, max_s=100.0)
    rng = random.Random(0)
    draws = [latency.sample_s(rng, 100) for _ in range(4000)]
    assert latency.median_s(100) == pytest.approx(1.2)
    assert statistics.median(draws) == pytest.approx(1.2, rel=0.05)
    assert statistics.quantiles(draws, n=100)[98] == pytest.approx(1.2 * 2.54, rel=0.15)  # e^(2.326·0.4)
    capped = LatencyModel(scale=1.0, max_s=0.9)
    assert max(capped.sample_s(rng, 500) for _ in range(200)) == 0.9


def test_scale_shrinks_latency() -> None:
    assert LatencyModel(scale=0.05).median_s(200) == pytest.approx((0.4 + 1.6) * 0.05)


def test_a_request_always_gets_the_same_answer_and_tokens_follow_lengths() -> None:
    call = plan_call(1, 3)
    with SimulatedModel(CLEAN) as model:
        client = _client(model)
        first = client.messages.create(**call.request_kwargs("claude-x"))
        again = client.messages.create(**call.request_kwargs("claude-x"))
        client.close()
    text = first.content[0].text  # type: ignore[union-attr]
    assert first.content == again.content and first.usage == again.usage
    assert first.usage.output_tokens == estimate_tokens(text)
    messages = [m["content"] for m in call.messages]
    assert first.usage.input_tokens == estimate_tokens(call.system) + sum(estimate_tokens(m) + 4 for m in messages)


def test_the_model_seed_changes_the_answers() -> None:
    body = plan_call(1, 3).request_kwargs("claude-x")
    texts = set()
    for seed in range(6):
        model = SimulatedModel(ModelBehaviour(seed=seed, flaw_rate=0.0, error_rate=0.0, hang_rate=0.0))
        texts.add(model._respond(body).text)
    assert len(texts) > 1


def test_request_log_is_bounded() -> None:
    with SimulatedModel(CLEAN, keep_requests=5) as model:
        client = _client(model)
        for index in range(25):
            client.messages.create(**plan_call(0, index).request_kwargs("claude-x"))
        client.close()
        assert 5 <= len(model.requests) <= 10 and sum(model.replies().values()) == 25


def test_a_hang_times_the_client_out_and_stop_still_joins_everything() -> None:
    before = set(threading.enumerate())
    model = SimulatedModel(ModelBehaviour(latency=LatencyModel(scale=0.0), hang_rate=1.0, error_rate=0.0, hang_s=0.5))
    model.start()
    client = _client(model, timeout=0.1)
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(**plan_call(0, 0).request_kwargs("claude-x"))
    model.stop()
    model.stop()  # idempotent
    assert set(threading.enumerate()) - before == set()
    assert model.replies() == {"hang": 1}
    client.close()


def test_stop_closes_idle_keep_alive_connections() -> None:
    before = set(threading.enumerate())
    with SimulatedModel(CLEAN) as model:
        client = _client(model)  # left open: its pooled connection keeps a handler thread waiting
        client.messages.create(**plan_call(0, 0).request_kwargs("claude-x"))
        assert len(set(threading.enumerate()) - before) >= 2
    assert set(threading.enumerate()) - before == set()
    client.close()


@pytest.mark.parametrize("status", [529, 500])
def test_errors_are_real_api_errors(status: int) -> None:
    behaviour = ModelBehaviour(error_rate=1.0, hang_rate=0.0)
    with SimulatedModel(behaviour) as model:
        client = _client(model)
        seen = set()
        for index in range(12):
            try:
                client.messages.create(**plan_call(0, index).request_kwargs("claude-x"))
            except anthropic.APIStatusError as exc:
                seen.add(exc.status_code)
        client.close()
    assert status in seen and seen <= {529, 500}


@pytest.mark.parametrize(
    "bad",
    [{"flaw_rate": 1.5}, {"error_rate": -0.1}, {"error_rate": 0.6, "hang_rate": 0.6}, {"hang_s": -1.0}],
    ids=["flaw", "error", "sum", "hang_s"],
)
def test_bad_behaviour_fails_at_construction(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        ModelBehaviour(**bad)


def test_bad_latency_fails_at_construction() -> None:
    with pytest.raises(ConfigError):
        LatencyModel(sigma=-1)
