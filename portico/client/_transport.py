"""`Api`'s hot paths over aiohttp: writes (create, replace, patch) and watches.

Why not lightkube's: a write through lightkube and httpx2 costs about 0.9 ms of
client CPU (URL parsing three times, h11 validation, anyio's TLS stream), one over
an aiohttp session about 0.3 ms, measured against Portico's API server; a watch's
stream is likewise parsed by h11 in Python, by aiohttp's C parser here.  A node's
agent writes about twelve times for every pod it starts (kubelet's nine container
events, a token, the status patches) and reads every change of its pods, so in a
burst of pods these were most of the agent's own CPU.  Gets, lists and deletes
stay with lightkube.

The request is the one lightkube sends: the kind's REST path (in the kubeconfig's
namespace when none is given), `fieldManager` on every write, the body as JSON
(apiVersion and kind filled in when missing; a patch with its patch type's
Content-Type), TLS and credentials from the same kubeconfig (`verify_cluster`'s context, which holds
a client certificate; a bearer token, re-read from its file when that changes, as
a projected service-account token is rotated).  `write` returns the server's
answer, whose `status()` is the Status of an error (`_api` raises it as `ApiError`,
`_watch` as `WatchError`); `stream` opens a watch's response (`_watch` reads it); a
transport failure raises an `aiohttp.ClientError` or an `OSError` (`UNREACHABLE` in
`_api`).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import orjson
from lightkube.config.kubeconfig import SingleConfig

from portico.model.kinds import Kind

Obj = dict[str, Any]
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=10)  # lightkube's 10 s
WATCH_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
KEEPALIVE_SECONDS = 60.0


def kind_path(kind: Kind, namespace: str | None, name: str | None) -> str:
    """The REST path of `kind` (its subresource's for a name) in `namespace`."""
    gvk = kind.gvk
    root = f"/apis/{gvk.group}/{gvk.version}" if gvk.group else f"/api/{gvk.version}"
    scope = f"/namespaces/{namespace}" if kind.namespaced and namespace else ""
    path = f"{root}{scope}/{kind.plural}"
    if name:
        path += f"/{name}"
        if kind.subresource:
            path += f"/{kind.subresource}"
    return path


class BearerToken:
    """The kubeconfig's token, or its token file's content, re-read when it changes."""

    def __init__(self, token: str | None, token_file: str | None) -> None:
        self._token = token or ""
        self._file = Path(token_file) if token_file else None
        self._mtime = -1

    def header(self) -> str:
        if self._file is not None:
            try:
                mtime = self._file.stat().st_mtime_ns
                if mtime != self._mtime:
                    self._token, self._mtime = self._file.read_text().strip(), mtime
            except OSError:
                pass  # the last token read; the server says if it no longer holds
        return f"Bearer {self._token}" if self._token else ""


class Answer(NamedTuple):
    code: int  # the HTTP status
    body: Any  # the decoded JSON ({} when there is none)
    text: str  # the body as text, when it was not JSON

    @classmethod
    def of(cls, code: int, raw: bytes) -> Answer:
        try:
            return cls(code, orjson.loads(raw) if raw else {}, "")
        except orjson.JSONDecodeError:
            return cls(code, {}, raw.decode(errors="replace"))

    def status(self) -> Obj:
        """The Status of an error answer: the body when it is one, else made of the
        HTTP code and the body's text."""
        body = self.body if isinstance(self.body, dict) else {}
        if body.get("kind") != "Status":
            return {"kind": "Status", "code": self.code, "message": self.text}
        return {**body, "code": body.get("code") or self.code,
                "message": body.get("message") or self.text}


class Transport:
    """One aiohttp session (made in the running loop at its first use) for an Api."""

    def __init__(self, config: SingleConfig, tls: ssl.SSLContext, field_manager: str) -> None:
        user = config.user
        self.server = config.cluster.server.rstrip("/")
        self.namespace = config.namespace or "default"  # lightkube's default namespace
        self.tls = tls
        self.field_manager = field_manager
        self.token = BearerToken(user.token if user else None, user.token_file if user else None)
        self._session: aiohttp.ClientSession | None = None

    def _current(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.tls, limit=0,
                                             keepalive_timeout=KEEPALIVE_SECONDS)
            self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)
        return self._session

    async def write(self, method: str, kind: Kind, body: Obj | list[Obj], name: str | None,
                    namespace: str | None, content_type: str = "application/json",
                    params: Mapping[str, str | None] | None = None) -> Answer:
        """The server's answer to `method` of `body`."""
        if kind.namespaced and not namespace:
            namespace = self.namespace
        if isinstance(body, dict) and method != "patch" and not kind.subresource and not (
                body.get("apiVersion") and body.get("kind")):
            body = {**body, "apiVersion": body.get("apiVersion") or kind.api_version,
                    "kind": body.get("kind") or kind.gvk.kind}
        query = {"fieldManager": self.field_manager}
        query.update({k: v for k, v in (params or {}).items() if v is not None})
        async with self._current().request(
                method.upper(), self.server + kind_path(kind, namespace, name), params=query,
                data=orjson.dumps(body),
                headers=self._headers({"Content-Type": content_type})) as response:
            return Answer.of(response.status, await response.read())

    def _headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        headers = {"Accept": "application/json", **extra}
        if auth := self.token.header():
            headers["Authorization"] = auth
        return headers

    @contextlib.asynccontextmanager
    async def stream(self, path: str,
                     params: Mapping[str, str]) -> AsyncIterator[aiohttp.ClientResponse]:
        """A GET of `path` whose body is read as it comes (a watch: no read timeout)."""
        async with self._current().get(self.server + path, params=params,
                                       headers=self._headers({}),
                                       timeout=WATCH_TIMEOUT) as response:
            yield response

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
