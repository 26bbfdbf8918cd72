"""Container processes that `kubectl attach` (and `run -it`) can connect to.

`AttachableProcess` is a `ContainerProcess` whose output is also offered to
attached sessions, and whose stdin stays open when the container asks for it:
- `stdin: true` without `tty`: stdin is a pipe the agent keeps;
- `tty: true`: stdin, stdout and stderr are the slave of a pty that is the
  process's controlling terminal; the agent keeps the master (output is logged
  as stdout, as container runtimes do for terminals; resizes go to the master);
- otherwise stdin is /dev/null, as before.
Output reaches the CRI log exactly as for a plain `ContainerProcess`, whose pump
hands every chunk, once logged, to the subscribers.  For containers
with stdin, output written before the first attach is kept (up to
`REPLAY_LIMIT` bytes) and replayed to that first session: `kubectl run -it`
attaches only once the pod is Running, and a quick command would otherwise have
printed its answer to nobody.
`stdinOnce`: when the first attached session ends its stdin, the container's stdin
is closed (pipe) and later sessions get no stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from portico.agent._crilog import Stream
from portico.agent._exec import set_window_size, terminal_reader, terminal_writer
from portico.agent._runtime import DEFAULT_PATH, ContainerProcess
from portico.agent._spawner import PodPlace, SpawnedProcess, Spawner
from portico.agent._streamio import write_process_input
from portico.streaming import TerminalSize

REPLAY_LIMIT = 64 * 1024
Listener = Callable[[Stream, bytes], None]


class AttachableProcess(ContainerProcess):
    def __init__(self, proc: SpawnedProcess, log_path: Path,
                 master: int | None = None, stdin_once: bool = False) -> None:
        self.master = master
        self.stdin_once = stdin_once
        self.listeners: list[Listener] = []
        self.keeps_stdin = master is not None or proc.stdin is not None
        self._replay: list[tuple[Stream, bytes]] | None = [] if self.keeps_stdin else None
        self._replay_size = 0
        self._tty_in: asyncio.WriteTransport | None = None
        self._terminal: asyncio.StreamReader | None = None
        self.attached_once = False
        super().__init__(proc, log_path)

    @classmethod
    async def start_attachable(cls, spawner: Spawner, pod: PodPlace, argv: Sequence[str],
                               env: Mapping[str, str], working_dir: str | None,
                               log_path: Path, spec: Mapping[str, object],
                               labels: Mapping[str, object] | None = None,
                               ) -> AttachableProcess:
        """Start a container per its spec's `stdin`, `stdinOnce` and `tty` (the log's
        directory exists); with `labels`, the launcher keeps it for a next agent."""
        tty, stdin = bool(spec.get("tty")), bool(spec.get("stdin"))
        full_env = {"PATH": DEFAULT_PATH, **env}
        cwd = working_dir or "/"
        if not tty:
            proc = await spawner.spawn_piped(pod, argv, full_env, cwd, stdin, labels)
            return cls(proc, log_path, None, bool(spec.get("stdinOnce")))
        master, slave = pty.openpty()
        try:
            full_env.setdefault("TERM", "xterm")
            proc = await spawner.spawn(pod, argv, full_env, cwd, slave, slave, slave,
                                       tty=True, labels=labels,
                                       keep={"tty": master} if labels is not None else None)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        return await cls.adopt(proc, log_path, master, spec)

    @classmethod
    async def adopt(cls, proc: SpawnedProcess, log_path: Path, master: int | None,
                    spec: Mapping[str, object]) -> AttachableProcess:
        """Over a started (or adopted) process: its pipes in `proc`, or a tty `master`."""
        if master is None:
            return cls(proc, log_path, None, bool(spec.get("stdinOnce")))
        terminal = await terminal_reader(master)
        self = cls(proc, log_path, master, bool(spec.get("stdinOnce")))
        self._terminal = terminal  # before the pump tasks first run
        self._tty_in = await terminal_writer(master)
        return self

    # -- output -------------------------------------------------------------------------------
    async def _pump(self, reader: asyncio.StreamReader | None, stream: Stream) -> None:
        if reader is None and stream is Stream.STDOUT:
            reader = self._terminal
        try:
            await super()._pump(reader, stream)
        finally:
            if stream is Stream.STDOUT:
                self._close_terminal()

    def _output(self, stream: Stream, chunk: bytes) -> None:
        self._broadcast(stream, chunk)

    def _broadcast(self, stream: Stream, chunk: bytes) -> None:
        if self._replay is not None and chunk and self._replay_size < REPLAY_LIMIT:
            self._replay.append((stream, chunk))
            self._replay_size += len(chunk)
        for listener in list(self.listeners):
            listener(stream, chunk)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Receive output from now on (plus, for the first session, what it missed)."""
        replay, self._replay = self._replay, None
        self.attached_once = True
        for stream, chunk in replay or []:
            listener(stream, chunk)
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    # -- input --------------------------------------------------------------------------------
    @property
    def tty(self) -> bool:
        return self.master is not None

    async def write_stdin(self, data: bytes) -> None:
        await write_process_input(self._tty_in, self.proc.stdin, data)

    def session_stdin_closed(self) -> None:
        """An attached session's stdin ended: with stdinOnce, so does the container's."""
        if not self.stdin_once:
            return
        self.keeps_stdin = False
        if self._tty_in is None and self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, size: TerminalSize) -> None:
        if self.master is not None:
            set_window_size(self.master, size)

    def _close_terminal(self) -> None:
        if self._tty_in is not None:
            self._tty_in.close()
            self._tty_in = None
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
