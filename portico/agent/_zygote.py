"""The container launcher ("zygote"): forks container processes for one agent.

Why: a container of a built-in image is `python -m portico.images.<image>`, and a
fresh interpreter importing asyncio and the image costs ~70 ms of CPU; a burst of
pods on two cores queued behind those imports.  The zygote is one process per agent
that has imported the built-in images once; starting a container is a `fork()`
(~1 ms), after which the child enters the pod and either runs the image's module
in place (`python -m portico...` argv) or `execve`s any other command.

What the child does, in order, as `ip netns exec` would (plus the hostname): a new
session (so the process group is the PID), `PR_SET_PDEATHSIG=SIGKILL` (the
containers die with the zygote), `setns` into the pod's network
namespace, a UTS namespace with the pod's hostname (as a pod sandbox has), a private
mount namespace (a slave of the machine's, without /run/netns) where /sys is
remounted for the pod's netns and every file of /etc/netns/<pod netns>/ is
bind-mounted over /etc/ (resolv.conf, hosts), and the container's volumes at their
mountPaths (`_mounts`); then stdin/stdout/stderr from the fds
the agent passed, a controlling terminal if asked, the working directory and exactly
the container's environment.  An image's container is `crun run`, exec'd after
`portico.oci`'s `enter_runtime` instead (the pod's netns, a mount namespace
for crun): crun makes the container's namespaces, mounts and hostname itself.

Protocol (SOCK_SEQPACKET, one JSON message per packet):
- agent -> zygote: `{"id", "argv", "env", "cwd", "netns", "hostname", "tty", "labels",
  "keep", "mounts", "rootStaging", "ociRuntime"}` with three fds (stdin, stdout, stderr) attached
  (SCM_RIGHTS), then the agent's own ends of them that the zygote keeps (named in
  `keep`, see `_keeper`);
- zygote -> agent: `{"id", "pid"}` once the child runs (exec succeeded, or the
  Python image is about to run), or `{"id", "errno", "error"}` when it could not
  start; later `{"exited": pid, "returncode": n}` (negative: killed by a signal),
  always after the pid's answer;
- the keeper's requests (list, release, shutdown: `_keeper`).
Given only the agent's end of a socket pair, the zygote exits when the agent closes
it; given a listening socket too (`Spawner.forked`), it survives its agent and
serves the next one, until an agent that asked for a shutdown closes its end.

The agent process forks it before its event loop starts (`Spawner.forked`), or,
in an agent built inside a running loop, runs `python -m portico.agent._zygote <fd>`.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import gc
import io
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

import setproctitle

from portico.agent._keeper import Keeper, accept_agent
from portico.agent._mounts import MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, Mount, mount_volumes
from portico.netns import NETNS_RUN, enter_netns
from portico.oci._container import enter_runtime

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
MS_SLAVE = 1 << 19
NETNS_ETC = "/etc/netns"
MAX_MESSAGE = 1 << 20
# Modules whose `python -m` runs inside the forked child instead of a new interpreter.
IN_PLACE_PREFIX = "portico."
PRELOAD = ("asyncio", "portico.images.agnhost", "portico.images.agnhost._netexec",
           "portico.images.agnhost._serve_hostname", "portico.images.agnhost._pause",
           "portico.images.pause", "portico.images.nginx", "portico.images.wget",
           "portico.images.nslookup", "portico.dns._app", "portico.dns._config",
           "portico.ingress._controller", "portico.ingress._config", "portico.ingress._http")
# (never a `__main__` module: runpy runs that afresh, as the container's main)
PRELOAD_NICENESS = 19
# What a new interpreter would have: SIGPIPE and friends back to their defaults for exec.
_RESTORED_FOR_EXEC = ("SIGPIPE", "SIGXFSZ")


class StartError(Exception):
    """The child could not start; carries errno and a runc-like message."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise StartError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int) -> None:
    _check(_libc.mount(source.encode(), target.encode(),
                       fstype.encode() if fstype else None, flags, None), f"mount {target}")


