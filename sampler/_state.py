"""Process-wide state shared by the entry points: the active sampler and dedup marks."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._core import Sampler


class _State:
    __slots__ = ("sampler", "processors")

    def __init__(self) -> None:
        self.sampler: Sampler | None = None
        # Number of live SamplingSpanProcessors; the wrapper marks its calls only when > 0.
        self.processors = 0


STATE = _State()

# True while an instrumented client call runs, so a SamplingSpanProcessor can skip the
# GenAI spans started inside it: the wrapper records that call already.
IN_WRAPPED_CALL: ContextVar[bool] = ContextVar("tastevin_in_wrapped_call", default=False)
