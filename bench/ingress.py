"""Benchmark: HTTP through an Ingress vs a minimal hand-written HAProxy, and changes under load.

Run on demand (root; not in CI):
    .venv/bin/python bench/ingress.py [--seconds 2] [--rounds 3] [--connections 16]

Network safety: everything runs inside a throwaway network namespace
`portico-t-ingbench<hex>` (loopback only), removed at the end, also on failure; every
HAProxy and nginx started here is stopped by its PID.

Setup: the throughput "pods" are two built-in nginx servers (`_traffic.start_nginx`,
the official image's configuration) on 127.0.0.1:19101 and :19102; for the change
measurements, three HAProxy origins (nbthread 1) answer `200 <name>` on :19001-19003.
The Ingress data plane is rendered by the controller's own code (`routes.build_plan`
-> `Applier`) from a snapshot with one Ingress (host bench.example.com, Prefix /) to
a Service with two endpoints; the baseline is a hand-written HAProxy config (one
frontend, one backend, the same two servers, same defaults).  Load comes from `wrk`
(`_wrk`: keep-alive and `Connection: close`, interleaved rounds, medians, client and
server CPU: the nginx servers and the HAProxy in front of them; no ratio against a
client-bound baseline).

What it prints:
1. requests/s straight to one nginx (direct), through the baseline HAProxy and
   through the Ingress, keep-alive and `Connection: close`; the Ingress's ratio to
   the baseline (goal >= 0.90) and to direct;
2. endpoint change -> traffic shift: time from `Applier.apply()` (runtime API) until
   a request goes to the new endpoint, p50/p99 over `--shifts` changes;
3. failed requests (socket errors or non-2xx/3xx answers, counted by wrk) under steady
   keep-alive load during 50 changes: new paths (map updates), endpoint scale up/down
   (server slots) and annotation changes (hitless reloads).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import functools
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _wrk  # noqa: E402
from bench._gwplan import DEFAULTS  # noqa: E402  (the hand-written baselines' defaults)
from bench._traffic import start_nginx, stop_server, wait_serving  # noqa: E402
from portico.ingress import routes, tls  # noqa: E402
from portico.ingress.apply import Applier  # noqa: E402
from portico.ingress.haproxy import HAProxyProcess  # noqa: E402
from portico.ingress.model import Settings, Snapshot  # noqa: E402

HOST = "bench.example.com"
INGRESS_PORT, BASELINE_PORT = 18080, 17080
ORIGINS = {"pod-a": 19001, "pod-b": 19002, "pod-c": 19003}
NGINX = {"nginx-a": 19101, "nginx-b": 19102}
INGRESS_GOAL = 0.90


def enter(netns: str) -> None:
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)


def origin_config() -> str:
    fronts = "".join(f"frontend {n}\n    bind 127.0.0.1:{p}\n    http-request return status "
                     f"200 content-type text/plain string \"{n}\"\n" for n, p in ORIGINS.items())
    return f"global\n    nbthread 1\n{DEFAULTS}{fronts}"


def baseline_config() -> str:
    return (f"global\n    nbthread 2\n{DEFAULTS}frontend fe\n    bind 127.0.0.1:{BASELINE_PORT}\n"
            "    default_backend be\nbackend be\n"
            f"    server a 127.0.0.1:{NGINX['nginx-a']}\n"
            f"    server b 127.0.0.1:{NGINX['nginx-b']}\n")


def snapshot(pods: tuple[str, ...], paths: int = 0, timeout: int = 60) -> Snapshot:
    rules = [{"path": "/", "pathType": "Prefix"}] + \
        [{"path": f"/p{i}", "pathType": "Prefix"} for i in range(paths)]
    for r in rules:
        r["backend"] = {"service": {"name": "web", "port": {"number": 80}}}
    ingress = {"metadata": {"name": "bench", "namespace": "default",
                            "creationTimestamp": "2024-01-01T00:00:00Z",
                            "annotations": {"portico.dev/proxy-read-timeout": str(timeout)}},
               "spec": {"ingressClassName": Settings().ingress_class,
                        "rules": [{"host": HOST, "http": {"paths": rules}}]}}
    service = {"metadata": {"name": "web", "namespace": "default"},
               "spec": {"ports": [{"name": "", "port": 80, "targetPort": 80}]}}
    slices = tuple({"metadata": {"name": f"web-{p}", "namespace": "default",
                                 "labels": {"kubernetes.io/service-name": "web"}},
                    "endpoints": [{"addresses": ["127.0.0.1"]}],
                    "ports": [{"name": "", "port": {**ORIGINS, **NGINX}[p]}]} for p in pods)
    return Snapshot(ingresses=(ingress,), services={("default", "web"): service},
                    endpoint_slices=slices)


# --- measurements ----------------------------------------------------------------------
async def one(netns_pool, port: int) -> str:
    loop = asyncio.get_running_loop()
    sock = await loop.run_in_executor(netns_pool, _socket)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(f"GET / HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return data.split(b"\r\n\r\n", 1)[1].decode()


def _socket():
    import socket
    s = socket.socket()
    s.setblocking(False)
    return s


async def shift_times(applier: Applier, settings: Settings, pool, shifts: int) -> list[float]:
    samples = []
    for i in range(shifts):
        target = "pod-b" if i % 2 == 0 else "pod-a"
        start = time.perf_counter()
        await applier.apply(routes.build_plan(snapshot((target,)), settings))
        while await one(pool, INGRESS_PORT) != target:
            pass
        samples.append(time.perf_counter() - start)
    return samples


async def changes_under_load(netns: str, applier: Applier, settings: Settings,
                             server: Callable[[], int],
                             args: argparse.Namespace) -> tuple[int, int, dict[str, int]]:
    await applier.apply(routes.build_plan(snapshot(("pod-a", "pod-b")), settings))
    loop = asyncio.get_running_loop()
    running = loop.run_in_executor(None, functools.partial(
        _wrk.run_wrk, netns, f"http://127.0.0.1:{INGRESS_PORT}/", 8.0, False, server,
        args.connections, headers=(f"Host: {HOST}",)))
    await asyncio.sleep(0.5)
    outcomes: dict[str, int] = {}
    pods = [("pod-a", "pod-b"), ("pod-a", "pod-b", "pod-c"), ("pod-b",), ("pod-a", "pod-c")]
    for i in range(50):
        snap = snapshot(pods[i % len(pods)], paths=i % 7, timeout=60 + (i // 10))
        result = await applier.apply(routes.build_plan(snap, settings))
        outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        await asyncio.sleep(0.1)
    sample = await running
    return int(sample.rate * 8), sample.errors, outcomes


def throughput(netns: str, server: Callable[[], int], args: argparse.Namespace) -> None:
    paths = {"direct (one nginx)": NGINX["nginx-a"], "hand-written HAProxy": BASELINE_PORT,
             "Ingress": INGRESS_PORT}
    ratios = {"Ingress": [("hand-written HAProxy", INGRESS_GOAL), ("direct (one nginx)", None)]}
    for close in (False, True):
        samples = _wrk.interleave(
            {label: functools.partial(_wrk.run_wrk, netns, f"http://127.0.0.1:{port}/",
                                      args.seconds, close, server, args.connections,
                                      args.threads, headers=(f"Host: {HOST}",))
             for label, port in paths.items()}, args.rounds)
        mode = "Connection: close" if close else "keep-alive"
        _wrk.print_table(f"ingress, {mode} (wrk -t{args.threads} -c{args.connections}, "
                         f"{args.rounds} interleaved rounds of {args.seconds:g}s, medians; "
                         "built-in nginx x 2)", samples, ratios)


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(args: argparse.Namespace) -> None:
    from concurrent.futures import ThreadPoolExecutor
    netns = f"portico-t-ingbench{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="ingbench-"))
    subprocess.run(["ip", "netns", "add", netns], check=True)
    procs: list[subprocess.Popen] = []
    servers: list[subprocess.Popen[bytes]] = []
    haproxy = None
    pool = ThreadPoolExecutor(1, initializer=enter, initargs=(netns,))
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        for name, text in (("origin.cfg", origin_config()), ("baseline.cfg", baseline_config())):
            (work / name).write_text(text)
            procs.append(start(["ip", "netns", "exec", netns, "haproxy", "-db", "-f",
                                str(work / name)]))
        for name, port in NGINX.items():
            (work / name).mkdir()
            servers.append(start_nginx(netns, work / name, port))
        server = _wrk.netns_ticks([netns], "nginx", "haproxy")  # the proxies are the path
        crt, key = tls.self_signed()
        settings = Settings(state_dir=PurePosixPath(work / "ingress"),
                            run_dir=PurePosixPath(work / "run"), http_port=INGRESS_PORT,
                            https_port=18443, stats_port=18254, bind_address="127.0.0.1",
                            nbthread=2, default_certificate=crt + key)
        haproxy = HAProxyProcess(work / "ingress" / "haproxy.cfg", work / "run" / "m.sock",
                                 work / "run" / "admin.sock",
                                 prefix=("ip", "netns", "exec", netns))
        applier = Applier(settings, haproxy)
        await applier.apply(routes.build_plan(snapshot(("nginx-a", "nginx-b")), settings))
        for port in (*NGINX.values(), BASELINE_PORT, INGRESS_PORT):
            wait_serving(netns, f"http://127.0.0.1:{port}/", host=HOST)
        await asyncio.get_running_loop().run_in_executor(None, throughput, netns, server, args)
        samples = sorted(await shift_times(applier, settings, pool, args.shifts))
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(f"endpoint change -> traffic shift ({len(samples)} changes, runtime API): "
              f"p50 {statistics.median(samples) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        total, failed, outcomes = await changes_under_load(netns, applier, settings, server,
                                                           args)
        print(f"50 changes under keep-alive load: {total} requests, {failed} failed; "
              f"applied as {outcomes}")
    finally:
        pool.shutdown(wait=True)
        if haproxy is not None:
            await haproxy.stop()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        for nginx in servers:
            stop_server(nginx)
        subprocess.run(["ip", "netns", "del", netns], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _wrk.add_run_options(parser)
    parser.add_argument("--shifts", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
