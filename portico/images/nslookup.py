"""A busybox-style `nslookup` for machines without one: `python -m portico.images.nslookup`.

`nslookup NAME [SERVER]` asks SERVER (`IP`, or `IPv4:PORT`; default: the first
nameserver of /etc/resolv.conf, which the container's mount namespace replaces with
the pod's from /etc/netns/<netns>/resolv.conf) for NAME's A and AAAA records, applying the
resolv.conf search list like a pod's resolver (busybox's own applet is notorious for
not doing so). Output and exit status follow busybox:

    Server:		10.0.0.10
    Address:	10.0.0.10:53

    Name:	kubernetes.default.svc.cluster.local
    Address: 10.0.0.1

and `** server can't find NAME: NXDOMAIN` with exit status 1 when nothing is found.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Sequence

import dns.exception
import dns.resolver
import dns.reversename

RECORD_TYPES = ("A", "AAAA")
TIMEOUT_SECONDS = 5.0


def _resolver(server: str | None) -> dns.resolver.Resolver:
    """The pod's resolver; SERVER replaces its nameservers (`IPv4:PORT` also accepted)."""
    resolver = dns.resolver.Resolver(configure=True)
    resolver.lifetime = TIMEOUT_SECONDS
    if server is not None:
        host, _, port = server.partition(":") if server.count(":") == 1 else (server, "", "")
        resolver.nameservers = [host]
        resolver.port = int(port) if port else 53
    return resolver


def _query_name(name: str) -> tuple[str, tuple[str, ...]]:
    """An address is looked up in reverse (PTR), like nslookup does."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name, RECORD_TYPES
    return dns.reversename.from_address(str(address)).to_text(), ("PTR",)


def lookup(name: str, server: str | None) -> tuple[list[str], str | None]:
    """Output lines for NAME, and the failure message when nothing was found."""
    resolver = _resolver(server)
    query, record_types = _query_name(name)
    lines: list[str] = []
    failure: str | None = None
    for record_type in record_types:
        try:
            answer = resolver.resolve(query, record_type, search=True)
        except dns.resolver.NXDOMAIN:
            failure = failure or "NXDOMAIN"
            continue
        except dns.resolver.NoAnswer:
            continue
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as error:
            failure = f"{type(error).__name__}: {error}"
            continue
        owner = answer.qname.to_text(omit_final_dot=True)
        for record in answer:
            if record_type == "PTR":
                lines.append(f"{query.rstrip('.')}\tname = {record.to_text()}")
            else:
                lines.extend((f"Name:\t{owner}", f"Address: {record.to_text()}"))
    return lines, (None if lines else failure or "NXDOMAIN")


def run(argv: Sequence[str]) -> int:
    if not argv or len(argv) > 2 or argv[0].startswith("-"):
        sys.stderr.write("Usage: nslookup HOST [DNS_SERVER]\n")
        return 1
    name, server = argv[0], (argv[1] if len(argv) > 1 else None)
    try:
        resolver = _resolver(server)
        shown, port = str(resolver.nameservers[0]), resolver.port
    except (IndexError, dns.resolver.NoResolverConfiguration):
        shown, port = "127.0.0.1", 53
    print(f"Server:\t\t{shown}\nAddress:\t{shown}:{port}\n")
    try:
        lines, failure = lookup(name, server)
    except dns.resolver.NoResolverConfiguration as error:
        lines, failure = [], str(error)
    if failure is not None:
        print(f"** server can't find {name}: {failure}\n")
        return 1
    print("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
