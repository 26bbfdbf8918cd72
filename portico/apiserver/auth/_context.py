"""The authenticated user of the request being served, for checks deep in the write path.

The auth middleware sets it for the life of the request (asyncio tasks carry it);
the RBAC strategies read it for the escalation and bind checks, as kube-apiserver's
RBAC storage reads the user from the request context. No user (in-process writes
such as bootstrap): no check, as for kube-apiserver's own loopback client.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from portico.apiserver.auth._user import UserInfo

if TYPE_CHECKING:
    from portico.apiserver.auth._authorizer import Authorizer


@dataclass(frozen=True)
class RequestContext:
    user: UserInfo
    authorizer: Authorizer


CURRENT: ContextVar[RequestContext | None] = ContextVar("portico_request_user", default=None)
