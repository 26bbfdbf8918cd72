"""Cluster start-up bench: `portico up --nodes 3` until the nodes are Ready and the addons
available, fresh and on restart, against the control plane alone as the baseline.

Run on demand (not in CI), as root:  .venv/bin/python -m bench.startup [--rounds 3]

Theory of operation: each round runs in a sandbox netns of its own (the test harness,
`portico.testing.sandbox.Cluster`).  The baseline is `portico up --nodes 0` (API server
and controllers, no cloud, no nodes) until `portico wait` answers: Python's start-up,
imports, the store and TLS, which every configuration pays.  Then a 3-node cluster is
started on a fresh data dir, with `portico wait --for nodes` (every node Ready with a
heartbeat from this run) and `portico wait` (also CoreDNS and the ingress controller
available) started at the same moment as `portico up`; each time is when its waiter
exits.  The cluster is stopped and started again on the same data dir (restart: pods
come back).  Medians over the rounds are printed, with ratios to the baseline.
Every cluster installs the Gateway API CRDs in the background (from the conformance
copy, as in the tests); `--gateway-api-crds none` measures without them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from portico.testing.sandbox import Cluster, SandboxError, wait_for  # noqa: E402

TIMEOUT = 120.0


def _timed_start(cluster: Cluster, targets: tuple[str, ...]) -> dict[str, float]:
    """Launch `portico up` and one waiter per target; seconds until each waiter exits."""
    start = time.monotonic()
    cluster.launch()
    waiters = {target: cluster.waiter(target) for target in targets}
    done: dict[str, float] = {}

    def finished() -> bool:
        for target, waiter in waiters.items():
            if target not in done and waiter.poll() is not None:
                done[target] = time.monotonic() - start
        return len(done) == len(waiters)

    wait_for(finished, TIMEOUT, interval=0.01, message="portico wait")
    for target, waiter in waiters.items():
        out, err = waiter.communicate()
        if waiter.returncode != 0:
            raise SandboxError(f"portico wait --for {target} failed: {out}{err}\n"
                               f"{cluster.log_tail()}")
    return done


def _round(env: dict[str, str]) -> dict[str, float]:
    results: dict[str, float] = {}
    with Cluster(nodes=0, env=env) as control_plane:  # the first start: not timed
        control_plane.stop()
        results["control plane"] = _timed_start(control_plane, ("all",))["all"]
    cluster = Cluster(nodes=3, env=env)
    cluster.sandbox.create()
    try:
        fresh = _timed_start(cluster, ("nodes", "all"))
        cluster.stop()
        again = _timed_start(cluster, ("nodes", "all"))
    finally:
        cluster.close()
    results.update({"fresh: nodes Ready": fresh["nodes"], "fresh: addons available": fresh["all"],
                    "restart: nodes Ready": again["nodes"],
                    "restart: addons available": again["all"]})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gateway-api-crds", metavar="FILE",
                        help="the Gateway API bundle, or `none` (default: the tests' copy)")
    args = parser.parse_args()
    env = {"PORTICO_GATEWAY_API_CRDS": args.gateway_api_crds} if args.gateway_api_crds else {}
    rounds = [_round(env) for _ in range(args.rounds)]
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    base = medians["control plane"]
    print(f"median of {len(rounds)} rounds (seconds from `portico up` to `portico wait`):")
    for key, value in medians.items():
        spread = ", ".join(f"{r[key]:.2f}" for r in rounds)
        print(f"  {key:28s} {value:5.2f} s  ({value / base:4.2f}x the control plane; "
              f"runs: {spread})")


if __name__ == "__main__":
    main()
