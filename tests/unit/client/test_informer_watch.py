"""The informer's list+watch loop against a scripted API, on virtual time.

What it must do (client-go's reflector): list, then watch from the list's
version; after a broken watch wait `retry_seconds` and watch again from the last
version it saw (events and bookmarks alike), without listing; list again only
when the server says 410 Gone, and then report what changed meanwhile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from portico.client import ApiError, Informer, Listing, Status, WatchEvent
from portico.model.kinds import CONFIG_MAP, Kind
from portico.testing.clock import FakeClock, run_on_fake_clock

Obj = dict[str, Any]


def cm(name: str, rv: int) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)}}


class ScriptedApi:
    """`list` answers the next listing; each `watch` plays the next script: events, then
    an exception (or, at the end of the scripts, waits for ever)."""

    def __init__(self, listings: list[Listing], watches: list[list[Any]]) -> None:
        self.listings = listings
        self.watches = watches
        self.lists: list[float] = []
        self.watched_from: list[tuple[str | None, float]] = []
        self.clock: FakeClock | None = None

    async def list(self, kind: Kind, namespace: str | None = None,
                   fields: dict[str, str] | None = None) -> Listing:
        assert self.clock is not None
        self.lists.append(self.clock.now())
        return self.listings.pop(0)

    async def watch(self, kind: Kind, namespace: str | None = None,
                    resource_version: str | None = None,
                    fields: dict[str, str] | None = None) -> AsyncIterator[WatchEvent]:
        assert self.clock is not None
        self.watched_from.append((resource_version, self.clock.now()))
        if not self.watches:
            await self.clock.sleep(10**6)
        for step in self.watches.pop(0):
            if isinstance(step, BaseException):
                raise step
            yield step


GONE = ApiError(Status(410, "Expired", "too old resource version: 5 (9)"))


def run(api: ScriptedApi, seconds: float) -> tuple[Informer, list[tuple[str | None, str | None]]]:
    async def main(clock: FakeClock) -> tuple[Informer, list[tuple[str | None, str | None]]]:
        api.clock = clock
        informer = Informer(api, CONFIG_MAP, retry_seconds=0.5, clock=clock)  # type: ignore[arg-type]
        seen: list[tuple[str | None, str | None]] = []
        informer.add_handler(lambda old, new: seen.append(
            ((old or {}).get("metadata", {}).get("name"),
             (new or {}).get("metadata", {}).get("name"))))
        informer.start()
        await clock.sleep(seconds)
        await informer.stop()
        return informer, seen
    return run_on_fake_clock(main)


def test_a_broken_watch_resumes_from_the_last_version_seen_without_listing() -> None:
    api = ScriptedApi(
        listings=[Listing([cm("a", 3)], "5")],
        watches=[[WatchEvent("ADDED", cm("b", 6)), WatchEvent("BOOKMARK", cm("", 8)),
                  ConnectionResetError("reset")],
                 [WatchEvent("MODIFIED", cm("a", 9)), ConnectionResetError("reset")]])
    informer, seen = run(api, 10)
    assert api.lists == [0.0]
    assert api.watched_from == [("5", 0.0), ("8", 0.5), ("9", 1.0)]
    assert seen == [(None, "a"), (None, "b"), ("a", "a")]
    assert informer.get("ns/a") == cm("a", 9)


def test_gone_lists_again_at_once_and_reports_what_changed_meanwhile() -> None:
    api = ScriptedApi(
        listings=[Listing([cm("a", 3), cm("b", 4)], "5"),
                  Listing([cm("b", 4), cm("c", 12)], "12")],
        watches=[[GONE]])
    informer, seen = run(api, 10)
    assert api.lists == [0.0, 0.0]
    assert api.watched_from == [("5", 0.0), ("12", 0.0)]
    assert seen == [(None, "a"), (None, "b"), (None, "c"), ("a", None)]
    assert sorted(informer.list_keys()) == ["ns/b", "ns/c"]
