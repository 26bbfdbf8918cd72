"""One logging setup for every Portico process (supervisor, agents, addons)."""

from __future__ import annotations

import logging

# The API client's HTTP stack (httpx) logs every request at INFO; keep those for debugging only.
_CHATTY = ("httpx", "httpx2", "httpcore", "httpcore2")


def setup(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
