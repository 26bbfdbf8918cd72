"""`python -m portico.dns`: the cluster DNS server (image `portico/coredns`).

Flags: --listen 0.0.0.0:53 --zone cluster.local --ttl 5 --upstream a:53,...
--metrics :9153 --health :8080 --ready :8181 [--kubeconfig PATH]. Runs until
SIGTERM or SIGINT; like CoreDNS's `health { lameduck 5s }` (AKS's setting), it
keeps answering for `PORTICO_DNS_LAMEDUCK` seconds (default 5) after SIGTERM, so
queries already on their way to this replica are answered while the Service's
endpoints move to the other one; then it closes its sockets and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from portico.dns._app import DnsApp
from portico.dns._config import parse_config
from portico.logs import setup as setup_logging

RESOLV_CONF = Path("/etc/resolv.conf")


def _resolv_conf() -> str:
    try:
        return RESOLV_CONF.read_text()
    except OSError:
        return ""


async def _run(argv: Sequence[str]) -> None:
    config = parse_config(argv, os.environ, _resolv_conf())
    app = DnsApp(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    try:
        await stop.wait()
        await asyncio.sleep(float(os.environ.get("PORTICO_DNS_LAMEDUCK", "5")))
    finally:
        await app.stop()


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging()
    asyncio.run(_run(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
