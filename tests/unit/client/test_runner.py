"""CoalescingRunner on virtual time: every wait it makes goes through its clock."""

from __future__ import annotations

from collections.abc import Callable

from portico.client import CoalescingRunner
from portico.testing.clock import FakeClock, run_on_fake_clock

MIN, MAX = 0.1, 30.0


class Recorder:
    """A sync that records when it started and answers from a script."""

    def __init__(self, clock: FakeClock, answers: Callable[[int], bool | None] = lambda _: None,
                 fail_first: int = 0) -> None:
        self.clock = clock
        self.started: list[float] = []
        self.answers = answers
        self.fail_first = fail_first

    async def __call__(self) -> bool | None:
        self.started.append(round(self.clock.now(), 6))
        if len(self.started) <= self.fail_first:
            raise RuntimeError("sync failed")
        return self.answers(len(self.started))


def scenario(body: Callable[[FakeClock, CoalescingRunner, Recorder], object],
             **recorder: object) -> Recorder:
    async def main(clock: FakeClock) -> Recorder:
        sync = Recorder(clock, **recorder)  # type: ignore[arg-type]
        runner = CoalescingRunner("test", sync, MIN, MAX, clock=clock)
        runner.start()
        try:
            await body(clock, runner, sync)  # type: ignore[misc]
        finally:
            await runner.stop()
        return sync
    return run_on_fake_clock(main)


def test_a_burst_of_requests_is_one_sync() -> None:
    async def body(clock: FakeClock, runner: CoalescingRunner, _sync: Recorder) -> None:
        for _ in range(50):
            runner.run()
        await clock.sleep(1)
    assert scenario(body).started == [0.0]


def test_syncs_start_at_most_once_per_min_interval() -> None:
    async def body(clock: FakeClock, runner: CoalescingRunner, _sync: Recorder) -> None:
        runner.run()
        await clock.sleep(0.03)
        runner.run()  # 30 ms after the first: waits until 100 ms
        await clock.sleep(0.5)
        runner.run()  # long after: at once
        await clock.sleep(0.01)
    assert scenario(body).started == [0.0, 0.1, 0.53]


def test_an_idle_runner_resyncs_every_max_interval() -> None:
    async def body(clock: FakeClock, _runner: CoalescingRunner, _sync: Recorder) -> None:
        await clock.sleep(MAX * 2 + 1)
    assert scenario(body).started == [MAX, MAX * 2]


def test_a_failed_sync_is_retried_after_a_second() -> None:
    async def body(clock: FakeClock, runner: CoalescingRunner, _sync: Recorder) -> None:
        runner.run()
        await clock.sleep(5)
    assert scenario(body, fail_first=2).started == [0.0, 1.0, 2.0]


def test_a_sync_that_is_waiting_for_something_runs_again_soon() -> None:
    async def body(clock: FakeClock, runner: CoalescingRunner, _sync: Recorder) -> None:
        runner.run()
        await clock.sleep(5)
    started = scenario(body, answers=lambda n: n < 3).started
    assert started == [0.0, MIN * 4, MIN * 8]


def test_retry_after_asks_for_a_sync_later_and_stop_cancels_it() -> None:
    async def body(clock: FakeClock, runner: CoalescingRunner, _sync: Recorder) -> None:
        runner.retry_after(2.5)
        runner.retry_after(20)
        await clock.sleep(3)
        await runner.stop()
        await clock.sleep(40)
    assert scenario(body).started == [2.5]
