"""ChangeTracker: one previous/current pair per key; changes that end where they began cancel."""

from __future__ import annotations

import pytest

from portico.proxy.track import Change, ChangeTracker

Event = tuple[str | None, str | None, float]  # previous, current, seen at


@pytest.mark.parametrize(
    ("events", "pending"),
    [
        pytest.param([(None, "v1", 1.0)], Change(None, "v1", 1.0), id="add"),
        pytest.param([("v1", None, 1.0)], Change("v1", None, 1.0), id="delete"),
        pytest.param([(None, "v1", 1.0), ("v1", "v2", 2.0), ("v2", "v3", 3.0)],
                     Change(None, "v3", 1.0), id="a-burst-folds-and-keeps-the-first-time"),
        pytest.param([(None, "v1", 1.0), ("v1", None, 2.0)], None, id="add-then-delete-cancels"),
        pytest.param([("v1", "v2", 1.0), ("v2", "v1", 2.0)], None, id="back-and-forth-cancels"),
        pytest.param([("v1", "v1", 1.0)], None, id="a-no-op-update-records-nothing"),
        pytest.param([("v1", "v2", 1.0), ("v2", "v1", 2.0), ("v1", "v3", 3.0)],
                     Change("v1", "v3", 3.0), id="a-change-after-a-cancel-starts-afresh"),
        pytest.param([("v1", None, 1.0), (None, "v2", 2.0)], Change("v1", "v2", 1.0),
                     id="delete-then-recreate-is-an-update"),
    ],
)
def test_events_fold_into_one_change_per_key(events: list[Event], pending: Change[str] | None
                                             ) -> None:
    tracker: ChangeTracker[str, str] = ChangeTracker()
    for previous, current, now in events:
        tracker.update("k", previous, current, now)
    assert tracker.drain() == ({"k": pending} if pending else {})


@pytest.mark.parametrize(
    ("events", "answers"),
    [
        pytest.param([(None, "v1", 1.0), ("v1", "v2", 2.0)], [True, True], id="still-pending"),
        pytest.param([(None, "v1", 1.0), ("v1", None, 2.0)], [True, False], id="cancelled"),
        pytest.param([("v1", "v1", 1.0)], [False], id="no-op"),
    ],
)
def test_update_says_whether_a_change_is_pending(events: list[Event], answers: list[bool]
                                                 ) -> None:
    tracker: ChangeTracker[str, str] = ChangeTracker()
    assert [tracker.update("k", p, c, now) for p, c, now in events] == answers


def test_keys_are_independent_and_drain_starts_over() -> None:
    tracker: ChangeTracker[str, str] = ChangeTracker()
    tracker.update("a", None, "a1", 1.0)
    tracker.update("b", "b1", "b2", 2.0)
    tracker.update("a", "a1", None, 3.0)
    assert len(tracker) == 1
    assert "b" in tracker and "a" not in tracker
    assert tracker.drain() == {"b": Change("b1", "b2", 2.0)}
    assert len(tracker) == 0 and tracker.drain() == {}
    tracker.update("b", "b2", "b1", 4.0)  # after a drain, previous is what was synced
    assert tracker.drain() == {"b": Change("b2", "b1", 4.0)}
