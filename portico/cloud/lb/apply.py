"""Apply a rendered data plane: one `nft -f -` transaction, then the policy routes.

The only I/O of the data plane. Commands run in the current netns (the
controller process lives in the cloud netns) or, for tests and tools, inside a
named one through `ip netns exec`. `DataPlane.sync()` renders the model with the
current probe health, applies only the difference (`render.script`) and forgets
what it applied after a failure, so the next sync replaces the whole table.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from portico.cloud.lb.model import HealthState, LoadBalancer, ProbeTarget
from portico.cloud.lb.render import (
    MARK_BASE,
    ROUTE_RULE_PRIORITY,
    PolicyRoute,
    Ruleset,
    render,
    script,
)

log = logging.getLogger("portico.cloud.lb.apply")

SYSCTLS = {  # replies leave nodes with the frontend IP as source: no reverse-path check
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
}


class CommandError(RuntimeError):
    pass


class Runner(Protocol):
    async def run(self, argv: Sequence[str], input: str | None = None) -> str: ...


class NetnsRunner:
    """Runs commands in netns `netns` (None: the current one)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    async def run(self, argv: Sequence[str], input: str | None = None) -> str:
        full = ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)
        proc = await asyncio.create_subprocess_exec(
            *full, stdin=asyncio.subprocess.PIPE if input is not None else None,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(input.encode() if input is not None else None)
        if proc.returncode != 0:
            raise CommandError(f"{' '.join(full)} failed ({proc.returncode}): "
                               f"{err.decode(errors='replace').strip()}")
        return out.decode()


async def apply_sysctls(runner: Runner) -> None:
    await runner.run(["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in SYSCTLS.items())])


async def apply_routes(runner: Runner, routes: Sequence[PolicyRoute], prune: bool = True
                       ) -> None:
    """Add `routes` (our `ip rule`s have priority ROUTE_RULE_PRIORITY); with `prune`,
    remove our rules and tables that `routes` does not hold."""
    wanted = {r.mark: r for r in routes}
    present = json.loads(await runner.run(["ip", "-j", "-4", "rule", "show"]) or "[]")
    have = set()
    batch = []
    for rule in present:
        if rule.get("priority") != ROUTE_RULE_PRIORITY:
            continue
        mark = int(str(rule.get("fwmark", "0")), 0)
        if mark in wanted:
            have.add(mark)
        elif mark >= MARK_BASE and prune:
            batch.append(f"rule del priority {ROUTE_RULE_PRIORITY} fwmark {mark:#x}")
            batch.append(f"route flush table {mark}")
    for mark, route in sorted(wanted.items()):
        batch.append(f"route replace default via {route.gateway} table {mark}")
        if mark not in have:
            batch.append(f"rule add priority {ROUTE_RULE_PRIORITY} fwmark {mark:#x} "
                         f"lookup {mark}")
    if batch:
        await runner.run(["ip", "-4", "-batch", "-"], input="\n".join(batch) + "\n")


HealthSource = Callable[[], dict[ProbeTarget, HealthState]]


class DataPlane:
    """Holds the desired model; `sync()` makes the kernel match it and the probe health."""

    def __init__(self, runner: Runner, health: HealthSource) -> None:
        self.runner = runner
        self.health = health
        self.load_balancers: tuple[LoadBalancer, ...] = ()
        self.applied: Ruleset | None = None
        self._routes: tuple[PolicyRoute, ...] | None = None
        self._lock = asyncio.Lock()
        self._prepared = False

    def set_model(self, load_balancers: Sequence[LoadBalancer]) -> None:
        self.load_balancers = tuple(load_balancers)

    async def sync(self) -> bool:
        """Apply what changed; returns True if anything was applied."""
        async with self._lock:
            if not self._prepared:
                await apply_sysctls(self.runner)
                self._prepared = True
            current = render(self.load_balancers, self.health())
            text = script(self.applied, current)
            try:
                # new routes before the rules that mark for them, stale ones after
                if current.routes != self._routes:
                    await apply_routes(self.runner, current.routes, prune=False)
                if text:
                    await self.runner.run(["nft", "-f", "-"], input=text)
                if current.routes != self._routes:
                    await apply_routes(self.runner, current.routes, prune=True)
                    self._routes = current.routes
            except Exception:
                self.applied = None
                self._routes = None
                raise
            self.applied = current
            return bool(text)
