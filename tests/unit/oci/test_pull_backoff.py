"""kubelet's image pull back-off on a fake clock: when pulls happen, what shows between."""

from __future__ import annotations

from portico.agent._oci_backoff import (
    ERR_IMAGE_PULL,
    IMAGE_PULL_BACK_OFF,
    PullBackoff,
    backoff_key,
)

KEY = backoff_key("uid-1", "reg.example/app:1")
IMAGE = "reg.example/app:1"


def _run(backoff: PullBackoff, start: float, until: float) -> list[tuple[float, str]]:
    """The container loop against an image that never pulls: (time, state) per attempt."""
    now, seen = start, []
    while now < until:
        if backoff.in_back_off(KEY, IMAGE, now) is None:
            backoff.failed(KEY, "not found", now)
            reason = ERR_IMAGE_PULL
        else:
            reason = IMAGE_PULL_BACK_OFF
        seen.append((now, reason))
        now += backoff.delay(KEY, reason, now)
    return seen


def test_pulls_back_off_from_10_s_doubling_to_300_s() -> None:
    seen = _run(PullBackoff(), 0.0, 1300.0)
    pulls = [t for t, reason in seen if reason == ERR_IMAGE_PULL]
    assert pulls == [0, 10, 30, 70, 150, 310, 610, 910, 1210]


def test_err_image_pull_shows_5_s_then_back_off_rechecked_every_sync() -> None:
    seen = _run(PullBackoff(), 0.0, 71.0)
    assert seen == [(0, ERR_IMAGE_PULL), (5, IMAGE_PULL_BACK_OFF), (10, ERR_IMAGE_PULL),
                    (15, IMAGE_PULL_BACK_OFF), (25, IMAGE_PULL_BACK_OFF),
                    (30, ERR_IMAGE_PULL), (35, IMAGE_PULL_BACK_OFF), (45, IMAGE_PULL_BACK_OFF),
                    (55, IMAGE_PULL_BACK_OFF), (65, IMAGE_PULL_BACK_OFF), (70, ERR_IMAGE_PULL)]


def test_the_back_off_message_carries_the_last_pull_error() -> None:
    backoff = PullBackoff()
    assert backoff.in_back_off(KEY, IMAGE, 0.0) is None
    backoff.failed(KEY, 'failed to resolve reference "x": not found', 0.0)
    assert backoff.in_back_off(KEY, IMAGE, 9.9) == (
        f'Back-off pulling image "{IMAGE}": ErrImagePull: '
        'failed to resolve reference "x": not found')
    assert backoff.in_back_off(KEY, IMAGE, 10.0) is None


def test_back_off_is_per_pod_and_image() -> None:
    backoff = PullBackoff()
    backoff.failed(KEY, "boom", 0.0)
    assert backoff.in_back_off(backoff_key("uid-2", IMAGE), IMAGE, 1.0) is None
    assert backoff.in_back_off(backoff_key("uid-1", "other:1"), "other:1", 1.0) is None


def test_a_success_collects_only_expired_entries_and_idle_keys_start_over() -> None:
    backoff = PullBackoff()
    _run(backoff, 0.0, 100.0)  # back-off now 80 s, last failure at 70
    other = backoff_key("uid-9", IMAGE)
    backoff.failed(other, "boom", 100.0)
    backoff.succeeded(101.0)  # kubelet's GC: nothing expired yet
    assert backoff.in_back_off(KEY, IMAGE, 120.0) is not None
    backoff.succeeded(701.0)  # both idle > 600 s: gone
    assert backoff.in_back_off(KEY, IMAGE, 701.0) is None
    backoff.failed(KEY, "boom", 701.0)
    assert backoff.delay(KEY, IMAGE_PULL_BACK_OFF, 701.0) == 10.0
