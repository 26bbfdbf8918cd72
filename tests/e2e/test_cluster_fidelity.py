"""Issue 21 end to end: image mappings, error texts and bodies, log follows, busybox, progress.

One `portico up --nodes 2` serves the module, started with `$PORTICO_IMAGES` naming
a mappings file in a directory of the machine that the tests edit (the agents
re-read it). Each test works in a fresh namespace with kubectl 1.32 and 1.33
(`kubectl`), or 1.33 only where the client does not matter (`kubectl133`).
"""

from __future__ import annotations

import json
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import (
    HTTP_PORT,
    deployment,
    dump,
    host_dir,
    pod,
    run_pod,
    running_cluster,
    service,
    wait_ready,
)

from portico.testing.sandbox import Cluster, end_process, wait_for
from tests.conftest import Kubectl

NODES = 2
MAPPED_IMAGE = "example.test/greeter:1"


@pytest.fixture(scope="module")
def images_dir() -> Iterator[Path]:
    yield from host_dir()


@pytest.fixture(scope="module")
def cluster(images_dir: Path) -> Iterator[Cluster]:
    yield from running_cluster(NODES, env={"PORTICO_IMAGES": str(images_dir / "images.yaml")})


def write_mapping(images_dir: Path, greeting: str) -> None:
    """Map MAPPED_IMAGE to a program printing `greeting`; a new file replaces the old one."""
    text = (f"images:\n  {MAPPED_IMAGE}:\n"
            f"    command: [sh, -c, 'echo {greeting}']\n")
    tmp = images_dir / "images.yaml.tmp"
    tmp.write_text(text)
    tmp.rename(images_dir / "images.yaml")


def run_mapped(k: Kubectl, name: str) -> tuple[str, str]:
    manifest = pod(name, {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                          "containers": [{"name": "c", "image": MAPPED_IMAGE}]})
    k.ok("apply", "-f", "-", input=dump(manifest))

    def finished() -> str | None:
        phase = k.ok("get", "pod", name, "-o", "jsonpath={.status.phase}")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for(finished, 60, interval=0.2, message=f"pod {name} to finish")
    return phase, k.ok("logs", name)


def test_a_mapped_image_runs_the_mapped_program_and_follows_edits(
        kubectl: Kubectl, images_dir: Path) -> None:
    first, second = f"one-{secrets.token_hex(3)}", f"two-{secrets.token_hex(3)}"
    write_mapping(images_dir, first)
    assert run_mapped(kubectl, "first") == ("Succeeded", f"{first}\n")
    write_mapping(images_dir, second)
    assert run_mapped(kubectl, "second") == ("Succeeded", f"{second}\n")


def test_an_unmapped_image_says_which_file_would_map_it(kubectl133: Kubectl,
                                                       images_dir: Path) -> None:
    k = kubectl133
    k.ok("apply", "-f", "-", input=dump(pod("unmapped", {"containers": [
        {"name": "c", "image": "example.test/unmapped:1"}]})))

    def waiting_message() -> str | None:
        message = k.ok("get", "pod", "unmapped", "-o",
                       "jsonpath={.status.containerStatuses[0].state.waiting.message}")
        return message if str(images_dir) in message else None

    message = wait_for(waiting_message, 30, message="the image error in the pod's status")
    assert message.endswith(f"or map the image in {images_dir}/images.yaml"), message


def test_cluster_ip_out_of_range_names_the_range(kubectl: Kubectl) -> None:
    err = kubectl.fail("create", "service", "clusterip", "test", "--clusterip", "10.1.0.5",
                       "--tcp=80:80")
    assert err == (
        'error: failed to create ClusterIP service: Service "test" is invalid: '
        'spec.clusterIPs: Invalid value: []string{"10.1.0.5"}: failed to allocate IP '
        "10.1.0.5: the provided IP (10.1.0.5) is not in the valid range. The range of valid "
        "IPs is 10.0.0.0/16\n")


# kube-apiserver's answer as the Python client saw it (body and Content-Length), from a
# user's capture: the body is 199 bytes, Content-Length 200 (json.Encoder's newline).
UPSTREAM_NOT_FOUND = (
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
    '"services \\"ktrack-mysql\\" not found","reason":"NotFound","details":{"name":'
    '"ktrack-mysql","kind":"services"},"code":404}\n')
READ_MISSING = """
import json
try:
    core.read_namespaced_service("ktrack-mysql", "default")
except ApiException as error:
    print(json.dumps({"body": error.body, "length": error.headers["Content-Length"]}))
"""


