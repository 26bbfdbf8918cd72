"""Benchmark: cluster DNS throughput against Debian's dnsmasq, and Service-to-answer latency.

Run on demand (not in CI):  .venv/bin/python bench/dns.py [--seconds 3] [--clients 2]

Network safety: everything is on 127.0.0.1 -- the API server (in this
process), our DNS server (`python -m portico.dns` as a subprocess, watching that
API) and dnsmasq (`/usr/sbin/dnsmasq --no-daemon --no-resolv --no-hosts`,
answering the same names with `--address=/<name>/<ip>`). Both servers are
stopped by their PID when the run ends, also on failure.

What it prints:
1. queries/s each server answered for the same mix of A queries, sent by
   `--clients` load processes that each keep `--window` queries in flight on
   one UDP socket, and the ratio ours / dnsmasq (goal >= 0.5);
2. the time from creating a Service through the API to its name resolving
   through our server (polled every millisecond), p50 and p99 over
   `--services` Services.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, and this file is
# named `dns`: drop that entry so `import dns` finds dnspython, and add the project root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import dns.message  # noqa: E402

from tests.api.conftest import free_port, start_api  # noqa: E402

LOCAL = "127.0.0.1"
DNSMASQ = "/usr/sbin/dnsmasq"
NAMES = [f"svc{i}.bench.svc.cluster.local" for i in range(8)]


def _free_udp_port() -> int:
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((LOCAL, port))
            except OSError:
                continue
        return port


def _ask(port: int, name: str, timeout: float = 0.2) -> dns.message.Message | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(dns.message.make_query(name, "A").to_wire(), (LOCAL, port))
        try:
            return dns.message.from_wire(s.recv(4096))
        except (TimeoutError, ConnectionRefusedError):
            return None


def _wait_answer(port: int, name: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = _ask(port, name)
        if reply is not None and reply.answer:
            return
        time.sleep(0.05)
    raise RuntimeError(f"no answer for {name} on port {port}")


def _load(port: int, seconds: float, window: int, result: multiprocessing.Queue) -> None:
    """One load process: keep `window` queries in flight; count the replies."""
    queries = [dns.message.make_query(NAMES[i % len(NAMES)], "A") for i in range(256)]
    wires = []
    for i, q in enumerate(queries):
        q.id = i
        wires.append(q.to_wire())
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((LOCAL, port))
    sock.settimeout(0.2)
    answered, sent = 0, 0
    deadline = time.monotonic() + seconds
    for _ in range(window):
        sock.send(wires[sent % len(wires)])
        sent += 1
    while time.monotonic() < deadline:
        try:
            sock.recv(4096)
            answered += 1
        except TimeoutError:  # lost replies: refill the window
            for _ in range(window):
                sock.send(wires[sent % len(wires)])
                sent += 1
            continue
        sock.send(wires[sent % len(wires)])
        sent += 1
    sock.close()
    result.put(answered)


def throughput(port: int, seconds: float, clients: int, window: int) -> float:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_load, args=(port, seconds, window, queue))
             for _ in range(clients)]
    for proc in procs:
        proc.start()
    total = sum(queue.get(timeout=seconds + 30) for _ in procs)
    for proc in procs:
        proc.join()
    return total / seconds


async def _create_services(api, count: int, prefix: str) -> list[tuple[str, str]]:
    created = []
    for i in range(count):
        reply = await api.post("/api/v1/namespaces/bench/services",
                               {"metadata": {"name": f"{prefix}{i}"},
                                "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}})
        assert reply.status == 201, reply.body
        created.append((f"{prefix}{i}", reply.body["spec"]["clusterIP"]))
    return created


async def _latency(api, port: int, count: int) -> list[float]:
    loop = asyncio.get_running_loop()
    samples = []
    for i in range(count):
        name = f"late{i}"
        started = time.perf_counter()
        reply = await api.post("/api/v1/namespaces/bench/services",
                               {"metadata": {"name": name},
                                "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}})
        assert reply.status == 201, reply.body
        fqdn = f"{name}.bench.svc.cluster.local"
        while True:
            answer = await loop.run_in_executor(None, _ask, port, fqdn, 0.05)
            if answer is not None and answer.answer:
                break
            await asyncio.sleep(0.001)
        samples.append(time.perf_counter() - started)
    return samples


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    if not Path(DNSMASQ).exists():
        sys.exit(f"{DNSMASQ} not found (apt-get install dnsmasq-base)")
    tmp = Path(tempfile.mkdtemp(prefix="portico-bench-dns-"))
    server, api = await start_api(tmp)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        assert (await api.post("/api/v1/namespaces", {"metadata": {"name": "bench"}})).status == 201
        services = await _create_services(api, len(NAMES), "svc")
        ours, theirs = _free_udp_port(), _free_udp_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "portico.dns", f"--listen={LOCAL}:{ours}",
             f"--upstream={LOCAL}:1", "--metrics=", "--health=", "--ready=",
             f"--kubeconfig={server.kubeconfig}"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(
            [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
             "--pid-file=", f"--port={theirs}", f"--listen-address={LOCAL}", "--bind-interfaces",
             *[f"--address=/{name}.bench.svc.cluster.local/{ip}" for name, ip in services]],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        # Blocking work runs in threads: the API server our DNS watches lives on this loop.
        loop = asyncio.get_running_loop()
        for port in (ours, theirs):
            await loop.run_in_executor(None, _wait_answer, port, NAMES[0])
        qps_dnsmasq = await loop.run_in_executor(None, throughput, theirs, args.seconds,
                                                 args.clients, args.window)
        qps_ours = await loop.run_in_executor(None, throughput, ours, args.seconds, args.clients,
                                              args.window)
        print(f"dnsmasq        : {qps_dnsmasq:10.0f} queries/s")
        print(f"portico.dns    : {qps_ours:10.0f} queries/s")
        print(f"ratio ours/dnsmasq: {qps_ours / qps_dnsmasq:.2f} (goal >= 0.5)")
        samples = await _latency(api, ours, args.services)
        print(f"Service created -> name resolves ({len(samples)} Services): "
              f"p50 {statistics.median(samples) * 1000:.1f} ms, "
              f"p99 {_percentile(samples, 0.99) * 1000:.1f} ms")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, 9)
                proc.wait()
        await api.session.close()
        await server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--services", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
