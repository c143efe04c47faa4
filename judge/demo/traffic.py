"""The simulated support app: paced, concurrent traffic through the real sampler middleware.

:class:`SupportTraffic` calls a Messages API (the :class:`~judge.demo.model.SimulatedModel`,
or any compatible ``base_url``) with the real anthropic SDK client wrapped by
``sampler.instrument``, tagging every call with ``sampler.tag(category, **attributes)``.
It samples nothing itself: the caller configures the process-wide sampler
(``sampler.init(...)``) before starting it.

Arrivals are a Poisson process at ``calls_per_s``: the planned offset of every call and
its content (:func:`judge.demo.customers.plan_call`) come from the seed alone, so two
runs with the same settings make the same calls. A run makes the calls planned within
``duration_s`` (and at most ``max_calls``); if the model is slower than the plan allows
with ``concurrency`` calls in flight, calls start late and the run overruns.

The regression switch: calls planned at or after ``regression_after_s`` (of planned
time), from call number ``regression_after_calls``, or from the next call once
:meth:`SupportTraffic.inject_regression` is called, are *regressed*: the mix shifts to
billing and refunds, conversations get longer, and shipping uses the terse prompt
``shipping-v8`` under which the simulated model stops naming the order.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

import anthropic

import sampler

from reviewer.errors import ConfigError, TastevinError
from .customers import CATEGORIES, PlannedCall, plan_call

__all__ = ["CallOutcome", "CategoryCounts", "SupportTraffic", "TrafficError", "TrafficProgress", "TrafficSettings"]

logger = logging.getLogger(__name__)

APP_NAME = "larkspur-support"
"""A service name for ``sampler.init(app=...)`` in the demo."""


class TrafficError(TastevinError):
    """The simulated app stopped because of a bug (not a failed model call); see ``__cause__``."""


@dataclass(frozen=True, kw_only=True)
class TrafficSettings:
    """Settings of one run; raises ConfigError on construction for a bad value.

    ``duration_s`` / ``max_calls``: the run ends at whichever comes first (both None: it
    runs until ``stop()``). ``model`` answers the support desks, ``router_model`` the
    ``classify-intent`` calls. ``timeout_s`` and ``max_retries`` configure the anthropic
    client. At most one regression rule is usually set; any rule that fires regresses.
    """

    calls_per_s: float = 20.0
    duration_s: float | None = 60.0
    max_calls: int | None = None
    concurrency: int = 8
    seed: int = 0
    model: str = "claude-sonnet-4-6"
    router_model: str = "claude-haiku-4-5"
    timeout_s: float = 1.5
    max_retries: int = 0
    api_key: str = field(default="sk-ant-demo-not-a-real-key", repr=False)
    regression_after_s: float | None = None
    regression_after_calls: int | None = None

    def __post_init__(self) -> None:
        if not self.calls_per_s > 0:
            raise ConfigError(f"calls_per_s must be > 0, not {self.calls_per_s!r}")
        if self.duration_s is not None and self.duration_s < 0:
            raise ConfigError(f"duration_s must be ≥ 0 (or None to run until stopped), not {self.duration_s!r}")
        if self.max_calls is not None and self.max_calls < 0:
            raise ConfigError(f"max_calls must be ≥ 0 (or None), not {self.max_calls!r}")
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be ≥ 1, not {self.concurrency!r}")
        if not self.timeout_s > 0 or self.max_retries < 0:
            raise ConfigError("timeout_s must be > 0 and max_retries ≥ 0")
        if self.regression_after_s is not None and self.regression_after_s < 0:
            raise ConfigError(f"regression_after_s must be ≥ 0, not {self.regression_after_s!r}")
        if self.regression_after_calls is not None and self.regression_after_calls < 0:
            raise ConfigError(f"regression_after_calls must be ≥ 0, not {self.regression_after_calls!r}")


@dataclass(frozen=True)
class CallOutcome:
    """One finished call. ``outcome``: ``ok``, ``timeout``, ``connection_error`` or ``status_<code>``."""

    index: int
    category: str
    regressed: bool
    outcome: str
    latency_s: float


@dataclass(frozen=True)
class CategoryCounts:
    """Finished calls of one category before and after the regression; ``errors`` of both."""

    before: int = 0
    after: int = 0
    errors: int = 0

    @property
    def total(self) -> int:
        return self.before + self.after


@dataclass(frozen=True)
class TrafficProgress:
    """A consistent snapshot of a run's counters."""

    started: int
    finished_calls: int
    in_flight: int
    by_category: Mapping[str, CategoryCounts]
    errors: Mapping[str, int]
    regression_from_call: int | None
    elapsed_s: float
    done: bool
    failure: str | None = None

    def mix(self, *, after: bool) -> dict[str, float]:
        """Each category's share of the finished calls before (or after) the regression."""
        counts = {name: c.after if after else c.before for name, c in self.by_category.items()}
        total = sum(counts.values())
        return {name: (n / total if total else 0.0) for name, n in counts.items()}


