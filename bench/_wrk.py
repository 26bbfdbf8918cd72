"""Traffic measurements with `wrk` against the built-in nginx, and what their ratios mean.

Theory of operation. A ratio between two data paths says something only when the
path is the bottleneck, so the load generator and the server must be far faster
than any path under test: `wrk` (C, epoll) as the client and the built-in `nginx`
image (`python -m portico.images.nginx`: Debian's nginx configured as the official
image, `worker_processes auto`) as the server.  Its access log (one line per
request) goes to a file in `dataplane.py` and `ingress.py`, and through the container
log pipeline in `loadbalancer.py` (real pods); `logs.py` measures that pipeline alone.

- `run_wrk` runs `wrk` inside a client netns for a fixed time (a bounded run), with
  keep-alive or `Connection: close` (a new connection per request), and measures
  the client's CPU (wrk's rusage) and the server's (its process group's
  /proc/<pid>/stat ticks) over the run: a `Sample`.
- `interleave` measures every path once per round, the order rotated each round,
  so neighbouring measurements share the machine's (noisy) state; medians count.
- `client_bound` (pure) says why a baseline measured the client rather than the
  path: wrk saturated its threads while the server had CPU to spare.  A ratio
  against such a baseline is withheld (`ratio_text` prints why instead).
- `parse_wrk` (pure) reads wrk's summary.
- `add_run_options` gives a traffic bench its `--seconds`, `--rounds`,
  `--connections` and `--threads`, with the same defaults in every bench.  A sample
  keeps its wrk thread count: `client_bound` judges the client against it.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from portico.proxy.apply import netns_argv

SATURATED = 0.9
"""A CPU budget used to this fraction is saturated."""
CONNECTIONS = 16
THREADS = 1
TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1
_REQUESTS = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                            r"timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass(frozen=True)
class WrkSummary:
    requests: int
    rate: float
    errors: int
    """Socket errors (connect, read, write, timeout) and non-2xx/3xx answers."""


@dataclass(frozen=True)
class Sample:
    rate: float
    errors: int
    client_cpu: float
    """wrk's CPU seconds per wall second (1.0 = one core busy)."""
    server_cpu: float
    machine_cpu: float = 0.0
    """Cores busy machine-wide (softirq included), ours and everybody else's."""
    threads: int = THREADS
    """wrk's threads: the client's CPU budget in cores."""

    @property
    def cpu_per_request(self) -> float:
        """Client and server CPU seconds per request: a path's cost, less noisy than its
        rate on a shared machine (most packet processing runs in their context)."""
        return (self.client_cpu + self.server_cpu) / self.rate if self.rate else 0.0


def parse_wrk(text: str) -> WrkSummary:
    """wrk's summary; ValueError if `text` has none."""
    requests, rate = _REQUESTS.search(text), _RATE.search(text)
    if requests is None or rate is None:
        raise ValueError(f"no wrk summary in {text[-400:]!r}")
    socket_errors = _SOCKET_ERRORS.search(text)
    non_2xx = _NON_2XX.search(text)
    errors = sum(map(int, socket_errors.groups())) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return WrkSummary(int(requests.group(1)), float(rate.group(1)), errors)


def client_bound(sample: Sample, server_workers: int = CPUS, cpus: int = CPUS) -> str | None:
    """Why `sample` measured the client, not the path; None when it did not."""
    threads = sample.threads
    if sample.client_cpu < SATURATED * threads:
        return None
    server_budget = max(min(server_workers, cpus) - sample.client_cpu, 0.1)
    if sample.server_cpu >= SATURATED * server_budget:
        return None
    return (f"client-bound: wrk used {sample.client_cpu:.2f} of its {threads} core(s), the "
            f"server {sample.server_cpu:.2f} of the {server_budget:.2f} left to it")


