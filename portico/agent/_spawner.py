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

Given the node's state dir, `forked(state_dir)` first looks for that node's
launcher left by a previous agent (see `_keeper`): found, the spawner adopts it
and the containers it kept (`adopted`, claimed by the pod workers with
`adopt()`; `discard_adopted` ends those of pods that are gone); else it forks a
launcher that outlives this agent.  Labels given to `spawn` come back on
adoption; `close()` after the pods stopped asks the launcher to exit.
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

from portico.agent._keeper import Adopted, launcher_address, list_kept
from portico.agent._mounts import Mount

log = logging.getLogger("portico.agent.spawner")
_PR_SET_PDEATHSIG = 1
MAX_MESSAGE = 1 << 20


def _die_with_agent() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


@dataclass(frozen=True)
class PodPlace:
    """Where a container runs: its pod's network namespace and hostname, and the volumes
    it sees (`root_staging`: an empty directory for a new root, see `_mounts`); for an
    image's container, the OCI runtime runs there and makes the rest (`oci_runtime`)."""

    netns: str
    hostname: str
    mounts: tuple[Mount, ...] = ()
    root_staging: str = ""
    oci_runtime: bool = False


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


def _launcher_main(parent: int, ours: socket.socket, theirs: socket.socket | None,
                   listener: socket.socket | None) -> None:
    """The forked launcher: dies with the agent when it serves only a socket pair;
    with a listener, a session of its own that outlives the agent."""
    code = 1
    try:
        ours.close()
        if listener is None:
            _die_with_agent()
            if os.getppid() != parent:  # the agent died before the line above
                return
        else:
            os.setsid()
        from portico.agent._zygote import serve_forever

        setproctitle.setproctitle("portico container-launcher")
        serve_forever(theirs, listener)
        code = 0
    finally:
        os._exit(code)


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
        self.adopted: dict[tuple[str, str], Adopted] = {}  # by (pod uid, container name)
        self._adopted_exits: dict[int, asyncio.Future[int]] = {}

    @classmethod
    def forked(cls, state_dir: str | None = None) -> Spawner:
        """A spawner whose launcher is forked from this process now, sharing its loaded
        modules (or, given the node's state dir, the launcher a previous agent left
        there); call before any event loop or thread exists."""
        spawner = cls()
        if state_dir is not None and spawner._adopt(launcher_address(state_dir)):
            return spawner
        listener = None
        if state_dir is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        else:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            listener.bind(launcher_address(state_dir))
            listener.listen(4)
            ours, theirs = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET), None
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            _launcher_main(parent, ours, theirs, listener)
        if theirs is not None:
            theirs.close()
        if listener is not None:
            ours.connect(listener.getsockname())
            listener.close()
        spawner._attach(ours, pid)
        return spawner

    def _adopt(self, address: bytes) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            sock.connect(address)
            adopted = list_kept(sock)
        except OSError:
            sock.close()
            return False
        self.adopted = {(str(a.labels.get("pod")), str(a.labels.get("container"))): a
                        for a in adopted}
        log.info("adopted the container launcher with %d containers", len(adopted))
        self._attach(sock, None)
        return True

    async def start(self) -> None:
        """Start the launcher now (it is otherwise started on first use)."""
        async with self._lock:
            for adopted in self.adopted.values():  # before any exit can be read
                exited = asyncio.get_running_loop().create_future()
                if adopted.returncode is None:
                    self._exits[adopted.pid] = exited
                else:
                    exited.set_result(adopted.returncode)
                    self._release(adopted.pid)
                self._adopted_exits[adopted.pid] = exited
            self._ensure_running()

    async def adopt(self, pod_uid: str, container: str) -> tuple[Adopted, SpawnedProcess] | None:
        """The kept container `container` of pod `pod_uid`, if the launcher had it."""
        adopted = self.adopted.pop((pod_uid, container), None)
        if adopted is None:
            return None
        proc = SpawnedProcess(adopted.pid, self._adopted_exits.pop(adopted.pid))
        if "stdout" in adopted.fds:
            proc.stdout = await _reader(adopted.fds["stdout"])
            proc.stderr = await _reader(adopted.fds["stderr"])
        return adopted, proc

    def keeps(self, pod_uid: str) -> bool:
        """Whether a container of this pod awaits adoption."""
        return any(uid == pod_uid for uid, _ in self.adopted)

    def discard_adopted(self, live_pods: set[str]) -> None:
        """Kill the kept containers of pods not in `live_pods` (their exits release them)."""
        for key, adopted in list(self.adopted.items()):
            if key[0] not in live_pods:
                del self.adopted[key]
                for fd in adopted.fds.values():
                    os.close(fd)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(adopted.pid, signal.SIGKILL)

    def _release(self, pid: int) -> None:
        """The launcher may forget an exited container (its output was read here)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.send(json.dumps({"release": pid}).encode())

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

    def _attach(self, sock: socket.socket, pid: int | None) -> None:
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
            self._release(message["exited"])
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
            answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
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
                    tty: bool = False, labels: Mapping[str, Any] | None = None,
                    keep: Mapping[str, int] | None = None) -> SpawnedProcess:
        """Start a container process with these fds as 0, 1, 2 (the caller closes them);
        the launcher keeps copies of the `keep` fds (the agent's ends) with `labels`."""
        keep = keep or {}
        answer = await self._request({"argv": list(argv), "env": dict(env), "cwd": cwd,
                                      "netns": pod.netns, "hostname": pod.hostname,
                                      "tty": tty, "labels": dict(labels or {}),
                                      "keep": list(keep),
                                      "mounts": [m.to_json() for m in pod.mounts],
                                      "rootStaging": pod.root_staging,
                                      "ociRuntime": pod.oci_runtime},
                                     (stdin, stdout, stderr, *keep.values()))
        if "pid" not in answer:
            raise OSError(int(answer.get("errno") or 0), answer.get("error", "cannot start"))
        return SpawnedProcess(int(answer["pid"]), answer["exited"])

    async def spawn_piped(self, pod: PodPlace, argv: Sequence[str], env: Mapping[str, str],
                          cwd: str, stdin: bool,
                          labels: Mapping[str, Any] | None = None) -> SpawnedProcess:
        """Spawn with pipes for stdout and stderr (and stdin if asked; else /dev/null)."""
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        in_r, in_w = os.pipe2(os.O_CLOEXEC) if stdin else (
            os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), -1)
        theirs, ours = (in_r, out_w, err_w), [fd for fd in (in_w, out_r, err_r) if fd >= 0]
        try:
            # not stdin: the container must see its end when the agent closes it (stdinOnce)
            kept = {"stdout": out_r, "stderr": err_r}
            proc = await self.spawn(pod, argv, env, cwd, in_r, out_w, err_w, labels=labels,
                                    keep=kept if labels is not None else None)
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
            sock.send(json.dumps({"shutdown": True}).encode())
            sock.shutdown(socket.SHUT_RDWR)
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(reader, 5)
        else:
            sock.close()
            self._sock = None
        await asyncio.to_thread(self._reap, False)
