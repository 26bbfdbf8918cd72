"""Real images bench: pod start-up of a cached image against a built-in one, and pull speed.

Run on demand (not in CI), as root:  .venv/bin/python -m bench.images [--pods 30] [--rounds 3]

Theory of operation: a 3-node sandbox cluster (`portico.testing.sandbox.Cluster`) and
Debian's docker-registry on the sandbox's loopback (`portico.testing.oci_images`),
holding a busybox-static image and a 50 MB one (the same plus 50 MB of
incompressible data).
1. Start-up: the image is pulled once on every node (a pod pinned to each), then a
   burst of N 3-container pods of it (`sleep`, policy IfNotPresent: "already
   present") and, in the same run, a burst of N 3-container pods of the built-in
   agnhost `pause`, alternated for `--rounds` rounds once the cluster's own pods are
   Ready; per pod, created -> Ready as watched (bench.pods' lean watch); each burst's
   p99, their median and the ratio of the medians are printed (goal: image p99 < 1 s).
2. Pull: the 50 MB image pulled by Portico's puller (inspect, copy into an empty
   store, unpack: what a pod's first pull costs) against `skopeo copy` of the same
   image from the same registry into an empty OCI layout; ratio skopeo / Portico
   (goal >= 0.8), and `umoci raw unpack` of skopeo's copy alone: where the time goes.
Each line ends with the load average: other work on the machine skews every number.
Everything is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.pods import percentile, watched_burst  # noqa: E402
from portico.images._reference import parse  # noqa: E402
from portico.oci import ImageStore, Puller, Registries  # noqa: E402
from portico.testing.oci_images import build_layout, push, start_registry  # noqa: E402
from portico.testing.sandbox import Cluster  # noqa: E402

PORT = 5000
SMALL = f"127.0.0.1:{PORT}/bench/bb:1.0"
LARGE = f"127.0.0.1:{PORT}/bench/large:1.0"
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
SLEEP = {"args": ["sleep", "3600"]}


def _load() -> str:
    """The machine's load average (the numbers mean little on a busy machine)."""
    return "(load average {:.1f} {:.1f} {:.1f})".format(*os.getloadavg())


def _pod(name: str, image: str, extra: Mapping[str, object], node: str | None = None) -> str:
    spec: dict[str, object] = {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": f"c{i}", "image": image, **extra} for i in range(3)]}
    if node:
        spec["nodeName"] = node
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": spec})


def _burst(cluster: Cluster, namespace: str, docs: list[str]) -> list[float]:
    """Create the pods at once; created -> Ready per pod (seconds)."""
    return watched_burst(cluster, namespace, docs).per_pod


def startup(cluster: Cluster, count: int, rounds: int) -> None:
    warm = [_pod(f"warm-{i}", SMALL, SLEEP, f"node-{i}") for i in (1, 2, 3)]
    _burst(cluster, "warm", warm)
    # the cluster's own pods (DNS, ingress) start with it: a burst measured beside them
    # measures their start too
    cluster.kubectl("wait", "--for=condition=Ready", "pods", "--all", "--all-namespaces",
                    "--timeout=120s", check=True, timeout=130)
    runs: dict[str, list[float]] = {"cached image (crun)": [], "built-in image": []}
    for r in range(rounds):
        runs["cached image (crun)"].append(percentile(_burst(
            cluster, f"image-{r}", [_pod(f"img-{i:03d}", SMALL, SLEEP) for i in range(count)]),
            0.99))
        runs["built-in image"].append(percentile(_burst(
            cluster, f"builtin-{r}", [_pod(f"bi-{i:03d}", AGNHOST, {"args": ["pause"]})
                                      for i in range(count)]), 0.99))
    for label, p99s in runs.items():
        print(f"{count} 3-container pods, {label}: p99 per round "
              f"{' / '.join(f'{v:.2f}s' for v in p99s)}, median {statistics.median(p99s):.2f}s "
              f"{_load()}")
    image, builtin = (statistics.median(v) for v in runs.values())
    print(f"p99 ratio image / built-in: {image / builtin:.2f} (goal: image p99 < 1 s: "
          f"{'met' if image < 1 else 'MISSED'})")


def pull_speed(cluster: Cluster) -> None:
    netns = f"/run/netns/{cluster.sandbox.name}"
    work = Path(tempfile.mkdtemp(prefix="portico-bench-images-"))
    try:
        started = time.monotonic()
        subprocess.run(["nsenter", f"--net={netns}", "skopeo", "copy", "--quiet",
                        "--src-tls-verify=false", f"docker://{LARGE}", f"oci:{work / 'ref'}:x"],
                       check=True, capture_output=True, timeout=600)
        skopeo = time.monotonic() - started
        puller = Puller(ImageStore(work / "store"), Registries(), netns)
        pulled = puller.pull_sync(parse(LARGE), "node-1")
        started = time.monotonic()
        subprocess.run(["umoci", "raw", "unpack", "--image", f"{work / 'ref'}:x",
                        str(work / "rootfs")], check=True, capture_output=True, timeout=600)
        unpack = time.monotonic() - started
        print(f"pull of a {pulled.image.size / 1e6:.0f} MB image: portico {pulled.seconds:.2f}s "
              f"(inspect, copy, unpack), skopeo copy {skopeo:.2f}s; ratio skopeo / portico "
              f"{skopeo / pulled.seconds:.2f} (goal >= 0.8); umoci raw unpack alone "
              f"{unpack:.2f}s {_load()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(count: int, rounds: int) -> None:
    with Cluster(nodes=3) as cluster:
        root = cluster.workdir / "registry"
        root.mkdir()
        start_registry(cluster.sandbox, root, PORT, None)
        layout = root / "oci"
        build_layout(layout, "small", {"Env": ["PATH=/bin"]})
        build_layout(layout, "large", {"Env": ["PATH=/bin"]}, padding=50 * 1024 * 1024)
        push(cluster.sandbox, layout, "small", SMALL)
        push(cluster.sandbox, layout, "large", LARGE)
        startup(cluster, count, rounds)
        pull_speed(cluster)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3,
                        help="bursts of each kind, alternated; the median of their p99s counts")
    args = parser.parse_args()
    run(args.pods, args.rounds)


if __name__ == "__main__":
    main()