def _machine_ticks() -> int:
    """Busy ticks of all CPUs (everything but idle and iowait) from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]


def _process_ticks(pids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """pid -> (process group, CPU ticks: utime + stime) of the processes still there."""
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[2]), int(fields[11]) + int(fields[12]))
    return found


def _all_pids() -> list[str]:
    return [entry for entry in os.listdir("/proc") if entry.isdigit()]


def group_ticks(pgid: int) -> Callable[[], int]:
    """The server's CPU ticks: the processes of group `pgid`."""
    return lambda: sum(t for g, t in _process_ticks(_all_pids()).values() if g == pgid)


def netns_ticks(netns: Iterable[str], *comms: str) -> Callable[[], int]:
    """The server side's CPU ticks: processes named one of `comms` in these named netns."""
    inodes = {os.stat(f"/run/netns/{name}").st_ino for name in netns}

    def ticks() -> int:
        pids = []
        for pid in _all_pids():
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() in comms and \
                        os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                    pids.append(pid)
            except OSError:
                continue
        return sum(t for _, t in _process_ticks(pids).values())
    return ticks


def drop_time_wait(netns: str | None) -> None:
    """`netns` (None: this one, a benchmark's private netns) keeps no TIME_WAIT sockets
    (`tcp_max_tw_buckets=0`).  wrk reuses its client ports within seconds: a SYN
    that meets the server's TIME_WAIT of an earlier run waits for a 1 s
    retransmission whatever the path, and a client whose ports are all in TIME_WAIT
    (wrk closes first with `Connection: close`: 28k ports last a few seconds at this
    rate) spends its CPU searching for a free one in every connect().  Both measure
    the harness, not the path, and would charge whichever path runs later."""
    subprocess.run(netns_argv(netns, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=0"),
                   check=True, capture_output=True)


def flush_conntrack(netns: Iterable[str]) -> None:
    """Empty the conntrack table of each netns, before a measurement: otherwise a path
    inherits the TIME_WAIT entries of the path measured before it.  wrk reuses its
    client ports within seconds, so when two paths reach the same server from the
    same client through different destinations (a pod IP and a ClusterIP, a NodePort
    and a frontend), the new flow's reply tuple is often an old entry's, and NAT
    searches for a free source port on each such connection: a cost of the harness,
    charged to whichever path comes second."""
    for name in netns:
        subprocess.run(["ip", "netns", "exec", name, "conntrack", "-F"], capture_output=True,
                       check=False)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """`--seconds` a wrk run, `--rounds` of `interleave`, wrk's `--connections` and
    `--threads`."""
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--threads", type=int, default=THREADS,
                        help="wrk's threads (its CPU budget in cores)")


