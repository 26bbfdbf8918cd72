"""Apply a Transaction: the one I/O call of a sync.

`NftRunner` is the seam: `NftCommand` pipes `Transaction.script()` into
`nft -f -` (optionally `ip netns exec <netns> nft -f -`), which the kernel
applies atomically; `portico.testing.nft.FakeNft` implements the same protocol
in memory with the same all-or-nothing semantics. Both raise `NftError` with
nft's message on failure.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from portico.proxy.nftables import Transaction


class NftError(RuntimeError):
    """nft rejected a transaction; nothing of it was applied."""


class NftRunner(Protocol):
    async def run(self, tx: Transaction) -> None: ...


def netns_argv(netns: str | None, *argv: str) -> list[str]:
    """`argv`, run inside `netns` when given."""
    return ["ip", "netns", "exec", netns, *argv] if netns else list(argv)


class NftCommand:
    """The real runner: one `nft -f -` process per transaction."""

    def __init__(self, netns: str | None = None, check: bool = False) -> None:
        self.netns = netns
        self.check = check

    async def run(self, tx: Transaction) -> None:
        if not tx.operations:
            return
        await self.run_script(tx.script())

    async def run_script(self, script: str) -> None:
        argv = netns_argv(self.netns, "nft", *(["-c"] if self.check else []), "-f", "-")
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate(script.encode())
        if proc.returncode != 0:
            raise NftError(f"nft -f - exited {proc.returncode}: {err.decode().strip()[:2000]}")
