"""Wait until the API server answers: components forked before it listens start here."""

from __future__ import annotations

import asyncio
import time

from portico.client._api import Api, ApiError
from portico.model.kinds import NAMESPACE

POLL_SECONDS = 0.02  # a refused connection costs next to nothing


async def wait_for_api(client: Api, timeout: float = 120.0) -> None:
    """Poll every 20 ms until the API server answers anything (an HTTP error counts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.get(NAMESPACE, "kube-system")
            return
        except ApiError:
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(POLL_SECONDS)