def enter_pod(netns: str, hostname: str) -> None:
    """setns into the pod netns, the pod's hostname in a UTS namespace, then `ip netns
    exec`'s private mounts."""
    try:
        enter_netns(netns)
    except OSError as error:
        raise StartError(error.errno or 0, str(error)) from None
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare mount and UTS namespaces")
    host = hostname.encode()
    _check(_libc.sethostname(host, len(host)), "sethostname")
    _mount("none", "/", None, MS_SLAVE | MS_REC)
    # Without the netns mounts: a container holding copies of every pod's
    # /run/netns/<name> would keep deleted pods' namespaces alive, and each new pod's
    # mount would be copied into every container (creating a sandbox was O(pods)).
    _libc.umount2(NETNS_RUN.encode(), MNT_DETACH)
    # /sys shows the network devices of the namespace that mounted it
    read_only = os.statvfs("/sys").f_flag & os.ST_RDONLY
    if _libc.umount2(b"/sys", MNT_DETACH) == 0:
        _mount(netns, "/sys", "sysfs", MS_RDONLY if read_only else 0)
    etc = os.path.join(NETNS_ETC, netns)
    try:
        names = os.listdir(etc)
    except FileNotFoundError:
        names = []
    for name in names:
        target = os.path.join("/etc", name)
        if os.path.exists(target):
            _mount(os.path.join(etc, name), target, "none", MS_BIND)


def _exit_code(error: SystemExit) -> int:
    code = error.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _std_streams(env: dict[str, str]) -> None:
    """Fresh sys.std* over fds 0-2, buffered as a new interpreter's would be."""
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    # typeshed marks sys.__stdin__ Final; the forked child must replace it all the same
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(  # type: ignore[misc]
        open(0, "rb", closefd=False), encoding="utf-8")  # noqa: SIM115
    for fd, name, errors in ((1, "stdout", "strict"), (2, "stderr", "backslashreplace")):
        raw = open(fd, "wb", buffering=0 if unbuffered else -1, closefd=False)  # noqa: SIM115
        tty = os.isatty(fd)
        stream = io.TextIOWrapper(raw, encoding="utf-8", errors=errors,
                                  line_buffering=tty or name == "stderr",
                                  write_through=unbuffered)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _fresh_logging() -> None:
    """Logging as a new interpreter has it: the agent's configuration is not the image's."""
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)


def run_module_in_place(module: str, args: list[str], env: dict[str, str]) -> int:
    """What `python -m module args` would do, in this (forked) interpreter."""
    import atexit
    import random
    import threading

    os.environ.clear()
    os.environ.update(env)
    _std_streams(env)
    _fresh_logging()
    random.seed()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as error:
        code = _exit_code(error)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:
        traceback.print_exc()
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    return code


def _in_place_module(argv: list[str]) -> str | None:
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m" \
            and argv[2].startswith(IN_PLACE_PREFIX):
        return argv[2]
    return None


def _child(request: dict[str, Any], fds: list[int], report: int) -> int:
    """In the forked child: become the container.  Returns only to exit."""
    import fcntl
    import termios

    os.setsid()
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        try:
            if request.get("ociRuntime"):
                enter_runtime(request["netns"])
            else:
                enter_pod(request["netns"], request["hostname"])
                mount_volumes([Mount.from_json(m) for m in request.get("mounts") or []],
                              request.get("rootStaging") or "")
        except OSError as error:
            raise StartError(error.errno or 0, str(error)) from None
        for target, fd in enumerate(fds):
            os.dup2(fd, target, inheritable=True)
        if request.get("tty"):
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        os.closerange(3, report)
        os.closerange(report + 1, 65536)
        os.chdir(request.get("cwd") or "/")
        argv, env = list(request["argv"]), dict(request["env"])
        module = _in_place_module(argv)
        if module is not None:
            os.close(report)
            setproctitle.setproctitle(" ".join(argv))  # what `ps` would show for it
            return run_module_in_place(module, argv[3:], env)
        for name in _RESTORED_FOR_EXEC:
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        try:
            os.execvpe(argv[0], argv, env)
        except FileNotFoundError as error:
            where = "$PATH" if "/" not in argv[0] else "the filesystem"
            raise StartError(error.errno or 0,
                             f'exec: "{argv[0]}": executable file not found in {where}') from None
        except OSError as error:
            raise StartError(error.errno or 0, f'exec: "{argv[0]}": {error.strerror}') from None
    except StartError as error:
        os.write(report, json.dumps({"errno": error.errno, "error": str(error)}).encode())
        return 127
    except BaseException as error:  # noqa: BLE001 - report whatever failed
        os.write(report, json.dumps({"errno": 0, "error": repr(error)}).encode())
        return 127
    return 127  # not reached: execvpe does not return


