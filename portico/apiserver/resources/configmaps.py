"""ConfigMaps (core/v1): key and size validation, immutability, table (DATA count).

Keys must be valid config keys (`IsConfigMapKey`) and may not appear in both `data`
and `binaryData`; the total size is capped at 1 MiB. Once `immutable: true` is set,
`data`/`binaryData` may not change and `immutable` may not be unset.
"""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, too_long
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import (
    is_config_map_key,
)
from portico.apiserver.resources._printers import age, name

MAX_SIZE = 1024 * 1024
IMMUTABLE_DATA = "field is immutable when `immutable` is set"


def decoded_len(value: Any) -> int:
    """Length of a base64 `[]byte` field as stored (the encoded length if undecodable)."""
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return len(str(value))


def validate_keys(values: Any, path: str, other: Any, other_name: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in sorted(values or {}):
        errs.extend(invalid(f"{path}[{key}]", key, m) for m in is_config_map_key(key))
        if key in (other or {}):
            errs.append(invalid(f"{path}[{key}]", key, f"duplicate of key present in {other_name}"))
    return errs


def immutability_errors(new: _base.Object, old: _base.Object,
                        fields: tuple[str, ...]) -> list[FieldError]:
    """`immutable: true` freezes the data fields and itself."""
    if not old.get("immutable"):
        return []
    errs: list[FieldError] = []
    if not new.get("immutable"):
        errs.append(forbidden("immutable", IMMUTABLE_DATA))
    for key in fields:
        if (new.get(key) or {}) != (old.get(key) or {}):
            errs.append(forbidden(key, IMMUTABLE_DATA))
    return errs


class ConfigMapStrategy(_base.Strategy):
    def validate(self, obj: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        data, binary = obj.get("data") or {}, obj.get("binaryData") or {}
        errs.extend(validate_keys(data, "data", binary, "binaryData"))
        errs.extend(validate_keys(binary, "binaryData", data, "data"))
        size = sum(len(str(v)) for v in data.values())
        size += sum(decoded_len(v) for v in binary.values())
        if size > MAX_SIZE:
            errs.append(too_long("", MAX_SIZE))
        return errs

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        errs: list[FieldError] = []
        errs.extend(self.validate(new))
        errs.extend(immutability_errors(new, old, ("data", "binaryData")))
        return errs


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    count = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
    return [name(obj), count, age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Data", description=(
        "Data contains the configuration data. Each key must consist of "
        "alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must "
        "use the BinaryData field. The keys stored in Data must not overlap with the keys in "
        "the BinaryData field, this is enforced during validation process."
    )),
    _base.AGE_COLUMN,
)

CONFIGMAPS = _base.ResourceType(
    group="", version="v1", kind="ConfigMap", plural="configmaps", singular="configmap",
    namespaced=True, strategy=ConfigMapStrategy(), table=_base.Table(COLUMNS, cells),
    short_names=("cm",), has_status=False, generation=False,
)
