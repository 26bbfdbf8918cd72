"""Issue 21 end to end: kubelet's events, start errors, waiting reasons and resolv.conf.

One `portico up --nodes 1` serves the module; each test gets a fresh namespace and
runs with kubectl 1.32 and 1.33.  The expected texts are kubelet's (and
containerd's, for a process that cannot start): event reasons and messages
(pkg/kubelet/events, kuberuntime_container.go, the image manager, the prober), the
container states `kubectl get pods` shows, and the resolv.conf that kubelet's DNS
configurer forms (pkg/kubelet/network/dns) as containerd writes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import dump, pod, running_cluster
from e2e_support import parse_table

from portico.agent._dns import parse_resolv_conf
from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

NODE = "node-1"
NOT_FOUND = 'exec: "no-such-binary": executable file not found in $PATH'


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(nodes=1)


def events_of(k: Kubectl, name: str) -> list[dict[str, Any]]:
    return [e for e in k.json("get", "events")["items"]
            if e["involvedObject"]["name"] == name]


def event(k: Kubectl, name: str, reason: str, min_count: int = 1) -> dict[str, Any]:
    """Wait for the event `reason` on object `name` with at least `min_count` repeats."""
    def found() -> dict[str, Any] | None:
        return next((e for e in events_of(k, name)
                     if e["reason"] == reason and e.get("count", 1) >= min_count), None)
    return wait_for(found, 60, interval=0.2, message=f"event {reason} x{min_count} on {name}")


def has_messages(k: Kubectl, name: str, reason: str, expected: set[str]) -> None:
    """Wait until the events `reason` on `name` include each of `expected`."""
    def found() -> bool:
        return expected <= {e["message"] for e in events_of(k, name) if e["reason"] == reason}
    wait_for(found, 30, interval=0.2, message=f"{reason} events {expected} on {name}")


def container_status(k: Kubectl, name: str) -> dict[str, Any]:
    statuses = k.json("get", "pod", name)["status"].get("containerStatuses") or [{}]
    return dict(statuses[0])


def status_column(k: Kubectl, name: str) -> str:
    _, rows = parse_table(k.ok("get", "pod", name))
    return rows[0]["STATUS"]


def test_events_of_a_pod_life_as_kubelet_records_them(kubectl: Kubectl) -> None:
    k = kubectl
    probe = {"exec": {"command": ["sh", "-c", "echo not ready yet; exit 1"]},
             "periodSeconds": 1}
    k.ok("apply", "-f", "-", input=dump(pod("web", {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "web", "image": "nginx:1.27", "readinessProbe": probe,
                        "lifecycle": {"preStop": {"exec": {"command": ["sh", "-c", "exit 3"]}}},
                        }]})))
    pulled = event(k, "web", "Pulled")
    assert (pulled["type"], pulled["message"]) == (
        "Normal", 'Container image "nginx:1.27" already present on machine')
    assert (pulled["source"], pulled["reportingComponent"], pulled["reportingInstance"]) == (
        {"component": "kubelet", "host": NODE}, "kubelet", NODE)
    assert pulled["involvedObject"]["fieldPath"] == "spec.containers{web}"
    assert event(k, "web", "Created")["message"] == "Created container: web"
    assert event(k, "web", "Started")["message"] == "Started container web"
    # every failed probe is an event; repeats of the same text are one event, counted
    unhealthy = event(k, "web", "Unhealthy", min_count=3)
    assert (unhealthy["type"], unhealthy["message"]) == (
        "Warning", "Readiness probe failed: not ready yet\n")
    assert unhealthy["lastTimestamp"] >= unhealthy["firstTimestamp"]
    assert [e["reason"] for e in events_of(k, "web")].count("Unhealthy") == 1

    described = k.ok("describe", "pod", "web")
    events_table = described[described.index("\nEvents:"):]
    assert "kubelet" in events_table
    assert 'Container image "nginx:1.27" already present on machine' in events_table
    assert "Readiness probe failed: not ready yet" in events_table
    assert "(x" in [line for line in events_table.splitlines() if "Unhealthy" in line][0]

    k.ok("delete", "pod", "web", "--wait=false")
    killing = event(k, "web", "Killing")
    assert (killing["type"], killing["message"]) == ("Normal", "Stopping container web")
    hook = event(k, "web", "FailedPreStopHook")
    assert (hook["type"], hook["message"]) == ("Warning", "PreStopHook failed")


def test_a_failed_liveness_probe_kills_and_restarts_with_kubelets_events(
        kubectl: Kubectl) -> None:
    k = kubectl
    probe = {"exec": {"command": ["sh", "-c", "echo gone >&2; exit 1"]},
             "periodSeconds": 1, "failureThreshold": 2}
    k.ok("apply", "-f", "-", input=dump(pod("live", {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                        "livenessProbe": probe}]})))
    unhealthy = event(k, "live", "Unhealthy", min_count=2)
    assert (unhealthy["type"], unhealthy["message"]) == (
        "Warning", "Liveness probe failed: gone\n")
    killing = event(k, "live", "Killing")
    assert (killing["type"], killing["message"]) == (
        "Normal", "Container app failed liveness probe, will be restarted")
    assert killing["involvedObject"]["fieldPath"] == "spec.containers{app}"
    wait_for(lambda: container_status(k, "live").get("restartCount", 0) >= 1, 60,
             interval=0.2, message="a restart after the liveness failure")


def test_always_pull_policy_says_what_ran(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("run", "sleeper", "--image=busybox", "--command", "--", "sleep", "3600")
    assert event(k, "sleeper", "Pulling")["message"] == 'Pulling image "busybox"'
    assert event(k, "sleeper", "Pulled")["message"] == (
        'Container image "busybox" is built into portico: nothing to pull')


def test_a_container_that_cannot_start_is_a_start_error_that_backs_off(
        kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("run", "x", "--image=busybox", "--command", "--", "no-such-binary")

    def backing_off() -> dict[str, Any] | None:
        status = container_status(k, "x")
        waiting = (status.get("state") or {}).get("waiting") or {}
        return status if waiting.get("reason") == "CrashLoopBackOff" else None

    status = wait_for(backing_off, 60, interval=0.2, message="x in CrashLoopBackOff")
    assert status["restartCount"] >= 1
    last = status["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("StartError", 128)
    assert NOT_FOUND in last["message"]
    assert last["message"].startswith("failed to create portico task: unable to start "
                                      "container process: ")
    assert status_column(k, "x") == "CrashLoopBackOff"
    failed = event(k, "x", "Failed")
    assert failed["type"] == "Warning"
    assert failed["message"] == f"Error: {last['message']}"
    uid = k.json("get", "pod", "x")["metadata"]["uid"]
    assert event(k, "x", "BackOff")["message"] == (
        f"Back-off restarting failed container x in pod x_{k.namespace}({uid})")
    assert event(k, "x", "Created", min_count=2)["message"] == "Created container: x"


def test_a_never_restarting_pod_that_cannot_start_fails(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("run", "once", "--image=busybox", "--restart=Never", "--command", "--",
         "no-such-binary")
    wait_for(lambda: k.json("get", "pod", "once")["status"].get("phase") == "Failed", 60,
             interval=0.2, message="pod once Failed")
    status = container_status(k, "once")
    terminated = status["state"]["terminated"]
    assert (terminated["reason"], terminated["exitCode"], status["restartCount"]) == (
        "StartError", 128, 0)
    assert NOT_FOUND in terminated["message"]
    assert status_column(k, "once") == "StartError"


def test_an_image_that_cannot_run_shows_why_at_once(kubectl: Kubectl) -> None:
    k = kubectl
    image = "example.com/team/unknown-app:1.0"
    k.ok("run", "app", f"--image={image}")

    def waiting(reason: str) -> dict[str, Any] | None:
        state = container_status(k, "app").get("state") or {}
        got = state.get("waiting") or {}
        return got if got.get("reason") == reason else None

    first = wait_for(lambda: waiting("ErrImagePull"), 30, interval=0.1,
                     message="ErrImagePull")
    assert f'image "{image}" is not built into portico' in first["message"]
    assert status_column(k, "app") in ("ErrImagePull", "ImagePullBackOff")
    assert event(k, "app", "Pulling")["message"] == f'Pulling image "{image}"'
    has_messages(k, "app", "Failed", {
        f'Failed to pull image "{image}": {first["message"]}', "Error: ErrImagePull"})
    back_off = wait_for(lambda: waiting("ImagePullBackOff"), 30, interval=0.1,
                        message="ImagePullBackOff")
    assert back_off["message"] == (
        f'Back-off pulling image "{image}": ErrImagePull: {first["message"]}')
    assert event(k, "app", "BackOff")["message"] == f'Back-off pulling image "{image}"'
    described = k.ok("describe", "pod", "app")
    assert "Reason:       ErrImagePull" in described or \
        "Reason:       ImagePullBackOff" in described


def test_never_pull_policy_for_an_image_portico_lacks(kubectl: Kubectl) -> None:
    k = kubectl
    image = "example.com/team/unknown-app:2.0"
    k.ok("run", "never", f"--image={image}", "--image-pull-policy=Never")
    wait_for(lambda: status_column(k, "never") == "ErrImageNeverPull", 30, interval=0.1,
             message="ErrImageNeverPull")
    message = f'Container image "{image}" is not present with pull policy of Never'
    assert container_status(k, "never")["state"]["waiting"]["message"] == message
    assert event(k, "never", "ErrImageNeverPull")["message"] == message
    has_messages(k, "never", "Failed", {"Error: ErrImageNeverPull"})


def test_a_missing_configmap_shows_create_container_config_error(kubectl: Kubectl) -> None:
    k = kubectl
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "absent",
                                                              "key": "mode"}}}]
    k.ok("apply", "-f", "-", input=dump(pod("cfg", {"containers": [
        {"name": "app", "image": "busybox", "command": ["sleep", "3600"], "env": env}]})))
    wait_for(lambda: status_column(k, "cfg") == "CreateContainerConfigError", 30,
             interval=0.1, message="CreateContainerConfigError")
    waiting = container_status(k, "cfg")["state"]["waiting"]
    assert waiting["message"] == 'configmap "absent" not found'
    assert event(k, "cfg", "Failed")["message"] == 'Error: configmap "absent" not found'


def resolv_conf_of(k: Kubectl, name: str, spec: dict[str, Any]) -> str:
    """Run `cat /etc/resolv.conf` in a one-shot pod with `spec`'s DNS fields."""
    body = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "busybox",
                            "command": ["cat", "/etc/resolv.conf"]}], **spec}
    k.ok("apply", "-f", "-", input=dump(pod(name, body)))
    wait_for(lambda: k.json("get", "pod", name)["status"].get("phase") == "Succeeded", 60,
             interval=0.2, message=f"pod {name} to finish")
    return k.ok("logs", name)


