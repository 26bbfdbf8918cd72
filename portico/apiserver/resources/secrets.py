"""Secrets (core/v1): `stringData` folding, type defaults and per-type validation.

`default` folds `stringData` into `data` (base64) and drops it, as the v1 -> internal
conversion does, and defaults `type` to `Opaque`. Validation checks keys, the 1 MiB
size cap and the keys each well-known type requires; `type` is immutable and
`immutable: true` freezes `data`.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

from portico.apiserver.errors import FieldError, required, too_long
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import (
    validate_immutable,
)
from portico.apiserver.resources._printers import age, name
from portico.apiserver.resources.configmaps import (
    MAX_SIZE,
    decoded_len,
    immutability_errors,
    validate_keys,
)

SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def _type_errors(obj: _base.Object) -> list[FieldError]:
    kind = obj.get("type") or ""
    data = obj.get("data") or {}
    errs: list[FieldError] = []
    if kind == "kubernetes.io/service-account-token":
        annotations = _base.nested(obj, "metadata", "annotations", default=None) or {}
        if not annotations.get(SA_NAME_ANNOTATION):
            errs.append(required(f"metadata.annotations[{SA_NAME_ANNOTATION}]"))
    elif kind == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        errs.append(required("data[username]"))
        errs.append(required("data[password]"))
    for key in REQUIRED_KEYS.get(kind, ()):
        if key not in data:
            errs.append(required(f"data[{key}]"))
    return errs


class SecretStrategy(_base.Strategy):
    def default(self, obj: _base.Object) -> None:
        string_data = obj.pop("stringData", None)
        if string_data:
            data = obj.get("data")
            if not isinstance(data, dict):
                data = obj["data"] = {}
            for key, value in string_data.items():
                data[key] = base64.b64encode(str(value).encode()).decode()
        if not obj.get("type"):
            obj["type"] = "Opaque"

    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        data = obj.get("data") or {}
        errs.extend(validate_keys(data, "data", {}, ""))
        if sum(decoded_len(v) for v in data.values()) > MAX_SIZE:
            errs.append(too_long("data", MAX_SIZE))
        errs.extend(_type_errors(obj))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(self.validate(new))
        errs.extend(validate_immutable(new.get("type"), old.get("type"), "type"))
        errs.extend(immutability_errors(new, old, ("data",)))
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), str(obj.get("type") or ""), len(obj.get("data") or {}), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Type", description=(
        "Used to facilitate programmatic handling of secret data. "
        "More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"
    )),
    _base.Column("Data", description=(
        "Data contains the secret data. Each key must consist of "
        "alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is "
        "a base64 encoded string, representing the arbitrary (possibly non-string) data "
        "value here. Described in https://tools.ietf.org/html/rfc4648#section-4"
    )),
    _base.AGE_COLUMN,
)

SECRETS = _base.ResourceType(
    group="", version="v1", kind="Secret", plural="secrets", singular="secret",
    namespaced=True, strategy=SecretStrategy(), table=_base.Table(COLUMNS, cells),
    field_selectors={"type": _base.field_selector_fn("type")},
    has_status=False, generation=False,
)
