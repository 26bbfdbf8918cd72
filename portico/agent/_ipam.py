"""Pod IP address management for the node's pod /24 (host-local IPAM, as kubenet).

The network address, the bridge address (.1) and the broadcast address are never
handed out.  Allocation goes round the range from the last address handed out (as
host-local does), so a freed address is reused as late as possible: neighbours'
ARP caches and conntrack entries for the old pod have long expired by then.
`Ipam` is pure bookkeeping (uid -> address); `IpamStore` persists it
as one JSON file under the data directory, rewritten atomically after every change
(in the background when an event loop runs: the agent never waits on the disk).
At start the agent also feeds `reserve()` the `status.podIP` of the pods the API
says run here, so an address a live pod holds is never given to another pod, and
a recreated pod gets its old address back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
from pathlib import Path


class IpamExhausted(Exception):
    """No free address is left in the pod CIDR."""


def _hosts(network: ipaddress.IPv4Network) -> tuple[int, int]:
    """The first of `network.hosts()` and how many there are, as integers."""
    if network.prefixlen >= 31:  # point-to-point and single-address networks: all of them
        return int(network.network_address), network.num_addresses
    return int(network.network_address) + 1, network.num_addresses - 2


class Ipam:
    def __init__(self, pod_cidr: str, bridge_ip: str) -> None:
        self.network = ipaddress.IPv4Network(pod_cidr, strict=False)
        self.bridge_ip = ipaddress.IPv4Address(bridge_ip)
        self.by_uid: dict[str, str] = {}
        self.last: ipaddress.IPv4Address | None = None

    def _usable(self, ip: ipaddress.IPv4Address) -> bool:
        return (ip in self.network and ip != self.bridge_ip
                and ip not in (self.network.network_address, self.network.broadcast_address))

    def reserve(self, uid: str, ip: str) -> bool:
        """Record `ip` for `uid` if it is usable and free (or already `uid`'s)."""
        addr = ipaddress.IPv4Address(ip)
        if not self._usable(addr):
            return False
        holder = self.holder(ip)
        if holder is not None and holder != uid:
            return False
        self.by_uid[uid] = str(addr)
        return True

    def holder(self, ip: str) -> str | None:
        for uid, held in self.by_uid.items():
            if held == ip:
                return uid
        return None

    def allocate(self, uid: str) -> str:
        """`uid`'s address: the one it holds, else the next free one after the last
        (the hosts are walked as integers: no list of 254 address objects per pod)."""
        if uid in self.by_uid:
            return self.by_uid[uid]
        used = set(self.by_uid.values())
        first, count = _hosts(self.network)
        last = int(self.last) if self.last is not None else -1
        start = last + 1 - first if first <= last < first + count else 0
        for offset in range(count):
            addr = ipaddress.IPv4Address(first + (start + offset) % count)
            if self._usable(addr) and str(addr) not in used:
                self.by_uid[uid] = str(addr)
                self.last = addr
                return str(addr)
        raise IpamExhausted(f"no free address in {self.network}")

    def release(self, uid: str) -> None:
        self.by_uid.pop(uid, None)

    def retain_only(self, uids: set[str]) -> None:
        """Forget every uid not in `uids` (pods gone while the agent was down)."""
        for uid in list(self.by_uid):
            if uid not in uids:
                del self.by_uid[uid]


class IpamStore:
    """An `Ipam` persisted at `path` (JSON `{"<uid>": "<ip>"}`)."""

    def __init__(self, path: Path, pod_cidr: str, bridge_ip: str) -> None:
        self.path = path
        self.ipam = Ipam(pod_cidr, bridge_ip)
        self._dirty = False
        self._writer: asyncio.Task[None] | None = None
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
        addresses = saved.get("addresses", {}) if "addresses" in saved else saved
        for uid, ip in sorted(addresses.items()):
            self.ipam.reserve(uid, ip)
        if saved.get("last"):
            self.ipam.last = ipaddress.IPv4Address(saved["last"])

    def _snapshot(self) -> str:
        last = str(self.ipam.last) if self.ipam.last else None
        return json.dumps({"addresses": self.ipam.by_uid, "last": last}, sort_keys=True)

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def save(self) -> None:
        self._write(self._snapshot())

    def _changed(self) -> None:
        """Persist: at once outside an event loop; inside one, from a thread, coalesced,
        so that the loop never waits on the disk (the rename flushes the data)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        self._dirty = True
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._flush_changes())

    async def _flush_changes(self) -> None:
        while self._dirty:
            self._dirty = False
            await asyncio.to_thread(self._write, self._snapshot())

    async def flush(self) -> None:
        """Wait until every change so far is on disk."""
        if self._writer is not None:
            await self._writer

    def allocate(self, uid: str) -> str:
        ip = self.ipam.allocate(uid)
        self._changed()
        return ip

    def release(self, uid: str) -> None:
        if uid in self.ipam.by_uid:
            self.ipam.release(uid)
            self._changed()
