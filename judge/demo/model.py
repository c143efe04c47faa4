"""The simulated model: a local HTTP server speaking the Anthropic Messages API.

Built on :class:`judge.testing.FakeAnthropicServer` (the real anthropic SDK cannot tell
it from the API), with a responder that writes support replies (see
:mod:`judge.demo.replies`), token counts from the text lengths (about four characters
a token), a lognormal latency per call, an occasional overloaded/server error and an
occasional hang long enough for the client to time out.

Every decision for a request is drawn from a generator seeded with the request body and
``ModelBehaviour.seed``, so the same request always gets the same reply, latency and
failure, whichever thread serves it.

Threading: the server runs on its own thread and serves each connection on a handler
thread. :meth:`SimulatedModel.stop` closes the open connections and joins every handler
thread, so nothing outlives it (a hanging request finishes its ``hang_s`` sleep first).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from judge.testing import FakeAnthropicServer, Reply

from reviewer.errors import ConfigError
from .replies import compose_reply, request_text

__all__ = ["LatencyModel", "ModelBehaviour", "SimulatedModel", "estimate_tokens"]


CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    """Tokens for ``text`` at about four characters a token (English prose); at least 1."""
    return max(1, round(len(text) / CHARS_PER_TOKEN))


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a probability between 0 and 1, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class LatencyModel:
    """Latency of one call: ``(base_ms + ms_per_output_token × tokens) × e^N(0, sigma) × scale``.

    The median is the bracket times ``scale``; ``sigma`` sets the tail (0.4: the p99 is
    about 2.5× the median). ``scale`` shrinks real-world latencies so a demo fills a store
    in a minute (0.05: a 200-token reply takes ~100 ms instead of ~2 s). The result is
    capped at ``max_s`` so a slow normal call never looks like a hang.
    """

    base_ms: float = 400.0
    ms_per_output_token: float = 8.0
    sigma: float = 0.4
    scale: float = 0.05
    max_s: float = 1.0

    def __post_init__(self) -> None:
        if self.base_ms < 0 or self.ms_per_output_token < 0 or self.sigma < 0:
            raise ConfigError("latency base_ms, ms_per_output_token and sigma must be ≥ 0")
        if self.scale < 0 or self.max_s < 0:
            raise ConfigError("latency scale and max_s must be ≥ 0 (0 turns latency off)")

    def median_s(self, output_tokens: int) -> float:
        """The median latency in seconds of a reply of ``output_tokens`` tokens (before the cap)."""
        return (self.base_ms + self.ms_per_output_token * output_tokens) / 1000.0 * self.scale

    def sample_s(self, rng: random.Random, output_tokens: int) -> float:
        """One latency draw in seconds; consumes exactly one gauss draw from ``rng``."""
        return min(self.max_s, self.median_s(output_tokens) * math.exp(rng.gauss(0.0, self.sigma)))


@dataclass(frozen=True, kw_only=True)
class ModelBehaviour:
    """How the simulated model behaves; rates are per request, drawn independently.

    ``flaw_rate``: replies that fail one rule check of their rubric (a normal share of
    slips). ``regressed_failure_rate``: replies to the regressed shipping prompt that
    are terse or refusals (the rest are still fine). ``error_rate``: requests answered
    with 529 ``overloaded_error`` (two thirds) or 500 ``api_error``. ``hang_rate``:
    requests answered after ``hang_s`` — set it above the app's client timeout so those
    calls time out. Raises ConfigError for a rate outside [0, 1] or a negative ``hang_s``.
    """

    latency: LatencyModel = field(default_factory=LatencyModel)
    flaw_rate: float = 0.03
    regressed_failure_rate: float = 0.9
    error_rate: float = 0.01
    hang_rate: float = 0.004
    hang_s: float = 2.5
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("flaw_rate", "regressed_failure_rate", "error_rate", "hang_rate"):
            _check_rate(name, getattr(self, name))
        if self.error_rate + self.hang_rate > 1.0:
            raise ConfigError("error_rate + hang_rate must not exceed 1")
        if self.hang_s < 0:
            raise ConfigError(f"hang_s must be ≥ 0, not {self.hang_s!r}")


class SimulatedModel(FakeAnthropicServer):
    """A Messages API server answering like a support model; a context manager.

    ``start()`` binds 127.0.0.1 (``port`` 0: a free one) and returns self; ``url`` is the
    ``base_url`` for the anthropic client; ``stop()`` blocks until every connection is
    closed and every handler thread has ended. ``replies()`` counts answers by kind
    (``ok``, ``flawed``, ``regressed``, ``error``, ``hang``); thread-safe. ``requests``
    keeps only the newest ``keep_requests`` request bodies, so a long demo stays small.
    """

    def __init__(
        self, behaviour: ModelBehaviour | None = None, *, port: int = 0, keep_requests: int = 1000
    ) -> None:
        super().__init__(self._respond, port=port, keep_requests=keep_requests)
        self.behaviour = behaviour or ModelBehaviour()
        self._kinds: Counter[str] = Counter()
        self._kinds_lock = threading.Lock()

    # -- answers ---------------------------------------------------------------------------
    def replies(self) -> dict[str, int]:
        """Answers so far by kind: ok, flawed, regressed, error, hang."""
        with self._kinds_lock:
            return dict(self._kinds)

    def _count(self, kind: str) -> None:
        with self._kinds_lock:
            self._kinds[kind] += 1

    def _respond(self, body: dict[str, Any]) -> Reply:
        behaviour = self.behaviour
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(f"{behaviour.seed}:{canonical}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        draw = rng.random()
        if draw < behaviour.error_rate:
            self._count("error")
            if rng.random() < 2 / 3:
                return Reply(status=529, error_type="overloaded_error", text="Overloaded")
            return Reply(status=500, error_type="api_error", text="Internal server error")
        hang = draw < behaviour.error_rate + behaviour.hang_rate
        flawed = rng.random() < behaviour.flaw_rate
        regressed_fails = rng.random() < behaviour.regressed_failure_rate
        text, kind = compose_reply(body, rng, flawed=flawed, regressed_fails=regressed_fails)
        system, messages = request_text(body)
        input_tokens = estimate_tokens(system) + sum(estimate_tokens(m) + 4 for m in messages)
        output_tokens = estimate_tokens(text)
        delay_s = behaviour.latency.sample_s(rng, output_tokens)
        if hang:
            delay_s = behaviour.hang_s
        self._count("hang" if hang else kind)
        return Reply(text=text, input_tokens=input_tokens, output_tokens=output_tokens, delay_s=delay_s)
