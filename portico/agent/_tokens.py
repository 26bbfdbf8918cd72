"""kubelet's ServiceAccount token manager: bound tokens for the pods, refreshed before they expire.

A pod that mounts a projected `serviceAccountToken` source (the
`kube-api-access-*` volume the ServiceAccount admission adds, unless
`automountServiceAccountToken: false`) gets a token through TokenRequest, bound
to the pod (so it dies with it), for the source's audience (default: the API
server) and `expirationSeconds`. As kubelet, a token is requested again once 80%
of its life has passed, or after 24 h (`requires_refresh`, pure); `refresh()`
is called periodically and rewrites the files of pods whose token changed.
Tokens are cached per (pod uid, account, audience, expiration) and forgotten
with the pod. A pod may start before the ServiceAccount controller made its
namespace's `default` account: a 404 is retried for up to 5 s.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portico.client import Api, ApiError
from portico.model.kinds import SERVICE_ACCOUNT_TOKEN

Object = dict[str, Any]
REFRESH_FRACTION = 0.8
MAX_AGE = 24 * 3600.0
ACCOUNT_ATTEMPTS = 50  # x 0.1 s


@dataclass(frozen=True)
class TokenSource:
    """A projected `serviceAccountToken` source of a pod."""

    audience: str
    expiration_seconds: int
    path: str


@dataclass(frozen=True)
class Issued:
    token: str
    issued_at: float
    expires_at: float


def requires_refresh(issued: Issued, now: float) -> bool:
    life = issued.expires_at - issued.issued_at
    return now >= issued.issued_at + min(life * REFRESH_FRACTION, MAX_AGE)


def token_sources(pod: Object) -> list[TokenSource]:
    """The pod's projected token sources (none: no token is mounted)."""
    found = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            token = source.get("serviceAccountToken")
            if token is not None:
                found.append(TokenSource(str(token.get("audience") or ""),
                                         int(token.get("expirationSeconds") or 3600),
                                         str(token.get("path") or "token")))
    return found


class TokenManager:
    def __init__(self, client: Api, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.clock = clock
        self._cache: dict[tuple[str, str, str, int], Issued] = {}

    async def token(self, pod: Object, source: TokenSource) -> str:
        """The pod's token; a 404 (the ServiceAccount controller has not made the
        namespace's `default` account yet) is retried for up to 5 s."""
        for _ in range(ACCOUNT_ATTEMPTS - 1):
            try:
                return await self._token(pod, source)
            except ApiError as error:
                if error.code != 404:
                    raise
                await asyncio.sleep(0.1)
        return await self._token(pod, source)

    async def _token(self, pod: Object, source: TokenSource) -> str:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        account = spec.get("serviceAccountName") or "default"
        key = (meta["uid"], account, source.audience, source.expiration_seconds)
        cached = self._cache.get(key)
        now = self.clock()
        if cached is not None and not requires_refresh(cached, now):
            return cached.token
        request = {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": account, "namespace": meta["namespace"]},
            "spec": {"audiences": [source.audience] if source.audience else [],
                     "expirationSeconds": source.expiration_seconds,
                     "boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                        "name": meta["name"], "uid": meta["uid"]}}}
        reply = await self.client.create(SERVICE_ACCOUNT_TOKEN, request,
                                         namespace=meta["namespace"], name=account)
        status = reply["status"]
        token = str(status["token"])
        expires_at = _timestamp(status.get("expirationTimestamp"),
                                now + source.expiration_seconds)
        self._cache[key] = Issued(token, now, expires_at)
        return token

    def forget(self, uid: str) -> None:
        for key in [k for k in self._cache if k[0] == uid]:
            del self._cache[key]


def _timestamp(rfc3339: str | None, default: float) -> float:
    """Seconds since the epoch of an RFC 3339 time (`default` when absent or malformed)."""
    try:
        return datetime.datetime.fromisoformat(rfc3339 or "").timestamp()
    except ValueError:
        return default


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    """Each file replaced whole (a reader never sees half a token)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        tmp = directory / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, directory / name)
