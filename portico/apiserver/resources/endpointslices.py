"""EndpointSlices (discovery.k8s.io/v1): port defaults, validation, table.

Ports default to `protocol: TCP` and `name: ""`. `addressType` is one of IPv4, IPv6
or FQDN and immutable; every endpoint needs 1..100 addresses of that type. The PORTS
and ENDPOINTS cells list the first three entries then ` + N more...`, `<unset>` when
empty (kubectl's `formatDiscoveryPorts` / `formatDiscoveryEndpoints`).
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from portico.apiserver.errors import FieldError, invalid, not_supported, required, too_many
from portico.apiserver.resources import _base
from portico.apiserver.resources._choices import validate_required_choice
from portico.apiserver.resources._meta import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_valid_port_num,
    validate_immutable,
)
from portico.apiserver.resources._printers import age, name
from portico.model.vocabulary import AddressType

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ADDRESSES = 100


def _address_errors(address_type: str, value: str) -> list[str]:
    if address_type == AddressType.FQDN:
        return is_dns1123_subdomain(value)
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        ip = None
    version = 4 if address_type == AddressType.IPV4 else 6
    if ip is None or ip.version != version:
        return [f"must be a valid IPv{version} address"]
    return []


def _validate_endpoints(obj: _base.Object, address_type: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, endpoint in enumerate(obj.get("endpoints") or []):
        path = f"endpoints[{i}].addresses"
        addresses = endpoint.get("addresses") or []
        if not addresses:
            errs.append(required(path, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(too_many(path, len(addresses), MAX_ADDRESSES))
        if address_type in ADDRESS_TYPES:
            for j, addr in enumerate(addresses):
                errs.extend(
                    invalid(f"{path}[{j}]", addr, m) for m in _address_errors(address_type, addr)
                )
    return errs


def _validate_ports(obj: _base.Object) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, port in enumerate(obj.get("ports") or []):
        path = f"ports[{i}]"
        port_name = port.get("name") or ""
        if port_name:
            errs.extend(invalid(f"{path}.name", port_name, m) for m in is_dns1123_label(port_name))
        protocol = port.get("protocol") or ""
        if protocol and protocol not in PORT_PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", protocol, PORT_PROTOCOLS))
        number = port.get("port")
        if isinstance(number, int):
            errs.extend(invalid(f"{path}.port", number, m) for m in is_valid_port_num(number))
    return errs


class EndpointSliceStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        for port in obj.get("ports") or []:
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        address_type = obj.get("addressType") or ""
        errs.extend(validate_required_choice(address_type, "addressType", ADDRESS_TYPES))
        errs.extend(_validate_endpoints(obj, address_type))
        errs.extend(_validate_ports(obj))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(self.validate(new))
        errs.extend(validate_immutable(new.get("addressType"), old.get("addressType"),
                                       "addressType"))
        return errs


def _list_with_more(items: list[str], limit: int = 3) -> str:
    text = ",".join(items[:limit])
    if len(items) > limit:
        return f"{text} + {len(items) - limit} more..."
    return text or "<unset>"


def format_ports(obj: _base.Object) -> str:
    out: list[str] = []
    for port in obj.get("ports") or []:
        if port.get("port") is not None:
            out.append(str(port["port"]))
        elif port.get("name") is not None:
            out.append(str(port["name"]))
        else:
            out.append("*")
    return _list_with_more(out)


def format_endpoints(obj: _base.Object) -> str:
    return _list_with_more(
        [str(a) for ep in obj.get("endpoints") or [] for a in ep.get("addresses") or []]
    )


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [
        name(obj), str(obj.get("addressType") or ""), format_ports(obj), format_endpoints(obj),
        age(obj, now),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("AddressType", description="addressType specifies the type of address carried by "
                 "this EndpointSlice. All addresses in this slice must be the same type."),
    _base.Column("Ports", description="ports specifies the list of network ports exposed by each "
                 "endpoint in this slice."),
    _base.Column("Endpoints", description="endpoints is a list of unique endpoints in this slice."),
    _base.AGE_COLUMN,
)

ENDPOINTSLICES = _base.ResourceType(
    group="discovery.k8s.io", version="v1", kind="EndpointSlice", plural="endpointslices",
    singular="endpointslice", namespaced=True, strategy=EndpointSliceStrategy(),
    table=_base.Table(COLUMNS, cells), has_status=False, generation=True,
)
