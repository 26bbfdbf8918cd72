"""Placeholder, replaced by the Service registry module."""

from portico.apiserver.resources._base import AGE_COLUMN, NAME_COLUMN, ResourceType, Strategy, Table
from portico.apiserver.resources._printers import age, name

SERVICES = ResourceType(
    group="", version="v1", kind="Service", plural="services", singular="service",
    namespaced=True, strategy=Strategy(),
    table=Table((NAME_COLUMN, AGE_COLUMN), lambda o, now: [name(o), age(o, now)]),
    short_names=("svc",), categories=("all",),
)
