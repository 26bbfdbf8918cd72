"""Cluster DNS: CoreDNS's `kubernetes` plugin behaviour, in Python (the `portico/coredns` image).

Pure core: `build_view` (API objects -> frozen `DnsView`) and `answer(query,
view) -> bytes | Forward | None` with `complete(forward, reply)`. Shell:
`DnsServer` (UDP/TCP), `Watcher` (shared informers), `DnsApp` (all of it,
as `python -m portico.dns` runs it).
"""

from portico.dns._app import DnsApp
from portico.dns._config import Config, parse_config
from portico.dns._forward import Upstream, resolve
from portico.dns._metrics import Metrics
from portico.dns._server import DnsServer
from portico.dns._view import DnsView, build_view
from portico.dns._watch import Watcher
from portico.dns.answer import Forward, Transport, answer, complete, servfail

__all__ = ["Config", "DnsApp", "DnsServer", "DnsView", "Forward", "Metrics", "Transport",
           "Upstream", "Watcher", "answer", "build_view", "complete", "parse_config", "resolve",
           "servfail"]
