"""The create-only review kinds and TokenRequest's parents, for discovery and OpenAPI.

Their requests never reach the registry: `auth.service` answers them (reviews are
computed, never stored). Listed here so `kubectl api-resources` and the discovery
documents show them as kube-apiserver does (verbs: create).
"""

from __future__ import annotations

import datetime
from typing import Any

from portico.apiserver.resources import _base
from portico.apiserver.resources._printers import name


def _cells(obj: _base.Object, now: datetime.datetime) -> list[Any]:
    return [name(obj)]


def _review(group: str, kind: str, namespaced: bool = False) -> _base.ResourceType:
    return _base.ResourceType(group=group, version="v1", kind=kind, plural=f"{kind.lower()}s",
                              singular="", namespaced=namespaced, strategy=_base.Strategy(),
                              table=_base.Table((_base.NAME_COLUMN,), _cells), verbs=("create",),
                              has_status=True, generation=False)


_AUTHN, _AUTHZ = "authentication.k8s.io", "authorization.k8s.io"
REVIEW_RESOURCES = (
    _review(_AUTHN, "SelfSubjectReview"),
    _review(_AUTHN, "TokenReview"),
    _review(_AUTHZ, "LocalSubjectAccessReview", namespaced=True),
    _review(_AUTHZ, "SelfSubjectAccessReview"),
    _review(_AUTHZ, "SelfSubjectRulesReview"),
    _review(_AUTHZ, "SubjectAccessReview"),
)
