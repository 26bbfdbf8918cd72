"""Pod start-up bench: 100 pods from create to Ready on a 3-node sandbox cluster.

Run on demand (not in CI), as root:  .venv/bin/python -m bench.pods [--pods 100]

Theory of operation: the harness (`portico.testing.sandbox.Cluster`) runs `portico up`
in a sandbox netns of its own.  The bench creates N bare agnhost `pause` pods with one
`kubectl apply` (`watched_burst`: it creates them one after the other, as fast as the
API answers), while one raw HTTPS watch (light enough not to load the cluster it
measures, and started before the pods so that its own start does not either) records,
per pod, the time from the first event that shows it (its creation; the API's
timestamps have second resolution, too coarse) to the first event with condition
Ready=True.  It prints the total time to all Ready, the per-pod p50/p99 (goal: p99 < 1 s)
and the RSS of each node's agent (the process titled `portico agent` in its node netns).
Everything is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from portico.testing.sandbox import Cluster  # noqa: E402

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"

# A lean watcher: one raw HTTPS watch, JSON per line. (The official Python client's
# model decoding spent about a core-second per 100 pods, taken from the cluster it measures.)
WATCH = r"""
import base64, http.client, json, ssl, sys, tempfile, time, yaml
start, expected, ns, kubeconfig = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
config = yaml.safe_load(open(kubeconfig))
cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
ctx = ssl.create_default_context(
    cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
with tempfile.NamedTemporaryFile("wb") as cert, tempfile.NamedTemporaryFile("wb") as key:
    cert.write(base64.b64decode(user["client-certificate-data"])); cert.flush()
    key.write(base64.b64decode(user["client-key-data"])); key.flush()
    ctx.load_cert_chain(cert.name, key.name)
host, port = cluster["server"].removeprefix("https://").rsplit(":", 1)
conn = http.client.HTTPSConnection(host, int(port), context=ctx)
conn.request("GET", f"/api/v1/namespaces/{ns}/pods?watch=1&timeoutSeconds=300")
response = conn.getresponse()
print("watching", flush=True)
seen, ready = {}, {}
while len(ready) < expected:
    line = response.readline()
    if not line:
        break
    pod = json.loads(line)["object"]
    name = pod["metadata"]["name"]
    seen.setdefault(name, time.time() - start)
    conditions = (pod.get("status") or {}).get("conditions") or []
    if name not in ready and any(c["type"] == "Ready" and c["status"] == "True"
                                 for c in conditions):
        ready[name] = time.time() - start
print(json.dumps({n: [seen[n], r] for n, r in ready.items()}))
"""


@dataclass(frozen=True)
class Burst:
    created: float  # seconds kubectl took to create them all
    ready: list[float]  # per pod, seconds from the start to Ready
    per_pod: list[float]  # per pod, seconds from its creation (first seen) to Ready


def watched_burst(cluster: Cluster, namespace: str, docs: list[str]) -> Burst:
    """Create the pods `docs` (JSON) in a new `namespace` at once, the watcher running."""
    cluster.kubectl("create", "namespace", namespace, check=True)
    launched = time.time()
    watcher = cluster.sandbox.popen([sys.executable, "-c", WATCH, str(launched),
                                     str(len(docs)), namespace, str(cluster.kubeconfig)])
    assert watcher.stdout is not None
    if watcher.stdout.readline().strip() != "watching":
        sys.exit(f"{namespace}: the watch did not start: {watcher.communicate()[1]}")
    start = time.time()
    cluster.kubectl("-n", namespace, "apply", "-f", "-", input="\n---\n".join(docs),
                    check=True, timeout=120)
    created = time.time() - start
    out, err = watcher.communicate(timeout=330)
    ready = json.loads(out or "{}")
    if len(ready) != len(docs):
        sys.exit(f"{namespace}: only {len(ready)}/{len(docs)} pods became Ready: {err}")
    offset = start - launched  # the watcher's times count from its launch
    return Burst(created, [r - offset for _, r in ready.values()],
                 [r - s for s, r in ready.values()])


def manifests(count: int) -> str:
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"bench-{i:03d}"},
             "spec": {"terminationGracePeriodSeconds": 0,
                      "containers": [{"name": "pause", "image": AGNHOST, "args": ["pause"]}]}}
            for i in range(count)]
    return "\n---\n".join(json.dumps(p) for p in pods)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def agent_rss_kib(cluster: Cluster) -> dict[str, int]:
    """RSS (KiB) of each node's agent process, found in its node netns by command line."""
    out: dict[str, int] = {}
    for i in range(1, cluster.nodes + 1):
        netns = f"portico-{cluster.name}-node-{i}"
        pids = cluster.sandbox.run(["ip", "netns", "pids", netns]).stdout.split()
        for pid in pids:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if title.startswith(b"portico agent "):
                status = Path(f"/proc/{pid}/status").read_text()
                rss = next(ln for ln in status.splitlines() if ln.startswith("VmRSS:"))
                out[f"node-{i}"] = int(rss.split()[1])
    return out


def run(count: int) -> None:
    with Cluster(nodes=3) as cluster:
        rss_before = agent_rss_kib(cluster)
        burst = watched_burst(cluster, "bench", manifests(count).split("\n---\n"))
        total = max(burst.ready)
        per_pod = burst.per_pod
        print(f"{count} pods on 3 nodes: apply took {burst.created:.2f}s, all Ready after "
              f"{total:.2f}s ({count / total:.1f} pods/s)")
        print(f"per pod (created -> Ready, as watched): p50 {percentile(per_pod, 0.5):.2f}s "
              f"p99 {percentile(per_pod, 0.99):.2f}s (goal p99 < 1 s)")
        after = agent_rss_kib(cluster)
        for node in sorted(after):
            print(f"{node} agent RSS: {rss_before.get(node, 0) / 1024:.1f} MiB idle -> "
                  f"{after[node] / 1024:.1f} MiB with the pods")


def pod_count(description: str, default: int = 100) -> int:
    """The `--pods N` option of a bench that starts N pods."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pods", type=int, default=default)
    return int(parser.parse_args().pods)


def main() -> None:
    run(pod_count(__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
