"""Real OCI images: pulled from a registry on the sandbox's loopback, run under crun.

The test builds its own image from Debian's busybox-static (`portico.testing.oci_images`),
runs Debian's `docker-registry` on 127.0.0.1 inside the cluster's sandbox namespace
(where `portico up`, hence the pulls, run) and pushes with skopeo.  Isolation is
checked for real: `ls /` shows the image, `ps` only the container's processes, a
memory hog over its limit is OOMKilled; deleted pods leave no mount or cgroup.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portico.oci import ImageStore
from portico.testing.oci_images import build_layout, push, start_registry
from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import Kubectl
from tests.e2e.cluster_support import dump, pod, running_cluster
from tests.e2e.test_streaming_support import run_in_pty

REGISTRY_PORT, AUTH_PORT = 5000, 5001
USER, PASSWORD = "alice", "s3cret"
MIRRORED_HOST = "registry.invalid"  # resolves nowhere: only its mirror can serve it
IMAGE = f"127.0.0.1:{REGISTRY_PORT}/portico/bb:1.0"
PRIVATE = f"127.0.0.1:{AUTH_PORT}/private/bb:1.0"
OTHER_ARCH = f"127.0.0.1:{REGISTRY_PORT}/portico/arm:1.0"
LAYERED = f"127.0.0.1:{REGISTRY_PORT}/portico/layered:1.0"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    registries = tmp_path_factory.mktemp("images") / "registries.yaml"
    registries.write_text(json.dumps({"mirrors": {MIRRORED_HOST: {
        "endpoint": [f"http://127.0.0.1:{REGISTRY_PORT}"]}}}))
    for running in running_cluster(nodes=1, env={"PORTICO_REGISTRIES": str(registries)}):
        root = running.workdir / "registry"
        root.mkdir()
        htpasswd = root / "htpasswd"
        htpasswd.write_text(subprocess.run(["htpasswd", "-nbB", USER, PASSWORD], check=True,
                                           capture_output=True, text=True).stdout)
        start_registry(running.sandbox, root, REGISTRY_PORT, None)
        start_registry(running.sandbox, root, AUTH_PORT, htpasswd)
        layout = root / "oci"
        build_layout(layout, "1.0", {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo image-cmd"],
                                     "Env": ["PATH=/bin", "FROM_IMAGE=yes"]})
        push(running.sandbox, layout, "1.0", IMAGE)
        push(running.sandbox, layout, "1.0", PRIVATE, f"{USER}:{PASSWORD}")
        build_layout(layout, "arm", {"Cmd": ["true"]}, architecture="arm64")
        push(running.sandbox, layout, "arm", OTHER_ARCH)
        build_layout(layout, "layered", {"Env": ["PATH=/bin"]},
                     extra={"etc/motd": b"base", "data/a": b"1", "data/b": b"2"},
                     uppers=[{"data/b": b"two", "data/a2": b"x"},
                             {"etc/.wh.motd": b"", "data/.wh..wh..opq": b"",
                              "data/c": b"3"}])
        push(running.sandbox, layout, "layered", LAYERED)
        yield running


def _start_sleeper(k: Kubectl, name: str, grace_seconds: int) -> None:
    """A pod `name` of IMAGE that sleeps ten minutes, once it is Ready."""
    k.ok("apply", "-f", "-", input=dump(pod(name, {
        "terminationGracePeriodSeconds": grace_seconds,
        "containers": [{"name": "c", "image": IMAGE, "args": ["exec sleep 600"]}]})))
    k.ok("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")


def _run(k: Kubectl, name: str, container: dict[str, Any]) -> dict[str, Any]:
    k.ok("apply", "-f", "-", input=dump(pod(name, {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": IMAGE, **container}]})))

    def finished() -> dict[str, Any] | None:
        obj = json.loads(k.ok("get", "pod", name, "-o", "json"))
        return obj if obj["status"].get("phase") in ("Succeeded", "Failed") else None

    return wait_for(finished, 60, interval=0.2, message=f"pod {name} finished")


def test_a_pulled_image_runs_in_its_own_root_and_pid_namespace(kubectl133: Kubectl) -> None:
    k = kubectl133
    obj = _run(k, "iso", {"args": ["ls /; ps -o pid,args; hostname; echo $FROM_IMAGE; id -u"]})
    lines = k.ok("logs", "iso").splitlines()
    assert obj["status"]["phase"] == "Succeeded", lines
    assert lines[:4] == ["bin", "dev", "etc", "proc"], lines
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["PID"])
    processes = lines[header + 1:-3]  # the shell (PID 1) and ps: nothing of the machine
    assert [p.split()[0] for p in processes][:1] == ["1"] and len(processes) == 2, lines
    assert lines[-3:] == ["iso", "yes", "0"], lines
    status = obj["status"]["containerStatuses"][0]
    assert status["image"] == IMAGE
    assert status["imageID"].startswith(f"127.0.0.1:{REGISTRY_PORT}/portico/bb@sha256:"), status
    events = k.ok("get", "events", "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}")
    assert f'Pulling image "{IMAGE}"' in events
    assert f'Successfully pulled image "{IMAGE}" in ' in events and "Image size: " in events


def test_layers_stack_with_their_whiteouts(kubectl133: Kubectl) -> None:
    obj = _run(kubectl133, "layered", {"image": LAYERED, "command": ["/bin/sh", "-c"], "args": [
        "ls /data; echo $(cat /data/c); test -e /etc/motd || echo no-motd; echo new >/data/c"]})
    assert obj["status"]["phase"] == "Succeeded", dump(obj)
    assert kubectl133.ok("logs", "layered").split() == ["c", "3", "no-motd"]


def test_the_image_entrypoint_and_cmd_apply(kubectl133: Kubectl) -> None:
    obj = _run(kubectl133, "cmd", {})
    assert obj["status"]["phase"] == "Succeeded", dump(obj)
    assert kubectl133.ok("logs", "cmd") == "image-cmd\n"


def test_a_memory_hog_is_oom_killed(kubectl133: Kubectl) -> None:
    obj = _run(kubectl133, "hog", {
        "args": ["dd if=/dev/zero of=/dev/null bs=64M count=1"],
        "resources": {"limits": {"memory": "16Mi"}}})
    term = obj["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137), dump(obj)


def test_a_missing_tag_is_err_image_pull_then_image_pull_back_off(kubectl133: Kubectl) -> None:
    k, image = kubectl133, f"127.0.0.1:{REGISTRY_PORT}/portico/bb:nope"
    k.ok("apply", "-f", "-", input=dump(pod("missing", {"containers": [
        {"name": "c", "image": image}]})))

    def waiting(reason: str) -> dict[str, Any] | None:
        obj = json.loads(k.ok("get", "pod", "missing", "-o", "json"))
        statuses = obj["status"].get("containerStatuses") or [{}]
        state = statuses[0].get("state", {}).get("waiting") or {}
        return state if state.get("reason") == reason else None

    state = wait_for(lambda: waiting("ErrImagePull"), 30, message="ErrImagePull")
    assert "not found" in state["message"], state
    back_off = wait_for(lambda: waiting("ImagePullBackOff"), 30, message="ImagePullBackOff")
    assert back_off["message"] == (
        f'Back-off pulling image "{image}": ErrImagePull: {state["message"]}'), back_off
    reasons = k.ok("get", "events", "--field-selector", "involvedObject.name=missing",
                   "-o", "jsonpath={range .items[*]}{.reason}={.count}{'\\n'}{end}")
    counts = dict(line.split("=") for line in reasons.splitlines())
    assert counts.get("BackOff") and int(counts.get("Pulling", "0")) in (1, 2), counts


def test_exec_runs_inside_the_container(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    _start_sleeper(k, "sleeper", grace_seconds=1)
    assert k.ok("exec", "sleeper", "--", "cat", "/etc/hostname") == "sleeper\n"
    assert "bin" in k.ok("exec", "sleeper", "--", "ls", "/").split()
    k.ok("delete", "pod", "sleeper", "--wait=true", "--timeout=30s")

    def cleaned() -> bool:
        return str(cluster.data_dir) not in Path("/proc/mounts").read_text() and not list(
            Path("/sys/fs/cgroup/pids").glob(f"portico/{cluster.name}-*/*")) and not list(
            Path("/run/portico").glob(f"{cluster.name}-*/pod-*"))

    wait_for(cleaned, 10, message="no mount, cgroup or namespace of the deleted pod left")



def _waiting_reason(k: Kubectl, name: str) -> str:
    obj = json.loads(k.ok("get", "pod", name, "-o", "json"))
    statuses = obj["status"].get("containerStatuses") or [{}]
    waiting = statuses[0].get("state", {}).get("waiting") or {}
    return f"{waiting.get('reason')}: {waiting.get('message')}"


def test_a_private_registry_needs_the_pull_secret(kubectl133: Kubectl) -> None:
    k = kubectl133
    sleeper = {"name": "c", "image": PRIVATE, "args": ["exec sleep 600"]}
    k.ok("apply", "-f", "-", input=dump(pod("anonymous", {"containers": [sleeper]})))
    reason = wait_for(lambda: (r := _waiting_reason(k, "anonymous")).startswith(
        "ErrImagePull") and r, 30, message="ErrImagePull without credentials")
    assert "pull access denied" in reason, reason
    k.ok("create", "secret", "docker-registry", "creds", f"--docker-server=127.0.0.1:{AUTH_PORT}",
         f"--docker-username={USER}", f"--docker-password={PASSWORD}")
    k.ok("apply", "-f", "-", input=dump(pod("with-secret", {
        "terminationGracePeriodSeconds": 0, "imagePullSecrets": [{"name": "creds"}],
        "containers": [sleeper]})))
    k.ok("wait", "--for=condition=Ready", "pod/with-secret", "--timeout=60s")
    k.ok("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller"},
        "imagePullSecrets": [{"name": "creds"}]}))
    k.ok("apply", "-f", "-", input=dump(pod("via-account", {
        "terminationGracePeriodSeconds": 0, "serviceAccountName": "puller", "containers": [
            {**sleeper, "imagePullPolicy": "Always"}]})))
    k.ok("wait", "--for=condition=Ready", "pod/via-account", "--timeout=60s")


def test_a_mirror_in_registries_yaml_serves_its_registry(kubectl133: Kubectl) -> None:
    obj = _run(kubectl133, "mirrored", {"image": f"{MIRRORED_HOST}/portico/bb:1.0",
                                        "args": ["echo mirrored"]})
    assert obj["status"]["phase"] == "Succeeded", dump(obj)
    status = obj["status"]["containerStatuses"][0]
    assert status["imageID"].startswith(f"{MIRRORED_HOST}/portico/bb@sha256:"), status


def _portico(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cluster.portico), "image", *args, "--data-dir",
                           str(cluster.data_dir)], capture_output=True, text=True, timeout=120)


def test_image_load_of_a_docker_save_tarball(kubectl133: Kubectl, cluster: Cluster) -> None:
    k, root = kubectl133, cluster.workdir / "registry"
    tarball = root / "loaded.tar"
    tarball.unlink(missing_ok=True)
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{root / 'oci'}:1.0",
                    f"docker-archive:{tarball}:portico.test/loaded:1.0"], check=True, timeout=60)
    loaded = _portico(cluster, "load", str(tarball))
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("loaded portico.test/loaded:1.0 (sha256:"), loaded.stdout
    assert "portico.test/loaded:1.0" in _portico(cluster, "ls").stdout
    obj = _run(k, "loaded", {"image": "portico.test/loaded:1.0", "args": ["echo loaded"]})
    assert obj["status"]["phase"] == "Succeeded", dump(obj)
    status = obj["status"]["containerStatuses"][0]
    assert status["imageID"].startswith("sha256:"), status  # an import has no repo digest
    events = k.ok("get", "events", "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}")
    assert 'Container image "portico.test/loaded:1.0" already present on machine' in events
    truncated = root / "truncated.tar"
    truncated.write_bytes(tarball.read_bytes()[:4096])
    failed = _portico(cluster, "load", str(truncated))
    assert failed.returncode == 1 and failed.stderr.startswith("portico: "), failed.stderr
    assert _portico(cluster, "rm", "portico.test/loaded:1.0").returncode == 0
    assert "portico.test/loaded" not in _portico(cluster, "ls").stdout


def _layout_blobs(cluster: Cluster) -> set[str]:
    return {p.name for p in (cluster.data_dir / "images" / "layout" / "blobs" / "sha256")
            .iterdir()}


def test_image_rm_collects_blobs_and_the_root_once_its_pods_are_gone(
        kubectl133: Kubectl, cluster: Cluster) -> None:
    k, root = kubectl133, cluster.workdir / "registry"
    before = _layout_blobs(cluster)
    layout, tarball = root / "gc-oci", root / "gc.tar"
    build_layout(layout, "1.0", {"Cmd": ["sleep", "3600"]}, extra={"gc-marker": b"unique"})
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{layout}:1.0",
                    f"docker-archive:{tarball}:portico.test/gc:1.0"], check=True, timeout=60)
    assert _portico(cluster, "load", str(tarball)).returncode == 0
    store = ImageStore(cluster.data_dir / "images")
    loaded = store.lookup("portico.test/gc:1.0")
    assert loaded is not None
    [layer] = [store.layers / name for name in store.layer_names(loaded)]
    k.ok("apply", "-f", "-", input=dump(pod("gc", {"containers": [
        {"name": "c", "image": "portico.test/gc:1.0", "imagePullPolicy": "Never"}]})))
    k.ok("wait", "--for=condition=Ready", "pod/gc", "--timeout=60s")
    assert layer.is_dir()
    removed = _portico(cluster, "rm", "portico.test/gc:1.0")
    assert removed.returncode == 0 and "deleted 3 blobs" in removed.stdout, removed.stdout
    assert _layout_blobs(cluster) == before  # its layer, config and manifest went
    assert layer.is_dir()  # its pod still runs on it
    k.ok("delete", "pod", "gc", "--grace-period=1")
    wait_for(lambda: not layer.exists(), 30, message="the unused layer collected")
    assert all(layer.name not in lease.read_text() for lease in store.leases.iterdir())


def test_init_container_volume_user_and_exec_probe(kubectl133: Kubectl) -> None:
    k = kubectl133
    mount = [{"name": "data", "mountPath": "/data"}]
    k.ok("apply", "-f", "-", input=dump(pod("multi", {
        "terminationGracePeriodSeconds": 1,
        "volumes": [{"name": "data", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": IMAGE, "volumeMounts": mount,
                            "args": ["echo hello > /data/x"]}],
        "containers": [{"name": "c", "image": IMAGE, "volumeMounts": mount,
                        "securityContext": {"runAsUser": 1000},
                        "readinessProbe": {"exec": {"command": ["cat", "/data/x"]},
                                           "periodSeconds": 1},
                        "args": ["id -u; cat /data/x; exec sleep 600"]}]})))
    k.ok("wait", "--for=condition=Ready", "pod/multi", "--timeout=60s")
    assert k.ok("logs", "multi") == "1000\nhello\n"
    assert k.ok("exec", "multi", "--", "id", "-u") == "1000\n"


def test_run_as_non_root_refuses_a_root_image(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(pod("nonroot", {
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "c", "image": IMAGE, "args": ["true"]}]})))
    uid = k.ok("get", "pod", "nonroot", "-o", "jsonpath={.metadata.uid}")
    reason = wait_for(lambda: (r := _waiting_reason(k, "nonroot")).startswith(
        "CreateContainerConfigError") and r, 30, message="CreateContainerConfigError")
    assert reason == (f"CreateContainerConfigError: container has runAsNonRoot and image will "
                      f'run as root (pod: "nonroot_{k.namespace}({uid})", container: c)')


def test_a_missing_entrypoint_is_a_start_error(kubectl133: Kubectl) -> None:
    obj = _run(kubectl133, "noexec", {"command": ["/no/such/program"]})
    term = obj["status"]["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("StartError", 128), dump(obj)
    assert term["message"] == (
        'failed to create portico task: unable to start container process: exec: '
        '"/no/such/program": stat /no/such/program: no such file or directory: unknown')


def test_run_it_with_an_image_gets_a_terminal(cluster: Cluster, kubectl133: Kubectl) -> None:
    k = kubectl133
    rc, out = run_in_pty(cluster, ["-n", k.namespace, "run", "-it", "--rm", "tty",
                                   f"--image={IMAGE}", "--restart=Never", "--",
                                   "read line; echo got $line; tty; exit 4"], "1.33",
                         keys=b"ping\r")
    assert rc == 4, out
    assert "got ping" in out and "/dev/pts/0" in out, out


def test_a_pods_containers_share_ipc_uts_and_with_the_flag_pids(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(pod("shared", {
        "terminationGracePeriodSeconds": 1, "shareProcessNamespace": True,
        "containers": [{"name": n, "image": IMAGE, "args": [f"exec sleep {t}"]}
                       for n, t in (("a", 600), ("b", 601))]})))
    k.ok("wait", "--for=condition=Ready", "pod/shared", "--timeout=60s")

    def in_container(name: str, *argv: str) -> str:
        return k.ok("exec", "shared", "-c", name, "--", *argv)

    for kind in ("ipc", "uts"):
        assert in_container("a", "readlink", f"/proc/self/ns/{kind}") == in_container(
            "b", "readlink", f"/proc/self/ns/{kind}")
    assert in_container("a", "hostname") == in_container("b", "hostname") == "shared\n"
    assert {"sleep 600", "sleep 601"} <= set(in_container("b", "ps", "-o", "args").splitlines())


def test_an_image_for_another_architecture_is_not_pulled(kubectl133: Kubectl) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(pod("arm", {"containers": [
        {"name": "c", "image": OTHER_ARCH}]})))
    reason = wait_for(lambda: (r := _waiting_reason(k, "arm")).startswith(
        "ErrImagePull") and r, 30, message="ErrImagePull")
    assert "no match for platform in manifest: image is for linux/arm64" in reason, reason


def test_kubectl_cp_uses_the_images_tar(kubectl133: Kubectl, cluster: Cluster) -> None:
    k = kubectl133
    _start_sleeper(k, "cp", grace_seconds=0)
    local = cluster.workdir / "to-copy.txt"
    local.write_text("copied\n")
    k.ok("cp", str(local), "cp:/tmp/copied.txt")
    assert k.ok("exec", "cp", "--", "cat", "/tmp/copied.txt") == "copied\n"


def test_runtime_default_seccomp_denies_unshare(kubectl133: Kubectl) -> None:
    script = ["unshare -U true && echo allowed || echo denied"]
    unconfined = _run(kubectl133, "unconfined", {"args": script})
    confined = _run(kubectl133, "confined", {"args": script, "securityContext": {
        "seccompProfile": {"type": "RuntimeDefault"}}})
    assert unconfined["status"]["phase"] == confined["status"]["phase"] == "Succeeded"
    assert kubectl133.ok("logs", "unconfined") == "allowed\n"
    lines = kubectl133.ok("logs", "confined").splitlines()  # stderr's line may come last
    assert "denied" in lines and "allowed" not in lines, lines


def test_cpu_requests_and_limits_reach_the_cgroup(kubectl133: Kubectl) -> None:
    obj = _run(kubectl133, "cpu", {
        "args": ["cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us"],
        "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": "500m"}}})
    assert obj["status"]["phase"] == "Succeeded", dump(obj)
    assert kubectl133.ok("logs", "cpu") == "256\n50000\n"


def _component_pid(cluster: Cluster, name: str) -> int:
    return int(json.loads((cluster.data_dir / "components.json").read_text())[name]["pid"])


def _pod_field(k: Kubectl, name: str, path: str) -> str:
    return k.ok("get", "pod", name, "-o", f"jsonpath={{{path}}}")


def test_image_containers_outlive_their_agent_and_come_back_after_a_restart(
        kubectl133: Kubectl, cluster: Cluster) -> None:
    """Runs last: it restarts the cluster."""
    k = kubectl133
    _start_sleeper(k, "durable", grace_seconds=1)
    ip, started = _pod_field(k, "durable", ".status.podIP"), _pod_field(
        k, "durable", ".status.containerStatuses[0].state.running.startedAt")
    old = _component_pid(cluster, "node-1")
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: _component_pid(cluster, "node-1") != old, 30, message="a new agent")
    log = cluster.data_dir / "nodes" / "node-1" / "agent.log"
    wait_for(lambda: "adopted the container launcher with" in log.read_text(), 30,
             message="the new agent to adopt the launcher")
    hostname = wait_for(lambda: k("exec", "durable", "--", "cat", "/etc/hostname").stdout,
                        30, message="exec through the new agent")
    assert hostname == "durable\n"
    assert _pod_field(k, "durable", ".status.containerStatuses[0].state.running.startedAt") \
        == started
    cluster.stop()
    cluster.start()
    wait_for(lambda: _pod_field(k, "durable", ".status.containerStatuses[0].ready") == "true",
             60, message="the image pod Ready again")
    assert _pod_field(k, "durable", ".status.podIP") == ip
    assert "bin" in k.ok("exec", "durable", "--", "ls", "/").split()
