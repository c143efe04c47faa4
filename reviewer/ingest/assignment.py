"""What the ingest consumer holds: its partitions, whether it has caught up on them, and
since when it has been waiting with none.

``tastevin ingest --until-idle`` must never exit before it was assigned partitions and
read them to the end: a consumer group takes seconds to form (real Kafka waits
``group.initial.rebalance.delay.ms``, 3 s by default, before the first assignment; tansu
about half the session timeout), and another member may hold every partition. So the
idle clock runs only while this consumer holds an assignment and has reached the end of
every partition in it. The end is librdkafka's partition-EOF event (the fetcher reached
the high watermark of the fetch response, which is exact, unlike ListOffsets on tansu),
and, should an EOF be missed, the consumer's position at the cached high watermark.

Single-threaded: the rebalance callbacks and the loop both run on the consume thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["AssignmentWatch", "Partition", "partitions_of", "waiting_warning"]

Partition = tuple[str, int]


class AssignmentWatch:
    """Tracks the assignment and the caught-up state of one consumer.

    ``clock`` is ``time.monotonic`` unless a test gives another. Times are seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.assigned: set[Partition] = set()
        self._next: dict[Partition, int] = {}  # next offset to read, from the records seen
        self._end: dict[Partition, int] = {}  # offset of the last end-of-partition event
        self._unassigned_since: float | None = clock()
        self._idle_since: float | None = None
        self.ever_assigned = False

    # -- rebalance callbacks -------------------------------------------------------------
    def assign(self, partitions: Iterable[Partition]) -> None:
        for key in partitions:
            self.assigned.add(key)
            self._end.pop(key, None)  # the fetcher starts again from the committed offset
            self._next.pop(key, None)
        if self.assigned:
            self.ever_assigned = True
            self._unassigned_since = None
        self._idle_since = None

    def revoke(self, partitions: Iterable[Partition]) -> None:
        for key in partitions:
            self.assigned.discard(key)
            self._end.pop(key, None)
            self._next.pop(key, None)
        if not self.assigned and self._unassigned_since is None:
            self._unassigned_since = self._clock()
        self._idle_since = None

    # -- what the loop saw ---------------------------------------------------------------
    def saw(self, next_offsets: Mapping[Partition, int], ends: Mapping[Partition, int]) -> None:
        """One poll's records (the next offset per partition) and end-of-partition events
        (their offset). A partition is at its end when its last event is at or past the
        last record read; any record read resets the idle clock."""
        for key, offset in next_offsets.items():
            self._next[key] = offset
        for key, offset in ends.items():
            if key in self.assigned:
                self._end[key] = offset
        if next_offsets:
            self._idle_since = None
        if self._idle_since is None and self.caught_up():
            self._idle_since = self._clock()

    def caught_up_by_position(self, positions: Mapping[Partition, int], highs: Mapping[Partition, int]) -> None:
        """The fallback for a missed end event: a partition whose position is at its
        (cached) high watermark is at its end. Unknown values (negative) prove nothing."""
        for key in self.behind():
            position, high = positions.get(key, -1), highs.get(key, -1)
            if position >= 0 and high >= 0 and position >= high:
                self._end[key] = max(position, self._next.get(key, 0))
        if self._idle_since is None and self.caught_up():
            self._idle_since = self._clock()

    def _at_end(self, key: Partition) -> bool:
        end = self._end.get(key)
        return end is not None and end >= self._next.get(key, 0)

    def caught_up(self) -> bool:
        """True when partitions are assigned and every one was read to its end."""
        return bool(self.assigned) and all(self._at_end(key) for key in self.assigned)

    def behind(self) -> list[Partition]:
        """Assigned partitions not yet read to their end."""
        return sorted(key for key in self.assigned if not self._at_end(key))

    def idle_for(self) -> float:
        """Seconds caught up with nothing new; 0 while not caught up or unassigned."""
        return 0.0 if self._idle_since is None else self._clock() - self._idle_since

    def waiting_for(self) -> float | None:
        """Seconds without any partition, None while some are assigned."""
        return None if self._unassigned_since is None else self._clock() - self._unassigned_since


def partitions_of(topic_partitions: Iterable[Any]) -> list[Partition]:
    """``(topic, partition)`` keys of confluent-kafka ``TopicPartition`` objects."""
    return [(tp.topic, tp.partition) for tp in topic_partitions]


def waiting_warning(*, topic: str, group_id: str, waited_s: float, ever_assigned: bool) -> str:
    """The warning for a consumer that has held no partition for ``waited_s`` seconds."""
    what = "since its partitions were revoked" if ever_assigned else "since it joined"
    return (
        f"no partition of topic {topic} assigned to this consumer in group {group_id} for {waited_s:.0f} s "
        f"({what}). Likely causes: other members of group {group_id} hold every partition of {topic} "
        f"(more consumers than partitions, or another `tastevin ingest` with this --group-id still running); "
        f"the group is stuck rebalancing (a member that died mid-join is dropped only after its session "
        f"timeout); or topic {topic} does not exist or has no partitions (check --topic)"
    )
