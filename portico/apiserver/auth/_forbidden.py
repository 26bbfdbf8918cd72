"""403 Forbidden as kube-apiserver words it (`responsewriters.Forbidden` + `NewForbidden`).

    <resource>[.<group>] ["<name>"] is forbidden: User "<user>" cannot <verb> resource
    "<resource>[/<sub>]" in API group "<group>" (in the namespace "<ns>" | at the
    cluster scope)[: <reason>]

and for non-resource URLs `forbidden: User "<user>" cannot <verb> path "<path>"`.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.errors import StatusError


def forbidden_message(username: str, attrs: Attributes) -> str:
    if not attrs.resource_request:
        return f'User "{username}" cannot {attrs.verb} path "{attrs.path}"'
    resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    where = (f'in the namespace "{attrs.namespace}"' if attrs.namespace
             else "at the cluster scope")
    return (f'User "{username}" cannot {attrs.verb} resource "{resource}" in API group '
            f'"{attrs.api_group}" {where}')


def forbidden_error(resource: str, group: str, name: str, why: str) -> StatusError:
    """`apierrors.NewForbidden(GroupResource{group, resource}, name, why)`."""
    qualified = f"{resource}.{group}" if group else resource
    if not resource:
        message = f"forbidden: {why}"
    elif name:
        message = f'{qualified} "{name}" is forbidden: {why}'
    else:
        message = f"{qualified} is forbidden: {why}"
    details: dict[str, Any] = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = resource
    return StatusError(403, "Forbidden", message, details)


def forbidden(username: str, attrs: Attributes, reason: str = "") -> StatusError:
    why = forbidden_message(username, attrs) + (f": {reason}" if reason else "")
    return forbidden_error(attrs.resource, attrs.api_group, attrs.name, why)
