"""Nodes (core/v1, cluster-scoped).

Nodes may carry status on create (the kubelet registers with it); a plain update
keeps the stored status. `spec.podCIDR(s)` and `spec.providerID` may only go from
unset to set. `status.allocatable` defaults to `status.capacity`.

The table is kubectl's `printNode`: STATUS is `Ready`/`NotReady`/`Unknown` from the
Ready condition plus `,SchedulingDisabled`; ROLES come from `node-role.kubernetes.io/*`
labels and `kubernetes.io/role`.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden
from portico.apiserver.resources import _base
from portico.apiserver.resources._owned_status import keep_status
from portico.apiserver.resources._printers import age, name
from portico.model.vocabulary import ConditionStatus, NodeConditionType

ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"
_CIDR_CHANGE = 'node updates may not change podCIDR except from "" to valid'
_PROVIDER_CHANGE = 'node updates may not change providerID except from "" to valid'


class NodeStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("podCIDR") and not spec.get("podCIDRs"):
            spec["podCIDRs"] = [spec["podCIDR"]]
        status = obj.get("status")
        if isinstance(status, dict) and status.get("capacity") and "allocatable" not in status:
            status["allocatable"] = copy.deepcopy(status["capacity"])

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        keep_status(new, old)

    def validate(self, obj: _base.Object) -> list[FieldError]:
        return []

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        old_cidrs = _base.nested(old, "spec", "podCIDRs", default=None) or []
        new_cidrs = _base.nested(new, "spec", "podCIDRs", default=None) or []
        if old_cidrs and old_cidrs != new_cidrs:
            errs.append(forbidden("spec.podCIDRs", _CIDR_CHANGE))
        old_provider = _base.nested(old, "spec", "providerID", default="") or ""
        if old_provider and old_provider != (_base.nested(new, "spec", "providerID") or ""):
            errs.append(forbidden("spec.providerID", _PROVIDER_CHANGE))
        return errs


def node_roles(obj: _base.Object) -> str:
    roles: set[str] = set()
    for key, value in (_base.nested(obj, "metadata", "labels", default=None) or {}).items():
        if key.startswith(ROLE_PREFIX) and key[len(ROLE_PREFIX):]:
            roles.add(key[len(ROLE_PREFIX):])
        elif key == ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or "<none>"


def node_status(obj: _base.Object) -> str:
    parts: list[str] = []
    for cond in _base.nested(obj, "status", "conditions", default=None) or []:
        if cond.get("type") == NodeConditionType.READY:
            parts = ["Ready" if cond.get("status") == ConditionStatus.TRUE else "NotReady"]
    if not parts:
        parts = ["Unknown"]
    if _base.nested(obj, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _address(obj: _base.Object, kind: str) -> str:
    for addr in _base.nested(obj, "status", "addresses", default=None) or []:
        if addr.get("type") == kind:
            return str(addr.get("address", ""))
    return "<none>"


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    info = _base.nested(obj, "status", "nodeInfo", default=None) or {}
    return [
        name(obj), node_status(obj), node_roles(obj), age(obj, now),
        str(info.get("kubeletVersion", "")),
        _address(obj, "InternalIP"), _address(obj, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


_ADDRESSES = "List of addresses reachable to the node."
COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Status", description="The status of the node"),
    _base.Column("Roles", description="The roles of the node"),
    _base.AGE_COLUMN,
    _base.Column("Version", description="Kubelet Version reported by the node."),
    _base.Column("Internal-IP", priority=1, description=_ADDRESSES),
    _base.Column("External-IP", priority=1, description=_ADDRESSES),
    _base.Column("OS-Image", priority=1, description="OS Image reported by the node from "
                 "/etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
    _base.Column("Kernel-Version", priority=1, description=(
        "Kernel Version reported by the node from "
        "'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."
    )),
    _base.Column("Container-Runtime", priority=1, description=(
        "ContainerRuntime Version reported by "
        "the node through runtime remote API (e.g. containerd://1.4.2)."
    )),
)


def _unschedulable(obj: _base.Object) -> str:
    return "true" if _base.nested(obj, "spec", "unschedulable") else "false"


NODES = _base.ResourceType(
    group="", version="v1", kind="Node", plural="nodes", singular="node",
    namespaced=False, strategy=NodeStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("no",),
    subresources=(_base.Subresource("status"),),
    field_selectors={"spec.unschedulable": _unschedulable},
    generation=False,
)
