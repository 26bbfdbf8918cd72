"""API server benchmark (issue 2): creates/s, Table list of 10,000 Services, watch latency.

The server runs in this process; every load generator and watch reader runs in a
client process of its own (this script again, with `--client PHASE`), so the
numbers measure the server, not clients sharing its event loop. Clients talk
HTTPS to the server on loopback, inside a network namespace of the benchmark's
own. Each number is printed with its ratio to the raw store operation measured
in the same run, because these machines are shared and noisy; `--runs N` repeats
the whole benchmark on fresh servers and prints the medians.

Phases:
  creates  8 concurrent clients POST ConfigMaps (aiohttp, one connection each).
  list     16 clients create N Services; then N as a Table: the first (cold: every
           object decoded) and the median of the following (warm) lists, timed from
           request to the last byte received.
  watch    100 watch streams on plain non-blocking TLS sockets (one epoll loop), and a
           poster that creates a Secret every `--interval` ms (open loop). An event's
           latency is from just before its POST to its arrival at the last of the
           watchers (p50/p99 over events); "per delivery" is over every (event, watcher).

Usage: `.venv/bin/python bench/api.py [--services 10000] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import selectors
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sandbox import ensure_private_netns  # noqa: E402

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
SECRETS = "/api/v1/namespaces/default/secrets"
SERVICES = "/api/v1/namespaces/bench/services"


def _service(i: int) -> dict[str, Any]:
    return {"metadata": {"name": f"svc-{i:05d}", "labels": {"app": "bench"}},
            "spec": {"selector": {"app": f"a{i}"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def _tls(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    return ctx


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


# ---------------------------------------------------------------- client processes

async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> None:
    async with session.post(url, data=orjson.dumps(body),
                            headers={"Content-Type": "application/json"}) as resp:
        text = await resp.read()
        assert resp.status == 201, text


async def _client_creates(base: str, pki: Path, n: int) -> dict[str, Any]:
    clients = 8
    conn = aiohttp.TCPConnector(ssl=_tls(pki), limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:
        url = base + "/api/v1/namespaces/default/configmaps"
        per_client = n // clients

        async def worker(w: int) -> None:
            for i in range(per_client):
                await _post(session, url, {"metadata": {"name": f"c{w}-{i}"}, "data": {"k": "v"}})

        start = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(clients)))
        return {"rate": per_client * clients / (time.perf_counter() - start)}


async def _client_list(base: str, pki: Path, count: int, lists: int) -> dict[str, Any]:
    conn = aiohttp.TCPConnector(ssl=_tls(pki), limit=16)
    async with aiohttp.ClientSession(connector=conn) as session:
        async with session.post(base + "/api/v1/namespaces",
                                json={"metadata": {"name": "bench"}}) as resp:
            assert resp.status == 201
        names = iter(range(count))

        async def maker() -> None:
            for i in names:
                await _post(session, base + SERVICES, _service(i))

        await asyncio.gather(*(maker() for _ in range(16)))
        timings = []
        for _ in range(lists):
            start = time.perf_counter()
            async with session.get(base + SERVICES, headers={"Accept": TABLE}) as resp:
                raw = await resp.read()
            timings.append(time.perf_counter() - start)
            assert len(orjson.loads(raw)["rows"]) == count
        return {"cold": timings[0], "warm": statistics.median(timings[1:]), "bytes": len(raw)}


def _open_watch(host: str, port: int, ctx: ssl.SSLContext, path: str) -> ssl.SSLSocket:
    sock = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n"
                 .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    sock.setblocking(False)
    return sock


def _client_watch(base: str, pki: Path, watchers: int, events: int) -> dict[str, Any]:
    """Open the watches, say "ready", then record each event's arrival per watcher."""
    host, port = base.removeprefix("https://").rsplit(":", 1)
    ctx = _tls(pki)
    ctx.check_hostname = False
    rv = json.loads(_https_get(host, int(port), ctx, SECRETS))["metadata"]["resourceVersion"]
    path = f"{SECRETS}?watch=1&resourceVersion={rv}"
    socks = [_open_watch(host, int(port), ctx, path) for _ in range(watchers)]
    sel = selectors.DefaultSelector()
    tails: dict[int, bytes] = {}
    for index, sock in enumerate(socks):
        sel.register(sock, selectors.EVENT_READ, index)
        tails[index] = b""
    arrivals: dict[int, list[float]] = {i: [] for i in range(events)}
    pattern = re.compile(rb'"name":"w(\d+)"')
    print("ready", flush=True)
    seen = 0
    deadline = time.perf_counter() + 60 + events
    while seen < events * watchers and time.perf_counter() < deadline:
        for key, _ in sel.select(1.0):
            sock, index = key.fileobj, key.data
            data = tails[index]
            try:
                while chunk := sock.recv(262144):  # type: ignore[union-attr]
                    data += chunk
            except (ssl.SSLWantReadError, BlockingIOError):
                pass
            now = time.perf_counter()
            done = 0
            for match in pattern.finditer(data):
                arrivals[int(match.group(1))].append(now)
                seen += 1
                done = match.end()
            tails[index] = data[max(done, len(data) - 48):]  # a name split between reads
    for sock in socks:
        sock.close()
    return {"arrivals": arrivals}