def test_status_body_is_byte_for_byte_upstreams(kubectl: Kubectl, cluster: Cluster) -> None:
    err = kubectl.fail("get", "svc", "ktrack-mysql", "-n", "default")
    assert err == 'Error from server (NotFound): services "ktrack-mysql" not found\n'
    seen = json.loads(cluster.python_client(READ_MISSING))
    assert seen == {"body": UPSTREAM_NOT_FOUND, "length": "200"}


def kubelet_connections(cluster: Cluster) -> list[str]:
    """The API server's open connections to kubelets (:10250), from the sandbox."""
    out = cluster.sandbox.run(["ss", "-Htn", "state", "established", "( dport = :10250 )"])
    return [line for line in out.stdout.splitlines() if line.strip()]


def test_interrupting_logs_follow_logs_no_error(kubectl: Kubectl, cluster: Cluster) -> None:
    k = kubectl
    talker = pod("talker", {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "c", "image": "busybox", "command": [
            "sh", "-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done"]}]})
    k.ok("apply", "-f", "-", input=dump(talker))
    k.ok("wait", "--for=condition=Ready", "pod/talker", "--timeout=60s")
    logged = cluster.log_path.stat().st_size
    follower = k.popen("logs", "-f", "talker")
    assert follower.stdout is not None
    assert follower.stdout.readline().startswith("tick-")
    wait_for(lambda: kubelet_connections(cluster), 10, message="the log stream's connection")
    follower.send_signal(signal.SIGINT)
    end_process(follower)
    wait_for(lambda: not kubelet_connections(cluster), 20,
             message="the API server to close the kubelet stream after the client left")
    with cluster.log_path.open(errors="replace") as log:
        log.seek(logged)
        since = log.read()
    assert " ERROR " not in since and "Traceback" not in since, since
    agents = "".join((cluster.data_dir / "nodes" / f"node-{i}" / "agent.log").read_text(
        errors="replace") for i in range(1, NODES + 1))
    assert "Error handling request" not in agents


# busybox >= 1.28's nslookup asks for the name as given, without the search list
# (docker-library/busybox#48): the short name fails, the full one resolves. Debian's
# `nc` has no -z and ends at the end of its input: the input stays open for the answer.
BUSYBOX_SCRIPT = """
nslookup kubernetes.default 2>&1
echo "short-rc=$?"
nslookup kubernetes.default.svc.cluster.local 2>&1
echo "full-rc=$?"
(printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n'; sleep 2) | nc -w 5 web 80 | tail -n 1; echo
wget -qO- http://web/hostname; echo
busybox 2>&1 | head -n 1
"""


def test_busybox_applets_against_a_service(kubectl: Kubectl) -> None:
    k = kubectl
    k.ok("apply", "-f", "-", input=dump(deployment("web", 1)))
    k.ok("apply", "-f", "-", input=dump(service("web", [HTTP_PORT])))
    (web,) = wait_ready(k, "app=web", 1)
    run = run_pod(k, "bb", BUSYBOX_SCRIPT)
    assert run.phase == "Succeeded", run.logs
    lines = run.logs.splitlines()
    assert "recursion not available" not in run.logs
    # busybox's nslookup ignores the search list: the short name goes out as it is and is
    # not found (NXDOMAIN, or a timeout where the machine's resolvers are out of reach)
    assert "Name:" not in run.logs.split("short-rc=")[0], run.logs
    assert "short-rc=1" in lines and "full-rc=0" in lines
    assert "Name:\tkubernetes.default.svc.cluster.local" in lines
    assert "Address: 10.0.0.1" in lines
    assert lines.count(web.name) == 2, run.logs  # nc, then wget
    assert lines[-1].startswith("BusyBox v1.35"), run.logs


def test_portico_up_reports_progress_and_what_to_try(cluster: Cluster,
                                                      images_dir: Path) -> None:
    def summary() -> str | None:
        text = cluster.log_path.read_text(errors="replace")
        return text if "kubectl expose deployment web" in text else None

    text = wait_for(summary, 60, message="portico up's summary")
    for step in ("network ready:", f"image mappings: {images_dir}/images.yaml",
                 "API server ready on", "node-1 Ready (", "node-2 Ready (",
                 "Gateway API v1.6.1 standard CRDs applied (", "addons applied:",
                 "cluster DNS available (kube-system/coredns)",
                 "ingress controller available (app-routing-system/nginx)",
                 f"cluster {cluster.name!r} is up in"):
        assert f"portico: {step}" in text, step
    assert f"  export KUBECONFIG={cluster.kubeconfig}\n  kubectl get nodes -o wide\n" in text
