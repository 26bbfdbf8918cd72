"""End to end: a real API server and a real node agent, each in a netns of its own.

Topology (all inside namespaces this test creates, nothing routed out):
    host netns `portico-t-<x>-host`: API server on 0.0.0.0:PORT, 10.223.0.1/30 on `ptehost`
    node netns `portico-t-<x>-node`: `eth0` 10.224.0.4/16, the agent, `cbr0` 10.244.0.1/24
The test thread enters the host netns (setns on this thread only) to use the
Python client, and the node netns to reach pod IPs and :10250.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import os
import secrets
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from portico.agent import AgentConfig
from portico.apiserver.certs import ensure_pki, issue_client_cert, issue_serving_cert
from portico.testing.sandbox import Sandbox, wait_for

pytestmark = pytest.mark.e2e
CLONE_NEWNET = 0x40000000
NODE_IP = "10.224.0.4"
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run this thread's new sockets inside netns `name` (setns is per thread)."""
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        assert _libc.setns(target, CLONE_NEWNET) == 0, ctypes.get_errno()
        yield
    finally:
        assert _libc.setns(original, CLONE_NEWNET) == 0
        os.close(original)
        os.close(target)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path) -> None:
    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server,
                                               "certificate-authority-data": b64(ca)}}],
        "users": [{"name": "u", "user": {"client-certificate-data": b64(cert),
                                         "client-key-data": b64(key)}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))