class Zygote:
    def __init__(self, sock: socket.socket | None, listener: socket.socket | None = None) -> None:
        self.sock: socket.socket | None = None
        self.listener = listener
        self.keeper = Keeper()
        self.selector = selectors.DefaultSelector()
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        if listener is not None:
            self.selector.register(listener, selectors.EVENT_READ)
        if sock is not None:
            self._connected(sock)

    def _connected(self, sock: socket.socket) -> None:
        """A new agent: it replaces the previous one (which is gone, or going)."""
        self._disconnected()
        sock.setblocking(True)
        self.sock = sock
        self.selector.register(sock, selectors.EVENT_READ)

    def _disconnected(self) -> None:
        if self.sock is not None:
            self.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None

    def send(self, message: dict[str, Any]) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):  # the agent is gone: a new one asks again
                self.sock.send(json.dumps(message).encode())

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.listener:
                    self._accept()
                elif key.fileobj is self.sock:
                    if not self.handle_request():
                        self._disconnected()
                        if self.listener is None or self.keeper.shutdown:
                            return
                else:
                    while True:
                        try:
                            if not os.read(self.wake_r, 4096):
                                break
                        except BlockingIOError:
                            break
            self.reap()

    def _accept(self) -> None:
        assert self.listener is not None
        sock = accept_agent(self.listener)
        if sock is not None:
            self._connected(sock)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            returncode = os.waitstatus_to_exitcode(status)
            self.keeper.exited(pid, returncode)
            self.send({"exited": pid, "returncode": returncode})

    def handle_request(self) -> bool:
        assert self.sock is not None
        fds = array.array("i")
        try:
            data, ancdata, _flags, _addr = self.sock.recvmsg(
                MAX_MESSAGE, socket.CMSG_SPACE(16 * fds.itemsize))
        except OSError:
            return False
        for level, ctype, cdata in ancdata:
            if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
        if not data:
            return False
        kept: list[int] = []
        try:
            request = json.loads(data)
            if not self.keeper.handle(request, self.sock):
                answer = self.spawn(request, list(fds)[:3])
                if "pid" in answer:
                    kept = self.keeper.started(answer["pid"], request, list(fds)[3:])
                self.send({"id": request["id"], **answer})
        finally:
            for fd in fds:
                if fd not in kept:
                    os.close(fd)
        return True

    def spawn(self, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        report_r, report_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            code = 127
            try:
                os.close(report_r)
                code = _child(request, fds, report_w)
            finally:
                os._exit(code)
        os.close(report_w)
        chunks = []
        while chunk := os.read(report_r, 65536):
            chunks.append(chunk)
        os.close(report_r)
        if chunks:
            failure = json.loads(b"".join(chunks))
            return {"errno": failure["errno"], "error": failure["error"]}
        return {"pid": pid}


def serve_forever(sock: socket.socket | None, listener: socket.socket | None = None) -> None:
    """Preload the built-in images, then serve the agent (and, with a listener, the
    agents that follow it) until it closes its end (after a shutdown request)."""
    import importlib

    if sock is not None:
        sock.setblocking(True)
    # Preload with spare CPU only: the node starts at the same time and needs it more.
    priority = os.getpriority(os.PRIO_PROCESS, 0)
    lowered = os.geteuid() == 0  # only root may raise its priority back afterwards
    if lowered:
        os.setpriority(os.PRIO_PROCESS, 0, PRELOAD_NICENESS)
    for module in PRELOAD:
        importlib.import_module(module)
    if lowered:
        os.setpriority(os.PRIO_PROCESS, 0, priority)
    gc.collect()
    gc.freeze()  # forked children then do not touch (copy) the preloaded objects' pages
    Zygote(sock, listener).serve()


def main(argv: list[str]) -> int:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    serve_forever(socket.socket(fileno=int(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
