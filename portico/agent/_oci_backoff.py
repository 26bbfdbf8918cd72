"""kubelet's image pull back-off: when a container whose image could not be had is
tried again, and what it shows meanwhile.

kubelet's image manager keeps one `flowcontrol.Backoff` (10 s doubling to 300 s)
keyed by pod uid and image: a failed pull arms or doubles the key's back-off
(`failed`), and while `now - last failure < back-off` no pull is tried: the
container waits `ImagePullBackOff` with the message `Back-off pulling image "X":
ErrImagePull: <the last pull's error>` and the event `Back-off pulling image "X"`
(`in_back_off`).  A successful pull garbage-collects the entries not updated for
2 x 300 s, as kubelet's does; an entry is not reset otherwise (kubelet keys it by
pod, so a new pod starts afresh).

The container loop asks `delay()` how long to wait before its next attempt: right
after a failed pull it shows `ErrImagePull` for `ERROR_SHOWN` seconds (kubelet's
next pod sync after an error) or until the back-off ends, whichever is first; in
back-off it re-checks at least every `SYNC_PERIOD` (emitting the BackOff event
again, as each kubelet sync does) and exactly when the back-off ends.  The pulls
of a never-available image are so tried at 0, 10, 30, 70, 150, 310, 610, 910 s...
Times are floats from the agent's clock: testable without waiting.
"""

from __future__ import annotations

from portico.agent._backoff import CrashLoopBackoff
from portico.agent._events import PULL_BACK_OFF

ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERROR_SHOWN = 5.0
SYNC_PERIOD = 10.0


def backoff_key(pod_uid: str, image: str) -> str:
    """kubelet's key: one back-off per pod and image."""
    return f"{pod_uid}_{image}"


class PullBackoff:
    def __init__(self) -> None:
        self._backoff = CrashLoopBackoff()
        self._errors: dict[str, str] = {}  # key -> "ErrImagePull: <message>"

    def in_back_off(self, key: str, image: str, now: float) -> str | None:
        """The waiting message when `key` may not pull yet, else None."""
        if self._backoff.left_since_update(key, now) <= 0:
            self._errors.pop(key, None)
            return None
        message = PULL_BACK_OFF.format(image=image)
        previous = self._errors.get(key)
        return f"{message}: {previous}" if previous else message

    def failed(self, key: str, message: str, now: float) -> None:
        """A pull (or the image's resolution) failed with `message` at `now`."""
        self._backoff.gc(now)
        self._backoff.next(key, now)
        self._errors[key] = f"{ERR_IMAGE_PULL}: {message}"

    def succeeded(self, now: float) -> None:
        self._backoff.gc(now)
        for key in [k for k in self._errors if self._backoff.current(k) == 0]:
            del self._errors[key]

    def delay(self, key: str, reason: str, now: float) -> float:
        """Seconds before the container waiting with `reason` is tried again."""
        left = self._backoff.left_since_update(key, now)
        return min(ERROR_SHOWN if reason == ERR_IMAGE_PULL else SYNC_PERIOD, left)