class Env:
    def __init__(self, tmp: Path) -> None:
        x = secrets.token_hex(3)
        self.tmp = tmp
        self.cluster = f"t{x}"
        self.host = Sandbox(f"portico-t-{x}-host")
        self.node = Sandbox(f"portico-t-{x}-node")
        self.port = 16443
        self.agent: subprocess.Popen[str] | None = None

    def build(self) -> None:
        self.host.create()
        self.node.create()
        sh("ip", "link", "add", "ptehost", "netns", self.host.name, "type", "veth",
           "peer", "name", "eth0", "netns", self.node.name)
        for cmd in (["addr", "add", "10.223.0.1/30", "dev", "ptehost"],
                    ["link", "set", "ptehost", "up"],
                    ["route", "add", "10.224.0.0/16", "dev", "ptehost"],
                    ["route", "add", "10.244.0.0/24", "via", NODE_IP]):
            sh("ip", "-n", self.host.name, *cmd)
        for cmd in (["addr", "add", f"{NODE_IP}/16", "dev", "eth0"],
                    ["link", "set", "eth0", "up"],
                    ["route", "add", "10.223.0.0/30", "dev", "eth0"]):
            sh("ip", "-n", self.node.name, *cmd)
        sh("ip", "netns", "exec", self.node.name, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def start_api(self) -> None:
        """A bare API server (no controllers) on the edge address 10.223.0.1."""
        data = self.tmp / "cp"
        script = (
            "import asyncio, sys\n"
            "from pathlib import Path\n"
            "from portico.apiserver.server import ApiServer, ApiServerConfig\n"
            "async def main():\n"
            "    s = ApiServer(ApiServerConfig(name=sys.argv[1], data_dir=Path(sys.argv[2]),\n"
            "                  port=int(sys.argv[3]), bind_address='10.223.0.1'))\n"
            "    await s.start()\n"
            "    await asyncio.Event().wait()\n"
            "asyncio.run(main())\n")
        self.host.popen([sys.executable, "-c", script, self.cluster, str(data), str(self.port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.kubeconfig = data / "kubeconfig"
        wait_for(self.kubeconfig.exists, 30, 0.05, "API server kubeconfig")
        self.pki = ensure_pki(data / "pki", [])

    def agent_config(self) -> AgentConfig:
        nd = self.tmp / "nodes" / "node-1"
        pki = self.pki
        issue_client_cert(pki, nd / "node.crt", nd / "node.key", "system:node:node-1",
                          "system:nodes")
        issue_serving_cert(pki, nd / "serving.crt", nd / "serving.key", "node-1",
                           [NODE_IP, "127.0.0.1"])
        issue_client_cert(pki, self.tmp / "kc.crt", self.tmp / "kc.key",
                          "kube-apiserver-kubelet-client")
        write_kubeconfig(nd / "kubeconfig", f"https://10.223.0.1:{self.port}", pki.ca_cert,
                         nd / "node.crt", nd / "node.key")
        return AgentConfig(
            cluster_name=self.cluster, node_name="node-1", node_ip=NODE_IP,
            pod_cidr="10.244.0.0/24", bridge_ip="10.244.0.1", kubeconfig=nd / "kubeconfig",
            data_dir=nd, serving_cert=nd / "serving.crt", serving_key=nd / "serving.key",
            client_ca=pki.ca_cert, run_proxy=False)

    def start_agent(self, config: AgentConfig) -> None:
        path = config.data_dir / "agent.json"
        config.to_file(path)
        self.agent_log = open(self.tmp / "agent.log", "a")  # noqa: SIM115
        self.agent = self.node.popen([sys.executable, "-m", "portico", "agent", "--config",
                                      str(path)], stdout=self.agent_log, stderr=self.agent_log)

    def stop_agent(self) -> int:
        assert self.agent is not None
        self.agent.terminate()
        return self.agent.wait(timeout=30)

    def pod_netns(self) -> list[str]:
        return sorted(n for n in os.listdir("/run/netns")
                      if n.startswith(f"portico-{self.cluster}-pod-"))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self.agent and self.agent.poll() is None:
                self.stop_agent()
        for ns in self.pod_netns():
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            with contextlib.suppress(FileNotFoundError):
                for f in Path("/etc/netns", ns).iterdir():
                    f.unlink()
                Path("/etc/netns", ns).rmdir()
        self.node.close()
        self.host.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    try:
        e.build()
        e.start_api()
        yield e
    finally:
        e.close()


def api(env: Env):  # type: ignore[no-untyped-def]
    from kubernetes import client, config
    return client.CoreV1Api(config.new_client_from_config(config_file=str(env.kubeconfig)))


def agnhost_pod(name: str) -> dict[str, object]:
    """No token: this API server runs without the controller manager (no `default`
    ServiceAccount to issue one for)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 5,
                     "automountServiceAccountToken": False, "containers": [{
                "name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                "args": ["netexec", "--http-port=8080"],
                "ports": [{"containerPort": 8080, "name": "http"}],
                "readinessProbe": {"httpGet": {"port": "http", "path": "/healthz"},
                                   "periodSeconds": 1}}]}}


def get_text(url: str, ctx: ssl.SSLContext | None = None) -> str:
    with urllib.request.urlopen(url, timeout=5, context=ctx) as r:
        return r.read().decode()


def test_agent_runs_serves_and_deletes_a_pod(env: Env) -> None:
    config = env.agent_config()
    env.start_agent(config)
    with in_netns(env.host.name):
        v1 = api(env)
        node = wait_for(lambda: v1.read_node("node-1"), 30, 0.1, "node registered")
        ready = {c.type: c.status for c in node.status.conditions}
        assert ready["Ready"] == "True"
        assert node.metadata.labels["topology.kubernetes.io/zone"] == "eastus-1"
        assert node.spec.pod_cidr == "10.244.0.0/24"
        v1.create_namespaced_pod("default", agnhost_pod("web-1"))

        def running_ready():  # type: ignore[no-untyped-def]
            pod = v1.read_namespaced_pod("web-1", "default")
            conds = {c.type: c.status for c in pod.status.conditions or []}
            return pod if pod.status.phase == "Running" and conds.get("Ready") == "True" \
                else None
        pod = wait_for(running_ready, 30, 0.1, "pod Running and Ready")
    ip = pod.status.pod_ip
    assert ip.startswith("10.244.0.") and ip not in ("10.244.0.0", "10.244.0.1")
    assert pod.status.host_ip == NODE_IP
    cs = pod.status.container_statuses[0]
    assert (cs.ready, cs.restart_count, cs.container_id.startswith("portico://")) == \
        (True, 0, True)
    assert len(env.pod_netns()) == 1
    with in_netns(env.node.name):
        assert get_text(f"http://{ip}:8080/hostname") == "web-1"
        tls = ssl.create_default_context(cafile=str(env.pki.ca_cert))
        tls.load_cert_chain(env.tmp / "kc.crt", env.tmp / "kc.key")
        logs = get_text(f"https://{NODE_IP}:10250/containerLogs/default/web-1/web", tls)
        assert get_text(f"https://{NODE_IP}:10250/healthz", tls) == "ok"
    assert "8080" in logs, logs
    with in_netns(env.host.name):
        v1.delete_namespaced_pod("web-1", "default")

        def gone() -> bool:
            try:
                v1.read_namespaced_pod("web-1", "default")
            except Exception as error:  # ApiException 404
                return getattr(error, "status", None) == 404
            return False
        wait_for(gone, 30, 0.1, "pod deleted")
    # Graceful or not (the API server may delete at once), the agent removes the sandbox.
    wait_for(lambda: env.pod_netns() == [], 30, 0.05, "pod netns removed")
    veths = subprocess.run(["ip", "-n", env.node.name, "-br", "link"], capture_output=True,
                           text=True).stdout
    assert "vp" not in veths, veths
    assert env.stop_agent() == 0


def test_agent_restart_keeps_pod_ip_and_counts_a_restart(env: Env) -> None:
    config = env.agent_config()
    env.start_agent(config)
    with in_netns(env.host.name):
        v1 = api(env)
        wait_for(lambda: v1.read_node("node-1"), 30, 0.1, "node registered")
        v1.create_namespaced_pod("default", agnhost_pod("web-2"))

        def running(restarts: int):  # type: ignore[no-untyped-def]
            pod = v1.read_namespaced_pod("web-2", "default")
            cs = pod.status.container_statuses or []
            ok = pod.status.phase == "Running" and cs and cs[0].ready and \
                cs[0].restart_count == restarts
            return pod if ok else None
        before = wait_for(lambda: running(0), 30, 0.1, "pod Running")
    assert env.stop_agent() == 0
    assert env.pod_netns() == []  # node shutdown: sandboxes gone, object kept
    env.start_agent(config)
    with in_netns(env.host.name):
        after = wait_for(lambda: running(1), 30, 0.1, "pod Running again")
    assert after.status.pod_ip == before.status.pod_ip
    assert after.status.container_statuses[0].last_state.terminated.reason == "Unknown"
    with in_netns(env.node.name):
        assert get_text(f"http://{after.status.pod_ip}:8080/hostname") == "web-2"
