"""End to end: one pod label change, from the API write to node-1's rules applied.

Theory of operation. The API server (the real one, `tests.api.conftest.start_api`)
runs in a process of its own (this module with `--serve DIR`, stopped by closing its
stdin), as in a cluster. This process runs node-1's real `PolicyAgent` (informers,
`CoalescingRunner`, planning, libnftables into the netns `netns`, conntrack cuts)
against it, and is the client that writes: it creates the workload (namespaces,
pods with their node and address in `status`, policies), starts the agent (the
first, full, sync) and then patches one pod's `role` label at a time, waiting for
the transaction that carries the change. Each change is split into:

- delivery: PATCH sent -> the agent's Pod handler saw the new labels (the API
  server's write, its watch fan-out, the informer's decoding);
- wait: handler -> planning starts (the runner's coalescing interval and the event
  loop);
- plan (`PolicyState.plan`) and nft (the transaction through libnftables): Portico's
  own time.

Clocks: `time.monotonic` (CLOCK_MONOTONIC) in one process; the server's time is in
"delivery".
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portico.client import Api, InformerFactory, Obj, key_of  # noqa: E402
from portico.model.kinds import NAMESPACE, NETWORK_POLICY, POD  # noqa: E402
from portico.netpol._agent import PolicyAgent  # noqa: E402
from portico.netpol._state import Plan  # noqa: E402
from portico.proxy.apply import NftCommand  # noqa: E402
from portico.proxy.config import ProxyConfig  # noqa: E402
from portico.proxy.nftables import Transaction  # noqa: E402

CONCURRENCY = 16
TIMEOUT = 10.0
PARTS = ("delivery", "wait", "plan", "nft")


@dataclass
class Workload:
    namespaces: list[dict[str, Any]]
    pods: list[dict[str, Any]]
    policies: list[dict[str, Any]]


@dataclass
class Change:
    """The marks (time.monotonic) of one label change on its way to the kernel."""

    key: str
    role: str
    marks: dict[str, float] = field(default_factory=dict)
    applied: asyncio.Event = field(default_factory=asyncio.Event)

    def parts(self) -> dict[str, float]:
        m = self.marks
        return {"delivery": m["event"] - m["write"], "wait": m["plan"] - m["event"],
                "plan": m["planned"] - m["plan"], "nft": m["applied"] - m["nft"],
                "total": m["applied"] - m["write"]}


class Probe:
    """Marks the current change as the agent's handler, planner and runner see it."""

    def __init__(self, agent: PolicyAgent) -> None:
        self.change: Change | None = None
        self._plan_started = 0.0
        plan: Callable[[], Plan] = agent.state.plan
        agent.state.plan = self._timed_plan(plan)  # type: ignore[method-assign]
        agent.informers[1].add_handler(self._on_pod)  # after the agent's own handler

    def _timed_plan(self, plan: Callable[[], Plan]) -> Callable[[], Plan]:
        def timed() -> Plan:
            started = time.monotonic()
            result = plan()
            change = self.change
            if change is not None and "event" in change.marks and "plan" not in change.marks:
                change.marks.update(plan=started, planned=time.monotonic())
                if not result.tx.operations:  # nothing to apply: the agent runs no nft
                    self.ran(change.marks["planned"])
            return result
        return timed

    def _on_pod(self, previous: Obj | None, current: Obj | None) -> None:
        change = self.change
        if change is None or current is None or key_of(current) != change.key:
            return
        if current["metadata"].get("labels", {}).get("role") == change.role:
            change.marks.setdefault("event", time.monotonic())

    def ran(self, started: float) -> None:
        change = self.change
        if change is not None and "planned" in change.marks and "applied" not in change.marks:
            change.marks.update(nft=started, applied=time.monotonic())
            change.applied.set()


class TimedNft(NftCommand):
    probe: Probe | None = None

    async def run(self, tx: Transaction) -> None:
        started = time.monotonic()
        await super().run(tx)
        if self.probe is not None:
            self.probe.ran(started)