def test_resolv_conf_as_kubelet_forms_it(kubectl: Kubectl) -> None:
    k, ns = kubectl, kubectl.namespace
    node = parse_resolv_conf(Path("/etc/resolv.conf").read_text())
    cluster_search = " ".join(dict.fromkeys(
        [f"{ns}.svc.cluster.local", "svc.cluster.local", "cluster.local", *node.searches]))
    assert resolv_conf_of(k, "first", {}) == (
        f"search {cluster_search}\nnameserver 10.0.0.10\noptions ndots:5\n")
    none = {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["192.0.2.53"], "searches": ["a.example", "b.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}
    assert resolv_conf_of(k, "none", none) == (
        "search a.example b.example\nnameserver 192.0.2.53\noptions ndots:2 edns0\n")
    merged = {"dnsConfig": {"nameservers": ["192.0.2.53"], "searches": ["my.example"],
                            "options": [{"name": "timeout", "value": "1"},
                                        {"name": "ndots", "value": "1"}]}}
    assert resolv_conf_of(k, "merged", merged) == (
        f"search {cluster_search} my.example\nnameserver 10.0.0.10\n"
        "nameserver 192.0.2.53\noptions ndots:1 timeout:1\n")
    host_lines = ([f"search {' '.join(node.searches)}"] if node.searches else []) + [
        f"nameserver {s}" for s in node.nameservers] + (
        [f"options {' '.join(node.options)}"] if node.options else [])
    host_file = "".join(line + "\n" for line in host_lines)
    assert resolv_conf_of(k, "default", {"dnsPolicy": "Default"}) == host_file
    assert resolv_conf_of(k, "hostnet", {"hostNetwork": True}) == host_file
    assert resolv_conf_of(k, "hostnet-cluster", {
        "hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}) == (
        f"search {cluster_search}\nnameserver 10.0.0.10\noptions ndots:5\n")


def test_dns_limits_cut_with_kubelets_event(kubectl: Kubectl) -> None:
    k, ns = kubectl, kubectl.namespace
    servers = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    searches = [f"s{i}.example" for i in range(40)]
    text = resolv_conf_of(k, "limits", {"dnsConfig": {"nameservers": servers,
                                                      "searches": searches}})
    lines = text.splitlines()
    assert [ln for ln in lines if ln.startswith("nameserver")] == [
        "nameserver 10.0.0.10", "nameserver 192.0.2.1", "nameserver 192.0.2.2"]
    applied = lines[0].removeprefix("search ").split()
    assert len(applied) == 32 and applied[0] == f"{ns}.svc.cluster.local"

    def messages() -> set[str] | None:
        found = {e["message"] for e in events_of(k, "limits")
                 if e["reason"] == "DNSConfigForming" and e["type"] == "Warning"}
        return found if len(found) == 2 else None

    assert wait_for(messages, 30, interval=0.2, message="two DNSConfigForming events") == {
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
        "nameserver line is: 10.0.0.10 192.0.2.1 192.0.2.2",
        "Search Line limits were exceeded, some search paths have been omitted, the applied "
        f"search line is: {' '.join(applied)}"}


def test_a_missing_configmap_volume_is_failed_mount_until_it_exists(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=dump(pod("vol", {
        "volumes": [{"name": "cfg", "configMap": {"name": "later"}}],
        "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "3600"],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}]})))
    failed = event(k, "vol", "FailedMount")
    assert (failed["type"], failed["message"]) == (
        "Warning", 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found')
    assert "fieldPath" not in failed["involvedObject"]
    wait_for(lambda: status_column(k, "vol") == "ContainerCreating", 30, interval=0.2,
             message="pod vol ContainerCreating")
    assert "podIP" not in k.json("get", "pod", "vol")["status"]  # no sandbox yet
    k.ok("create", "configmap", "later", "--from-literal=mode=on")
    wait_for(lambda: status_column(k, "vol") == "Running", 60, interval=0.2,
             message="pod vol Running once its ConfigMap exists")
