"""discovery/v1 views: `EndpointSlice`, its `Endpoint`s and `EndpointPort`s.

Theory of operation
-------------------
Parsed once with `from_obj` (see `portico.model.meta` for the rules).  Endpoint
conditions follow the API's documented reading of absent values, as kube-proxy reads
them: `ready` absent means ready ("unknown state... should be interpreted as ready"),
`serving` absent means the same as `ready`, `terminating` absent means not
terminating.  A port's `port` is `None` when absent (upstream: all ports).
"""

from __future__ import annotations

from dataclasses import dataclass

from portico.model._parse import (
    JSONObject,
    bool_of,
    enum_of,
    obj_of,
    objs_of,
    opt_int_of,
    opt_str_of,
    str_of,
    strs_of,
)
from portico.model.meta import ObjectMeta
from portico.model.vocabulary import AddressType, Protocol

__all__ = ["SERVICE_NAME_LABEL", "Endpoint", "EndpointPort", "EndpointSlice"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True, slots=True)
class Endpoint:
    addresses: tuple[str, ...]
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None
    hostname: str | None = None
    zone: str | None = None

    @classmethod
    def from_obj(cls, obj: JSONObject) -> Endpoint:
        cond = obj_of(obj.get("conditions"))
        ready = bool_of(cond.get("ready"), default=True)
        return cls(addresses=strs_of(obj.get("addresses")), ready=ready,
                   serving=bool_of(cond.get("serving"), default=ready),
                   terminating=bool_of(cond.get("terminating")),
                   node_name=opt_str_of(obj.get("nodeName")),
                   hostname=opt_str_of(obj.get("hostname")), zone=opt_str_of(obj.get("zone")))


@dataclass(frozen=True, slots=True)
class EndpointPort:
    name: str = ""
    protocol: Protocol = Protocol.TCP
    port: int | None = None
    app_protocol: str | None = None

    @classmethod
    def from_obj(cls, obj: JSONObject) -> EndpointPort:
        return cls(name=str_of(obj.get("name")),
                   protocol=enum_of(Protocol, obj.get("protocol"), Protocol.TCP),
                   port=opt_int_of(obj.get("port")),
                   app_protocol=opt_str_of(obj.get("appProtocol")))


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    metadata: ObjectMeta
    address_type: AddressType = AddressType.IPV4
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()

    @classmethod
    def from_obj(cls, obj: JSONObject) -> EndpointSlice:
        return cls(metadata=ObjectMeta.from_obj(obj),
                   address_type=enum_of(AddressType, obj.get("addressType"), AddressType.IPV4),
                   endpoints=tuple(Endpoint.from_obj(e) for e in objs_of(obj.get("endpoints"))),
                   ports=tuple(EndpointPort.from_obj(p) for p in objs_of(obj.get("ports"))))

    @property
    def service_name(self) -> str | None:
        """The Service the slice belongs to (its `kubernetes.io/service-name` label)."""
        return self.metadata.labels.get(SERVICE_NAME_LABEL) or None
