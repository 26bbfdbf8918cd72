"""networking/v1 views: `Ingress` with its rules, paths, backends and TLS entries.

Theory of operation
-------------------
Parsed once with `from_obj` (see `portico.model.meta` for the rules).  A backend is
either a Service port (by number or by name) or a typed `resource` reference, kept
raw; an absent `pathType` reads as `ImplementationSpecific`, an absent path as `""`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from portico.model._parse import (
    JSONObject,
    enum_of,
    int_of,
    obj_of,
    objs_of,
    opt_str_of,
    str_of,
    strs_of,
)
from portico.model.meta import ObjectMeta
from portico.model.vocabulary import PathType

__all__ = ["HTTPIngressPath", "Ingress", "IngressBackend", "IngressRule", "IngressTLS"]


@dataclass(frozen=True, slots=True)
class IngressBackend:
    service_name: str = ""
    port_number: int = 0
    port_name: str = ""
    resource: JSONObject | None = field(default=None, hash=False)

    @classmethod
    def from_obj(cls, obj: JSONObject) -> IngressBackend:
        service = obj_of(obj.get("service"))
        port = obj_of(service.get("port"))
        resource = obj.get("resource")
        return cls(service_name=str_of(service.get("name")), port_number=int_of(port.get("number")),
                   port_name=str_of(port.get("name")),
                   resource=dict(obj_of(resource)) if resource is not None else None)


@dataclass(frozen=True, slots=True)
class HTTPIngressPath:
    backend: IngressBackend
    path: str = ""
    path_type: PathType = PathType.IMPLEMENTATION_SPECIFIC

    @classmethod
    def from_obj(cls, obj: JSONObject) -> HTTPIngressPath:
        return cls(backend=IngressBackend.from_obj(obj_of(obj.get("backend"))),
                   path=str_of(obj.get("path")),
                   path_type=enum_of(PathType, obj.get("pathType"),
                                     PathType.IMPLEMENTATION_SPECIFIC))


@dataclass(frozen=True, slots=True)
class IngressRule:
    host: str = ""
    paths: tuple[HTTPIngressPath, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> IngressRule:
        paths = objs_of(obj_of(obj.get("http")).get("paths"))
        return cls(host=str_of(obj.get("host")),
                   paths=tuple(HTTPIngressPath.from_obj(p) for p in paths))


@dataclass(frozen=True, slots=True)
class IngressTLS:
    hosts: tuple[str, ...] = ()
    secret_name: str = ""

    @classmethod
    def from_obj(cls, obj: JSONObject) -> IngressTLS:
        return cls(hosts=strs_of(obj.get("hosts")), secret_name=str_of(obj.get("secretName")))


@dataclass(frozen=True, slots=True)
class Ingress:
    metadata: ObjectMeta
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    rules: tuple[IngressRule, ...] = ()
    tls: tuple[IngressTLS, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Ingress:
        spec = obj_of(obj.get("spec"))
        backend = spec.get("defaultBackend")
        ingress = objs_of(obj_of(obj_of(obj.get("status")).get("loadBalancer")).get("ingress"))
        return cls(
            metadata=ObjectMeta.from_obj(obj),
            ingress_class_name=opt_str_of(spec.get("ingressClassName")),
            default_backend=IngressBackend.from_obj(obj_of(backend))
            if isinstance(backend, dict) else None,
            rules=tuple(IngressRule.from_obj(r) for r in objs_of(spec.get("rules"))),
            tls=tuple(IngressTLS.from_obj(t) for t in objs_of(spec.get("tls"))),
            load_balancer_ips=tuple(ip for i in ingress if (ip := str_of(i.get("ip")))),
        )
