"""Ingresses (networking.k8s.io/v1): validation per `pkg/apis/networking/validation`.

There are no scheme defaults: `pathType` is required. Rules need a DNS (or `*.`
wildcard) host that is not an IP; Exact/Prefix paths must be absolute and free of
`//`, `/./`, `/../`, `%2f`; each backend is exactly one of service (name + port name
or number) or resource. Status is owned by the server (cleared on create, kept on
update). The table is kubectl's `printIngress` (CLASS, HOSTS, ADDRESS, PORTS).
"""

from __future__ import annotations

import copy
import datetime
import ipaddress
from typing import Any

from portico.apiserver.errors import FieldError, invalid, not_supported, required
from portico.apiserver.resources import _base
from portico.apiserver.resources._admission import newest_default
from portico.apiserver.resources._meta import (
    GoValue,
    is_dns1035_label,
    is_dns1123_subdomain,
    is_valid_port_name,
    is_valid_port_num,
    is_wildcard_dns1123_subdomain,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources.ingressclasses import validate_typed_reference
from portico.model.vocabulary import PathType

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_SUFFIXES = ("/..", "/.")
CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def _host_errors(host: str) -> list[str]:
    msgs: list[str] = []
    try:
        ipaddress.ip_address(host)
        msgs.append("must be a DNS name, not an IP address")
    except ValueError:
        pass
    if "*" in host:
        return msgs + is_wildcard_dns1123_subdomain(host)
    return msgs + is_dns1123_subdomain(host)


def validate_backend(backend: _base.Object, path: str) -> list[FieldError]:
    """`validateIngressBackend`: exactly one of service and resource."""
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return validate_typed_reference(resource, f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    errs: list[FieldError] = []
    svc_name = service.get("name") or ""
    if not svc_name:
        errs.append(required(f"{path}.service.name"))
    else:
        at = f"{path}.service.name"
        errs.extend(invalid(at, svc_name, m) for m in is_dns1035_label(svc_name))
    port = service.get("port") or {}
    port_name, number = port.get("name") or "", port.get("number") or 0
    if port_name and number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        at = f"{path}.service.port.name"
        errs.extend(invalid(at, port_name, m) for m in is_valid_port_name(port_name))
    elif number:
        at = f"{path}.service.port.number"
        errs.extend(invalid(at, number, m) for m in is_valid_port_num(number))
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def validate_http_path(item: _base.Object, path: str) -> list[FieldError]:
    """`validateHTTPIngressPath`."""
    path_type = item.get("pathType")
    if not path_type:
        return [required(f"{path}.pathType", "pathType must be specified")]
    value = item.get("path") or ""
    errs: list[FieldError] = []
    if path_type in (PathType.EXACT, PathType.PREFIX):
        if not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
        if value:
            errs.extend(
                invalid(f"{path}.path", value, f"must not contain '{seq}'")
                for seq in INVALID_SEQUENCES if seq in value
            )
            errs.extend(
                invalid(f"{path}.path", value, f"cannot end with '{suffix}'")
                for suffix in INVALID_SUFFIXES if value.endswith(suffix)
            )
    elif path_type == PathType.IMPLEMENTATION_SPECIFIC:
        if value and not value.startswith("/"):
            errs.append(invalid(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    errs.extend(validate_backend(item.get("backend") or {}, f"{path}.backend"))
    return errs


def validate_rules(rules: list[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        host = rule.get("host") or ""
        if host:
            errs.extend(invalid(f"spec.rules[{i}].host", host, m) for m in _host_errors(host))
        http = rule.get("http")
        if http is None:
            continue
        paths = http.get("paths") or []
        if not paths:
            errs.append(required(f"spec.rules[{i}].http.paths"))
        for j, item in enumerate(paths):
            errs.extend(validate_http_path(item, f"spec.rules[{i}].http.paths[{j}]"))
    return errs


def _validate_tls(tls: list[Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, entry in enumerate(tls):
        for j, host in enumerate(entry.get("hosts") or []):
            check = is_wildcard_dns1123_subdomain if "*" in host else is_dns1123_subdomain
            errs.extend(invalid(f"spec.tls[{i}].hosts[{j}]", host, m) for m in check(host))
        secret = entry.get("secretName") or ""
        if secret:
            at = f"spec.tls[{i}].secretName"
            errs.extend(invalid(at, secret, m) for m in is_dns1123_subdomain(secret))
    return errs


def validate_ingress(obj: _base.Object) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errs: list[FieldError] = []
    rules = spec.get("rules")
    if not rules and spec.get("defaultBackend") is None:
        shown = GoValue("[]networking.IngressRule(nil)" if rules is None
                        else "[]networking.IngressRule{}")
        errs.append(invalid("spec", shown, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs.extend(validate_backend(spec["defaultBackend"], "spec.defaultBackend"))
    errs.extend(validate_rules(rules or []))
    errs.extend(_validate_tls(spec.get("tls") or []))
    class_name = spec.get("ingressClassName") or ""
    if class_name:
        at = "spec.ingressClassName"
        errs.extend(invalid(at, class_name, m) for m in is_dns1123_subdomain(class_name))
    return errs


def _class_annotation_errors(obj: _base.Object) -> list[FieldError]:
    annotations = _base.nested(obj, "metadata", "annotations", default=None) or {}
    class_name = _base.nested(obj, "spec", "ingressClassName")
    value = annotations.get(CLASS_ANNOTATION)
    if value is not None and class_name is not None and value != class_name:
        return [invalid(f"annotations.{CLASS_ANNOTATION}", value,
                        "must match `ingressClassName` when both are specified")]
    return []


_CLASSES_PREFIX = "/registry/networking.k8s.io/ingressclasses/"
_DEFAULT_CLASS = "ingressclass.kubernetes.io/is-default-class"
_LEGACY_CLASS = "kubernetes.io/ingress.class"


def default_class(ctx: _base.WriteContext) -> str | None:
    """The newest IngressClass annotated as the default, as the DefaultIngressClass
    admission plugin picks it."""
    return newest_default(ctx, _CLASSES_PREFIX, _DEFAULT_CLASS)


class IngressStrategy(_base.Strategy):
    def prepare_for_create(self, obj: _base.Object) -> None:
        obj["status"] = {"loadBalancer": {}}

    def allocate(self, ctx: _base.WriteContext, new: _base.Object,
                 old: _base.Object | None) -> None:
        """Admission: a new Ingress without a class gets the default IngressClass."""
        if old is not None:
            return
        spec = new.setdefault("spec", {})
        annotations = new.get("metadata", {}).get("annotations") or {}
        if spec.get("ingressClassName") or _LEGACY_CLASS in annotations:
            return
        chosen = default_class(ctx)
        if chosen:
            spec["ingressClassName"] = chosen

    def prepare_for_update(self, new: _base.Object, old: _base.Object) -> None:
        new["status"] = copy.deepcopy(old.get("status") or {"loadBalancer": {}})

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(_class_annotation_errors(obj))
        errs.extend(validate_ingress(obj))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(validate_ingress(new))
        return errs


def format_hosts(rules: list[Any], limit: int = 3) -> str:
    hosts = [r.get("host") for r in rules[:limit] if r.get("host")]
    if not hosts:
        return "*"
    text = ",".join(hosts)
    if len(rules) > limit:
        return f"{text} + {len(rules) - limit} more..."
    return text


def load_balancer_address(obj: _base.Object) -> str:
    found: set[str] = set()
    for ing in _base.nested(obj, "status", "loadBalancer", "ingress", default=None) or []:
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return ",".join(sorted(found))


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    class_name = spec.get("ingressClassName")
    return [
        name(obj), "<none>" if class_name is None else class_name,
        format_hosts(spec.get("rules") or []), load_balancer_address(obj),
        "80, 443" if spec.get("tls") else "80", age(obj, now),
    ]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Class", description="The name of the IngressClass resource that should be used "
                 "for this Ingress"),
    _base.Column("Hosts", description="Hosts that incoming requests are matched against before the "
                 "ingress rule"),
    _base.Column("Address", description="Address is a list containing ingress points for the "
                 "load-balancer"),
    _base.Column("Ports", description="Ports of TLS configurations that open"),
    _base.AGE_COLUMN,
)

INGRESSES = _base.ResourceType(
    group="networking.k8s.io", version="v1", kind="Ingress", plural="ingresses",
    singular="ingress", namespaced=True, strategy=IngressStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("ing",),
    subresources=(_base.Subresource("status"),), generation=True,
)
