"""End to end: kubectl port-forward (WebSocket tunnel and SPDY) and the Python client's.

kubectl 1.32/1.33 tunnel SPDY in WebSocket (`SPDY/3.1+portforward.k8s.io`) by default;
`KUBECTL_PORT_FORWARD_WEBSOCKETS=false` makes them upgrade to SPDY/3.1 directly.  Local
connections are made from inside the cluster's sandbox, where kubectl listens.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator

import pytest

from portico.testing.sandbox import Cluster, end_process
from tests.e2e.e2e_support import LineReader
from tests.e2e.test_streaming_support import NAMESPACE, streaming_cluster

pytestmark = pytest.mark.e2e
VERSIONS = ("1.32", "1.33")
TRANSPORTS = [pytest.param({}, id="tunnel"),
              pytest.param({"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}, id="spdy")]

# GET `paths` on 127.0.0.1 concurrently (one thread each); print the bodies as JSON.
_CLIENT = """
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
urls = json.loads(sys.argv[1])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def get(url):
    with opener.open(url, timeout=20) as r:
        return r.read().decode()
with ThreadPoolExecutor(len(urls)) as pool:
    print(json.dumps(list(pool.map(get, urls))))
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with streaming_cluster() as running:
        yield running


def fetch(cluster: Cluster, urls: list[str]) -> list[str]:
    result = cluster.sandbox.run([sys.executable, "-c", _CLIENT, json.dumps(urls)],
                                 timeout=60)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def start_forward(cluster: Cluster, version: str, env: dict[str, str],
                  *args: str) -> tuple[LineReader, list[int]]:
    argv = cluster.kubectl_argv(["-n", NAMESPACE, "port-forward", *args], version)
    proc = cluster.sandbox.popen(argv, env={**cluster.kube_env(), **env})
    lines = LineReader(proc)
    ports = [arg.split(":")[0] for arg in args if ":" in arg]
    local = []
    for nth in range(1, len(ports) + 1):
        line = lines.wait_line(r"^Forwarding from 127\.0\.0\.1:\d+", nth=nth)
        local.append(int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1)))  # type: ignore[union-attr]
    return lines, local


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
def test_service_carries_50_concurrent_requests(cluster: Cluster, version: str,
                                                env: dict[str, str]) -> None:
    lines, (port,) = start_forward(cluster, version, env, "svc/web", ":80")
    try:
        bodies = fetch(cluster, [f"http://127.0.0.1:{port}/echo?msg=m{i}" for i in range(50)])
        assert bodies == [f"m{i}" for i in range(50)]
        host = fetch(cluster, [f"http://127.0.0.1:{port}/hostname"])
        assert host[0].startswith("web-")
    finally:
        end_process(lines.proc, grace=5.0)
    assert lines.proc.returncode is not None


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
@pytest.mark.parametrize("target", ["deploy/web", "pod"])
def test_several_ports(cluster: Cluster, version: str, env: dict[str, str],
                       target: str) -> None:
    if target == "pod":
        target = "pod/" + cluster.kubectl(
            "-n", NAMESPACE, "get", "pods", "-l", "app=web", "-o",
            "jsonpath={.items[0].metadata.name}", check=True).stdout
    lines, ports = start_forward(cluster, version, env, target, ":8080", ":8081")
    try:
        urls = [f"http://127.0.0.1:{p}/echo?msg={p}-{i}" for p in ports for i in range(5)]
        assert fetch(cluster, urls) == [f"{p}-{i}" for p in ports for i in range(5)]
    finally:
        end_process(lines.proc, grace=5.0)


def test_python_client_port_forward(cluster: Cluster) -> None:
    pod = cluster.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app=web", "-o",
                          "jsonpath={.items[0].metadata.name}", check=True).stdout
    # One forward per port: the WebSocket (and every socket) ends with the last connection.
    out = cluster.python_client(
        "from kubernetes.stream import portforward\n"
        "for port in (8080, 8081):\n"
        f"    pf = portforward(core.connect_get_namespaced_pod_portforward, {pod!r}, "
        f"{NAMESPACE!r}, ports=str(port))\n"
        "    s = pf.socket(port)\n"
        "    s.setblocking(True)\n"
        "    s.sendall(b'GET /echo?msg=py%d HTTP/1.0\\r\\n\\r\\n' % port)\n"
        "    data = b''\n"
        "    while chunk := s.recv(4096):\n"
        "        data += chunk\n"
        "    print(data.split(b'\\r\\n\\r\\n', 1)[1].decode(), pf.error(port))\n"
        "    s.close()\n"
        "    pf.close()\n")
    assert out == "py8080 None\npy8081 None\n"
