"""The HAProxy process (master-worker) and its two sockets: the I/O edge of the controller.

Theory of operation: HAProxy runs as `haproxy -W -db -S <master socket> -f
<config>`: a master process that stays in the foreground (our child, dying with
us through PR_SET_PDEATHSIG) and one worker that serves. A *reload* is the
master CLI's `reload` (the same as SIGUSR2): the master re-executes itself,
starts a new worker that takes the listening sockets over from the old one
(`expose-fd listeners` on the stats socket) and soft-stops the old worker, so
no connection is refused. `reload` answers nothing on 2.6, so success is seen
in `show proc`: a new worker PID appears; failure as `[failed: N]` going up
(the old worker then keeps serving). The config is always checked first with
`haproxy -c`, so a broken config never replaces a working one.

`RuntimeApi` speaks the worker's stats socket (level admin) in non-interactive
mode: one connection per request, commands joined with `;`, a `<<` payload
ending with an empty line. See HAProxy's management.txt, section 9.3.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import re
import signal
import subprocess
from pathlib import Path

log = logging.getLogger("portico.ingress.haproxy")

HAPROXY = "/usr/sbin/haproxy"
PR_SET_PDEATHSIG = 1
_FAILED = re.compile(r"\[failed: (\d+)\]")
_ERRORS = ("No such", "Invalid", "Unknown command", "unknown", "error", "Error", "failed",
           "Can't", "cannot", "not found", "Require", "out of range", "Not found")


class RuntimeError_(Exception):
    """A runtime API command was refused; the message is HAProxy's answer."""


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def send(socket_path: Path, request: str, timeout: float = 10.0) -> str:
    """Send one request (commands joined by `;`, maybe a payload) and read the whole answer."""
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(socket_path)),
                                            timeout)
    try:
        writer.write(request.encode() + (b"" if request.endswith("\n") else b"\n"))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # the master CLI answers and closes only then
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return data.decode(errors="replace")


class RuntimeApi:
    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path

    async def execute(self, *commands: str) -> str:
        """Run commands in one request; raise `RuntimeError_` if HAProxy refused one."""
        answer = await send(self.socket_path, ";".join(commands))
        if any(marker in answer for marker in _ERRORS):
            raise RuntimeError_(f"{'; '.join(commands)[:200]}: {answer.strip()[:300]}")
        return answer

    async def payload(self, command: str, body: str) -> str:
        """`command <<` with `body` (no blank lines inside), ended by an empty line."""
        text = "\n".join(line for line in body.splitlines() if line.strip())
        answer = await send(self.socket_path, f"{command} <<\n{text}\n\n")
        if any(marker in answer for marker in _ERRORS):
            raise RuntimeError_(f"{command}: {answer.strip()[:300]}")
        return answer


def check_config(config: Path, binary: str = HAPROXY) -> tuple[bool, str]:
    """`haproxy -c -f config`: (valid, HAProxy's messages)."""
    result = subprocess.run([binary, "-c", "-f", str(config)], capture_output=True,
                            text=True, timeout=60)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def parse_show_proc(text: str) -> tuple[set[int], int]:
    """(current worker PIDs, failed reloads) from the master CLI's `show proc`."""
    workers: set[int] = set()
    failed = 0
    section = ""
    for line in text.splitlines():
        if line.startswith("#"):
            section = line.strip("# ").lower()
            continue
        fields = line.split()
        if len(fields) >= 2 and fields[1] == "master":
            m = _FAILED.search(line)
            failed = int(m.group(1)) if m else 0
        elif len(fields) >= 2 and fields[1] == "worker" and section != "old workers":
            workers.add(int(fields[0]))
    return workers, failed


class HAProxyProcess:
    def __init__(self, config: Path, master_socket: Path, admin_socket: Path,
                 binary: str = HAPROXY, prefix: tuple[str, ...] = ()) -> None:
        """`prefix` runs HAProxy through a wrapper, e.g. `ip netns exec NS` in tests."""
        self.prefix = prefix
        self.config = config
        self.master_socket = master_socket
        self.runtime = RuntimeApi(admin_socket)
        self.binary = binary
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float = 15.0) -> None:
        self.master_socket.parent.mkdir(parents=True, exist_ok=True)
        for sock in (self.master_socket, self.runtime.socket_path):
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
        self.proc = await asyncio.create_subprocess_exec(
            *self.prefix, self.binary, "-W", "-db", "-S", f"{self.master_socket},mode,600", "-f",
            str(self.config), stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        await self._until_serving(timeout)
        log.info("haproxy started (master pid %d)", self.proc.pid)

    async def _until_serving(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if not self.running:
                raise OSError(f"haproxy exited with {self.proc.returncode if self.proc else '?'}")
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                # The master listens on its CLI only once the worker is up: wait for both.
                if "Name" in await send(self.runtime.socket_path, "show info", 2.0) and \
                        "worker" in await send(self.master_socket, "show proc", 2.0):
                    return
            if loop.time() > deadline:
                raise TimeoutError("haproxy did not start serving its admin socket")
            await asyncio.sleep(0.02)

    async def show_proc(self) -> tuple[set[int], int]:
        return parse_show_proc(await send(self.master_socket, "show proc"))

    async def reload(self, timeout: float = 20.0) -> bool:
        """Hitless reload through the master; True once a new worker serves."""
        before, failed = await self.show_proc()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await send(self.master_socket, "reload", 5.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            try:
                workers, now_failed = await self.show_proc()
            except (TimeoutError, OSError):
                continue  # the master is re-executing
            if now_failed > failed:
                return False
            if workers - before:
                await self._until_serving(timeout)
                return True
        return False

    async def stop(self, grace: float = 10.0) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGUSR1)  # soft-stop: finish requests in flight
        try:
            await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