def _https_get(host: str, port: int, ctx: ssl.SSLContext, path: str) -> bytes:
    import http.client

    conn = http.client.HTTPSConnection(host, port, context=ctx)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return body


async def _client_post(base: str, pki: Path, events: int, interval: float) -> dict[str, Any]:
    """Create one Secret every `interval` seconds (open loop); when each POST started."""
    sent: dict[int, float] = {}
    conn = aiohttp.TCPConnector(ssl=_tls(pki))
    async with aiohttp.ClientSession(connector=conn) as session:
        start = time.perf_counter()

        async def one(i: int) -> None:
            sent[i] = time.perf_counter()
            await _post(session, base + SECRETS, {"metadata": {"name": f"w{i}"}})

        tasks = []
        for i in range(events):
            await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            tasks.append(asyncio.ensure_future(one(i)))
        await asyncio.gather(*tasks)
    return {"sent": sent}


def client_main(args: argparse.Namespace) -> None:
    pki = Path(args.pki)
    if args.client == "creates":
        out = asyncio.run(_client_creates(args.base, pki, args.creates))
    elif args.client == "list":
        out = asyncio.run(_client_list(args.base, pki, args.services, args.lists))
    elif args.client == "watch":
        out = _client_watch(args.base, pki, args.watchers, args.events)
    else:
        out = asyncio.run(_client_post(args.base, pki, args.events, args.interval / 1000))
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------- server process

async def _spawn(phase: str, base: str, pki: Path, args: argparse.Namespace,
                 ) -> asyncio.subprocess.Process:
    argv = [sys.executable, __file__, "--client", phase, "--base", base, "--pki", str(pki),
            "--creates", str(args.creates), "--services", str(args.services),
            "--lists", str(args.lists), "--watchers", str(args.watchers),
            "--events", str(args.events), "--interval", str(args.interval)]
    return await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                  limit=1 << 26)


