"""The agent's side of the container launcher (`_zygote`): spawn, then learn of exits.

`Spawner.spawn(...)` sends one request with the child's stdin/stdout/stderr fds and
answers a `SpawnedProcess` once the container runs, or raises `OSError` with the
launcher's message (`exec: "x": executable file not found in $PATH`).
`SpawnedProcess` offers what the agent used of `asyncio.subprocess.Process`: `pid`,
`returncode` (negative for a signal) and `wait()`, plus the agent's ends of the pipes
as `stdin` (a `StreamWriter`) and `stdout`/`stderr` (`StreamReader`s).

The launcher is forked from the agent before its event loop starts (`forked()`),
or started as `python -m portico.agent._zygote` on first use (and again after it
died); its death kills every container it started (they have PDEATHSIG), and each
of them is reported as killed by SIGKILL.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import ctypes
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import setproctitle

from portico.agent._mounts import Mount

log = logging.getLogger("portico.agent.spawner")
_PR_SET_PDEATHSIG = 1
MAX_MESSAGE = 1 << 20


def _die_with_agent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True)
class PodPlace:
    """Where a container runs: its pod's network namespace and hostname, and the volumes
    it sees (`root_staging`: an empty directory for a new root, see `_mounts`)."""

    netns: str
    hostname: str
    mounts: tuple[Mount, ...] = ()
    root_staging: str = ""


class SpawnedProcess:
    def __init__(self, pid: int, exited: asyncio.Future[int]) -> None:
        self.pid = pid
        self._exited = exited
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None

    @property
    def returncode(self) -> int | None:
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


async def _reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 os.fdopen(fd, "rb", buffering=0))
    return reader


async def _writer(fd: int) -> asyncio.StreamWriter:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(fd, "wb", buffering=0))
    return asyncio.StreamWriter(transport, protocol, None, loop)


class Spawner:
    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._pid: int | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def forked(cls) -> Spawner:
        """A spawner whose launcher is forked from this process now, sharing its loaded
        modules; call before any event loop or thread exists."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                _die_with_agent()
                if os.getppid() == parent:
                    from portico.agent._zygote import serve_forever

                    setproctitle.setproctitle("portico container-launcher")
                    serve_forever(theirs)
                    code = 0
            finally:
                os._exit(code)
        theirs.close()
        spawner = cls()
        spawner._attach(ours, pid)
        return spawner

    async def start(self) -> None:
        """Start the launcher now (it is otherwise started on first use)."""
        async with self._lock:
            self._ensure_running()

    def _ensure_running(self) -> None:
        if self._sock is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "portico.agent._zygote", str(theirs.fileno())],
                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_agent)  # noqa: PLW1509
            finally:
                theirs.close()
            self._attach(ours, proc.pid)
        if self._reader_task is None:
            assert self._sock is not None
            self._reader_task = asyncio.create_task(self._read(self._sock),
                                                    name="zygote reader")

    def _attach(self, sock: socket.socket, pid: int) -> None:
        sock.setblocking(False)
        self._sock, self._pid, self._reader_task = sock, pid, None

    def _reap(self, kill: bool) -> None:
        pid, self._pid = self._pid, None
        if pid is None:
            return
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    async def _read(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(sock, MAX_MESSAGE):
                self._dispatch(json.loads(data))
        except OSError as error:
            log.warning("container launcher connection failed: %r", error)
        finally:
            self._lost(sock)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "exited" in message:
            exited = self._exits.pop(message["exited"], None)
            if exited is not None and not exited.done():
                exited.set_result(int(message["returncode"]))
            return
        answer = self._answers.pop(message["id"], None)
        if answer is None:
            return
        if "pid" in message:
            # handed over with the answer: the exit may be dispatched (and popped from
            # `_exits`) before the spawning task resumes, for a process that exits at once
            exited = asyncio.get_running_loop().create_future()
            self._exits[message["pid"]] = exited
            message = {**message, "exited": exited}
        if not answer.done():
            answer.set_result(message)

    def _lost(self, sock: socket.socket) -> None:
        """The launcher is gone, and with it every container it started."""
        if self._sock is not sock:
            return
        sock.close()
        self._sock, self._reader_task = None, None
        self._reap(kill=True)
        for answer in self._answers.values():
            if not answer.done():
                answer.set_exception(OSError("the container launcher exited"))
        for exited in self._exits.values():
            if not exited.done():
                exited.set_result(-signal.SIGKILL)
        self._answers.clear()
        self._exits.clear()

    async def _request(self, request: dict[str, Any], fds: Sequence[int]) -> dict[str, Any]:
        async with self._lock:
            self._ensure_running()
            sock = self._sock
            assert sock is not None
            ident = next(self._ids)
            answer = asyncio.get_running_loop().create_future()
            self._answers[ident] = answer
            payload = json.dumps({"id": ident, **request}).encode()
            while True:
                try:
                    sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                              array.array("i", fds).tobytes())])
                    break
                except BlockingIOError:
                    await asyncio.sleep(0.001)
        return await answer

    async def spawn(self, pod: PodPlace, argv: Sequence[str], env: Mapping[str, str],
                    cwd: str, stdin: int, stdout: int, stderr: int,
                    tty: bool = False) -> SpawnedProcess:
        """Start a container process with these fds as 0, 1, 2 (the caller closes them)."""
        answer = await self._request({"argv": list(argv), "env": dict(env), "cwd": cwd,
                                      "netns": pod.netns, "hostname": pod.hostname,
                                      "tty": tty,
                                      "mounts": [m.to_json() for m in pod.mounts],
                                      "rootStaging": pod.root_staging}, (stdin, stdout, stderr))
        if "pid" not in answer:
            raise OSError(int(answer.get("errno") or 0), answer.get("error", "cannot start"))
        return SpawnedProcess(int(answer["pid"]), answer["exited"])

    async def spawn_piped(self, pod: PodPlace, argv: Sequence[str], env: Mapping[str, str],
                          cwd: str, stdin: bool) -> SpawnedProcess:
        """Spawn with pipes for stdout and stderr (and stdin if asked; else /dev/null)."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC) if stdin else (
            os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), -1)
        theirs, ours = (in_r, out_w, err_w), [fd for fd in (in_w, out_r, err_r) if fd >= 0]
        try:
            proc = await self.spawn(pod, argv, env, cwd, in_r, out_w, err_w)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        proc.stdout = await _reader(out_r)
        proc.stderr = await _reader(err_r)
        if in_w >= 0:
            proc.stdin = await _writer(in_w)
        return proc

    async def close(self) -> None:
        """Stop the launcher (after the containers were stopped)."""
        sock, reader = self._sock, self._reader_task
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(reader, 5)
        else:
            sock.close()
            self._sock = None
        await asyncio.to_thread(self._reap, False)
