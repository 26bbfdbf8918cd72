"""NetworkPolicies (networking.k8s.io/v1, namespaced), as kube-apiserver serves them.

Defaults (`SetDefaults_NetworkPolicy`, `SetDefaults_NetworkPolicyPort`): a port's
`protocol` is TCP; empty `policyTypes` become `["Ingress"]`, plus `"Egress"` when
the policy has egress rules. Validation (`ValidateNetworkPolicySpec`): label
selectors, ports (numbers, names, `endPort` only after a numeric `port` and not
below it), peers (at least one of `podSelector` / `namespaceSelector` / `ipBlock`,
`ipBlock` alone), CIDRs with `except` a strict subset, at most two policy types.
A selector matching nothing is valid: it selects nothing. The table prints NAME,
POD-SELECTOR (`metav1.FormatLabelSelector`) and AGE, as kubectl's printer does.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import is_valid_port_name, is_valid_port_num
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources._selector import validate_label_selector
from portico.apiserver.resources._service_validation import CIDR_MESSAGE, is_valid_cidr
from portico.model.selectors import format_label_selector

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")
_RULES = (("ingress", "from"), ("egress", "to"))


def _port_errors(port: Any, path: str) -> list[FieldError]:
    """`ValidateNetworkPolicyPort`."""
    if not isinstance(port, dict):
        return []
    errs: list[FieldError] = []
    protocol = port.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    number, end = port.get("port"), port.get("endPort")
    if number is None:
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end,
                                "may not be specified when `port` is not specified"))
    elif isinstance(number, int):
        errs.extend(invalid(f"{path}.port", number, m) for m in is_valid_port_num(number))
        if end is not None:
            if end < number:
                errs.append(invalid(f"{path}.endPort", end,
                                    "must be greater than or equal to `port`"))
            errs.extend(invalid(f"{path}.endPort", end, m) for m in is_valid_port_num(end))
    else:
        if end is not None:
            errs.append(invalid(f"{path}.endPort", end,
                                "may not be specified when `port` is non-numeric"))
        errs.extend(invalid(f"{path}.port", number, m) for m in is_valid_port_name(str(number)))
    return errs


def _ip_block_errors(block: Any, path: str) -> list[FieldError]:
    """`ValidateIPBlock`: a CIDR, and `except` entries strictly inside it."""
    cidr = str(block.get("cidr") or "")
    if not cidr:
        return [required(f"{path}.cidr")]
    if not is_valid_cidr(cidr):
        return [invalid(f"{path}.cidr", cidr, CIDR_MESSAGE)]
    outer = ipaddress.ip_network(cidr, strict=False)
    errs: list[FieldError] = []
    for i, text in enumerate(block.get("except") or []):
        at = f"{path}.except[{i}]"
        if not is_valid_cidr(str(text)):
            errs.append(invalid(at, text, CIDR_MESSAGE))
            continue
        inner = ipaddress.ip_network(text, strict=False)
        if (inner.version != outer.version or inner.network_address not in outer
                or outer.prefixlen >= inner.prefixlen):
            errs.append(invalid(at, text, "must be a strict subset of `cidr`"))
    return errs


def _peer_errors(peer: Any, path: str) -> list[FieldError]:
    """`ValidateNetworkPolicyPeer`."""
    if not isinstance(peer, dict):
        return []
    errs: list[FieldError] = []
    kinds = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            kinds += 1
            errs.extend(validate_label_selector(peer[key], f"{path}.{key}"))
    block = peer.get("ipBlock")
    if block is not None:
        kinds += 1
        errs.extend(_ip_block_errors(block, f"{path}.ipBlock"))
    if kinds == 0:
        errs.append(required(path, "must specify a peer"))
    elif kinds > 1 and block is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def _policy_types_errors(types: Any) -> list[FieldError]:
    types = types or []
    if len(types) > len(POLICY_TYPES):
        return [invalid("spec.policyTypes", types, "may not specify more than two policyTypes")]
    return [not_supported(f"spec.policyTypes[{i}]", t, POLICY_TYPES)
            for i, t in enumerate(types) if t not in POLICY_TYPES]


class NetworkPolicyStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        if not isinstance(spec.get("podSelector"), dict):
            spec["podSelector"] = {}
        for direction, _ in _RULES:
            for rule in spec.get(direction) or []:
                for port in (rule or {}).get("ports") or []:
                    if isinstance(port, dict) and not port.get("protocol"):
                        port["protocol"] = "TCP"
        if not spec.get("policyTypes"):
            spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])

    def validate(self, obj: _base.Object) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = validate_label_selector(spec.get("podSelector"), "spec.podSelector")
        for direction, peers in _RULES:
            for i, rule in enumerate(spec.get(direction) or []):
                rule = rule or {}
                at = f"spec.{direction}[{i}]"
                for j, port in enumerate(rule.get("ports") or []):
                    errs.extend(_port_errors(port, f"{at}.ports[{j}]"))
                for j, peer in enumerate(rule.get(peers) or []):
                    errs.extend(_peer_errors(peer, f"{at}.{peers}[{j}]"))
        errs.extend(_policy_types_errors(spec.get("policyTypes")))
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    selector = format_label_selector(_base.nested(obj, "spec", "podSelector"))
    return [name(obj), selector, age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Pod-Selector",
                 description="Selects the pods to which this NetworkPolicy object applies."),
    _base.AGE_COLUMN,
)

NETWORKPOLICIES = _base.ResourceType(
    group="networking.k8s.io", version="v1", kind="NetworkPolicy", plural="networkpolicies",
    singular="networkpolicy", namespaced=True, strategy=NetworkPolicyStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("netpol",), has_status=False, generation=True,
)
