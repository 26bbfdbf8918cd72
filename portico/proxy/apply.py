"""Apply a Transaction: the one I/O call of a sync.

`NftRunner` is the seam: `NftCommand` hands `Transaction.script()` to
libnftables in process when the transaction is small (a partial sync; see
`_libnft.py`), else pipes it into `nft -f -` (optionally `ip netns exec <netns>
nft -f -`); either way the kernel applies it atomically.
`portico.testing.nft.FakeNft` implements the same protocol in memory with the
same all-or-nothing semantics. Both raise `NftError` with
nft's message on failure.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from portico.proxy._libnft import LibNft
from portico.proxy.nftables import Transaction

log = logging.getLogger("portico.proxy.apply")

IN_PROCESS_MAX_OPERATIONS = 1000
"""Larger transactions (full syncs) run in an `nft` process: see `_libnft.py`."""


class NftError(RuntimeError):
    """nft rejected a transaction; nothing of it was applied."""


class NftRunner(Protocol):
    async def run(self, tx: Transaction) -> None: ...


def netns_argv(netns: str | None, *argv: str) -> list[str]:
    """`argv`, run inside `netns` when given."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


class NftCommand:
    """The real runner: small transactions through libnftables, big ones `nft -f -`."""

    def __init__(self, netns: str | None = None, check: bool = False,
                 in_process: bool = True) -> None:
        self.netns = netns
        self.check = check
        self._lib = LibNft.load(netns) if in_process and not check else None

    async def run(self, tx: Transaction) -> None:
        if not tx.operations:
            return
        script = tx.script()
        if self._lib is not None and len(tx) <= IN_PROCESS_MAX_OPERATIONS:
            try:
                error = await self._lib.run_script(script)
            except (OSError, RuntimeError) as exc:  # no context: use the binary from now on
                log.warning("libnftables unusable, running nft instead: %s", exc)
                self._lib = None
            else:
                if error is not None:
                    raise NftError(f"nft: {error[:2000]}")
                return
        await self.run_script(script)

    def close(self) -> None:
        if self._lib is not None:
            self._lib.close()
            self._lib = None

    async def run_script(self, script: str) -> None:
        argv = netns_argv(self.netns, "nft", *(["-c"] if self.check else []), "-f", "-")
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(script.encode())
        if proc.returncode != 0:
            raise NftError(f"nft -f - exited {proc.returncode}: {err.decode().strip()[:2000]}")
