"""The Proxier's rules in a real kernel: a node netns with pods behind a bridge.

Topology (all namespaces are this test's own, removed in `finally`):

    outside netns  10.224.0.100 --veth-- node netns eth 10.224.0.4/16
                                         cbr 10.244.0.1/24 --veth-- pod a 10.244.0.2
                                                           --veth-- pod b 10.244.0.3
                                                           --veth-- client 10.244.0.4

Pods a and b run `python -m portico.images.agnhost netexec` (HTTP 8080, UDP 8081)
with HOSTNAME=pod-a/pod-b. The API server runs in-process on loopback; the
Proxier runs in this process too with `ProxyConfig(netns=<node netns>)`, so nft
and conntrack run via `ip netns exec`, and its health-check listeners are created
inside the node netns (see portico/proxy/_netns.py). EndpointSlices are written
by the test (no controller runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from portico.client import Api, InformerFactory
from portico.model.kinds import ENDPOINT_SLICE, SERVICE
from portico.proxy import Proxier, ProxyConfig
from tests.api.conftest import start_api

NODE_IP, OUTSIDE_IP = "10.224.0.4", "10.224.0.100"
PODS = {"a": "10.244.0.2", "b": "10.244.0.3", "client": "10.244.0.4"}


def sh(*argv: str, check: bool = True, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {result.stderr}")
    return result


@dataclass
class Topology:
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"portico-t-{self.tag}-{role}"

    def run(self, role: str, *argv: str, check: bool = True,
            timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return sh("ip", "netns", "exec", self.ns(role), *argv, check=check, timeout=timeout)

    def build(self) -> None:
        node = self.ns("node")
        for role in ("node", "out", *PODS):
            sh("ip", "netns", "add", self.ns(role))
            self.namespaces.append(self.ns(role))
            self.run(role, "ip", "link", "set", "lo", "up")
        self.run("node", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.run("node", "ip", "link", "add", "cbr0", "type", "bridge")
        self.run("node", "ip", "addr", "add", "10.244.0.1/24", "dev", "cbr0")
        self.run("node", "ip", "link", "set", "cbr0", "up")
        self.run("out", "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
                 "netns", node)
        self.run("out", "ip", "addr", "add", f"{OUTSIDE_IP}/16", "dev", "eth0")
        self.run("out", "ip", "link", "set", "eth0", "up")
        self.run("node", "ip", "addr", "add", f"{NODE_IP}/16", "dev", "eth0")
        self.run("node", "ip", "link", "set", "eth0", "up")
        self.run("out", "ip", "route", "add", "10.0.0.0/16", "via", NODE_IP)
        for i, (role, ip) in enumerate(PODS.items()):
            host_if = f"vp{self.tag}{i}"
            self.run("node", "ip", "link", "add", host_if, "type", "veth", "peer", "name",
                     "eth0", "netns", self.ns(role))
            self.run("node", "ip", "link", "set", host_if, "master", "cbr0", "up")
            # With bridge-nf-call-iptables, a pod's DNATed packet to itself is bridged back
            # out of the port it came in on: kubenet's hairpin-veth mode allows that.
            self.run("node", "ip", "link", "set", host_if, "type", "bridge_slave", "hairpin", "on")
            self.run(role, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
            self.run(role, "ip", "link", "set", "eth0", "up")
            self.run(role, "ip", "route", "add", "default", "via", "10.244.0.1")
        for role in ("a", "b"):
            env = {**os.environ, "HOSTNAME": f"pod-{role}"}
            self.procs.append(subprocess.Popen(
                ["ip", "netns", "exec", self.ns(role), sys.executable, "-m",
                 "portico.images.agnhost", "netexec", "--http-port=8080", "--udp-port=8081"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check=False)

    def curl(self, role: str, url: str, timeout: float = 2.0) -> tuple[int, str]:
        result = self.run(role, "curl", "-s", "--max-time", str(timeout), url, check=False,
                          timeout=timeout + 5)
        return result.returncode, result.stdout


UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("", 40000)); s.settimeout(1.0)
s.sendto(b"hostname", (sys.argv[1], int(sys.argv[2])))
try: print(s.recv(100).decode())
except OSError: print("timeout")
"""


