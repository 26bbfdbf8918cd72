"""Benchmark the cloud load balancer (root; on demand: `python bench/loadbalancer.py`).

    .venv/bin/python bench/loadbalancer.py [--seconds 2] [--rounds 3] [--connections 16]
                                           [--threads 2] [--skip-traffic] [--skip-control]

traffic (`_lbtraffic`): a real `portico up --nodes 2` in a sandbox netns (the
cluster's host), the built-in nginx behind two LoadBalancer Services,
externalTrafficPolicy Cluster (one pod per node) and Local (one pod, on node-1: every
path reaches the same pod through the same node); `wrk` from the host
(`_wrk`: keep-alive and `Connection: close`, interleaved rounds, medians, client and
server CPU) to each Service's frontend, to the nodes' nodeIP:nodePort (the baseline:
the same node rules without the load balancer; goal: frontend >= 0.90 of it), and
through hand-written single DNAT rules in the cloud netns from spare pool addresses
to the same nodeIP:nodePorts (the least a load balancer can do); each path spread
over the policy's nodes alike (one wrk per share, so --threads and --connections
must be even).

control (an LbCloud: the real topology of two nodes, built from a sandbox netns
standing for the host; the API server and the LB controller in this process):
- apply -> first answer: Service created until the first HTTP answer via its frontend;
- failover: a node's server stopped until new connections all go to the other node
  (probe interval 1 s x 2 probes).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _wrk  # noqa: E402
from bench._lbtraffic import traffic  # noqa: E402
from bench._sandbox import ensure_private_netns  # noqa: E402
from portico.apiserver.server import ApiServer, ApiServerConfig  # noqa: E402
from portico.client import Api
from portico.cloud.lb.apply import NetnsRunner  # noqa: E402
from portico.cloud.lb.build import LbConfig  # noqa: E402
from portico.cloud.lb.controller import ControllerConfig, LoadBalancerController  # noqa: E402
from portico.cloud.lb.probes import NetnsSockets  # noqa: E402
from portico.model.kinds import NODE, SERVICE  # noqa: E402
from portico.testing.lb_cloud import LbCloud  # noqa: E402

A = "service.beta.kubernetes.io/azure-load-balancer-health-probe-"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fetch(sockets: NetnsSockets, ip: str, port: int, timeout: float = 1.0) -> str | None:
    try:
        sock = await sockets.connect(ip, port, timeout)
        reader, writer = await asyncio.open_connection(sock=sock)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), timeout)
        writer.close()
        return data.split(b"\r\n\r\n", 1)[1].decode()
    except (OSError, TimeoutError, IndexError):
        return None


async def wait_until(check, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    while not await check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def control() -> None:
    with LbCloud(nodes=2) as cloud, tempfile.TemporaryDirectory() as tmp:
        servers = [cloud.serve(i, 80, 30080) for i in (1, 2)]
        api = ApiServer(ApiServerConfig(name="bench", data_dir=Path(tmp), port=free_port()))
        await api.start()
        client = Api.connect(api.kubeconfig, "bench")
        host, cloud_sockets = NetnsSockets(cloud.host), NetnsSockets(cloud.cloud)
        ctl = LoadBalancerController(client, NetnsRunner(cloud.cloud), cloud_sockets,
                                     ControllerConfig(lb=LbConfig("bench", min_probe_interval=1),
                                                      probe_timeout=0.5))
        try:
            for i in (1, 2):
                await client.create(NODE, {"metadata": {"name": f"node-{i}"}, "status": {
                    "addresses": [{"type": "InternalIP", "address": cloud.node_ip(i)}],
                    "conditions": [{"type": "Ready", "status": "True"}]}})
            await ctl.start()
            started = time.perf_counter()
            await client.create(SERVICE, {
                "metadata": {"name": "web", "annotations": {A + "interval": "1",
                                                            A + "num-of-probe": "2"}},
                "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                         "ports": [{"port": 80, "nodePort": 30080}]}}, namespace="default")
            async def has_ip() -> bool:
                svc = await client.get(SERVICE, "web", namespace="default")
                return bool(((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress"))
            await wait_until(has_ip)
            external_ip = time.perf_counter() - started
            # short connects: a SYN sent before the rules exist gets no ICMP error once the
            # kernel's ICMP rate limit kicks in, and would otherwise wait a whole second
            await wait_until(lambda: fetch(host, "198.51.100.1", 80, 0.1))
            first = time.perf_counter() - started
            cloud.stop(servers[1])

            async def only_node1() -> bool:
                bodies = await asyncio.gather(*(fetch(host, "198.51.100.1", 80)
                                                for _ in range(10)))
                return all(b and b.startswith("node-1") for b in bodies)
            failover = await wait_until(only_node1)
            print(f"apply -> EXTERNAL-IP        {external_ip * 1000:10.0f} ms")
            print(f"apply -> first answer       {first * 1000:10.0f} ms")
            print(f"failover (1 s x 2 probes)   {failover * 1000:10.0f} ms")
        finally:
            await ctl.stop()
            await client.close()
            await api.stop()
            host.close()
            cloud_sockets.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _wrk.add_run_options(parser)
    parser.set_defaults(threads=2)  # one wrk thread per node's share (see _lbtraffic)
    parser.add_argument("--skip-traffic", action="store_true")
    parser.add_argument("--skip-control", action="store_true")
    args = parser.parse_args()
    ensure_private_netns()
    if not args.skip_traffic:
        traffic(args.seconds, args.rounds, args.connections, args.threads)
    if not args.skip_control:
        asyncio.run(control())


if __name__ == "__main__":
    main()