@dataclass
class _Counters:
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    category_errors: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


class SupportTraffic:
    """Runs the simulated support app against ``base_url``; a context manager.

    ``start()`` returns at once (a dispatcher thread paces the calls, ``concurrency``
    worker threads make them); ``wait(timeout_s)`` blocks until the run ends; ``stop()``
    ends it early, waits for the calls in flight and closes the client; ``run()`` does all
    three. ``progress()`` and ``inject_regression()`` are thread-safe and never block.
    ``on_call`` is called on a worker thread after every call; it must be quick, and an
    exception from it stops the run (``wait``/``run`` then raise TrafficError).
    A failed model call (status error, timeout) is counted, never raised.
    """

    def __init__(
        self,
        base_url: str,
        settings: TrafficSettings | None = None,
        *,
        on_call: Callable[[CallOutcome], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.settings = settings or TrafficSettings()
        self._on_call = on_call
        self._cond = threading.Condition()  # guards everything below
        self._counters = _Counters()
        self._started = 0
        self._finished_calls = 0
        self._in_flight = 0
        self._next_index = 0
        self._manual_regression_from: int | None = None
        self._regression_from: int | None = None
        self._failure: BaseException | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._t0 = 0.0
        self._dispatcher: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: anthropic.Anthropic | None = None

    # -- control ----------------------------------------------------------------------------
    def start(self) -> SupportTraffic:
        """Create the instrumented client and start pacing calls; raises if started twice."""
        if self._dispatcher is not None:
            raise RuntimeError("this SupportTraffic was already started; create a new one")
        s = self.settings
        client = anthropic.Anthropic(
            api_key=s.api_key, base_url=self.base_url, timeout=s.timeout_s, max_retries=s.max_retries
        )
        self._client = sampler.instrument(client)
        self._pool = ThreadPoolExecutor(max_workers=s.concurrency, thread_name_prefix="tastevin-demo-app")
        self._t0 = time.monotonic()
        self._dispatcher = threading.Thread(target=self._dispatch, name="tastevin-demo-dispatch", daemon=True)
        self._dispatcher.start()
        return self

    def inject_regression(self) -> int:
        """Regress every call planned from now on; returns the first regressed call's number.

        Idempotent: a second call (or an earlier time/count rule) keeps the earlier start.
        """
        with self._cond:
            if self._manual_regression_from is None:
                self._manual_regression_from = self._next_index
            return self._manual_regression_from if self._regression_from is None else self._regression_from

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the run has ended (True) or ``timeout_s`` passed (False).

        Raises TrafficError if the app itself failed (a bug, or ``on_call`` raising).
        """
        ended = self._done.wait(timeout_s)
        if ended and self._failure is not None:
            raise TrafficError(f"the simulated app stopped: {self._failure!r}") from self._failure
        return ended

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop planning calls, let the calls in flight finish and close the client.

        Blocks up to ``timeout_s`` (a call in flight can take up to the client's timeout).
        Never raises for the app's own failure (``wait`` reports it). Idempotent.
        """
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._dispatcher is not None:
            self._dispatcher.join(timeout_s)

    def run(self) -> TrafficProgress:
        """``start``, wait for the planned calls, ``stop``; returns the final progress."""
        self.start()
        try:
            self.wait()
        finally:
            self.stop()
        return self.progress()

    def __enter__(self) -> SupportTraffic:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- counters -----------------------------------------------------------------------------
    def progress(self) -> TrafficProgress:
        """A snapshot of the counters; thread-safe, never blocks for long."""
        with self._cond:
            c = self._counters
            by_category = {
                spec.name: CategoryCounts(
                    before=c.before[spec.name], after=c.after[spec.name], errors=c.category_errors[spec.name]
                )
                for spec in CATEGORIES
            }
            return TrafficProgress(
                started=self._started,
                finished_calls=self._finished_calls,
                in_flight=self._in_flight,
                by_category=by_category,
                errors=dict(c.errors),
                regression_from_call=self._regression_from,
                elapsed_s=time.monotonic() - self._t0 if self._t0 else 0.0,
                done=self._done.is_set(),
                failure=None if self._failure is None else repr(self._failure),
            )

    # -- the dispatcher thread ------------------------------------------------------------------
    def _regressed(self, index: int, offset_s: float) -> bool:
        s = self.settings
        rules = (
            s.regression_after_calls is not None and index >= s.regression_after_calls,
            s.regression_after_s is not None and offset_s >= s.regression_after_s,
            self._manual_regression_from is not None and index >= self._manual_regression_from,
        )
        return any(rules)

    def _take_slot(self) -> bool:
        with self._cond:
            while self._in_flight >= self.settings.concurrency and not self._stop.is_set():
                self._cond.wait()
            if self._stop.is_set():
                return False
            self._in_flight += 1
            return True

    def _dispatch(self) -> None:
        s = self.settings
        pool = self._pool
        assert pool is not None
        arrivals = random.Random(f"tastevin-demo-arrivals:{s.seed}")
        offset_s = 0.0
        index = 0
        try:
            while not self._stop.is_set():
                if s.max_calls is not None and index >= s.max_calls:
                    break
                offset_s += arrivals.expovariate(s.calls_per_s)
                if s.duration_s is not None and offset_s > s.duration_s:
                    break
                if self._stop.wait(max(0.0, self._t0 + offset_s - time.monotonic())):
                    break
                if not self._take_slot():
                    break
                with self._cond:  # atomic with inject_regression()
                    regressed = self._regressed(index, offset_s)
                    call = plan_call(s.seed, index, regressed=regressed)
                    if regressed and self._regression_from is None:
                        self._regression_from = index
                    self._started += 1
                    self._next_index = index + 1
                pool.submit(self._call, call).add_done_callback(self._on_done)
                index += 1
        except Exception as exc:  # a bug here must reach wait(), not die with the thread
            logger.error("demo traffic: the dispatcher failed; stopping", exc_info=exc)
            with self._cond:
                self._failure = self._failure or exc
        finally:
            pool.shutdown(wait=True)
            if self._client is not None:
                self._client.close()
            self._done.set()

    def _on_done(self, future: Future[None]) -> None:
        failure = future.exception()
        if failure is not None:
            logger.error("demo traffic: a call failed unexpectedly; stopping", exc_info=failure)
            with self._cond:
                self._failure = self._failure or failure
            self._stop.set()
            with self._cond:
                self._cond.notify_all()

    # -- a worker thread --------------------------------------------------------------------------
    def _call(self, call: PlannedCall) -> None:
        client = self._client
        assert client is not None
        s = self.settings
        model = s.router_model if call.category == "classify-intent" else s.model
        outcome = "ok"
        t0 = time.perf_counter()
        try:
            with sampler.tag(call.category, **call.attributes):
                try:
                    client.messages.create(**call.request_kwargs(model))
                except anthropic.APITimeoutError:
                    outcome = "timeout"
                except anthropic.APIConnectionError:
                    outcome = "connection_error"
                except anthropic.APIStatusError as exc:
                    outcome = f"status_{exc.status_code}"
        finally:
            latency_s = time.perf_counter() - t0
            with self._cond:
                self._in_flight -= 1
                self._finished_calls += 1
                phase = self._counters.after if call.regressed else self._counters.before
                phase[call.category] += 1
                if outcome != "ok":
                    self._counters.errors[outcome] += 1
                    self._counters.category_errors[call.category] += 1
                self._cond.notify_all()
        if self._on_call is not None:
            self._on_call(CallOutcome(call.index, call.category, call.regressed, outcome, latency_s))