async def wait(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(predicate)
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def pod_slice(svc: str, pods: list[str], port: int = 8080, protocol: str = "TCP",
              port_name: str = "p") -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{svc}-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [PODS[p]], "nodeName": "node-1",
                       "conditions": {"ready": True}} for p in pods],
        "ports": [{"name": port_name, "port": port, "protocol": protocol}]}


def svc_body(name: str, port: int = 80, protocol: str = "TCP", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"ports": [{"name": "p", "port": port, "protocol": protocol}], **spec}}


@pytest.fixture
async def env(tmp_path) -> AsyncIterator[tuple[Topology, Api, Proxier]]:
    topo = Topology()
    server, api = await start_api(tmp_path)
    client = Api.connect(server.kubeconfig, "test")
    informers = InformerFactory(client)
    proxier: Proxier | None = None
    try:
        topo.build()
        config = ProxyConfig(node_name="node-1", node_ip=NODE_IP, pod_cidr="10.244.0.0/24",
                             netns=topo.ns("node"))
        proxier = Proxier(config, informers)
        await proxier.start()
        await wait(lambda: all(topo.curl("node", f"http://{PODS[p]}:8080/hostname")[0] == 0
                               for p in ("a", "b")))
        yield topo, client, proxier
    finally:
        if proxier is not None:
            await proxier.stop()
        await informers.stop()
        await client.close()
        await api.session.close()
        await server.stop()
        topo.close()


async def create(client: Api, body: dict[str, Any], slice_pods: list[str] | None,
                 **slice_kw: Any) -> dict[str, Any]:
    svc = await client.create(SERVICE, body)
    if slice_pods is not None:
        await client.create(ENDPOINT_SLICE,
                            pod_slice(body["metadata"]["name"], slice_pods, **slice_kw))
    return svc


async def test_service_dataplane(env) -> None:
    topo, client, proxier = env
    web = await create(client, svc_body("web"), ["a", "b"])
    ip = web["spec"]["clusterIP"]
    seen: set[str] = set()

    def both_endpoints() -> bool:
        code, out = topo.curl("client", f"http://{ip}/hostname")
        if code == 0:
            seen.add(out)
        return seen == {"pod-a", "pod-b"}
    await wait(both_endpoints)

    np = await create(client, svc_body("np", type="NodePort"), ["a"])
    node_port = np["spec"]["ports"][0]["nodePort"]
    await wait(lambda: topo.curl("out", f"http://{NODE_IP}:{node_port}/hostname") == (0, "pod-a"))

    empty = await create(client, svc_body("empty"), None)
    await wait(lambda: f"{empty['spec']['clusterIP']} . tcp . 80" in
               topo.run("node", "nft", "list", "map", "inet", "portico-proxy",
                        "no-endpoint-services").stdout)
    started = time.monotonic()
    code, _ = topo.curl("client", f"http://{empty['spec']['clusterIP']}/hostname", timeout=5)
    assert code == 7, "connection refused expected"  # curl: failed to connect
    assert time.monotonic() - started < 2

    sticky = await create(client, svc_body("sticky", sessionAffinity="ClientIP"), ["a", "b"])
    sticky_ip = sticky["spec"]["clusterIP"]
    await wait(lambda: topo.curl("client", f"http://{sticky_ip}/hostname")[0] == 0)
    answers = {topo.curl("client", f"http://{sticky_ip}/hostname")[1]
               for _ in range(8)}
    assert len(answers) == 1

    local = await create(client, svc_body("local", type="LoadBalancer",
                                          externalTrafficPolicy="Local"), ["a"])
    lport, hport = local["spec"]["ports"][0]["nodePort"], local["spec"]["healthCheckNodePort"]
    await wait(lambda: topo.curl("out", f"http://{NODE_IP}:{lport}/clientip")[0] == 0)
    assert topo.curl("out", f"http://{NODE_IP}:{lport}/clientip")[1].startswith(OUTSIDE_IP + ":")
    # Cluster policy masquerades: the pod sees the node's address on the pod bridge
    assert topo.curl("out", f"http://{NODE_IP}:{node_port}/clientip")[1].startswith(
        "10.244.0.1:")
    code, body = await wait(lambda: (lambda r: r if r[0] == 0 else None)(
        topo.curl("out", f"http://{NODE_IP}:{hport}/healthz")))
    assert json.loads(body) == {"service": {"namespace": "default", "name": "local"},
                                "localEndpoints": 1, "serviceProxyHealthy": True}
    # the proxier's own servers run on this event loop: curl from a thread
    code, body = await asyncio.to_thread(topo.curl, "out", f"http://{NODE_IP}:10256/healthz")
    assert code == 0 and json.loads(body)["nodeEligible"] is True
    _, metrics = await asyncio.to_thread(topo.curl, "node", "http://127.0.0.1:10249/metrics")
    assert 'kubeproxy_sync_proxy_rules_total{type="full",result="success"} 1' in metrics


