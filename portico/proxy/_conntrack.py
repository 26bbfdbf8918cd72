"""Delete stale UDP conntrack entries after endpoints go away.

After a sync, `clear` runs `conntrack -D` for each `StaleFlow` the sync planned
(why and which: see `_followups`). `conntrack -D` exits 1 when nothing matched,
which is fine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from portico.proxy._followups import StaleFlow
from portico.proxy.apply import netns_argv

log = logging.getLogger("portico.proxy.conntrack")


async def clear(flows: Iterable[StaleFlow], netns: str | None) -> int:
    """Run `conntrack -D` for each flow; returns how many commands failed unexpectedly."""
    failures = 0
    for flow in flows:
        try:
            proc = await asyncio.create_subprocess_exec(
                *netns_argv(netns, *flow.argv()), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            _, err = await proc.communicate()
        except OSError as exc:
            log.warning("conntrack unavailable: %s", exc)
            return failures + 1
        if proc.returncode not in (0, 1):
            failures += 1
            log.warning("%s: %s", " ".join(flow.argv()), err.decode().strip())
    return failures