async def _bounded(calls: list[Awaitable[Any]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(call: Awaitable[Any]) -> None:
        async with gate:
            await call
    await asyncio.gather(*(one(c) for c in calls))


async def populate(client: Api, workload: Workload) -> None:
    await _bounded([client.create(NAMESPACE, n) for n in workload.namespaces])

    async def pod(obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        spec = {k: v for k, v in obj.items() if k != "status"}
        await client.create(POD, spec)
        await client.patch(POD.status, meta["name"], {"status": obj["status"]},
                           namespace=meta["namespace"])
    await _bounded([pod(p) for p in workload.pods])
    await _bounded([client.create(NETWORK_POLICY, p) for p in workload.policies])


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (seconds), in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def measure(kubeconfig: Path, workload: Workload, changes: int, netns: str) -> None:
    writer = Api.connect(kubeconfig, "bench")
    await populate(writer, workload)
    nft = TimedNft(netns)
    reader = Api.connect(kubeconfig, "portico-netpol")
    informers = InformerFactory(reader)
    agent = PolicyAgent(ProxyConfig("node-1", "10.224.0.4", "10.244.0.0/24", netns=netns),
                        informers, nft)
    started = time.monotonic()
    await agent.start()
    known = agent.state.cluster
    print(f"  end to end: agent start (list, watch, full sync of {len(known.policies)} "
          f"policies over {len(known.pods)} pods) {time.monotonic() - started:.2f}s")
    probe = Probe(agent)
    nft.probe = probe
    pods = sorted(workload.pods, key=lambda p: (p["metadata"]["namespace"],
                                                p["metadata"]["name"]))
    results = []
    try:
        for k in range(changes):
            meta = pods[(k * 7919) % len(pods)]["metadata"]
            role = f"r{(int(meta['labels']['role'][1:]) + 1) % 10}"
            meta["labels"]["role"] = role
            change = probe.change = Change(f"{meta['namespace']}/{meta['name']}", role)
            change.marks["write"] = time.monotonic()
            await writer.patch(POD, meta["name"], {"metadata": {"labels": {"role": role}}},
                               namespace=meta["namespace"])
            await asyncio.wait_for(change.applied.wait(), TIMEOUT)
            results.append(change.parts())
    finally:
        await agent.stop()
        await informers.stop()
        await reader.close()
        await writer.close()
    _report(results)


def _report(results: list[dict[str, float]]) -> None:
    def line(name: str, values: list[float]) -> str:
        return (f"{name} p50 {percentile(values, 0.5):.1f} ms, p99 "
                f"{percentile(values, 0.99):.1f} ms")
    own = [r["plan"] + r["nft"] for r in results]
    waiting = [r["delivery"] + r["wait"] for r in results]
    print(f"  end to end, one pod label change (PATCH -> rules applied on node-1, "
          f"{len(results)} changes): {line('total', [r['total'] for r in results])}")
    print("    " + "; ".join(line(p, [r[p] for r in results]) for p in PARTS))
    print(f"    Portico's own (plan + nft) {line('', own)}; waiting (delivery + wait) "
          f"{line('', waiting)}")


async def end_to_end(workload: Workload, changes: int, netns: str) -> None:
    """Start the API server process, measure, stop it."""
    with tempfile.TemporaryDirectory() as tmp:
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", tmp, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE)
        assert server.stdout is not None and server.stdin is not None
        try:
            kubeconfig = Path((await server.stdout.readline()).decode().strip())
            await measure(kubeconfig, workload, changes, netns)
        finally:
            server.stdin.close()
            await server.wait()


async def serve(directory: Path) -> None:
    """The API server process: prints its kubeconfig's path, serves until stdin closes."""
    from tests.api.conftest import start_api

    server, api = await start_api(directory)
    await api.session.close()
    print(server.kubeconfig, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop()


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    asyncio.run(serve(Path(sys.argv[2])))
