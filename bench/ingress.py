"""Benchmark: HTTP through an Ingress vs a minimal hand-written HAProxy, and changes under load.

Run on demand (root; not in CI):  .venv/bin/python bench/ingress.py [--seconds 3] [--clients 2]

Network safety: everything runs inside a throwaway network namespace
`portico-t-ingbench<hex>` (loopback only), removed at the end, also on failure; every
HAProxy started here is stopped by its PID.

Setup: two "pods" are one HAProxy origin (nbthread 1) answering `200 <name>` on
127.0.0.1:19001 and :19002. The Ingress data plane is rendered by the controller's
own code (`routes.build_plan` -> `Applier`) from a snapshot with one Ingress
(host bench.example.com, Prefix /) to a Service with both endpoints; the baseline
is a hand-written HAProxy config (one frontend, one backend, the same two
servers, same defaults). Load comes from `--clients` processes, each keeping
`--connections` connections busy with a raw HTTP/1.1 loop.

What it prints:
1. requests/s through the Ingress and through the baseline, keep-alive and
   `Connection: close`, and the ratio Ingress / baseline;
2. endpoint change -> traffic shift: time from `Applier.apply()` (runtime API) until
   a request goes to the new endpoint, p50/p99 over `--shifts` changes;
3. failed requests (non-200 or socket errors) under steady keep-alive load during
   50 changes: new paths (map updates), endpoint scale up/down (server slots) and
   annotation changes (hitless reloads).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portico.ingress import routes, tls  # noqa: E402
from portico.ingress.apply import Applier  # noqa: E402
from portico.ingress.haproxy import HAProxyProcess  # noqa: E402
from portico.ingress.model import Settings, Snapshot  # noqa: E402

HOST = "bench.example.com"
INGRESS_PORT, BASELINE_PORT = 18080, 17080
ORIGINS = {"pod-a": 19001, "pod-b": 19002, "pod-c": 19003}
DEFAULTS = """defaults
    mode http
    option forwardfor
    option idle-close-on-response
    timeout connect 5s
    timeout client 60s
    timeout server 60s
"""


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
            f"    server a 127.0.0.1:{ORIGINS['pod-a']}\n"
            f"    server b 127.0.0.1:{ORIGINS['pod-b']}\n")


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
                    "ports": [{"name": "", "port": ORIGINS[p]}]} for p in pods)
    return Snapshot(ingresses=(ingress,), services={("default", "web"): service},
                    endpoint_slices=slices)


# --- load ------------------------------------------------------------------------------
async def _connection(port: int, close: bool, deadline: float, counts: list[int]) -> None:
    request = (f"GET / HTTP/1.1\r\nHost: {HOST}\r\n"
               f"{'Connection: close' + chr(13) + chr(10) if close else ''}\r\n").encode()
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            counts[0 if head.startswith(b"HTTP/1.1 200") else 1] += 1
            if close or b"connection: close" in head.lower():
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            counts[1] += 1
            writer = None


def _load(netns: str, port: int, close: bool, seconds: float, connections: int,
          out: multiprocessing.Queue) -> None:
    enter(netns)
    counts = [0, 0]
    deadline = time.monotonic() + seconds

    async def run() -> None:
        await asyncio.gather(*(_connection(port, close, deadline, counts)
                               for _ in range(connections)))
    asyncio.run(run())
    out.put(counts)


def load(netns: str, port: int, close: bool, args: argparse.Namespace,
         seconds: float | None = None) -> tuple[float, int]:
    """(requests/s, failures) over `seconds` with `args.clients` processes."""
    queue: multiprocessing.Queue = multiprocessing.Queue()
    duration = seconds or args.seconds
    procs = [multiprocessing.Process(target=_load, args=(netns, port, close, duration,
                                                         args.connections, queue))
             for _ in range(args.clients)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(r[0] for r in results) / duration, sum(r[1] for r in results)


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
                             args: argparse.Namespace) -> tuple[int, int, dict[str, int]]:
    loop = asyncio.get_running_loop()
    running = loop.run_in_executor(None, load, netns, INGRESS_PORT, False, args, 8.0)
    await asyncio.sleep(0.5)
    outcomes: dict[str, int] = {}
    pods = [("pod-a", "pod-b"), ("pod-a", "pod-b", "pod-c"), ("pod-b",), ("pod-a", "pod-c")]
    for i in range(50):
        snap = snapshot(pods[i % len(pods)], paths=i % 7, timeout=60 + (i // 10))
        result = await applier.apply(routes.build_plan(snap, settings))
        outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        await asyncio.sleep(0.1)
    rps, failed = await running
    return int(rps * 8), failed, outcomes


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def main(args: argparse.Namespace) -> None:
    from concurrent.futures import ThreadPoolExecutor
    netns = f"portico-t-ingbench{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="ingbench-"))
    subprocess.run(["ip", "netns", "add", netns], check=True)
    procs: list[subprocess.Popen] = []
    haproxy = None
    pool = ThreadPoolExecutor(1, initializer=enter, initargs=(netns,))
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True)
        for name, text in (("origin.cfg", origin_config()), ("baseline.cfg", baseline_config())):
            (work / name).write_text(text)
            procs.append(start(["ip", "netns", "exec", netns, "haproxy", "-db", "-f",
                                str(work / name)]))
        crt, key = tls.self_signed()
        settings = Settings(state_dir=PurePosixPath(work / "ingress"),
                            run_dir=PurePosixPath(work / "run"), http_port=INGRESS_PORT,
                            https_port=18443, stats_port=18254, bind_address="127.0.0.1",
                            nbthread=2, default_certificate=crt + key)
        haproxy = HAProxyProcess(work / "ingress" / "haproxy.cfg", work / "run" / "m.sock",
                                 work / "run" / "admin.sock",
                                 prefix=("ip", "netns", "exec", netns))
        applier = Applier(settings, haproxy)
        await applier.apply(routes.build_plan(snapshot(("pod-a", "pod-b")), settings))
        await asyncio.sleep(0.5)
        for close in (False, True):
            label = "Connection: close" if close else "keep-alive"
            base, base_failed = load(netns, BASELINE_PORT, close, args)
            ours, ours_failed = load(netns, INGRESS_PORT, close, args)
            print(f"{label:18}: baseline {base:9.0f} req/s ({base_failed} failed), ingress "
                  f"{ours:9.0f} req/s ({ours_failed} failed), ratio {ours / base:.2f}")
        samples = sorted(await shift_times(applier, settings, pool, args.shifts))
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print(f"endpoint change -> traffic shift ({len(samples)} changes, runtime API): "
              f"p50 {statistics.median(samples) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
        total, failed, outcomes = await changes_under_load(netns, applier, settings, args)
        print(f"50 changes under keep-alive load: {total} requests, {failed} failed; "
              f"applied as {outcomes}")
    finally:
        pool.shutdown(wait=True)
        if haproxy is not None:
            await haproxy.stop()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", netns], check=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--connections", type=int, default=25)
    parser.add_argument("--shifts", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
