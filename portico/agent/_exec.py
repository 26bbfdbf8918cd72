"""Processes for `exec`: started in the pod netns, with pipes or a pseudo-terminal.

A command runs inside the running container's namespaces (`nsenter --target
<container pid> --net --mount --uts`, as `runc exec` joins a container), with the
container's environment and working directory and `PR_SET_PDEATHSIG`, in a new
session.  Without `tty` it gets pipes for stdin (when requested), stdout and stderr.
With `tty` it gets the slave side of a fresh pty as stdin, stdout and stderr, made
its controlling terminal (`setsid` then `TIOCSCTTY` in the child, so shells have job
control); the agent keeps the master: reads are the terminal's output (stdout;
reading fails with EIO once the last slave holder exits, which we take as EOF),
writes are keystrokes, `TIOCSWINSZ` on it resizes the terminal (the kernel signals
SIGWINCH to the foreground process group).

`terminal_reader`/`terminal_writer` are shared with attachable containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import pty
import signal
import struct
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from portico.agent._runtime import DEFAULT_PATH, exit_code, in_container
from portico.agent._streamio import write_process_input
from portico.streaming import TerminalSize

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
READ_SIZE = 32 * 1024


def _child_setup(controlling_tty: bool) -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if controlling_tty:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _child_with_tty() -> None:
    _child_setup(True)


def _child_without_tty() -> None:
    _child_setup(False)


def set_window_size(fd: int, size: TerminalSize) -> None:
    if size.width > 0 and size.height > 0:
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.height, size.width,
                                                            0, 0))


class _TerminalProtocol(asyncio.StreamReaderProtocol):
    """A pty master's read side: EIO (no slave left) is the end of the stream."""

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, OSError):
            exc = None
        super().connection_lost(exc)


async def terminal_reader(master: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 ** 20)
    pipe = os.fdopen(os.dup(master), "rb", buffering=0)
    await loop.connect_read_pipe(lambda: _TerminalProtocol(reader), pipe)
    return reader


async def terminal_writer(master: int) -> asyncio.WriteTransport:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(os.dup(master), "wb", buffering=0)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, pipe)
    return transport


@dataclass(frozen=True)
class CommandSpec:
    container_pid: int  # the command joins this running container's namespaces
    argv: Sequence[str]
    env: Mapping[str, str]
    working_dir: str
    stdin: bool
    stderr: bool
    tty: bool
    size: TerminalSize | None = None  # the terminal's size before the process starts


class CommandProcess:
    """One exec'd process and the agent's ends of its stdio."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int | None) -> None:
        self.proc = proc
        self.master = master
        self.stdout: asyncio.StreamReader | None = proc.stdout
        self.stderr: asyncio.StreamReader | None = proc.stderr
        self._tty_in: asyncio.WriteTransport | None = None

    @classmethod
    async def start(cls, spec: CommandSpec) -> CommandProcess:
        """Start it; OSError when the command cannot be started."""
        argv = in_container(spec.container_pid, spec.argv, spec.working_dir)
        env = {"PATH": DEFAULT_PATH, **spec.env}
        if not spec.tty:
            proc = await asyncio.create_subprocess_exec(
                *argv, env=env, cwd=spec.working_dir,
                stdin=asyncio.subprocess.PIPE if spec.stdin else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE if spec.stderr else asyncio.subprocess.DEVNULL,
                start_new_session=True, preexec_fn=_child_without_tty)
            return cls(proc, None)
        master, slave = pty.openpty()
        if spec.size is not None:
            set_window_size(master, spec.size)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, env={"TERM": "xterm", **env}, cwd=spec.working_dir, stdin=slave,
                stdout=slave, stderr=slave, start_new_session=True,
                preexec_fn=_child_with_tty)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self = cls(proc, master)
        self.stdout = await terminal_reader(master)
        self._tty_in = await terminal_writer(master)
        return self

    async def write_stdin(self, data: bytes) -> None:
        await write_process_input(self._tty_in, self.proc.stdin, data)

    def close_stdin(self) -> None:
        """stdin EOF: the pipe closes; a terminal gets ^D (its EOF character)."""
        if self._tty_in is not None:
            if not self._tty_in.is_closing():
                self._tty_in.write(b"\x04")
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, size: TerminalSize) -> None:
        if self.master is not None:
            set_window_size(self.master, size)

    async def wait(self) -> int:
        return exit_code(await self.proc.wait())[0]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        if self._tty_in is not None:
            self._tty_in.close()
            self._tty_in = None
        if self.master is not None:
            os.close(self.master)
            self.master = None
