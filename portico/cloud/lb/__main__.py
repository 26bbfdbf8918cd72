"""`python -m portico.cloud.lb`: the cloud load balancer controller process.

Runs inside the cluster's cloud netns (the supervisor forks it there, with the
arguments `--kubeconfig D/cloud/kubeconfig --cluster-name N`), so its nft/ip
commands and its health probes act on the cloud netns directly.  It waits for the
API server to answer before it starts watching. It stops on SIGTERM/SIGINT and leaves
the data plane in place (like a cloud load balancer whose controller restarts);
the cloud netns' removal takes it away.

Flags:
  --kubeconfig PATH         client credentials (server https://10.223.0.1:PORT)
  --cluster-name N          names the load balancers `N` and `N-internal` (default portico)
  --public-pool CIDR        public frontend addresses (default 198.51.100.0/24)
  --internal-subnet CIDR    internal frontend addresses = node subnet (default 10.224.0.0/16)
  --min-probe-interval S    smallest probe interval accepted (AKS: 5; tests use 1)
  --netns NAME              act on that netns instead of the current one (tools, tests)
  -v / --verbose            debug logging
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from pathlib import Path

from portico.client import Api, wait_for_api
from portico.cloud.lb.apply import NetnsRunner
from portico.cloud.lb.build import LbConfig
from portico.cloud.lb.controller import FIELD_MANAGER, ControllerConfig, LoadBalancerController
from portico.cloud.lb.probes import NetnsSockets
from portico.lifecycle import run_until_signalled
from portico.logs import setup as setup_logging


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m portico.cloud.lb", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kubeconfig", type=Path, required=True)
    p.add_argument("--cluster-name", default="portico")
    p.add_argument("--public-pool", type=ipaddress.IPv4Network,
                   default=ipaddress.IPv4Network("198.51.100.0/24"))
    p.add_argument("--internal-subnet", type=ipaddress.IPv4Network,
                   default=ipaddress.IPv4Network("10.224.0.0/16"))
    p.add_argument("--min-probe-interval", type=int, default=5)
    p.add_argument("--netns", default=None)
    p.add_argument("-v", "--verbose", action="store_true")
    return p


async def run(args: argparse.Namespace) -> int:
    config = ControllerConfig(lb=LbConfig(args.cluster_name, args.public_pool,
                                          args.internal_subnet, args.min_probe_interval))
    client = Api.connect(args.kubeconfig, FIELD_MANAGER)
    sockets = NetnsSockets(args.netns)
    controller = LoadBalancerController(client, NetnsRunner(args.netns), sockets, config)

    async def start() -> None:
        await wait_for_api(client)
        await controller.start()

    async def stop() -> None:
        await controller.stop()
        await client.close()
        sockets.close()

    return await run_until_signalled(start, stop)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.verbose)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
