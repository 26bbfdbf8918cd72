"""client-go's event correlation: de-duplication into counts, aggregation, spam filter."""

from __future__ import annotations

from typing import Any

from portico.client._correlator import (
    AGGREGATE_MAX,
    COMBINED_PREFIX,
    SPAM_BURST,
    SPAM_REFILL_SECONDS,
    EventCorrelator,
    rfc3339,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def event(message: str, reason: str = "Unhealthy", field_path: str = "spec.containers{c}",
          name: str = "p.1", clock: Clock | None = None) -> dict[str, Any]:
    stamp = rfc3339(clock() if clock else 0)
    return {"metadata": {"name": name, "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u",
                               "apiVersion": "v1", "fieldPath": field_path},
            "reason": reason, "message": message, "type": "Warning",
            "source": {"component": "kubelet", "host": "node-1"},
            "reportingComponent": "kubelet", "reportingInstance": "node-1",
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1}


def test_a_repeated_event_is_counted_on_the_first_one() -> None:
    clock = Clock()
    correlator = EventCorrelator(clock)
    first = correlator.correlate(event("failed", name="p.1", clock=clock))
    assert first is not None and first.patch is None
    clock.now += 7
    again = correlator.correlate(event("failed", name="p.2", clock=clock))
    assert again is not None
    assert again.event["metadata"]["name"] == "p.1"
    assert (again.event["count"], again.event["firstTimestamp"]) == (
        2, first.event["firstTimestamp"])
    assert again.patch == {"count": 2, "lastTimestamp": rfc3339(clock.now),
                           "message": "failed"}


def test_another_container_or_message_is_another_event() -> None:
    correlator = EventCorrelator(Clock())
    correlator.correlate(event("a"))
    other_container = correlator.correlate(event("a", field_path="spec.containers{d}"))
    other_message = correlator.correlate(event("b"))
    assert other_container is not None and other_container.patch is None
    assert other_message is not None and other_message.patch is None


def test_similar_events_are_combined_from_the_tenth_message() -> None:
    correlator = EventCorrelator(Clock())
    results = [correlator.correlate(event(f"output {i}", name=f"p.{i}"))
               for i in range(AGGREGATE_MAX + 2)]
    assert all(r is not None for r in results)
    assert [r.event["message"] for r in results[:AGGREGATE_MAX - 1]] == [
        f"output {i}" for i in range(AGGREGATE_MAX - 1)]
    combined, later = results[AGGREGATE_MAX - 1], results[AGGREGATE_MAX]
    assert combined is not None and later is not None
    assert combined.event["message"] == COMBINED_PREFIX + f"output {AGGREGATE_MAX - 1}"
    assert combined.patch is None
    assert later.event["metadata"]["name"] == combined.event["metadata"]["name"]
    assert later.patch is not None and later.patch["count"] == 2
    assert later.patch["message"] == COMBINED_PREFIX + f"output {AGGREGATE_MAX}"


def test_spam_filter_lets_a_burst_through_then_one_per_refill() -> None:
    clock = Clock()
    correlator = EventCorrelator(clock)
    passed = [correlator.correlate(event("same")) for _ in range(SPAM_BURST + 5)]
    assert sum(p is not None for p in passed) == SPAM_BURST
    clock.now += SPAM_REFILL_SECONDS
    allowed = correlator.correlate(event("same"))
    assert allowed is not None and allowed.patch is not None
    assert allowed.patch["count"] == SPAM_BURST + 6  # the filtered repeats were counted
    assert correlator.correlate(event("same", reason="Other")) is None  # same object
