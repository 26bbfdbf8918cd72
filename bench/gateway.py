"""Benchmark: HTTP through a Gateway vs a hand-written HAProxy, and changes under load.

Run on demand (root; not in CI):
    .venv/bin/python -m bench.gateway [--seconds 2] [--rounds 3] [--shifts 40]

Theory of operation: `portico up --nodes 2` in a sandbox netns (the test harness,
`portico.testing.sandbox.Cluster`, which installs the Gateway API CRDs from the
conformance copy).  The workload (`_gwplan.workload`) is two built-in nginx pods
behind Service `web` and two agnhost pods, `blue` and `green`, answering their pod
name.  A Gateway of class approuting-istio with routes `web` (bench.example.com ->
web:80) and `shift` (shift.example.com -> blue) is applied, and its address read as
issue 14 specifies it: the frontend IP of LoadBalancer Service
`bench-approuting-istio`, copied to `status.addresses` once Programmed.  The
baseline is the same HAProxy binary, by hand: two pods running one frontend and
one backend listing the nginx pods' IPs, behind a LoadBalancer Service of their
own, so both paths are client -> load balancer -> HAProxy pod -> nginx pod.

What it prints (2 first, while the Gateway has its 2 pods: the throughput runs
load them enough for its autoscaler to add more, each one more to reload):
1. requests/s through the Gateway and the baseline (wrk from the cluster's host,
   keep-alive and `Connection: close`, interleaved rounds, medians, server CPU =
   the nginx and haproxy processes in the pod netns); goal >= 0.90 for both; no
   ratio when wrk, not the path, was the bottleneck (`_wrk.client_bound`). Both
   HAProxies run HAProxy's default thread count. The machine's load average is
   printed with every result (other work shares the CPUs), and both sides' pod
   counts: the baseline has the Gateway's autoscaling (CPU request, 2-5 pods at
   80 %), so that the same load gives both as many pods;
2. change -> traffic shifted, p50/p99 over `--shifts` changes each (goal p99 <
   100 ms), from just before the API write (a PATCH sent from inside the sandbox)
   until a request through the Gateway reaches the new backend: route changes (the
   `shift` route's backendRef, blue <-> green) and endpoint changes (Service
   `shift`'s selector, with the route pointing at it); the slowest three too, and
   the gateway pods' own time per applied change (from their logs);
3. failed requests (wrk's socket errors and non-2xx/3xx) under keep-alive load
   during 50 edits of route `web` (new paths, header modifiers, weights): goal 0.

Everything runs inside the sandbox; closing the cluster removes every namespace,
link and table, also on failure, and the host directory holding the baseline's
config is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _gwplan as plan  # noqa: E402
from bench import _wrk  # noqa: E402
from bench._lbtraffic import _pod_netns  # noqa: E402
from bench.ingress import enter  # noqa: E402
from portico.testing.sandbox import Cluster, wait_for  # noqa: E402

THROUGHPUT_GOAL = 0.90
SHIFT_GOAL_SECONDS = 0.100
EDITS = 50
POLL = 0.002


def load() -> str:
    """The machine's load average (other work shares its CPUs)."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _apply(cluster: Cluster, objects: list[dict[str, Any]]) -> None:
    cluster.kubectl("apply", "-f", "-", check=True,
                    input="\n---\n".join(json.dumps(o) for o in objects))


def _get(cluster: Cluster, *what: str) -> Any:
    result = cluster.kubectl("get", *what, "-o", "json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def _ready_pod_ips(cluster: Cluster, selector: str, count: int) -> list[str] | None:
    pods = (_get(cluster, "pods", "-l", selector) or {}).get("items", [])
    ips = [p["status"]["podIP"] for p in pods if any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in p.get("status", {}).get("conditions") or [])]
    return ips if len(ips) >= count else None


def _frontend(cluster: Cluster, service: str) -> str | None:
    ingress = ((_get(cluster, "service", service) or {}).get("status", {})
               .get("loadBalancer", {}).get("ingress") or [])
    return ingress[0]["ip"] if ingress else None


