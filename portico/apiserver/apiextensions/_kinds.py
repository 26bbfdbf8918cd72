"""The served kinds of a CustomResourceDefinition: one `ResourceType` per served version.

`resource_types(crd)` turns an Established CRD into what the generic registry
serves (its `acceptedNames`, scope, subresources, Table and selectable fields).
Each carries a `CustomInfo`: the version's schema, the storage version's schema,
the compiled CEL rules, the printer columns and the scale paths, which the
custom-resource strategy, the handlers (reads, `/scale`), OpenAPI and
server-side apply read. Storage is shared by all versions (`/registry/<group>/
<plural>/...`); with conversion `None` a read only rewrites `apiVersion`, after
pruning and defaulting with the storage schema, then with the requested one.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from portico.apiserver.apiextensions._jsonpath import Path, compile_path
from portico.apiserver.apiextensions._rules import rules_for
from portico.apiserver.resources._base import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    Object,
    ResourceType,
    Subresource,
    Table,
)
from portico.apiserver.resources._printers import name, parse_time, since
from portico.apiserver.schema import Definitions, definitions
from portico.model.vocabulary import ResourceScope

Schema = dict[str, Any]
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TERMINATING_VERBS = ("delete", "deletecollection", "get", "list", "watch")


@dataclass(frozen=True)
class ScalePaths:
    spec_replicas: str
    status_replicas: str
    label_selector: str = ""


@dataclass(frozen=True, eq=False)
class CustomInfo:
    """What serving one version of a CRD needs beyond the generic `ResourceType`."""

    group: str
    version: str
    kind: str
    list_kind: str
    storage_version: str
    schema: Schema
    storage_schema: Schema
    status: bool
    scale: ScalePaths | None
    terminating: bool
    deprecation_warning: str = ""
    # the compiled x-kubernetes-validations of this version (cel.CompiledRules), or None
    rules: Any = None
    schema_hash: str = ""
    columns: tuple[tuple[Column, Path | None], ...] = field(default=())

    @functools.cached_property
    def definitions(self) -> Definitions:
        """Built-in definitions plus this kind's schema, for server-side apply."""
        base = definitions()
        root = dict(self.schema)
        props = dict(root.get("properties") or {})
        props["metadata"] = {"$ref": f"#/$defs/{OBJECT_META}"}
        root["properties"] = props
        root["x-kubernetes-group-version-kind"] = [
            {"group": self.group, "version": self.version, "kind": self.kind}]
        return Definitions({**base.defs, "portico.custom.root": root})


def _printer_columns(version: Schema) -> tuple[tuple[Column, Path | None], ...]:
    columns: list[tuple[Column, Path | None]] = [(NAME_COLUMN, None)]
    given = version.get("additionalPrinterColumns") or []
    if not given:
        age = Column("Age", type="date", description=AGE_COLUMN.description)
        return (*columns, (age, compile_path(".metadata.creationTimestamp")))
    for col in given:
        column = Column(col["name"], type=col.get("type", "string"), format=col.get("format", ""),
                        description=col.get("description", ""),
                        priority=int(col.get("priority", 0)))
        columns.append((column, compile_path(col["jsonPath"])))
    return tuple(columns)


def cell(kind: str, values: list[Any], now: datetime.datetime) -> Any:
    """A column's cell from the first value its path reaches (kube's `cellForJSONValue`)."""
    if not values:
        return None
    value = values[0]
    if kind == "string":
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    if kind == "integer":
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else None
    if kind == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        return since(value, now) if isinstance(value, str) and parse_time(value) else None
    return value


def _cells(columns: tuple[tuple[Column, Path | None], ...]) -> Callable[
        [Object, datetime.datetime], list[Any]]:
    def cells(obj: Object, now: datetime.datetime) -> list[Any]:
        out: list[Any] = [name(obj)]
        for column, path in columns[1:]:
            assert path is not None
            out.append(cell(column.type, path.find(obj), now))
        return out

    return cells


def _selectable(version: Schema) -> dict[str, Callable[[Object], str]]:
    out: dict[str, Callable[[Object], str]] = {}
    for entry in version.get("selectableFields") or []:
        path = compile_path(entry["jsonPath"])

        def get(obj: Object, path: Path = path) -> str:
            values = path.find(obj)
            if not values or values[0] is None:
                return ""
            value = values[0]
            return ("true" if value else "false") if isinstance(value, bool) else str(value)

        out[entry["jsonPath"].lstrip(".")] = get
    return out


def _scale(version: Schema) -> ScalePaths | None:
    scale = (version.get("subresources") or {}).get("scale")
    if scale is None:
        return None
    return ScalePaths(scale.get("specReplicasPath", ""), scale.get("statusReplicasPath", ""),
                      scale.get("labelSelectorPath", "") or "")


def schema_of(version: Schema) -> Schema:
    return dict((version.get("schema") or {}).get("openAPIV3Schema") or {})


def _subresources(version: Schema) -> tuple[Subresource, ...]:
    subs = version.get("subresources") or {}
    out = []
    if "status" in subs:
        out.append(Subresource("status"))
    if "scale" in subs:
        out.append(Subresource("scale", "Scale", "autoscaling", "v1"))
    return tuple(out)


def resource_type(crd: Object, version: Schema, storage: Schema,
                  strategy_for: Callable[[CustomInfo], Any]) -> ResourceType:
    """The `ResourceType` serving `version` of `crd` (names from `status.acceptedNames`)."""
    spec, status = crd["spec"], crd.get("status") or {}
    names = status.get("acceptedNames") or spec["names"]
    terminating = bool(crd["metadata"].get("deletionTimestamp"))
    schema = schema_of(version)
    info = CustomInfo(
        group=spec["group"], version=version["name"],
        kind=names["kind"], list_kind=names.get("listKind") or names["kind"] + "List",
        storage_version=storage["name"], schema=schema, storage_schema=schema_of(storage),
        status="status" in (version.get("subresources") or {}), scale=_scale(version),
        terminating=terminating,
        deprecation_warning=_deprecation(spec, version, names["kind"]),
        schema_hash=hashlib.sha256(orjson.dumps(version, option=orjson.OPT_SORT_KEYS))
        .hexdigest(),
        columns=_printer_columns(version),
    )
    info = _with_rules(info)
    verbs = TERMINATING_VERBS if terminating else (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    return ResourceType(
        group=spec["group"], version=version["name"], kind=names["kind"], plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        namespaced=spec.get("scope") == ResourceScope.NAMESPACED, strategy=strategy_for(info),
        table=Table(tuple(c for c, _ in info.columns), _cells(info.columns)),
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()), subresources=_subresources(version),
        verbs=verbs, field_selectors=_selectable(version), has_status=info.status,
        custom=info,
    )


def _with_rules(info: CustomInfo) -> CustomInfo:
    return dataclasses.replace(info, rules=rules_for(info.schema))


def _deprecation(spec: Schema, version: Schema, kind: str) -> str:
    if not version.get("deprecated"):
        return ""
    if version.get("deprecationWarning"):
        return str(version["deprecationWarning"])
    return f"{spec['group']}/{version['name']} {kind} is deprecated"


def served_types(crd: Object, strategy_for: Callable[[CustomInfo], Any]) -> list[ResourceType]:
    """Every served version of an Established CRD as a `ResourceType`."""
    versions = crd["spec"].get("versions") or []
    storage = next((v for v in versions if v.get("storage")), None)
    if storage is None:
        return []
    return [resource_type(crd, v, storage, strategy_for) for v in versions if v.get("served")]
