"""ServiceAccounts (core/v1): metadata validation, SECRETS column, `token` subresource."""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, invalid
from portico.apiserver.resources._base import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    Object,
    ResourceType,
    Strategy,
    Subresource,
    Table,
)
from portico.apiserver.resources._meta import (
    is_dns1123_subdomain,
)
from portico.apiserver.resources._printers import age, name


def _secret_refs(obj: Object) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ref in enumerate(obj.get("secrets") or []):
        ref_name = ref.get("name") or ""
        if ref_name:
            path = f"secrets[{i}].name"
            errs.extend(invalid(path, ref_name, m) for m in is_dns1123_subdomain(ref_name))
    return errs


class ServiceAccountStrategy(Strategy):
    def validate(self, obj: Object) -> list[FieldError]:
        return _secret_refs(obj)

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        return _secret_refs(new)


def cells(obj: Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), len(obj.get("secrets") or []), age(obj, now)]


COLUMNS = (
    NAME_COLUMN,
    Column("Secrets", description="Secrets is a list of the secrets in the same namespace that "
           "pods running using this ServiceAccount are allowed to use."),
    AGE_COLUMN,
)

SERVICEACCOUNTS = ResourceType(
    group="", version="v1", kind="ServiceAccount", plural="serviceaccounts",
    singular="serviceaccount", namespaced=True, strategy=ServiceAccountStrategy(),
    table=Table(COLUMNS, cells), short_names=("sa",),
    subresources=(
        Subresource("token", kind="TokenRequest", group="authentication.k8s.io", version="v1",
                    verbs=("create",)),
    ),
    has_status=False, generation=False,
)
