"""Issue 16, point 5 end to end: pod volumes as the containers see them.

One `portico up --nodes 1` serves the module (volume sync every second, so a
ConfigMap update reaches running containers quickly); each test gets a fresh
namespace and runs with kubectl 1.32 and 1.33.  Containers are busybox processes;
what they see is read with `kubectl exec` (which enters the container's mount
namespace) and `kubectl logs`.  Every mountPath here is absent from the machine
(`/data`, `/etc/app-config`, ...): the test also checks the machine's filesystem
did not gain them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_support import dump, pod

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl

SLEEP = ["sleep", "3600"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(nodes=1, env={"PORTICO_VOLUME_SYNC_SECONDS": "1"}) as running:
        yield running


def running(k: Kubectl, name: str) -> None:
    def phase() -> bool:
        return k.json("get", "pod", name).get("status", {}).get("phase") == "Running"
    try:
        wait_for(phase, 60, interval=0.2, message=f"pod {name} Running")
    except TimeoutError as error:
        log = k.cluster.workdir / "data" / "nodes" / "node-1" / "agent.log"
        raise AssertionError(k("describe", "pod", name).stdout + log.read_text()[-5000:]) \
            from error


def sh(k: Kubectl, pod_name: str, script: str, container: str = "") -> str:
    args = ["exec", pod_name] + (["-c", container] if container else []) + ["--", "sh", "-c",
                                                                           script]
    return k.ok(*args)


def busybox(name: str, mounts: list[dict[str, Any]], command: list[str] | None = None,
            ) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": command or SLEEP,
            "volumeMounts": mounts}


def test_configmap_volume_files_modes_and_update(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("create", "configmap", "app", "--from-literal=mode=blue", "--from-literal=size=3")
    k.ok("apply", "-f", "-", input=dump(pod("cm", {
        "volumes": [
            {"name": "all", "configMap": {"name": "app", "defaultMode": 0o600}},
            {"name": "some", "configMap": {"name": "app", "items": [
                {"key": "mode", "path": "nested/colour", "mode": 0o640}]}},
            {"name": "absent", "configMap": {"name": "nothing", "optional": True}}],
        "containers": [busybox("app", [
            {"name": "all", "mountPath": "/etc/app-config"},
            {"name": "some", "mountPath": "/data/some"},
            {"name": "all", "mountPath": "/data/mode.txt", "subPath": "mode"},
            {"name": "absent", "mountPath": "/data/absent"}])]})))
    running(k, "cm")
    assert sh(k, "cm", "cat /etc/app-config/mode; echo; cat /etc/app-config/size") == "blue\n3"
    assert sh(k, "cm", "stat -L -c %a /etc/app-config/mode /data/some/nested/colour") \
        == "600\n640\n"
    assert sh(k, "cm", "ls /data/absent | wc -l").strip() == "0"
    assert "Read-only file system" in k("exec", "cm", "--", "sh", "-c",
                                        "echo x > /etc/app-config/new").stderr
    k.ok("patch", "configmap", "app", "-p", '{"data":{"mode":"green","size":"3"}}')
    wait_for(lambda: sh(k, "cm", "cat /etc/app-config/mode") == "green", 30, interval=0.3,
             message="the running container sees the ConfigMap update")
    assert sh(k, "cm", "cat /data/some/nested/colour") == "green"
    assert sh(k, "cm", "cat /data/mode.txt") == "blue"  # subPath: not updated, as kubelet
    for path in ("/etc/app-config", "/data/some", "/data/mode.txt"):
        assert not os.path.lexists(path), f"{path} appeared on the machine"


def test_secret_downward_api_and_projected_files(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("create", "secret", "generic", "creds", "--from-literal=password=s3cret")
    k.ok("create", "configmap", "settings", "--from-literal=level=debug")
    downward = {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                          {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}
    k.ok("apply", "-f", "-", input=dump(pod("proj", {
        "volumes": [
            {"name": "secret", "secret": {"secretName": "creds", "defaultMode": 0o400}},
            {"name": "info", "downwardAPI": downward},
            {"name": "all", "projected": {"defaultMode": 0o444, "sources": [
                {"serviceAccountToken": {"path": "token", "audience": "vault",
                                         "expirationSeconds": 3600}},
                {"configMap": {"name": "settings"}},
                {"secret": {"name": "creds", "items": [{"key": "password", "path": "pw"}]}},
                {"downwardAPI": {"items": [
                    {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}],
        "containers": [busybox("app", [
            {"name": "secret", "mountPath": "/var/secret"},
            {"name": "info", "mountPath": "/etc/podinfo"},
            {"name": "all", "mountPath": "/var/run/all"}])]}, labels={"app": "p", "tier": "be"})))
    running(k, "proj")
    assert sh(k, "proj", "cat /var/secret/password; stat -L -c %a /var/secret/password") \
        == "s3cret400\n"
    assert sh(k, "proj", "cat /etc/podinfo/labels") == 'app="p"\ntier="be"'
    assert sh(k, "proj", "cat /etc/podinfo/name") == "proj"
    listing = sh(k, "proj", "cd /var/run/all && cat level pw ns && stat -L -c %a token")
    assert listing == f"debugs3cret{k.namespace}444\n"
    assert sh(k, "proj", "cat /var/run/all/token")  # the token this cluster issues
    assert sh(k, "proj", "ls /var/run/all").split() == ["level", "ns", "pw", "token"]
    assert "..data" in sh(k, "proj", "ls -a /var/run/all").split()  # kubelet's atomic writer
    k.ok("label", "pod", "proj", "tier=fe", "--overwrite")
    wait_for(lambda: sh(k, "proj", "cat /etc/podinfo/labels") == 'app="p"\ntier="fe"', 30,
             interval=0.3, message="downward API labels follow the pod")
    secret = k.json("get", "secret", "creds")
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"


def test_empty_dir_is_shared_between_containers(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=dump(pod("shared", {
        "volumes": [{"name": "scratch", "emptyDir": {}},
                    {"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}}],
        "containers": [
            busybox("writer", [{"name": "scratch", "mountPath": "/scratch"},
                               {"name": "ram", "mountPath": "/ram"}],
                    ["sh", "-c", "echo hello > /scratch/msg; echo fast > /ram/msg; sleep 3600"]),
            busybox("reader", [{"name": "scratch", "mountPath": "/input", "readOnly": True},
                               {"name": "ram", "mountPath": "/cache"}])]})))
    running(k, "shared")
    wait_for(lambda: k("exec", "shared", "-c", "reader", "--", "cat", "/input/msg").stdout
             == "hello\n", 30, interval=0.3, message="the reader sees the writer's file")
    assert sh(k, "shared", "cat /cache/msg", "reader") == "fast\n"
    assert sh(k, "shared", "df -k /cache | tail -1 | awk '{print $2}'", "reader").strip() \
        == "8192"
    denied = k("exec", "shared", "-c", "reader", "--", "sh", "-c", "echo x > /input/y")
    assert "Read-only file system" in denied.stderr


def test_host_path_directory_and_a_missing_one(kubectl: Kubectl, tmp_path: Any) -> None:
    k = kubectl
    (tmp_path / "hello.txt").write_text("from the machine\n")
    tmp_path.chmod(0o755)
    k.ok("apply", "-f", "-", input=dump(pod("host", {
        "volumes": [{"name": "h", "hostPath": {"path": str(tmp_path), "type": "Directory"}}],
        "containers": [busybox("app", [{"name": "h", "mountPath": "/host", "readOnly": True}])]
    })))
    k.ok("apply", "-f", "-", input=dump(pod("nohost", {
        "volumes": [{"name": "h", "hostPath": {"path": str(tmp_path / "nope"),
                                                "type": "Directory"}}],
        "containers": [busybox("app", [{"name": "h", "mountPath": "/host"}])]})))
    running(k, "host")
    assert sh(k, "host", "cat /host/hello.txt") == "from the machine\n"

    def failed_mount() -> str | None:
        events = k.json("get", "events")["items"]
        return next((e["message"] for e in events if e["involvedObject"]["name"] == "nohost"
                     and e["reason"] == "FailedMount"), None)
    message = wait_for(failed_mount, 30, interval=0.3, message="FailedMount for nohost")
    assert message.startswith('MountVolume.SetUp failed for volume "h" : hostPath type check '
                              f'failed: {tmp_path / "nope"} does not exist')
    assert not (tmp_path / "nope").exists()


def claim(name: str, size: str = "64Mi", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": size}}, **spec}}


def claim_pod(name: str, claim_name: str, command: list[str] | None = None) -> dict[str, Any]:
    return pod(name, {"terminationGracePeriodSeconds": 0,
                      "volumes": [{"name": "data",
                                   "persistentVolumeClaim": {"claimName": claim_name}}],
                      "containers": [busybox("app", [{"name": "data", "mountPath": "/data"}],
                                             command)]})


def test_default_storage_class_provisions_on_first_consumer(kubectl: Kubectl) -> None:
    k = kubectl
    classes = k.ok("get", "storageclass")
    assert classes.split("\n")[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY",
                                              "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"]
    assert classes.split("\n")[1].split()[:6] == [
        "default", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
        "false"]
    k.ok("apply", "-f", "-", input=dump(claim("data")))
    wait_for(lambda: k.json("get", "pvc", "data")["spec"].get("storageClassName") == "default",
             30, interval=0.2, message="the default class on the claim")
    assert k.json("get", "pvc", "data")["status"]["phase"] == "Pending"
    k.ok("apply", "-f", "-", input=dump(claim_pod("writer", "data")))
    running(k, "writer")
    pvc = k.json("get", "pvc", "data")
    assert pvc["status"]["phase"] == "Bound"
    pv = k.json("get", "pv", pvc["spec"]["volumeName"])
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] \
        == [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-1"]}]
    assert (pv["spec"]["claimRef"]["name"], pv["status"]["phase"]) == ("data", "Bound")
    row = k.ok("get", "pvc", "data").split("\n")[1].split()
    assert row[:6] == ["data", "Bound", pv["metadata"]["name"], "64Mi", "RWO", "default"]
    sh(k, "writer", "echo kept > /data/file")
    k.ok("delete", "pod", "writer")
    k.ok("apply", "-f", "-", input=dump(claim_pod("reader", "data")))
    running(k, "reader")
    assert sh(k, "reader", "cat /data/file") == "kept\n"
    assert not os.path.lexists("/data/file")
    path = pv["spec"]["hostPath"]["path"]
    assert os.path.isfile(os.path.join(path, "file"))

    smaller = k("patch", "pvc", "data", "-p", '{"spec":{"resources":{"requests":'
                '{"storage":"32Mi"}}}}')
    assert smaller.returncode == 1
    assert 'The PersistentVolumeClaim "data" is invalid: spec.resources.requests.storage: ' \
        "Forbidden: field can not be less than previous value" in smaller.stderr
    larger = k("patch", "pvc", "data", "-p", '{"spec":{"resources":{"requests":'
               '{"storage":"128Mi"}}}}')
    assert 'Error from server (Forbidden): persistentvolumeclaims "data" is forbidden: only ' \
        "dynamically provisioned pvc can be resized and the storageclass that provisions the " \
        "pvc must support resize" in larger.stderr
    changed = k("patch", "pvc", "data", "-p", '{"spec":{"accessModes":["ReadWriteMany"]}}')
    assert "spec: Forbidden: spec is immutable after creation except resources.requests and " \
        "volumeAttributesClassName for bound claims" in changed.stderr

    k.ok("delete", "pod", "reader")
    k.ok("delete", "pvc", "data")
    wait_for(lambda: k("get", "pv", pv["metadata"]["name"]).returncode == 1, 30,
             interval=0.2, message="the released volume deleted (reclaim policy Delete)")
    assert not os.path.exists(path)


def test_a_missing_claim_keeps_the_pod_pending(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=dump(claim_pod("orphan", "nothing")))

    def message() -> str | None:
        conditions = k.json("get", "pod", "orphan").get("status", {}).get("conditions") or []
        return next((c.get("message") for c in conditions if c["type"] == "PodScheduled"
                     and c["status"] == "False"), None)
    assert wait_for(message, 30, interval=0.2, message="PodScheduled False") == \
        '0/1 nodes are available: persistentvolumeclaim "nothing" not found.'


def test_claim_data_survives_a_portico_restart(kubectl133: Kubectl) -> None:
    """Last in the module: it restarts the shared cluster."""
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(claim("keep")))
    k.ok("apply", "-f", "-", input=dump(claim_pod("holder", "keep")))
    k.ok("apply", "-f", "-", input=dump(pod("ram", {
        "volumes": [{"name": "m", "emptyDir": {"medium": "Memory"}}],
        "containers": [busybox("app", [{"name": "m", "mountPath": "/m"}])]})))
    running(k, "holder")
    running(k, "ram")
    sh(k, "holder", "echo durable > /data/file")
    cluster = k.cluster
    assert cluster.stop() == 0
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(cluster.workdir) not in mounts  # memory emptyDirs unmounted
    cluster.start()
    wait_for(lambda: k("exec", "holder", "--", "cat", "/data/file").stdout == "durable\n", 90,
             interval=0.5, message="the claim's data after portico up restarted")
