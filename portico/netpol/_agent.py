"""The policy agent: informers -> `PolicyState` -> (coalesced) sync -> one nft
transaction.

Theory of operation. Runs in the node agent beside the Service proxier, in the node
netns, and owns only the `inet portico-netpol` table. Three informers of the agent's
shared factory (Pods, Namespaces, NetworkPolicies of every namespace; stopped by the
factory's owner) feed their changes, parsed into model values, to `PolicyState`, and
ask the `CoalescingRunner` for a sync; a burst of events is one sync. A sync plans
(pure), applies the one transaction, commits, and, when the rules changed (other
than only allowing more), cuts the connections the policies now forbid
(`_conntrack.py`), in the background so that it never delays the next sync, and
`CUT_DELAY` later, so that a burst of syncs shares one pass. A failed transaction
makes the next sync a full one, retried after a second, and so does the hour since
the last full sync (kube-proxy's nftables proxier's `fullSyncPeriod`): the table is
rebuilt from the snapshot, whatever was done to it behind the agent's back. Between
those, a change costs what it touches (see `_state.py`): a pod label change is a few
`add/delete element`s. `stop()` leaves the rules in place, as the proxier does: a
restarted agent replaces the table atomically on its first sync.

Per-policy counters: every accept rule of a policy has a `counter` and a comment
naming the policy and direction; `metrics()` reads them (`nft -j -t list table`:
rules only, no set elements) when `/metrics` is scraped and sums them per policy and
direction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from portico.client import CoalescingRunner, InformerFactory, Obj, key_of
from portico.model.kinds import NAMESPACE, NETWORK_POLICY, POD
from portico.netpol import diff
from portico.netpol._conntrack import cut_forbidden
from portico.netpol._state import PolicyState
from portico.netpol.model import namespace_labels, pod_from_object, policy_from_object
from portico.netpol.render import TABLE
from portico.proxy import collector
from portico.proxy.apply import NftCommand, NftError, NftRunner, netns_argv
from portico.proxy.config import ProxyConfig

log = logging.getLogger("portico.netpol")

RETRY_AFTER_FAILURE = 1.0
CUT_DELAY = 0.1
"""Seconds from a sync to its conntrack pass: the syncs of a burst (a rollout relabelling
pods) share one pass instead of one `conntrack -L` each competing with the next sync."""
FULL_SYNC_PERIOD = 3600.0
"""Seconds between full syncs (as kube-proxy's nftables mode); partial ones in between."""
ALLOWED_METRIC = "portico_networkpolicy_allowed_packets_total"


def node_addresses(node_ip: str, pod_cidr: str) -> frozenset[str]:
    """The sources of this node's own traffic to its pods: its IP and the pod bridge's."""
    bridge = next(ipaddress.ip_network(pod_cidr, strict=False).hosts())
    return frozenset({node_ip, str(bridge)})


class PolicyAgent:
    def __init__(self, config: ProxyConfig, informers: InformerFactory,
                 runner: NftRunner | None = None) -> None:
        self.config = config
        self.nft: NftRunner = runner or NftCommand(config.netns)
        self.state = PolicyState(config.node_name,
                                 node_addresses(config.node_ip, config.pod_cidr))
        self.runner = CoalescingRunner("netpol-sync", self.sync, config.min_sync_interval,
                                       config.sync_period)
        self._factory = informers
        self.informers = [informers.informer(kind) for kind in (NAMESPACE, POD, NETWORK_POLICY)]
        self._lock = asyncio.Lock()
        self._cut: asyncio.Task[None] | None = None
        self._cut_again = False
        self.last_applied = 0.0
        """When (time.monotonic) the last transaction was applied."""
        self._last_full = float("-inf")

    async def start(self) -> None:
        recorders = (self._record_namespace, self._record_pod, self._record_policy)
        for informer, record in zip(self.informers, recorders, strict=True):
            informer.add_handler(functools.partial(self._on_change, record))
        self._factory.start()
        for informer in self.informers:
            await informer.wait_synced()
        await self.sync()
        self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        if self._cut is not None:
            self._cut.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cut
        if isinstance(self.nft, NftCommand):
            self.nft.close()

    # --- recording (cheap; never renders) ---------------------------------------------------

    def _on_change(self, record: Callable[[Obj, Obj | None], None], previous: Obj | None,
                   current: Obj | None) -> None:
        """An informer's change: `record` it (`current` None: deleted), then ask for a sync."""
        obj = current or previous
        assert obj is not None
        record(obj, current)
        self.runner.run()

    def _record_pod(self, obj: Obj, current: Obj | None) -> None:
        self.state.set_pod(key_of(obj), pod_from_object(current) if current else None)

    def _record_namespace(self, obj: Obj, current: Obj | None) -> None:
        name = obj["metadata"]["name"]
        self.state.set_namespace(name, namespace_labels(current) if current else None)

    def _record_policy(self, obj: Obj, current: Obj | None) -> None:
        self.state.set_policy(key_of(obj), policy_from_object(current) if current else None)

    # --- sync -------------------------------------------------------------------------------

    async def sync(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_full >= FULL_SYNC_PERIOD:
                self.state.resync()
            if not self.state.pending():
                return
            with collector.paused():  # as the proxier: no collector passes over the state
                plan = self.state.plan()
            try:
                if plan.tx.operations:
                    await self.nft.run(plan.tx)
            except (NftError, OSError) as exc:
                log.error("netpol sync failed, next sync is full: %s", exc)
                self.state.failed()
                self.runner.retry_after(RETRY_AFTER_FAILURE)
                return
            self.state.commit(plan)
            self.last_applied = time.monotonic()
            if plan.full:
                collector.settle()
                self._last_full = self.last_applied
        if plan.tx.operations and not diff.only_allows(plan.tx):
            self._request_cut()

    def _request_cut(self) -> None:
        """Cut forbidden connections in the background, never two cuts at once."""
        if self._cut is not None and not self._cut.done():
            self._cut_again = True
            return
        self._cut_again = False
        self._cut = asyncio.create_task(self._cut_forbidden(), name="netpol-cut")

    async def _cut_forbidden(self) -> None:
        await asyncio.sleep(CUT_DELAY)
        self._cut_again = False  # this pass judges every change applied until now
        try:
            await cut_forbidden(self.state.cluster, self.config.node_name, self.config.netns)
        except OSError as exc:
            log.warning("cannot cut forbidden connections: %s", exc)
        if self._cut_again:
            await self._cut_forbidden()

    # --- metrics ----------------------------------------------------------------------------

    async def metrics(self) -> str:
        """Per-policy counters of accepted new-connection packets, for `/metrics`."""
        counts: dict[tuple[str, str], int] = {}
        for comment, packets in await self._rule_counters():
            key, _, direction = comment.rpartition(" ")
            if "/" in key:
                counts[(key, direction)] = counts.get((key, direction), 0) + packets
        lines = [f"# HELP {ALLOWED_METRIC} New-connection packets accepted by the rules of "
                 "a NetworkPolicy", f"# TYPE {ALLOWED_METRIC} counter"]
        for (key, direction), packets in sorted(counts.items()):
            namespace, _, name = key.partition("/")
            lines.append(f'{ALLOWED_METRIC}{{namespace="{namespace}",networkpolicy="{name}",'
                         f'direction="{direction}"}} {packets}')
        return "\n".join(lines) + "\n"

    async def _rule_counters(self) -> list[tuple[str, int]]:
        argv = netns_argv(self.config.netns, "nft", "-j", "-t", "list", "table", "inet", TABLE)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            return []
        return list(_counters(json.loads(out or b"{}")))


def _counters(document: dict[str, Any]) -> list[tuple[str, int]]:
    """(rule comment, packets) of every rule with a counter and a comment."""
    found = []
    for item in document.get("nftables", []):
        rule = item.get("rule")
        if not rule or not rule.get("comment"):
            continue
        for expr in rule.get("expr", []):
            if isinstance(expr, dict) and "counter" in expr:
                found.append((rule["comment"], int(expr["counter"].get("packets", 0))))
    return found
