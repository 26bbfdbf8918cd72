"""WorkQueue on virtual time: dedupe, dirty re-adds, per-key exclusion, retries, delays.

Every scenario runs on `run_on_fake_clock`: the loop's time is the fake clock, so
`await clock.sleep(s)` first runs everything that can run, then jumps to `s`
later; the times a sync records are exact, and no test sleeps for real.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from portico.client import WorkQueue
from portico.testing.clock import FakeClock, run_on_fake_clock


@dataclass
class Syncs:
    """A sync function that records (key, time) and can be made to block or fail."""

    clock: FakeClock
    calls: list[tuple[str, float]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    requeue: dict[str, float] = field(default_factory=dict)
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    running: dict[str, int] = field(default_factory=dict)
    most_at_once: dict[str, int] = field(default_factory=dict)

    async def __call__(self, key: str) -> float | None:
        self.calls.append((key, self.clock.now()))
        self.running[key] = self.running.get(key, 0) + 1
        self.most_at_once[key] = max(self.most_at_once.get(key, 0), self.running[key])
        try:
            if key in self.gates:
                await self.gates[key].wait()
            if self.failures.get(key, 0) > 0:
                self.failures[key] -= 1
                raise RuntimeError(f"{key} failed")
            return self.requeue.pop(key, None)
        finally:
            self.running[key] -= 1

    def keys(self) -> list[str]:
        return [key for key, _ in self.calls]

    def times(self, key: str) -> list[float]:
        return [when for k, when in self.calls if k == key]


Scenario = Callable[[WorkQueue, Syncs, FakeClock], Awaitable[None]]


def run(scenario: Scenario, workers: int = 4, max_backoff: float = 5.0) -> Syncs:
    """Run `scenario` against a started queue on a fake clock starting at 0."""
    async def main(clock: FakeClock) -> Syncs:
        syncs = Syncs(clock)
        queue = WorkQueue("test", syncs, workers=workers, max_backoff=max_backoff)
        queue.start()
        try:
            await scenario(queue, syncs, clock)
        finally:
            await queue.stop()
        return syncs
    return run_on_fake_clock(main)


def test_a_key_added_many_times_waits_once() -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        for key in ("a", "b", "a", "a", "b"):
            queue.add(key)
        assert len(queue) == 2
        await clock.sleep(1)
        assert len(queue) == 0
    assert sorted(run(scenario).keys()) == ["a", "b"]


def test_an_add_while_processing_runs_the_key_once_more_afterwards() -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        syncs.gates["a"] = asyncio.Event()
        queue.add("a")
        await clock.sleep(1)
        assert syncs.keys() == ["a"] and syncs.running["a"] == 1
        queue.add("a")
        queue.add("a")  # folds into the one dirty mark
        await clock.sleep(1)
        assert syncs.keys() == ["a"]  # not while the first sync runs
        syncs.gates["a"].set()
        await clock.sleep(1)
    syncs = run(scenario)
    assert syncs.keys() == ["a", "a"]
    assert syncs.times("a") == [0.0, 2.0]


def test_one_worker_per_key_many_keys_in_parallel() -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        gate = asyncio.Event()
        syncs.gates.update({"a": gate, "b": gate, "c": gate})
        for key in ("a", "b", "c"):
            queue.add(key)
        await clock.sleep(1)
        assert {k: syncs.running[k] for k in "abc"} == {"a": 1, "b": 1, "c": 1}
        queue.add("a")  # dirty: must not start a second "a" beside the first
        await clock.sleep(1)
        gate.set()
        await clock.sleep(1)
    syncs = run(scenario)
    assert sorted(syncs.keys()) == ["a", "a", "b", "c"]
    assert syncs.most_at_once == {"a": 1, "b": 1, "c": 1}


@pytest.mark.parametrize(
    ("failures", "max_backoff", "retries_at"),
    [
        pytest.param(1, 5.0, [0.005], id="first-retry-after-5ms"),
        pytest.param(4, 5.0, [0.005, 0.015, 0.035, 0.075], id="doubling"),
        pytest.param(5, 0.02, [0.005, 0.015, 0.035, 0.055, 0.075], id="capped-at-max-backoff"),
    ],
)
def test_a_failed_sync_is_retried_with_exponential_backoff(
        failures: int, max_backoff: float, retries_at: list[float]) -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        syncs.failures["a"] = failures
        queue.add("a")
        await clock.sleep(10)
    syncs = run(scenario, max_backoff=max_backoff)
    assert syncs.times("a") == pytest.approx([0.0, *retries_at])  # the last one succeeded


def test_a_success_forgets_the_keys_failures() -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        syncs.failures["a"] = 2
        queue.add("a")
        await clock.sleep(10)
        syncs.failures["a"] = 1
        queue.add("a")
        await clock.sleep(10)
    syncs = run(scenario)
    assert syncs.times("a") == pytest.approx([0.0, 0.005, 0.015, 10.0, 10.005])


def test_add_after_adds_at_its_time_and_folds_into_a_queued_key() -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        queue.add_after("a", 30)
        queue.add_after("b", 10)
        queue.add_after("b", 10)  # both fire at 10 s; the second finds "b" queued
        await clock.sleep(29.5)
        assert syncs.keys() == ["b"]
        await clock.sleep(1)
    syncs = run(scenario)
    assert syncs.calls == [("b", 10.0), ("a", 30.0)]


def test_a_sync_that_returns_seconds_is_called_again_after_them() -> None:
    async def scenario(queue: WorkQueue, syncs: Syncs, clock: FakeClock) -> None:
        syncs.requeue["a"] = 45.0  # e.g. a Deployment's progress deadline
        queue.add("a")
        await clock.sleep(100)
    assert run(scenario).times("a") == [0.0, 45.0]


def test_stop_cancels_pending_delayed_adds() -> None:
    async def main(clock: FakeClock) -> list[tuple[str, float]]:
        syncs = Syncs(clock)
        queue = WorkQueue("test", syncs)
        queue.start()
        queue.add_after("a", 5)
        await queue.stop()
        await clock.sleep(10)
        return syncs.calls
    assert run_on_fake_clock(main) == []
