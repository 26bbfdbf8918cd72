"""What lets containers outlive their agent: the launcher keeps them and their pipes.

As containerd (with its shims) keeps containers running while kubelet restarts,
the container launcher (`_zygote`) of an agent started by `portico up` is not a
process that dies with the agent: it has a session of its own, listens on an
abstract Unix socket of the node's network namespace named after the node's
state dir (`launcher_address`; abstract, so no stale file outlives it and no
path length limit applies), and accepts one agent at a time (of the same uid).

`Keeper` is the launcher's table of the containers it started, each with
- the labels the agent gave it (pod uid, container name, restart count, ...),
- the agent's ends of its output (stdout/stderr read ends, or a tty master; not
  stdin, whose end the container must see when the agent closes it), sent along
  with the spawn request and kept here: with a reader
  left, a container writing while no agent runs blocks on a full pipe (64 KiB)
  instead of dying of EPIPE, and a new agent reads on where the old one stopped;
- its exit status, kept until the agent releases it (`{"release": pid}`).
A new agent asks for the table (`{"id", "list": true}`): one
`{"adopt": {"pid", "labels", "returncode", "fds"}}` packet per container with its
kept fds attached, then `{"id", "count": n}`.  `{"shutdown": true}` (a clean
agent stop, after it stopped its pods) makes the launcher exit when the agent
closes its end; an agent that vanishes without it leaves the launcher waiting.
"""

from __future__ import annotations

import array
import contextlib
import hashlib
import json
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

_UCRED = struct.Struct("3i")


def launcher_address(state_dir: str) -> bytes:
    """The abstract socket name of the launcher of the node whose state dir is this."""
    digest = hashlib.sha256(os.path.realpath(state_dir).encode()).hexdigest()[:32]
    return f"\0portico-container-launcher-{digest}".encode()


def accept_agent(listener: socket.socket) -> socket.socket | None:
    """The next agent's connection, if it comes from our own uid."""
    try:
        sock, _ = listener.accept()
    except OSError:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    if _UCRED.unpack(creds)[1] != os.geteuid():
        sock.close()
        return None
    return sock


def send_with_fds(sock: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
    ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
    sock.sendmsg([json.dumps(message).encode()], ancillary if fds else [])


@dataclass
class Kept:
    labels: dict[str, Any]
    fds: list[int]
    returncode: int | None = None
    names: list[str] = field(default_factory=list)  # what each kept fd is


class Keeper:
    def __init__(self) -> None:
        self.kept: dict[int, Kept] = {}
        self.shutdown = False

    def started(self, pid: int, request: dict[str, Any], fds: list[int]) -> list[int]:
        """Keep the agent's ends of a started container's stdio; returns the fds kept
        (the caller must not close them)."""
        names = list(request.get("keep") or [])[:len(fds)]
        keep = fds[:len(names)]
        self.kept[pid] = Kept(dict(request.get("labels") or {}), keep, names=names)
        return keep

    def exited(self, pid: int, returncode: int) -> None:
        if pid in self.kept:
            self.kept[pid].returncode = returncode

    def release(self, pid: int) -> None:
        kept = self.kept.pop(pid, None)
        for fd in kept.fds if kept else []:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _list(self, ident: int, sock: socket.socket) -> None:
        for pid, kept in sorted(self.kept.items()):
            send_with_fds(sock, {"adopt": {"pid": pid, "labels": kept.labels,
                                           "returncode": kept.returncode,
                                           "fds": kept.names}}, kept.fds)
        sock.send(json.dumps({"id": ident, "count": len(self.kept)}).encode())

    def handle(self, request: dict[str, Any], sock: socket.socket) -> bool:
        """A keeper request (list, release, shutdown): True if it was one."""
        if "release" in request:
            self.release(int(request["release"]))
        elif request.get("shutdown"):
            self.shutdown = True
        elif request.get("list"):
            with contextlib.suppress(OSError):  # the agent went: the next one asks again
                self._list(request["id"], sock)
        else:
            return False
        return True


@dataclass
class Adopted:
    """A container a new agent found running (or exited, unreleased) in its launcher."""

    pid: int
    labels: dict[str, Any]
    returncode: int | None
    fds: dict[str, int]  # kept fd by what it is: stdout, stderr, tty


def list_kept(sock: socket.socket) -> list[Adopted]:
    """The agent's side of `list`, on the blocking socket before its event loop runs."""
    sock.send(json.dumps({"id": 0, "list": True}).encode())
    found: list[Adopted] = []
    while True:
        fds = array.array("i")
        data, ancdata, _flags, _addr = sock.recvmsg(1 << 20, socket.CMSG_SPACE(16 * fds.itemsize))
        for level, ctype, cdata in ancdata:
            if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS:
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
        if not data:
            raise ConnectionError("the container launcher closed the connection")
        message = json.loads(data)
        if "count" in message:
            return found
        if "adopt" not in message:
            continue  # an exit reported before the list: the list has it too
        entry = message["adopt"]
        found.append(Adopted(int(entry["pid"]), dict(entry["labels"]), entry["returncode"],
                             dict(zip(entry["fds"], fds, strict=True))))
