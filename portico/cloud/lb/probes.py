"""Health probes: TCP connect or HTTP GET to nodeIP:port, from inside a netns.

Azure's semantics: a backend leaves rotation after `numberOfProbes` consecutive
failures (so within interval x probes) and comes back on the first success. A
target is Down until its first probe answers, and the first probe runs at once,
so a new Service is served as soon as a node answers.

`NetnsSockets` creates sockets in a named network namespace from one worker
thread that has `setns()`-ed into it (a socket belongs to the netns it was
created in, whatever thread uses it later), so the same code probes from the
cloud netns when the controller runs there (`netns=None`) and from a test
process that lives elsewhere. Identical probes of different rules (an ETP Local
Service's ports share one health check) are run once per node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from portico.cloud.lb.model import HealthState, ProbeProtocol, ProbeTarget
from portico.netns import enter_netns

Socket = socket.socket  # the class's `socket()` method hides the module in annotations

log = logging.getLogger("portico.cloud.lb.probes")

DEFAULT_TIMEOUT = 1.0


class NetnsSockets:
    """Non-blocking TCP sockets in network namespace `netns` (None: the current one)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"netns-{netns}",
                                        initializer=enter_netns, initargs=(netns,)) \
            if netns else None

    async def socket(self) -> Socket:
        if self._pool is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            loop = asyncio.get_running_loop()
            sock = await loop.run_in_executor(self._pool, socket.socket, socket.AF_INET,
                                              socket.SOCK_STREAM)
        sock.setblocking(False)
        return sock

    async def connect(self, address: str, port: int, timeout: float) -> Socket:
        sock = await self.socket()
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (address, port)),
                                   timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)


async def _http_ok(sock: socket.socket, target: ProbeTarget, timeout: float) -> bool:
    context = None
    if target.protocol == ProbeProtocol.HTTPS:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(asyncio.open_connection(
        sock=sock, ssl=context, server_hostname="" if context else None), timeout)
    try:
        writer.write(f"GET {target.request_path or '/'} HTTP/1.1\r\n"
                     f"Host: {target.address}:{target.port}\r\nUser-Agent: Load Balancer Agent"
                     "\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    parts = line.decode("latin-1").split()
    return len(parts) >= 2 and parts[1] == "200"


async def probe_once(sockets: NetnsSockets, target: ProbeTarget,
                     timeout: float = DEFAULT_TIMEOUT) -> bool:
    """One probe: True if the node answered as Azure requires (connect, or HTTP 200)."""
    try:
        sock = await sockets.connect(target.address, target.port, timeout)
    except (OSError, TimeoutError):
        return False
    if target.protocol == ProbeProtocol.TCP:
        sock.close()
        return True
    try:
        return await _http_ok(sock, target, timeout)
    except (OSError, TimeoutError, ssl.SSLError, UnicodeError):
        return False
    finally:
        sock.close()


@dataclass
class ProbeState:
    """Consecutive-result bookkeeping of one target (pure)."""

    number_of_probes: int
    state: HealthState = HealthState.DOWN
    failures: int = 0
    probed: bool = False

    def observe(self, ok: bool) -> bool:
        """Record one result; True if the state changed."""
        previous = self.state
        if ok:
            self.failures = 0
            self.state = HealthState.UP
        else:
            self.failures += 1
            if not self.probed or self.failures >= self.number_of_probes:
                self.state = HealthState.DOWN
        self.probed = True
        return self.state != previous


class Prober:
    """Runs one task per target; calls `on_change()` whenever some target's state flips."""

    def __init__(self, sockets: NetnsSockets, on_change: Callable[[], None],
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.sockets = sockets
        self.on_change = on_change
        self.timeout = timeout
        self._states: dict[ProbeTarget, ProbeState] = {}
        self._tasks: dict[ProbeTarget, asyncio.Task[None]] = {}

    def health(self) -> dict[ProbeTarget, HealthState]:
        return {t: s.state for t, s in self._states.items()}

    def seed(self, target: ProbeTarget, state: HealthState) -> None:
        """Start a new target in `state` (e.g. from the last recorded health) instead of Down."""
        if target not in self._states:
            self._states[target] = ProbeState(target.number_of_probes, state, probed=True)

    def set_targets(self, targets: Iterable[ProbeTarget]) -> None:
        wanted = set(targets)
        for target in list(self._tasks):
            if target not in wanted:
                self._tasks.pop(target).cancel()
                self._states.pop(target, None)
        for target in wanted - set(self._tasks):
            self._states.setdefault(target, ProbeState(target.number_of_probes))
            self._tasks[target] = asyncio.create_task(self._run(target),
                                                      name=f"probe-{target.address}")

    async def settled(self, timeout: float) -> None:
        """Wait (at most `timeout`) until every target has been probed at least once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(not s.probed for s in self._states.values()) and loop.time() < deadline:
            await asyncio.sleep(0.005)

    async def _run(self, target: ProbeTarget) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            ok = await probe_once(self.sockets, target, min(self.timeout,
                                                            target.interval_in_seconds))
            state = self._states.get(target)
            if state is None:
                return
            if state.observe(ok):
                log.info("probe %s %s:%s is %s", target.protocol, target.address, target.port,
                         state.state)
                self.on_change()
            await asyncio.sleep(max(0.0, target.interval_in_seconds - (loop.time() - started)))

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