def run_wrk(netns: str | None, url: str | Sequence[str], seconds: float, close: bool,
            server_ticks: Callable[[], int],
            connections: int = CONNECTIONS, threads: int = THREADS,
            headers: Sequence[str] = ()) -> Sample:
    """One bounded wrk run from `netns` (None: this one, a benchmark's private netns), which
    keeps no TIME_WAIT sockets (`drop_time_wait`); `server_ticks` reads the server's CPU
    ticks so far (`group_ticks`, `netns_ticks`).  Several URLs share the threads and
    connections evenly, one wrk per URL at the same time (the same spread of load as a
    load balancer over the same targets); the sample is their sum."""
    urls = [url] if isinstance(url, str) else list(url)
    if threads % len(urls) or connections % len(urls):
        raise ValueError(f"{threads} threads and {connections} connections do not split "
                         f"over {len(urls)} URLs")
    drop_time_wait(netns)
    wanted = [*headers, *(["Connection: close"] if close else [])]
    argvs = [netns_argv(netns, "wrk", f"-t{threads // len(urls)}",
                        f"-c{connections // len(urls)}", f"-d{seconds:g}s", "--timeout", "2s",
                        *(f for h in wanted for f in ("-H", h)), target) for target in urls]
    before, machine = server_ticks(), _machine_ticks()
    started = time.monotonic()
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True) for argv in argvs]
    watchdogs = [threading.Timer(seconds + 15, os.killpg, (proc.pid, signal.SIGKILL))
                 for proc in procs]
    outputs, client = [], 0.0
    try:
        for watchdog in watchdogs:
            watchdog.start()
        for proc in procs:
            assert proc.stdout is not None
            outputs.append(proc.stdout.read().decode(errors="replace"))
            # `ip netns exec` execs wrk in place: the child's rusage is wrk's
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            client += usage.ru_utime + usage.ru_stime
    finally:
        for watchdog in watchdogs:
            watchdog.cancel()
        for proc in procs:
            if proc.returncode is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stdout.close()  # type: ignore[union-attr]
    wall = time.monotonic() - started
    server = (server_ticks() - before) / TICKS
    machine = (_machine_ticks() - machine) / TICKS
    for argv, proc, out in zip(argvs, procs, outputs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {out[-400:]}")
    summaries = [parse_wrk(out) for out in outputs]
    return Sample(sum(s.rate for s in summaries), sum(s.errors for s in summaries),
                  client / wall, server / wall, machine / wall, threads)


def interleave(paths: Mapping[str, Callable[[], Sample]], rounds: int) -> dict[str, list[Sample]]:
    """Every path once per round, the starting path rotated each round."""
    names = list(paths)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            samples[name].append(paths[name]())
    return samples


def median_sample(samples: Sequence[Sample]) -> Sample:
    return Sample(statistics.median(s.rate for s in samples), sum(s.errors for s in samples),
                  statistics.median(s.client_cpu for s in samples),
                  statistics.median(s.server_cpu for s in samples),
                  statistics.median(s.machine_cpu for s in samples), samples[0].threads)


def ratio_text(samples: Mapping[str, Sequence[Sample]], path: str, baseline: str,
               goal: float | None) -> str:
    """`path` against `baseline`: the median of the per-round ratios of requests/s (and of
    CPU per request, baseline's / path's: the same ratio, less sensitive to a busy
    machine) and the goal; or why there is no ratio."""
    why = client_bound(median_sample(samples[baseline]))
    if why is not None:
        return f"no ratio vs {baseline} ({why})"
    pairs = [(p, b) for p, b in zip(samples[path], samples[baseline], strict=True)
             if b.rate > 0 and p.rate > 0]
    if not pairs:
        return f"no ratio vs {baseline} (no requests)"
    ratio = statistics.median(p.rate / b.rate for p, b in pairs)
    by_cpu = statistics.median(b.cpu_per_request / p.cpu_per_request for p, b in pairs
                               if p.cpu_per_request > 0)
    verdict = "" if goal is None else \
        f"; goal >= {goal:.2f}: {'met' if ratio >= goal else 'MISSED'}"
    return f"{ratio:.2f} of {baseline} (by CPU per request {by_cpu:.2f}{verdict})"


def print_table(title: str, samples: Mapping[str, Sequence[Sample]],
                ratios: Mapping[str, Sequence[tuple[str, float | None]]]) -> None:
    """Per path: median req/s, CPU (client, server, whole machine), CPU per request,
    errors, then its ratios on a line of their own."""
    print(title)
    width = max([30, *map(len, samples)])
    print(f"  {'path':{width}} {'req/s':>9}  {'client':>6} {'server':>6} {'machine':>7} "
          f"{'us/req':>6} {'errors':>6}   (CPU in cores)")
    for name, runs in samples.items():
        m = median_sample(runs)
        cost = statistics.median(s.cpu_per_request for s in runs) * 1e6
        print(f"  {name:{width}} {m.rate:9.0f}  {m.client_cpu:6.2f} {m.server_cpu:6.2f} "
              f"{m.machine_cpu:7.2f} {cost:6.1f} {m.errors:6}")
        for base, goal in ratios.get(name, ()):
            print(f"      -> {ratio_text(samples, name, base, goal)}")
    sys.stdout.flush()
