"""Workload bench: a 100-pod StatefulSet and a 100-completion Job against a Deployment.

Run on demand (not in CI), as root:  .venv/bin/python -m bench.workloads [--pods 100]

Theory of operation: one `portico up --nodes 3` in a sandbox netns (the harness,
`portico.testing.sandbox.Cluster`). In one namespace, one after the other, each
workload is applied with kubectl and timed from the apply to kubectl's own wait
returning: a Deployment of N agnhost `pause` pods with a readiness probe
(`kubectl rollout status`), a StatefulSet of N such pods with
`podManagementPolicy: Parallel` (`kubectl wait --for=jsonpath={.status.readyReplicas}=N`)
and a Job of N completions, parallelism 10, of busybox `true`
(`kubectl wait --for=condition=complete`). Each is deleted (and its pods gone)
before the next starts. The goal is each within 1.5x of the Deployment's time.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from bench.pods import pod_count  # noqa: E402
from portico.testing.sandbox import Cluster  # noqa: E402

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
NAMESPACE = "bench"
GOAL_RATIO = 1.5
JOB_PARALLELISM = 10
WAIT_TIMEOUT = "600s"


@dataclass(frozen=True)
class Workload:
    kind: str  # kubectl resource name, e.g. "deployment"
    name: str
    manifest: dict[str, object]
    wait: tuple[str, ...]  # kubectl arguments that return once the workload is done


def _pod_template(app: str) -> dict[str, object]:
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    return {"metadata": {"labels": {"app": app}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "pause", "image": AGNHOST, "args": ["pause"],
                                     "readinessProbe": probe}]}}


def workloads(count: int) -> list[Workload]:
    """The Deployment (the reference) first, then the StatefulSet and the Job."""
    selector = {"matchLabels": {"app": "web"}}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": count, "selector": selector,
                       "template": _pod_template("web")}}
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"replicas": count, "serviceName": "web", "selector": selector,
                    "podManagementPolicy": "Parallel", "template": _pod_template("web")}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "work"},
           "spec": {"completions": count, "parallelism": JOB_PARALLELISM, "template": {
               "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                        "containers": [{"name": "work", "image": "busybox",
                                        "command": ["true"]}]}}}}
    return [
        Workload("deployment", "web", deploy,
                 ("rollout", "status", "deployment/web", f"--timeout={WAIT_TIMEOUT}")),
        Workload("statefulset", "web", sts,
                 ("wait", f"--for=jsonpath={{.status.readyReplicas}}={count}",
                  "statefulset/web", f"--timeout={WAIT_TIMEOUT}")),
        Workload("job", "work", job,
                 ("wait", "--for=condition=complete", "job/work", f"--timeout={WAIT_TIMEOUT}")),
    ]


def ratios(seconds: dict[str, float]) -> dict[str, float]:
    """Each workload's time over the Deployment's."""
    reference = seconds["deployment"]
    return {kind: value / reference for kind, value in seconds.items() if kind != "deployment"}


def measure(cluster: Cluster, workload: Workload) -> float:
    def kubectl(*args: str, stdin: str | None = None) -> None:
        cluster.kubectl("-n", NAMESPACE, *args, input=stdin, check=True, timeout=700)

    start = time.monotonic()
    kubectl("apply", "-f", "-", stdin=json.dumps(workload.manifest))
    kubectl(*workload.wait)
    took = time.monotonic() - start
    kubectl("delete", workload.kind, workload.name, "--wait=true")
    kubectl("wait", "--for=delete", "pods", "--all", f"--timeout={WAIT_TIMEOUT}")
    return took


def run(count: int) -> None:
    with Cluster(nodes=3) as cluster:
        cluster.kubectl("create", "namespace", NAMESPACE, check=True)
        seconds = {w.kind: measure(cluster, w) for w in workloads(count)}
    print(f"{count} pods on 3 nodes: Deployment all Ready after {seconds['deployment']:.1f}s")
    print(f"StatefulSet (Parallel) all Ready after {seconds['statefulset']:.1f}s; "
          f"Job ({count} completions, parallelism {JOB_PARALLELISM}) Complete after "
          f"{seconds['job']:.1f}s")
    for kind, ratio in ratios(seconds).items():
        verdict = "ok" if ratio <= GOAL_RATIO else "over the goal"
        print(f"{kind}/deployment: {ratio:.2f}x (goal <= {GOAL_RATIO}x: {verdict})")


def main() -> None:
    run(pod_count(__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
