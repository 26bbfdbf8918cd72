"""A pod's resolv.conf, as kubelet's DNS configurer (`pkg/kubelet/network/dns`) forms it: pure.

The base is chosen by `dnsPolicy`:
- `ClusterFirst` (the default), and `ClusterFirstWithHostNet`: the cluster DNS as the
  only nameserver, the search path `<ns>.svc.<domain> svc.<domain> <domain>` followed
  by the node's own search domains (duplicates dropped), options `ndots:5`;
  a `hostNetwork` pod with `ClusterFirst` gets `Default` instead, as in kubelet;
- `Default`: the node's resolv.conf (kubelet's `--resolv-conf`) as it is;
- `None`: nothing.
`dnsConfig` is then merged in: its nameservers and searches appended (duplicates
dropped), its options merged by name (a `dnsConfig` option replaces the base's
option of the same name; kubelet's order comes from a Go map, here the first
appearance is kept).  Last, the limits: at most `MAX_NAMESERVERS` nameservers, at
most `MAX_SEARCH_PATHS` search domains, none longer than 253 characters, the search
line at most `MAX_SEARCH_LIST_CHARS` characters (domains cut from the end); each
cut yields kubelet's `DNSConfigForming` warning text, which the agent records as an
event on the pod.  `render` writes the file as containerd does: `search`, then one
`nameserver` line each, then `options`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from portico.model.vocabulary import DNSPolicy

MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS = 32
MAX_SEARCH_LIST_CHARS = 2048
MAX_DOMAIN_LENGTH = 253
DEFAULT_OPTIONS = ("ndots:5",)


@dataclass(frozen=True)
class DnsConfig:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterDns:
    """The node's DNS settings (kubelet's clusterDNS and clusterDomain)."""
    nameservers: tuple[str, ...]
    domain: str


def parse_resolv_conf(text: str) -> DnsConfig:
    """kubelet's `parseResolvConf`: nameservers accumulate, the last `search` and
    `options` lines win, a trailing dot is dropped from search domains."""
    nameservers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            nameservers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:]]
        elif fields[0] == "options":
            options = fields[1:]
    return DnsConfig(tuple(nameservers), tuple(searches), tuple(options))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def merge_options(base: Iterable[str], extra: list[dict[str, Any]]) -> tuple[str, ...]:
    """kubelet's `mergeDNSOptions`: one entry per option name, `extra` winning."""
    merged: dict[str, str] = {}
    for option in base:
        name, _, value = option.partition(":")
        merged[name] = value
    for entry in extra:
        merged[str(entry.get("name", ""))] = str(entry.get("value") or "")
    return tuple(f"{name}:{value}" if value else name for name, value in merged.items())


def _base(spec: dict[str, Any], namespace: str, cluster: ClusterDns,
          host: DnsConfig) -> DnsConfig:
    policy = spec.get("dnsPolicy") or DNSPolicy.CLUSTER_FIRST
    if policy == DNSPolicy.NONE:
        return DnsConfig()
    host_network = bool(spec.get("hostNetwork"))
    cluster_first = policy == DNSPolicy.CLUSTER_FIRST_WITH_HOST_NET or (
        policy == DNSPolicy.CLUSTER_FIRST and not host_network)
    if not cluster_first or not cluster.nameservers:
        return host
    searches = host.searches
    if cluster.domain:
        own = (f"{namespace}.svc.{cluster.domain}", f"svc.{cluster.domain}", cluster.domain)
        searches = _unique((*own, *host.searches))
    return DnsConfig(cluster.nameservers, searches, DEFAULT_OPTIONS)


def _fit_nameservers(nameservers: tuple[str, ...], warnings: list[str]) -> tuple[str, ...]:
    if len(nameservers) <= MAX_NAMESERVERS:
        return nameservers
    kept = nameservers[:MAX_NAMESERVERS]
    warnings.append("Nameserver limits were exceeded, some nameservers have been omitted, "
                    f"the applied nameserver line is: {' '.join(kept)}")
    return kept


def _fit_searches(searches: tuple[str, ...], warnings: list[str]) -> tuple[str, ...]:
    kept = [s for s in searches[:MAX_SEARCH_PATHS] if len(s) <= MAX_DOMAIN_LENGTH]
    exceeded = len(kept) != len(searches)
    while kept and len(" ".join(kept)) > MAX_SEARCH_LIST_CHARS:
        kept.pop()
        exceeded = True
    if exceeded:
        warnings.append("Search Line limits were exceeded, some search paths have been "
                        f"omitted, the applied search line is: {' '.join(kept)}")
    return tuple(kept)


def pod_dns(spec: dict[str, Any], namespace: str, cluster: ClusterDns,
            host: DnsConfig) -> tuple[DnsConfig, list[str]]:
    """kubelet's `GetPodDNS`: the pod's DNS config and the `DNSConfigForming` warnings."""
    config = _base(spec, namespace, cluster, host)
    extra = spec.get("dnsConfig") or {}
    if extra:
        config = DnsConfig(
            _unique((*config.nameservers, *(extra.get("nameservers") or []))),
            _unique((*config.searches, *(extra.get("searches") or []))),
            merge_options(config.options, extra.get("options") or []))
    warnings: list[str] = []
    config = DnsConfig(_fit_nameservers(config.nameservers, warnings),
                       _fit_searches(config.searches, warnings), config.options)
    return config, warnings


def render(config: DnsConfig) -> str:
    """The resolv.conf text, as containerd writes it from the CRI DNS config."""
    lines = []
    if config.searches:
        lines.append("search " + " ".join(config.searches))
    lines += [f"nameserver {server}" for server in config.nameservers]
    if config.options:
        lines.append("options " + " ".join(config.options))
    return "".join(line + "\n" for line in lines)
