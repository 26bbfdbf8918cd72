"""Real HAProxy, no cluster: render a snapshot, run HAProxy in a throwaway netns, send requests.

Backends are small aiohttp servers on 127.0.0.1 inside the namespace (`portico-t-ing…`,
loopback only); "pods" are those ports. Checks routing, 404, 503, X-Forwarded-*, the
308 redirect, TLS by SNI with the default certificate for unknown names, ALPN h2,
basic auth in all three hash families, WebSocket upgrades, endpoint / map / certificate
changes through the runtime API without a reload, a refused config that never
replaces the running one (checked first, or refused by the master itself without
the check), and reloads under keep-alive load losing no request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509

from portico.ingress import routes, tls
from portico.ingress.apply import Applier, Outcome
from portico.ingress.haproxy import HAProxyProcess
from portico.ingress.model import Settings
from portico.testing.tls import tls_secret
from tests.unit.ingress.fixtures import (
    CRT,
    HTPASSWD,
    KEY,
    NGX,
    ingress,
    path,
    rule,
    secret,
    service,
    snapshot,
)
from tests.unit.ingress.netns import Netns

HTTP, HTTPS, STATS = 18080, 18443, 18254
PORTS = {"web-a": 18081, "web-b": 18082, "api": 18083, "web-c": 18084}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str
    cert_cn: str = ""
    alpn: str | None = None


def _backend_app(name: str) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        h = request.headers
        return web.Response(text=f"{name} {request.path} xff={h.get('X-Forwarded-For')} "
                                 f"proto={h.get('X-Forwarded-Proto')} "
                                 f"host={h.get('X-Forwarded-Host')}")

    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            await sock.send_str(f"{name}:{msg.data}")
        return sock

    app = web.Application()
    app.router.add_get("/ws", ws)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


class Env:
    def __init__(self, ns: Netns, state: Path) -> None:
        self.ns = ns
        crt, key = tls.self_signed()
        self.settings = Settings(state_dir=PurePosixPath(state),
                                 run_dir=PurePosixPath(state / "run"), http_port=HTTP,
                                 https_port=HTTPS, stats_port=STATS, bind_address="127.0.0.1",
                                 slot_scale=4, default_certificate=crt + key)
        self.haproxy = HAProxyProcess(state / "haproxy.cfg", state / "run" / "master.sock",
                                      state / "run" / "admin.sock", prefix=ns.prefix)
        self.applier = Applier(self.settings, self.haproxy)
        self.runners: list[web.AppRunner] = []

    async def serve_backends(self) -> None:
        for name, port in PORTS.items():
            runner = web.AppRunner(_backend_app(name))
            await runner.setup()
            await web.SockSite(runner, self.ns.listen(port)).start()
            self.runners.append(runner)

    async def apply(self, snap) -> Outcome:
        result = await self.applier.apply(routes.build_plan(snap, self.settings))
        return result.outcome

    async def get(self, host: str, path: str = "/", *, https: bool = False, sni: str | None = None,
                  headers: dict[str, str] | None = None, alpn: list[str] | None = None,
                  port: int | None = None) -> Reply:
        loop = asyncio.get_running_loop()
        sock = self.ns.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", port or (HTTPS if https else HTTP)))
        context = None
        if https:
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            if alpn:
                context.set_alpn_protocols(alpn)
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=(sni or host) if https else None)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                     f"{extra}\r\n".encode())
        cn, proto = "", None
        if https:
            obj = writer.get_extra_info("ssl_object")
            proto = obj.selected_alpn_protocol()
            cert = x509.load_der_x509_certificate(obj.getpeercert(binary_form=True))
            cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        if proto == "h2":
            writer.close()
            return Reply(0, {}, "", cn, proto)
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
        lines = head.split("\r\n")
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return Reply(int(lines[0].split()[1]), {k.lower(): v for k, v in fields.items()},
                     body, cn, proto)

    async def worker_pids(self) -> set[int]:
        return (await self.haproxy.show_proc())[0]

    async def close(self) -> None:
        await self.haproxy.stop()
        for runner in self.runners:
            await runner.cleanup()


@contextlib.asynccontextmanager
async def running(make: Callable[[Netns, Path], Env], state: Path) -> AsyncIterator[Env]:
    """An environment made by `make` in a new netns, its backends serving; all removed after."""
    ns = Netns()
    environment = make(ns, state)
    try:
        await environment.serve_backends()
        yield environment
    finally:
        await environment.close()
        ns.close()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with running(Env, tmp_path) as environment:
        yield environment


def slices(service_name: str, *backends: str) -> list[dict]:
    """One slice per backend: each 'pod' is 127.0.0.1 with its own target port."""
    return [{"metadata": {"name": f"{service_name}-{b}", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": service_name}},
             "addressType": "IPv4", "endpoints": [{"addresses": ["127.0.0.1"]}],
             "ports": [{"name": "", "port": PORTS[b], "protocol": "TCP"}]} for b in backends]


def base(web=("web-a",), more=(), more_secrets=(), annotations=None, extra_rules=(),
         more_rules=(), more_tls=()):
    """Ingress `shop` (TLS for shop.example.com) and its Services; `web` has `web` endpoints."""
    shop = ingress("shop", rule("shop.example.com", path("/", "web"), path("/api", "api"),
                                path("/none", "missing")),
                   rule("plain.example.com", path("/", "web"), path("/empty", "empty"),
                        *extra_rules), *more_rules,
                   tls=[{"hosts": ["shop.example.com"], "secretName": "shop-tls"}, *more_tls],
                   annotations=annotations or {})
    return snapshot(
        [shop, *more],
        [service(n, ("", 80, 8080)) for n in ("web", "api", "empty", "other")],
        [*slices("web", *web), *slices("api", "api"), *slices("other", "web-c")],
        [secret("shop-tls", {"tls.crt": CRT, "tls.key": KEY}, type_="kubernetes.io/tls"),
         *more_secrets])


async def test_routing_errors_and_headers(env: Env) -> None:
    assert await env.apply(base()) == Outcome.STARTED
    r = await env.get("plain.example.com", "/hello")
    assert (r.status, r.body.split()[:2]) == (200, ["web-a", "/hello"])
    assert "xff=127.0.0.1" in r.body and "proto=http" in r.body
    assert "host=plain.example.com" in r.body
    assert (await env.get("PLAIN.example.com:18080", "/x")).body.startswith("web-a /x")
    assert (await env.get("nobody.example.com", "/")).status == 404
    assert (await env.get("shop.example.com", "/none", https=True)).status == 503  # no Service
    assert (await env.get("plain.example.com", "/empty")).status == 503  # no endpoints
    redirect = await env.get("shop.example.com", "/api/v?x=1")
    assert redirect.status == 308
    assert redirect.headers["location"] == f"https://shop.example.com:{HTTPS}/api/v?x=1"


async def test_tls_sni_default_certificate_and_h2(env: Env) -> None:
    await env.apply(base())
    r = await env.get("shop.example.com", "/api/x", https=True)
    assert (r.status, r.cert_cn, r.body.split()[0]) == (200, "shop.example.com", "api")
    assert "proto=https" in r.body
    unknown = await env.get("plain.example.com", "/", https=True)
    assert unknown.cert_cn == tls.FAKE_CN and unknown.status == 200
    h2 = await env.get("shop.example.com", "/", https=True, alpn=["h2", "http/1.1"])
    assert h2.alpn == "h2"


async def bodies(env: Env, host: str, path: str, count: int = 8, **kw) -> set[str]:
    replies = [await env.get(host, path, **kw) for _ in range(count)]
    return {r.body.split()[0] if r.status == 200 else str(r.status) for r in replies}


async def test_runtime_changes_without_reload(env: Env) -> None:
    await env.apply(base(web=("web-a",)))
    workers = await env.worker_pids()
    # endpoints: web-a -> web-b, then both (server slots over the runtime API)
    assert await env.apply(base(web=("web-b",))) == Outcome.RUNTIME
    assert await bodies(env, "plain.example.com", "/") == {"web-b"}
    assert await env.apply(base(web=("web-a", "web-b"))) == Outcome.RUNTIME
    assert await bodies(env, "plain.example.com", "/", 10) == {"web-a", "web-b"}
    # a new path (map rows through prepare/add/commit map)
    moved = base(web=("web-a", "web-b"), extra_rules=(path("/other", "api"),))
    assert await env.apply(moved) == Outcome.RUNTIME
    assert await bodies(env, "plain.example.com", "/other/x") == {"api"}
    # a new host with a new TLS Secret (new ssl cert + add ssl crt-list, redirect.map)
    crt, key = tls.self_signed("new.example.com", ("new.example.com",))
    new_secret = tls_secret("new-tls", "default", crt, key)
    snap = base(web=("web-a",), more_secrets=(new_secret,),
                extra_rules=(path("/other", "api"),),
                more_rules=(rule("new.example.com", path("/", "api")),),
                more_tls=({"hosts": ["new.example.com"], "secretName": "new-tls"},))
    assert await env.apply(snap) == Outcome.RUNTIME
    r = await env.get("new.example.com", "/", https=True)
    assert (r.status, r.cert_cn, r.body.split()[0]) == (200, "new.example.com", "api")
    assert (await env.get("new.example.com", "/")).status == 308
    # the same Secret rotated (set ssl cert + commit ssl cert)
    crt2, key2 = tls.self_signed("new.example.com", ("new.example.com",))
    rotated = replace(snap, secrets={**snap.secrets, ("default", "new-tls"):
                                     tls_secret("new-tls", "default", crt2, key2)})
    assert await env.apply(rotated) == Outcome.RUNTIME
    r = await env.get("new.example.com", "/", https=True)
    assert r.status == 200
    assert await env.worker_pids() == workers  # never reloaded
    assert env.applier.reloads == 0


async def test_invalid_config_never_replaces_the_running_one(env: Env) -> None:
    await env.apply(base())
    bad = ingress("bad", rule("bad.example.com", path("/(unclosed", "web",
                                                      kind="ImplementationSpecific")),
                  annotations={NGX + "use-regex": "true"})
    result = await env.applier.apply(routes.build_plan(base(more=(bad,)), env.settings))
    assert result.outcome == Outcome.INVALID and "path-regex.map" in result.message
    assert (await env.get("plain.example.com", "/")).body.startswith("web-a")
    assert (await env.get("bad.example.com", "/")).status == 404


async def test_without_the_precheck_a_refused_config_leaves_the_old_worker(env: Env) -> None:
    """`precheck=False` (the Gateway's pods): no `haproxy -c`; the master refuses the
    config itself, the old worker keeps serving, and the next good config reloads."""
    env.applier.precheck = False
    await env.apply(base())
    workers = await env.worker_pids()
    bad = ingress("bad", rule("bad.example.com", path("/(unclosed", "web",
                                                      kind="ImplementationSpecific")),
                  annotations={NGX + "use-regex": "true"})
    result = await env.applier.apply(routes.build_plan(base(more=(bad,)), env.settings))
    assert result.outcome == Outcome.FAILED
    assert (await env.get("plain.example.com", "/")).body.startswith("web-a")
    assert await env.worker_pids() == workers
    other = ingress("other", rule("other.example.com", path("/", "other")))
    assert await env.apply(base(more=(other,))) == Outcome.RELOADED
    assert (await env.get("other.example.com", "/")).body.startswith("web-c")
    assert await env.worker_pids() != workers


async def test_annotations_in_haproxy(env: Env) -> None:
    auth = secret("basic-auth", {"auth": HTPASSWD})
    rw = ingress("rw", rule("rw.example.com", path("/something(/|$)(.*)", "web",
                                                  kind="ImplementationSpecific")),
                 annotations={NGX + "rewrite-target": "/$2", NGX + "auth-type": "basic",
                              NGX + "auth-secret": "basic-auth",
                              NGX + "whitelist-source-range": "127.0.0.0/8"})
    deny = ingress("deny", rule("deny.example.com", path("/", "web")),
                   annotations={NGX + "whitelist-source-range": "10.0.0.0/8",
                                NGX + "proxy-body-size": "10"})
    limited = ingress("limited", rule("limited.example.com", path("/", "web")),
                      annotations={"portico.dev/limit-rps": "1",
                                   "portico.dev/limit-burst-multiplier": "2"})
    await env.apply(base(more=(rw, deny, limited), more_secrets=(auth,)))
    assert (await env.get("rw.example.com", "/something/a/b")).status == 401
    for user, password in (("alice", "pw"), ("bob", "s3cret"), ("carol", "test")):
        import base64
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        r = await env.get("rw.example.com", "/something/a/b?x=1",
                          headers={"Authorization": f"Basic {token}"})
        assert (r.status, r.body.split()[:2]) == (200, ["web-a", "/a/b"]), user
        wrong = base64.b64encode(f"{user}:nope".encode()).decode()
        r = await env.get("rw.example.com", "/something/a",
                          headers={"Authorization": f"Basic {wrong}"})
        assert r.status == 401, user
    assert (await env.get("deny.example.com", "/")).status == 403
    statuses = [(await env.get("limited.example.com", "/")).status for _ in range(6)]
    assert statuses[:2] == [200, 200] and 503 in statuses


async def test_websocket_upgrade(env: Env) -> None:
    await env.apply(base())
    connector = aiohttp.TCPConnector(socket_factory=env.ns.factory)
    async with aiohttp.ClientSession(connector=connector) as session, session.ws_connect(
            f"http://127.0.0.1:{HTTP}/ws", headers={"Host": "plain.example.com"}) as ws:
        await ws.send_str("hi")
        assert (await ws.receive(timeout=5)).data == "web-a:hi"


async def test_reloads_under_load_lose_no_request(env: Env) -> None:
    await env.apply(base(web=("web-a", "web-b")))
    stop = asyncio.Event()
    counts = {"ok": 0, "failed": 0}
    errors: list[str] = []

    async def client(close: bool) -> None:
        connector = aiohttp.TCPConnector(socket_factory=env.ns.factory, force_close=close)
        async with aiohttp.ClientSession(connector=connector) as session:
            while not stop.is_set():
                try:
                    async with session.get(f"http://127.0.0.1:{HTTP}/",
                                           headers={"Host": "plain.example.com"}) as resp:
                        await resp.read()
                        counts["ok" if resp.status == 200 else "failed"] += 1
                except aiohttp.ClientError as exc:
                    counts["failed"] += 1
                    errors.append(repr(exc))

    tasks = [asyncio.create_task(client(close=i % 2 == 1)) for i in range(6)]
    try:
        for i in range(5):
            timeout = {NGX + "proxy-read-timeout": str(30 + i)}  # a new shape: a reload
            assert await env.apply(base(web=("web-a", "web-b"), annotations=timeout)) \
                == Outcome.RELOADED
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert env.applier.reloads == 5 and env.applier.failed_reloads == 0
    assert counts["failed"] == 0, errors[:5]
    assert counts["ok"] > 50
