"""`portico lb show [NAME]`: the load balancers as `az network lb show` would tell them.

`format_load_balancer()` is pure (a LoadBalancer object's JSON -> text); `show()`
reads the objects through the API and formats each: frontends, the backend pool
with every probe's state per node, the rules and the probes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from portico.client import Api
from portico.cloud.lb.objects import LOAD_BALANCER


def _table(headers: Sequence[str], rows: list[list[Any]]) -> list[str]:
    cells = [list(map(str, headers))] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  " + "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells]


def format_load_balancer(obj: dict[str, Any]) -> str:
    spec = obj.get("spec") or {}
    health = (obj.get("status") or {}).get("backendHealth") or []
    lines = [f"Name:  {(obj.get('metadata') or {}).get('name')}",
             f"Type:  {spec.get('type', 'public')}", "", "Frontend IP configurations:"]
    lines += _table(["NAME", "IP ADDRESS", "SERVICE"], [
        [f["name"], f.get("publicIPAddress") or f.get("privateIPAddress"), f.get("service")]
        for f in spec.get("frontendIPConfigurations") or []])
    for pool in spec.get("backendAddressPools") or []:
        lines += ["", f"Backend address pool {pool.get('name')}:"]
        rows = []
        for m in pool.get("members") or []:
            states = [f"{h['probe']}={h['state']}" for h in health if h.get("node") == m["name"]]
            up = sum(1 for h in health if h.get("node") == m["name"] and h["state"] == "Up")
            rows.append([m["name"], m.get("ipAddress"), f"{up}/{len(states)} up",
                         ", ".join(states) or "-"])
        lines += _table(["NODE", "IP ADDRESS", "PROBES", "PROBE STATE"], rows)
    lines += ["", "Load balancing rules:"]
    lines += _table(["NAME", "PROTOCOL", "FRONTEND PORT", "BACKEND PORT", "FLOATING IP",
                     "IDLE TIMEOUT", "DISTRIBUTION", "PROBE"], [
        [r["name"], r.get("protocol"), r.get("frontendPort"), r.get("backendPort"),
         "Enabled" if r.get("enableFloatingIP") else "Disabled",
         f"{r.get('idleTimeoutInMinutes')}m", r.get("loadDistribution"), r.get("probe") or "-"]
        for r in spec.get("loadBalancingRules") or []])
    lines += ["", "Probes:"]
    lines += _table(["NAME", "PROTOCOL", "PORT", "PATH", "INTERVAL", "PROBES"], [
        [p["name"], p.get("protocol"), p.get("port"), p.get("requestPath") or "-",
         f"{p.get('intervalInSeconds')}s", p.get("numberOfProbes")]
        for p in spec.get("probes") or []])
    rules = spec.get("securityRules") or []
    if rules:
        lines += ["", "Security rules:"]
        lines += _table(["NAME", "ACCESS", "SOURCES", "DESTINATION", "PORT"], [
            [r["name"], r.get("access"), ",".join(r.get("sourceAddressPrefixes") or []),
             r.get("destinationAddressPrefix"), r.get("destinationPortRange")] for r in rules])
    return "\n".join(lines) + "\n"


def show(kubeconfig: Path, name: str | None) -> str:
    """The text of `portico lb show [NAME]`; raises ApiError if NAME is unknown."""
    found = asyncio.run(_read(kubeconfig, name))
    if not found:
        return "No load balancers.\n"
    return "\n".join(format_load_balancer(o) for o in found)


async def _read(kubeconfig: Path, name: str | None) -> list[dict[str, Any]]:
    client = Api.connect(kubeconfig, "portico")
    try:
        if name:
            return [await client.get(LOAD_BALANCER, name)]
        return (await client.list(LOAD_BALANCER)).items
    finally:
        await client.close()
