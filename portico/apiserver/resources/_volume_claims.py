"""What PersistentVolumes and PersistentVolumeClaims share: access modes, storage sizes.

kube-apiserver's texts: `at least 1 access mode is required`, the supported modes,
`must be greater than zero` for a storage size; the table's short access modes
(`RWO,ROX,RWX,RWOP`, kubectl's `GetAccessModesAsString`).
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import FieldError, invalid, not_supported, required
from portico.model.quantity import parse_quantity

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_SHORT = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
          "ReadWriteOncePod": "RWOP"}
VOLUME_MODES = ("Block", "Filesystem")


def validate_access_modes(modes: Any, path: str) -> list[FieldError]:
    if not modes:
        return [required(path, "at least 1 access mode is required")]
    errs: list[FieldError] = []
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(path, mode, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(invalid(path, modes, "may not use ReadWriteOncePod with other access modes"))
    return errs


def validate_storage(value: Any, path: str) -> list[FieldError]:
    """A storage size: present and greater than zero."""
    if value is None:
        return [required(path)]
    try:
        size = parse_quantity(value)
    except ValueError:
        return [invalid(path, value, "must be a quantity")]
    return [] if size > 0 else [invalid(path, value, "must be greater than zero")]


def validate_volume_mode(mode: Any, path: str) -> list[FieldError]:
    return [] if mode in VOLUME_MODES else [not_supported(path, mode, VOLUME_MODES)]


def access_modes_text(modes: Any) -> str:
    """kubectl's short form, in its fixed order."""
    present = set(modes or [])
    return ",".join(short for mode, short in _SHORT.items() if mode in present)
