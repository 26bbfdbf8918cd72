"""API server benchmark (issue 2): creates/s, Table list of 10,000 Services, watch latency.

Each number is printed with its ratio to the raw store operation measured in the
same run, because these machines are shared and noisy. Runs inside a network
namespace of its own. Usage: `.venv/bin/python bench/api.py [--services 10000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._sandbox import ensure_private_netns  # noqa: E402

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _service(i: int) -> dict:
    return {"metadata": {"name": f"svc-{i:05d}", "labels": {"app": "bench"}},
            "spec": {"selector": {"app": f"a{i}"}, "ports": [{"port": 80, "targetPort": 8080}]}}


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


async def _creates(api, n: int, clients: int) -> float:
    path = "/api/v1/namespaces/default/configmaps"
    per_client = n // clients

    async def worker(w: int) -> None:
        for i in range(per_client):
            reply = await api.post(path, {"metadata": {"name": f"c{w}-{i}"}, "data": {"k": "v"}})
            assert reply.status == 201, reply.body

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    return per_client * clients / (time.perf_counter() - start)


async def _list_table(api, server, count: int) -> tuple[float, float]:
    path = "/api/v1/namespaces/bench/services"
    await api.post("/api/v1/namespaces", {"metadata": {"name": "bench"}})
    sem = asyncio.Semaphore(16)

    async def make(i: int) -> None:
        async with sem:
            reply = await api.post(path, _service(i))
            assert reply.status == 201, reply.body

    await asyncio.gather(*(make(i) for i in range(count)))
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        reply = await api.get(path, headers={"Accept": TABLE})
        timings.append(time.perf_counter() - start)
        assert len(reply.body["rows"]) == count
    raw = []
    for _ in range(3):
        start = time.perf_counter()
        kvs = server.store.range("/registry/core/services/bench/")
        raw.append(time.perf_counter() - start)
        assert len(kvs) == count
    return min(timings), min(raw)


async def _watch_latency(api, server, watchers: int, events: int) -> tuple[list[float], float]:
    path = "/api/v1/namespaces/default/secrets"
    rv = (await api.get(path)).body["metadata"]["resourceVersion"]
    # a session of their own without aiohttp's default limit of 100 connections
    tls = api.session.connector._ssl  # noqa: SLF001 - reuse the admin client certificate
    watch_session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, limit=0))
    streams = [await watch_session.get(f"{api.base}{path}?watch=1&resourceVersion={rv}")
               for _ in range(watchers)]
    latencies: list[float] = []
    for i in range(events):
        sent = time.perf_counter()
        await api.post(path, {"metadata": {"name": f"w{i}"}})
        arrivals = await asyncio.gather(*(s.content.readline() for s in streams))
        now = time.perf_counter()
        assert all(arrivals)
        latencies.append((now - sent) * 1000)
    for s in streams:
        s.close()
    await watch_session.close()
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
    return latencies, statistics.median(raw)


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def main(args: argparse.Namespace) -> None:
    from tests.api.conftest import start_api

    with tempfile.TemporaryDirectory() as tmp:
        raw_creates = _raw_store_creates(Path(tmp) / "raw.db", 2000)
        server, api = await start_api(Path(tmp))
        try:
            creates = await _creates(api, args.creates, 8)
            print(f"creates/s (8 clients):       {creates:8.0f}   raw store txn/s "
                  f"{raw_creates:8.0f}   ratio {creates / raw_creates:.3f}   (goal >= 1000/s)")
            table, raw = await _list_table(api, server, args.services)
            print(f"list {args.services} Services as Table: {table * 1000:6.0f} ms   raw store "
                  f"range {raw * 1000:6.1f} ms   ratio {table / raw:.1f}x   (goal < 500 ms)")
            lat, raw_lat = await _watch_latency(api, server, args.watchers, args.events)
            print(f"watch delivery, {args.watchers} watchers: p50 {_pct(lat, .5):.1f} ms  p99 "
                  f"{_pct(lat, .99):.1f} ms   raw store notify p50 {raw_lat:.3f} ms   "
                  f"(goal p99 < 20 ms)")
        finally:
            await api.session.close()
            await server.stop()


if __name__ == "__main__":
    ensure_private_netns()
    parser = argparse.ArgumentParser()
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--watchers", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
