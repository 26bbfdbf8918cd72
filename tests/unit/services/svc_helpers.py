"""Drive the Service strategy the way the generic store does, over an in-memory context."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from portico.apiserver.errors import FieldError, StatusError, invalid_object
from portico.apiserver.resources._base import Object
from portico.apiserver.resources.services import ServiceConfig, make_services
from portico.testing.write_context import MemoryWriteContext

CONFIG = ServiceConfig(random_allocation=False)
TINY = ServiceConfig(ipaddress.IPv4Network("10.9.0.0/29"), (31000, 31002), random_allocation=False)
IPS = "/registry/ranges/serviceips/"
PORTS = "/registry/ranges/servicenodeports/"


def svc(name: str = "web", ns: str = "default", **spec: Any) -> Object:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


class Cluster:
    """A Service registry with its allocation keys; writes roll back on failure."""

    def __init__(self, config: ServiceConfig = CONFIG) -> None:
        self.rt = make_services(config)
        self.ctx = MemoryWriteContext()
        self.objects: dict[str, Object] = {}

    def create(self, obj: Object) -> Object:
        obj = copy.deepcopy(obj)
        strategy = self.rt.strategy
        strategy.default(obj)
        strategy.prepare_for_create(obj)
        return self._store(obj, None, strategy.validate(obj))

    def update(self, obj: Object) -> Object:
        new = copy.deepcopy(obj)
        old = copy.deepcopy(self.objects[new["metadata"]["name"]])
        strategy = self.rt.strategy
        new["status"] = copy.deepcopy(old.get("status"))
        strategy.default(new)
        strategy.prepare_for_update(new, old)
        return self._store(new, old, strategy.validate_update(new, old))

    def _store(self, new: Object, old: Object | None, errs: list[FieldError]) -> Object:
        """The end of a write: reject on validation errors, else allocate and keep `new`."""
        if errs:
            raise invalid_object("Service", new["metadata"]["name"], errs)
        with self.ctx.transaction():
            self.rt.strategy.allocate(self.ctx, new, old)
        self.objects[new["metadata"]["name"]] = new
        return copy.deepcopy(new)

    def patch_spec(self, name: str, **changes: Any) -> Object:
        """A merge patch of `spec` (None deletes), like `kubectl patch --type=merge`."""
        obj = copy.deepcopy(self.objects[name])
        for key, value in changes.items():
            if value is None:
                obj["spec"].pop(key, None)
            else:
                obj["spec"][key] = value
        return self.update(obj)

    def delete(self, name: str) -> None:
        with self.ctx.transaction():
            self.rt.strategy.release(self.ctx, self.objects.pop(name))

    def ips(self) -> dict[str, bytes]:
        return self.ctx.under(IPS)

    def ports(self) -> dict[str, bytes]:
        return self.ctx.under(PORTS)


def error_of(call: Any, *args: Any) -> tuple[int, str]:
    try:
        call(*args)
    except StatusError as err:
        return err.code, err.message
    raise AssertionError("no StatusError raised")
