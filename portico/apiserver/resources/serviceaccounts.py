"""ServiceAccounts (core/v1): metadata validation, SECRETS column, `token` subresource."""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.errors import FieldError, invalid
from portico.apiserver.resources import _base
from portico.apiserver.resources._meta import (
    is_dns1123_subdomain,
)
from portico.apiserver.resources._printers import age, name


def _secret_refs(obj: _base.Object) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ref in enumerate(obj.get("secrets") or []):
        ref_name = ref.get("name") or ""
        if ref_name:
            path = f"secrets[{i}].name"
            errs.extend(invalid(path, ref_name, m) for m in is_dns1123_subdomain(ref_name))
    return errs


class ServiceAccountStrategy(_base.Strategy):
    def validate(self, obj: _base.Object) -> list[FieldError]:
        return _secret_refs(obj)

    def validate_update(self, new: _base.Object, old: _base.Object) -> list[FieldError]:
        return _secret_refs(new)


def cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj), len(obj.get("secrets") or []), age(obj, now)]


COLUMNS = (
    _base.NAME_COLUMN,
    _base.Column("Secrets", description=(
        "Secrets is a list of the secrets in the same namespace that "
        "pods running using this ServiceAccount are allowed to use."
    )),
    _base.AGE_COLUMN,
)

SERVICEACCOUNTS = _base.ResourceType(
    group="", version="v1", kind="ServiceAccount", plural="serviceaccounts",
    singular="serviceaccount", namespaced=True, strategy=ServiceAccountStrategy(),
    table=_base.Table(COLUMNS, cells), short_names=("sa",),
    subresources=(
        _base.Subresource("token", kind="TokenRequest", group="authentication.k8s.io", version="v1",
                          verbs=("create",)),
    ),
    has_status=False, generation=False,
)
