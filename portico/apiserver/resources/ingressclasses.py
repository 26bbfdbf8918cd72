"""IngressClasses (networking.k8s.io/v1, cluster-scoped).

`spec.controller` is required, at most 250 characters, a domain-prefixed path and
immutable. `spec.parameters.scope` defaults to `Cluster`; a `Namespace` scope needs
a namespace, a `Cluster` scope forbids one.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from portico.apiserver.errors import (
    FieldError,
    forbidden,
    invalid,
    not_supported,
    required,
    too_long,
)
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import (
    is_dns1123_label,
    is_dns1123_subdomain,
    regex_error,
    validate_immutable,
)
from portico.apiserver.resources._printers import age, name

MAX_CONTROLLER_LEN = 250
SCOPES = ("Cluster", "Namespace")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile("^" + _HTTP_PATH_FMT + "$")


def _path_segment_errors(value: str) -> list[str]:
    """`IsValidPathSegmentName`."""
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def validate_typed_reference(ref: _base.Object, path: str) -> list[FieldError]:
    """`validateIngressTypedLocalObjectReference` (also used by Ingress backends)."""
    errs: list[FieldError] = []
    group = ref.get("apiGroup")
    if group:
        errs.extend(invalid(f"{path}.apiGroup", group, m) for m in is_dns1123_subdomain(group))
    for key in ("kind", "name"):
        value = ref.get(key) or ""
        if not value:
            errs.append(required(f"{path}.{key}", f"{key} is required"))
        else:
            errs.extend(invalid(f"{path}.{key}", value, m) for m in _path_segment_errors(value))
    return errs


def _controller_errors(controller: str) -> list[FieldError]:
    path = "spec.controller"
    if not controller:
        return [required(path)]
    if len(controller) > MAX_CONTROLLER_LEN:
        return [too_long(path, MAX_CONTROLLER_LEN)]
    host, _, rest = controller.partition("/")
    if not host or not rest:
        return [invalid(path, controller, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.match(rest):
        errs.append(invalid(path, rest, regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


def _parameters_errors(params: Any) -> list[FieldError]:
    if not isinstance(params, dict):
        return []
    path = "spec.parameters"
    errs = validate_typed_reference(params, path)
    scope = params.get("scope")
    namespace = params.get("namespace")
    if scope not in SCOPES:
        errs.append(not_supported(f"{path}.scope", scope, SCOPES))
    elif scope == "Namespace":
        if not namespace:
            errs.append(required(f"{path}.namespace", "`parameters.scope` is set to 'Namespace'"))
        else:
            at = f"{path}.namespace"
            errs.extend(invalid(at, namespace, m) for m in is_dns1123_label(namespace))
    elif namespace is not None:
        errs.append(forbidden(f"{path}.namespace", "`parameters.scope` is set to 'Cluster'"))
    return errs


class IngressClassStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        params = _base.nested(obj, "spec", "parameters")
        if isinstance(params, dict) and not params.get("scope"):
            params["scope"] = "Cluster"

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        controller = _base.nested(obj, "spec", "controller", default="") or ""
        errs.extend(_controller_errors(str(controller)))
        errs.extend(_parameters_errors(_base.nested(obj, "spec", "parameters")))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(self.validate(new))
        errs.extend(validate_immutable(
            _base.nested(new, "spec", "controller"), _base.nested(old, "spec", "controller"),
            "spec.controller",
        ))
        return errs


def format_parameters(obj: _base.Object) -> str:
    params = _base.nested(obj, "spec", "parameters")
    if not isinstance(params, dict):
        return "<none>"
    text = str(params.get("kind") or "")
    if params.get("apiGroup") is not None:
        text += "." + str(params["apiGroup"])
    return text + "/" + str(params.get("name") or "")


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    controller = str(_base.nested(obj, "spec", "controller", default="") or "")
    return [name(obj), controller, format_parameters(obj), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Controller", description=(
        "Controller that is responsible for handling this class"
    )),
    _base.Column("Parameters", description="A reference to a resource with additional parameters"),
    _base.AGE_COLUMN,
)

INGRESSCLASSES = _base.ResourceType(
    group="networking.k8s.io", version="v1", kind="IngressClass", plural="ingressclasses",
    singular="ingressclass", namespaced=False, strategy=IngressClassStrategy(),
    table=_base.Table(COLUMNS, cells), has_status=False, generation=True,
)
