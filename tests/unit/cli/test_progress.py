"""`portico up`'s progress lines and summary, on a fake clock."""

from __future__ import annotations

from pathlib import Path

from portico.cli._progress import Progress, count


def progress_at(*times: float) -> tuple[Progress, list[str]]:
    lines: list[str] = []
    clock = iter(times)
    return Progress(write=lines.append, clock=lambda: next(clock)), lines


def test_each_step_says_the_time_since_start() -> None:
    progress, lines = progress_at(10.0, 10.25, 12.5)
    progress.step("API server ready on 127.0.0.1:6443")
    progress.step("node-1 Ready")
    assert lines == ["portico: API server ready on 127.0.0.1:6443 (0.2s)",
                     "portico: node-1 Ready (2.5s)"]


def test_the_summary_ends_with_the_kubeconfig_and_three_commands() -> None:
    progress, lines = progress_at(0.0, 2.84)
    progress.summary("dev", Path("/d/kubeconfig"), nodes=3)
    assert lines == ["\n".join([
        "portico: cluster 'dev' is up in 2.8s; Ctrl-C stops it and removes everything it "
        "created",
        "",
        "Try, in another shell:",
        "  export KUBECONFIG=/d/kubeconfig",
        "  kubectl get nodes -o wide",
        "  kubectl create deployment web --image=nginx --replicas=2",
        "  kubectl expose deployment web --port=80 --type=LoadBalancer && kubectl get svc web",
        ""])]


def test_a_control_plane_only_cluster_suggests_what_runs_without_nodes() -> None:
    progress, lines = progress_at(0.0, 1.0)
    progress.summary("cp", Path("/k"), nodes=0)
    assert "  kubectl create configmap hello --from-literal=a=1" in lines[0]



def test_counts_say_one_or_many() -> None:
    assert [count(1, "node"), count(3, "node namespace")] == ["1 node", "3 node namespaces"]
