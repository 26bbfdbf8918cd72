"""Endpoints (core/v1): port defaults, subset validation, table (`ip:port` list).

The ENDPOINTS cell is kubectl's `formatEndpoints`: `ip:port` for every address and
port of every subset, the first three shown, then ` + N more...`; `<none>` without
subsets. Addresses must be valid, non-loopback, non-link-local IPs.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from portico.apiserver.errors import FieldError, invalid, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._choices import validate_required_choice
from portico.apiserver.resources._meta import is_dns1123_label, is_valid_ip, is_valid_port_num
from portico.apiserver.resources._printers import age, name

PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")


def endpoint_ip_errors(value: str) -> list[str]:
    """`IsValidIP` then `IsValidEndpointIP` (no loopback, link-local or multicast)."""
    msgs = is_valid_ip(value)
    if msgs:
        return msgs
    ip = ipaddress.ip_address(value)
    if ip.is_unspecified:
        return ["may not be unspecified (0.0.0.0)" if ip.version == 4 else "may not be unspecified (::)"]  # noqa: E501
    if ip.is_loopback:
        return ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]
    if ip.is_link_local:
        return ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]
    if ip.is_multicast:
        return ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]
    return []


def validate_port(port: _base.Object, path: str, require_name: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    port_name = port.get("name") or ""
    if require_name and not port_name:
        errs.append(required(f"{path}.name"))
    elif port_name:
        errs.extend(invalid(f"{path}.name", port_name, m) for m in is_dns1123_label(port_name))
    number = port.get("port") or 0
    errs.extend(invalid(f"{path}.port", number, m) for m in is_valid_port_num(number))
    protocol = port.get("protocol") or ""
    errs.extend(validate_required_choice(protocol, f"{path}.protocol", PORT_PROTOCOLS))
    return errs


def _validate_subset(subset: _base.Object, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not subset.get("addresses") and not subset.get("notReadyAddresses"):
        errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
    for key in ("addresses", "notReadyAddresses"):
        for i, addr in enumerate(subset.get(key) or []):
            at = f"{path}.{key}[{i}]"
            ip = addr.get("ip") or ""
            errs.extend(invalid(f"{at}.ip", ip, m) for m in endpoint_ip_errors(ip))
            host = addr.get("hostname") or ""
            if host:
                errs.extend(invalid(f"{at}.hostname", host, m) for m in is_dns1123_label(host))
    ports = subset.get("ports") or []
    for i, port in enumerate(ports):
        errs.extend(validate_port(port, f"{path}.ports[{i}]", len(ports) > 1))
    return errs


class EndpointsStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        for subset in obj.get("subsets") or []:
            for port in subset.get("ports") or []:
                port.setdefault("protocol", "TCP")

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, subset in enumerate(obj.get("subsets") or []):
            errs.extend(_validate_subset(subset, f"subsets[{i}]"))
        return errs


def _join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def format_endpoints(obj: _base.Object, limit: int = 3) -> str:
    subsets = obj.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    more = False
    for subset in subsets:
        addresses = subset.get("addresses") or []
        ports = subset.get("ports") or []
        entries: list[str] = (
            [a.get("ip", "") for a in addresses] if not ports
            else [_join_host_port(a.get("ip", ""), p.get("port")) for p in ports for a in addresses]
        )
        count += len(entries)
        for entry in entries:
            if len(shown) == limit:
                more = True
                break
            shown.append(entry)
    text = ",".join(shown)
    return f"{text} + {count - limit} more..." if more else text


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), format_endpoints(obj), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Endpoints", description=(
        "The set of all endpoints is the union of all subsets. "
        "Addresses are placed into subsets according to the IPs they share. A single address "
        "with multiple ports, some of which are ready and some of which are not (because they "
        "come from different containers) will result in the address being displayed in "
        "different subsets for the different ports. No address will appear in both Addresses "
        "and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise "
        "a service."
    )),
    _base.AGE_COLUMN,
)

ENDPOINTS = _base.ResourceType(
    group="", version="v1", kind="Endpoints", plural="endpoints", singular="endpoints",
    namespaced=True, strategy=EndpointsStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("ep",), has_status=False, generation=False,
)