def _answer(address: str, host: str, path: str = "/") -> tuple[int, str]:
    """One request (from the calling thread's netns), `Connection: close`."""
    conn = http.client.HTTPConnection(address, 80, timeout=2)
    try:
        conn.request("GET", path, headers={"Host": host, "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def setup(cluster: Cluster, workdir: Path) -> tuple[str, str]:
    """The Gateway's and the baseline's addresses, both answering."""
    _apply(cluster, plan.workload())
    web = wait_for(lambda: _ready_pod_ips(cluster, "app=web", 2), 120, message="nginx pods")
    for color in plan.COLORS:
        wait_for(lambda c=color: _ready_pod_ips(cluster, f"color={c}", 1), 120,
                 message=f"{color} pod")
    _apply(cluster, plan.gateway_objects())
    address = wait_for(lambda: plan.programmed_address(
        _get(cluster, "gateway", plan.GATEWAY) or {"metadata": {}},
        _get(cluster, "service", plan.GATEWAY_SERVICE)), 180,
        message=f"Gateway {plan.GATEWAY} Programmed with its Service's frontend IP")
    config = workdir / "baseline.cfg"
    config.write_text(plan.baseline_config(web))
    config.chmod(0o644)
    _apply(cluster, plan.baseline_objects(str(config)))
    wait_for(lambda: _ready_pod_ips(cluster, f"app={plan.BASELINE}", 2), 120,
             message="baseline HAProxy pods")
    baseline = wait_for(lambda: _frontend(cluster, plan.BASELINE), 60,
                        message="the baseline's frontend")
    for ip in (address, baseline):
        wait_for(lambda ip=ip: cluster.sandbox.run(
            ["curl", "-sf", "-o", "/dev/null", "--max-time", "1", "-H", f"Host: {plan.HOST}",
             f"http://{ip}/"], timeout=5).returncode == 0, 60, message=f"an answer from {ip}")
    return address, baseline


def throughput(cluster: Cluster, paths: dict[str, str], server: Callable[[], int],
               args: argparse.Namespace) -> None:
    ratios = {"Gateway": [("hand-written HAProxy", THROUGHPUT_GOAL)]}
    for close in (False, True):
        samples = _wrk.interleave(
            {label: functools.partial(_wrk.run_wrk, cluster.sandbox.name, url, args.seconds,
                                      close, server, args.connections, args.threads,
                                      headers=(f"Host: {plan.HOST}",))
             for label, url in paths.items()}, args.rounds)
        mode = "Connection: close" if close else "keep-alive"
        _wrk.print_table(f"gateway, {mode} (wrk -t{args.threads} -c{args.connections}, "
                         f"{args.rounds} interleaved rounds of {args.seconds:g}s, medians; "
                         f"built-in nginx x 2, HAProxy x 2 each; {load()})", samples, ratios)


class _Patcher:
    """Merge patches from the sandbox thread (the cluster's kubeconfig), on one event
    loop and connection kept for every patch (no handshake inside a measurement)."""

    def __init__(self, cluster: Cluster) -> None:
        from portico.client import Api
        from portico.model.kinds import SERVICE, Kind

        self.loop = asyncio.new_event_loop()
        self.api = Api.connect(cluster.kubeconfig, "bench")
        self.kinds = {"HTTPRoute": Kind.of(f"{plan.GROUP}/v1", "HTTPRoute", "httproutes"),
                      "Service": SERVICE}

    def __call__(self, kind: str, name: str, body: dict[str, Any]) -> None:
        self.loop.run_until_complete(self.api.patch(self.kinds[kind], name, body, "default"))

    def close(self) -> None:
        self.loop.run_until_complete(self.api.close())
        self.loop.close()


def _shift_once(patch: Callable[[str, str, dict[str, Any]], None], address: str,
                change: tuple[str, str, dict[str, Any]], target: str) -> float:
    """Seconds from the API write until a request reaches `target`; polled every
    `POLL` seconds (a tighter loop only takes CPU from the gateway it waits for)."""
    started = time.perf_counter()
    patch(*change)
    while not _answer(address, plan.SHIFT_HOST, "/hostname")[1].startswith(target):
        time.sleep(POLL)
    return time.perf_counter() - started


def shifts(cluster: Cluster, pool: ThreadPoolExecutor, address: str,
           count: int) -> dict[str, list[float]]:
    patch = pool.submit(_Patcher, cluster).result()
    try:
        return _shifts(patch, pool, address, count)
    finally:
        pool.submit(patch.close).result()


def _shifts(patch: _Patcher, pool: ThreadPoolExecutor, address: str,
            count: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"route change": [], "endpoint change": []}
    for i in range(count):
        color = plan.COLORS[(i + 1) % 2]
        rules = plan.route("shift", plan.SHIFT_HOST, color, 8080)["spec"]["rules"]
        samples["route change"].append(pool.submit(
            _shift_once, patch, address, ("HTTPRoute", "shift", {"spec": {"rules": rules}}),
            color).result())
    rules = plan.route("shift", plan.SHIFT_HOST, plan.SHIFT_SERVICE, 8080)["spec"]["rules"]
    pool.submit(patch, "HTTPRoute", "shift", {"spec": {"rules": rules}}).result()
    for i in range(count):
        color = plan.COLORS[(i + 1) % 2]
        samples["endpoint change"].append(pool.submit(
            _shift_once, patch, address,
            ("Service", plan.SHIFT_SERVICE, {"spec": {"selector": {"color": color}}}),
            color).result())
    return samples


def edits_under_load(cluster: Cluster, pool: ThreadPoolExecutor, address: str,
                     server: Callable[[], int], args: argparse.Namespace) -> tuple[int, int]:
    patch = pool.submit(_Patcher, cluster).result()
    seconds = EDITS * 0.1 + 3
    try:
        with ThreadPoolExecutor(1) as load:
            running = load.submit(_wrk.run_wrk, cluster.sandbox.name, f"http://{address}/",
                                  seconds, False, server, args.connections,
                                  headers=(f"Host: {plan.HOST}",))
            time.sleep(1.0)
            for spec in plan.route_edits(EDITS):
                pool.submit(patch, "HTTPRoute", "web", {"spec": spec}).result()
                time.sleep(0.1)
            sample = running.result()
    finally:
        pool.submit(patch.close).result()
    return int(sample.rate * seconds), sample.errors


def report_shifts(samples: dict[str, list[float]]) -> None:
    for what, values in samples.items():
        p99 = plan.percentile(values, 0.99)
        verdict = "ok" if p99 < SHIFT_GOAL_SECONDS else "ABOVE GOAL"
        worst = ", ".join(f"{v * 1000:.0f}" for v in sorted(values)[-3:])
        print(f"{what} -> traffic shifted ({len(values)} changes): p50 "
              f"{statistics.median(values) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
              f"(goal < {SHIFT_GOAL_SECONDS * 1000:.0f} ms: {verdict}; slowest {worst} ms; "
              f"{load()})")


_APPLIED = re.compile(r"config (reloaded|runtime) in ([\d.]+) ms")


def pod_logs(cluster: Cluster) -> dict[str, list[str]]:
    """The gateway pods' log lines, per pod."""
    text = cluster.kubectl("logs", "-l", f"{plan.GROUP}/gateway-name={plan.GATEWAY}",
                           "--tail=-1", "--prefix", "--max-log-requests=10").stdout
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        pod, _, rest = line.partition(" ")
        out.setdefault(pod, []).append(rest)
    return out


def report_pod_work(before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
    """The pods' own time per applied change (sync start to HAProxy serving it), from the
    lines they logged since `before`: what of a shift the gateway spends, the rest being
    the API, watches and the machine's queue."""
    found: dict[str, list[float]] = {}
    for pod, lines in after.items():
        for line in lines[len(before.get(pod, [])):]:
            m = _APPLIED.search(line)
            if m:
                found.setdefault(m.group(1), []).append(float(m.group(2)))
    for how, values in sorted(found.items()):
        print(f"  gateway pods' own work per {how} change ({len(values)}, all pods): p50 "
              f"{statistics.median(values):.1f} ms, p99 {plan.percentile(values, 0.99):.1f} ms")


def gateway_pods(cluster: Cluster) -> str:
    """Both sides' replicas (their autoscalers may add pods under load)."""
    count = {name: ((_get(cluster, "deployment", name) or {}).get("spec") or {}).get(
        "replicas") for name in (plan.GATEWAY_SERVICE, plan.BASELINE)}
    return (f"pods: gateway {count[plan.GATEWAY_SERVICE]}, hand-written "
            f"{count[plan.BASELINE]} (autoscalers 2-5)")


def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gwbench-"))
    workdir.chmod(0o755)  # the baseline's pods read their config here
    try:
        with Cluster(nodes=2) as cluster:
            address, baseline = setup(cluster, workdir)
            pods = _pod_netns(cluster)
            for netns in pods:
                _wrk.drop_time_wait(netns)
            server = _wrk.netns_ticks(pods, "nginx", "haproxy")
            with ThreadPoolExecutor(1, initializer=enter,
                                    initargs=(cluster.sandbox.name,)) as pool:
                logged = pod_logs(cluster)
                report_shifts(shifts(cluster, pool, address, args.shifts))
                report_pod_work(logged, pod_logs(cluster))
                throughput(cluster, {"hand-written HAProxy": f"http://{baseline}/",
                                     "Gateway": f"http://{address}/"}, server, args)
                print(gateway_pods(cluster))
                total, failed = edits_under_load(cluster, pool, address, server, args)
            print(f"{EDITS} route changes under keep-alive load: {total} requests, "
                  f"{failed} failed (goal 0; {load()}); {gateway_pods(cluster)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _wrk.add_run_options(parser)
    parser.add_argument("--shifts", type=int, default=40)
    main(parser.parse_args())