async def test_udp_follows_an_endpoint_change(env) -> None:
    topo, client, proxier = env
    dns = await create(client, svc_body("dns", 53, "UDP"), ["a"], port=8081, protocol="UDP")
    ip = dns["spec"]["clusterIP"]

    def ask() -> str:
        return topo.run("client", sys.executable, "-c", UDP_CLIENT, ip, "53").stdout.strip()
    await wait(lambda: ask() == "pod-a")
    assert ask() == "pod-a"  # same source port: the conntrack entry stays on pod-a
    slice_ = await client.get(ENDPOINT_SLICE, "dns-1", namespace="default")
    slice_["endpoints"][0]["addresses"] = [PODS["b"]]
    await client.replace(ENDPOINT_SLICE, slice_)
    await wait(lambda: ask() == "pod-b", timeout=5)


async def test_hairpin_and_affinity_across_scale_up(env) -> None:
    topo, client, proxier = env
    own = await create(client, svc_body("own"), ["a"])
    # pod a reaching itself through its Service is masqueraded (to the bridge address),
    # or its reply would go to itself directly and the connection would never open
    await wait(lambda: topo.curl("a", f"http://{own['spec']['clusterIP']}/clientip")[0] == 0)
    assert topo.curl("a", f"http://{own['spec']['clusterIP']}/clientip")[1].startswith("10.244.0.1:")
    # a pod reaching another pod's Service keeps its address
    assert topo.curl("client", f"http://{own['spec']['clusterIP']}/clientip")[1].startswith(
        PODS["client"] + ":")

    sticky = await create(client, svc_body("sticky2", sessionAffinity="ClientIP"), ["b"])
    ip = sticky["spec"]["clusterIP"]
    await wait(lambda: topo.curl("client", f"http://{ip}/hostname") == (0, "pod-b"))
    slice_ = await client.get(ENDPOINT_SLICE, "sticky2-1", namespace="default")
    slice_["endpoints"].append(pod_slice("x", ["a"])["endpoints"][0])
    await client.replace(ENDPOINT_SLICE, slice_)
    element = re.compile(rf"(^|\s){re.escape(ip)} \. tcp \. 80 [^,]*: goto pick-2-affinity-10800")
    await wait(lambda: element.search(topo.run("node", "nft", "list", "map", "inet",
                                               "portico-proxy", "service-ips").stdout))
    # pod a sorts first but takes the new slot: the remembered slot still means pod b
    answers = {topo.curl("client", f"http://{ip}/hostname")[1] for _ in range(6)}
    assert answers == {"pod-b"}
