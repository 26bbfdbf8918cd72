"""`python -m portico.gateway controller|proxy`: the Gateway API controller, or a Gateway's pod.

`controller` (image `portico/gateway-controller`, the addon in aks-istio-system)
owns GatewayClass `approuting-istio`, provisions each Gateway's objects and
writes status. `proxy --gateway NAME` (image `portico/gateway-proxy`, in the
Gateway's namespace, `$POD_NAMESPACE`) runs HAProxy for that Gateway. Both use
the in-cluster service account, or `--kubeconfig`; both stop on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lightkube import AsyncClient, KubeConfig

from portico.gateway.controller import FIELD_MANAGER, GatewayController
from portico.gateway.proxy import GatewayProxy
from portico.ingress._config import CONTAINER_DIR_ENV, SERVICEACCOUNT_DIR, SERVICEACCOUNT_ENV


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m portico.gateway")
    p.add_argument("role", choices=("controller", "proxy"))
    p.add_argument("--gateway", default="", help="proxy: the Gateway's name")
    p.add_argument("--status-port", type=int, default=15021)
    p.add_argument("--kubeconfig", default="")
    p.add_argument("--haproxy", default="/usr/sbin/haproxy")
    return p


def _client(kubeconfig: str) -> AsyncClient:
    if kubeconfig:
        config = KubeConfig.from_file(kubeconfig)
    else:
        config = KubeConfig.from_service_account(
            os.environ.get(SERVICEACCOUNT_ENV) or SERVICEACCOUNT_DIR)
    return AsyncClient(config=config, field_manager=FIELD_MANAGER)


def _proxy(args: argparse.Namespace, client: AsyncClient) -> GatewayProxy:
    scratch = os.environ.get(CONTAINER_DIR_ENV)
    state = Path(scratch) / "haproxy" if scratch else Path(tempfile.mkdtemp(prefix="pg-"))
    return GatewayProxy(client, os.environ.get("POD_NAMESPACE") or "default", args.gateway,
                        state, Path(tempfile.mkdtemp(prefix="pg-")), args.status_port,
                        args.haproxy)


async def run(args: argparse.Namespace) -> None:
    client = _client(args.kubeconfig)
    component = GatewayController(client) if args.role == "controller" else _proxy(args, client)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(component.start())

    def started(task: asyncio.Task[None]) -> None:
        """A start that fails ends the process (the kubelet restarts the container)."""
        if not task.cancelled() and task.exception() is not None:
            stop.set()
    starting.add_done_callback(started)
    try:
        await stop.wait()
    finally:
        starting.cancel()
        await component.stop()
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(parser().parse_args(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