async def _result(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    assert await proc.wait() == 0, f"client failed: {line!r}"
    return json.loads(line)  # type: ignore[no-any-return]


async def _run_client(phase: str, base: str, pki: Path, args: argparse.Namespace,
                      ) -> dict[str, Any]:
    return await _result(await _spawn(phase, base, pki, args))


def _raw_store_creates(path: Path, n: int) -> float:
    from portico.store import SqliteStore

    store = SqliteStore(path)
    body = orjson.dumps(_service(0))
    start = time.perf_counter()
    for i in range(n):
        with store.txn() as txn:
            txn.create(f"/bench/{i}", body)
    elapsed = time.perf_counter() - start
    store.close()
    return n / elapsed


def _raw_range(server: Any, count: int) -> float:
    raw = []
    for _ in range(5):
        start = time.perf_counter()
        kvs = server.store.range("/registry/core/services/bench/")
        raw.append(time.perf_counter() - start)
        assert len(kvs) == count
    return statistics.median(raw)


async def _raw_notify(server: Any, events: int) -> float:
    watcher = server.store.watch("/bench-raw/", server.store.revision)
    raw = []
    for i in range(events):
        sent = time.perf_counter()
        with server.store.txn() as txn:
            txn.create(f"/bench-raw/{i}", b"{}")
        await watcher.wait()
        watcher.drain()
        raw.append((time.perf_counter() - sent) * 1000)
    watcher.close()
    return statistics.median(raw)


async def _watch(base: str, pki: Path, args: argparse.Namespace) -> tuple[list[float], ...]:
    reader = await _spawn("watch", base, pki, args)
    assert reader.stdout is not None
    assert (await reader.stdout.readline()).strip() == b"ready"
    sent = (await _run_client("post", base, pki, args))["sent"]
    arrivals = (await _result(reader))["arrivals"]
    to_all, each = [], []
    for i, times in arrivals.items():
        assert len(times) == args.watchers, f"event {i}: {len(times)} of {args.watchers}"
        to_all.append((max(times) - sent[i]) * 1000)
        each.extend((t - sent[i]) * 1000 for t in times)
    return to_all, each


async def one_run(args: argparse.Namespace) -> dict[str, float]:
    from tests.api.conftest import start_api

    with tempfile.TemporaryDirectory() as tmp:
        raw_creates = _raw_store_creates(Path(tmp) / "raw.db", 2000)
        server, api = await start_api(Path(tmp))
        await api.session.close()
        pki, base = server.config.data_dir / "pki", api.base
        try:
            creates = (await _run_client("creates", base, pki, args))["rate"]
            print(f"creates/s (8 clients):       {creates:8.0f}   raw store txn/s "
                  f"{raw_creates:8.0f}   ratio {creates / raw_creates:.3f}   (goal >= 1000/s)")
            listed = await _run_client("list", base, pki, args)
            raw = _raw_range(server, args.services)
            print(f"list {args.services} Services as Table ({listed['bytes'] >> 20} MiB): warm "
                  f"{listed['warm'] * 1000:5.0f} ms (cold {listed['cold'] * 1000:5.0f} ms)   "
                  f"raw store range {raw * 1000:5.1f} ms   ratio {listed['warm'] / raw:.1f}x   "
                  f"(goal < 500 ms)")
            to_all, each = await _watch(base, pki, args)
            raw_lat = await _raw_notify(server, args.events)
            print(f"watch delivery, {args.watchers} watchers: p50 {_pct(to_all, .5):.1f} ms  p99 "
                  f"{_pct(to_all, .99):.1f} ms   (per delivery p50 {_pct(each, .5):.1f} p99 "
                  f"{_pct(each, .99):.1f})   raw store notify p50 {raw_lat:.3f} ms   "
                  f"(goal p99 < 20 ms)", flush=True)
        finally:
            await server.stop()
    return {"creates": creates, "list_warm_ms": listed["warm"] * 1000,
            "list_cold_ms": listed["cold"] * 1000, "watch_p50_ms": _pct(to_all, .5),
            "watch_p99_ms": _pct(to_all, .99)}


async def main(args: argparse.Namespace) -> None:
    runs = []
    for run in range(args.runs):
        if args.runs > 1:
            print(f"-- run {run + 1} of {args.runs}")
        runs.append(await one_run(args))
    if args.runs > 1:
        print("medians: " + "   ".join(
            f"{name} {statistics.median(r[name] for r in runs):.1f}" for name in runs[0]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--lists", type=int, default=6)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=20.0, help="ms between watch events")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--client", choices=("creates", "list", "watch", "post"))
    parser.add_argument("--base", default="")
    parser.add_argument("--pki", default="")
    parsed = parser.parse_args()
    if parsed.client:
        client_main(parsed)
    else:
        ensure_private_netns()
        asyncio.run(main(parsed))
