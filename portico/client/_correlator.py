"""Event correlation as client-go's `EventCorrelator` does it (tools/record): pure.

Every event a component records passes three steps before it is written:

1. Aggregation (`EventAggregatorByReasonFunc`): events alike but for their message
   (same source, object, type, reason, reporting controller and instance) are
   counted by distinct message within `AGGREGATE_INTERVAL` seconds; from the
   `AGGREGATE_MAX`-th distinct message on, the event becomes one combined event
   whose message is "(combined from similar events): <latest message>".
2. De-duplication (`eventLogger`): an event identical to one already written (same
   source, object incl. fieldPath, type, reason and message; or the same combined
   event) is not written again: the written one gets `count` + 1, the new
   `lastTimestamp` and message (a patch), keeping its name and `firstTimestamp`.
3. Spam filtering (`EventSourceObjectSpamFilter`): a token bucket per (source,
   object), `SPAM_BURST` events at once then one every `SPAM_REFILL_SECONDS`; events
   past it are not written, but step 2 has counted them, so the next one written
   carries the whole count (hence kubelet's "(x64 over 17m)").

Caches are LRUs of `CACHE_SIZE` entries, as client-go's.  The clock (seconds since
the epoch) is injected, so the whole behaviour is testable without waiting.
"""

from __future__ import annotations

import copy
import datetime
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Object = dict[str, Any]
Clock = Callable[[], float]
AGGREGATE_MAX = 10
AGGREGATE_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_REFILL_SECONDS = 300.0
CACHE_SIZE = 4096
COMBINED_PREFIX = "(combined from similar events): "
V = TypeVar("V")


def rfc3339(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(int(seconds), datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class _Lru(Generic[V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)


def _ref_key(event: Object, with_field_path: bool) -> list[str]:
    ref, source = event.get("involvedObject") or {}, event.get("source") or {}
    parts = [source.get("component", ""), source.get("host", ""), ref.get("kind", ""),
             ref.get("namespace", ""), ref.get("name", "")]
    if with_field_path:
        parts.append(ref.get("fieldPath", ""))
    return [*parts, ref.get("uid", ""), ref.get("apiVersion", "")]


def event_key(event: Object) -> str:
    """client-go's `getEventKey`: what makes two events the same event."""
    return "\x00".join([*_ref_key(event, True), event.get("type", ""),
                        event.get("reason", ""), event.get("message", "")])


def aggregate_key(event: Object) -> str:
    """`EventAggregatorByReasonFunc`'s key: the same event but for its message."""
    return "\x00".join([*_ref_key(event, False), event.get("type", ""),
                        event.get("reason", ""), event.get("reportingComponent", ""),
                        event.get("reportingInstance", "")])


def spam_key(event: Object) -> str:
    """`getSpamKey`: the token bucket's key (source and object)."""
    return "\x00".join(_ref_key(event, False))


@dataclass
class _Aggregate:
    messages: set[str] = field(default_factory=set)
    last: float = 0.0


@dataclass
class _Logged:
    name: str
    count: int
    first_timestamp: str


@dataclass
class _Bucket:
    tokens: float
    last: float


@dataclass(frozen=True)
class Correlated:
    """What to write: `event` (complete); `patch` is set when it updates the event of
    that name already written (count, lastTimestamp, message)."""
    event: Object
    patch: Object | None


class EventCorrelator:
    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._aggregates: _Lru[_Aggregate] = _Lru(CACHE_SIZE)
        self._logged: _Lru[_Logged] = _Lru(CACHE_SIZE)
        self._buckets: _Lru[_Bucket] = _Lru(CACHE_SIZE)

    def _aggregate(self, event: Object, now: float) -> tuple[Object, str]:
        key = aggregate_key(event)
        record = self._aggregates.get(key)
        if record is None or now - record.last > AGGREGATE_INTERVAL:
            record = _Aggregate()
        record.messages.add(event.get("message", ""))
        record.last = now
        self._aggregates.put(key, record)
        if len(record.messages) < AGGREGATE_MAX:
            return event, event_key(event)
        record.messages.pop()
        combined = copy.deepcopy(event)
        combined["message"] = COMBINED_PREFIX + event.get("message", "")
        return combined, key

    def _observe(self, event: Object, key: str) -> Correlated:
        logged = self._logged.get(key)
        if logged is None:
            self._logged.put(key, _Logged(event["metadata"]["name"], 1,
                                          event["firstTimestamp"]))
            return Correlated(event, None)
        logged.count += 1
        event = copy.deepcopy(event)
        event["metadata"]["name"] = logged.name
        event["count"], event["firstTimestamp"] = logged.count, logged.first_timestamp
        patch = {"count": logged.count, "lastTimestamp": event["lastTimestamp"],
                 "message": event["message"]}
        return Correlated(event, patch)

    def _allowed(self, event: Object, now: float) -> bool:
        key = spam_key(event)
        bucket = self._buckets.get(key) or _Bucket(float(SPAM_BURST), now)
        bucket.tokens = min(float(SPAM_BURST),
                            bucket.tokens + (now - bucket.last) / SPAM_REFILL_SECONDS)
        bucket.last = now
        self._buckets.put(key, bucket)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def correlate(self, event: Object) -> Correlated | None:
        """What to write for a newly recorded `event`, or None when it is filtered out."""
        now = self.clock()
        aggregated, key = self._aggregate(event, now)
        result = self._observe(aggregated, key)
        return result if self._allowed(result.event, now) else None
