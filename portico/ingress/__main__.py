"""`python -m portico.ingress`: the ingress controller (image `portico/ingress-controller`).

Starts HAProxy (master-worker) beside itself, serves /healthz, /ready and
/metrics on --healthz-port, and runs until SIGTERM/SIGINT; then HAProxy is
soft-stopped (requests in flight finish) and the process exits 0.
Flags: see `portico.ingress._config`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from portico.client import Api
from portico.ingress._config import Config, parse_config
from portico.ingress._controller import IngressController
from portico.ingress._http import HealthServer

FIELD_MANAGER = "portico-ingress-controller"


async def run(config: Config) -> None:
    client = Api.connect(config.kubeconfig, FIELD_MANAGER, config.serviceaccount_dir)
    controller = IngressController(client, config)
    health = HealthServer(lambda: controller.haproxy.running, lambda: controller.serving,
                          controller.metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await health.start(config.bind_address, config.healthz_port)
    try:
        await controller.start()
        logging.getLogger("portico.ingress").info(
            "serving class %s (controller %s); HAProxy files in %s", config.ingress_class,
            config.controller_class, config.state_dir)
        await stop.wait()
    finally:
        await controller.stop()
        await health.stop()
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    asyncio.run(run(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
