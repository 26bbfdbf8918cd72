"""Container processes: started in the pod netns, in their own process group.

A `ContainerProcess` is a process the container launcher (`_spawner`/`_zygote`)
started inside the pod (its netns, /etc/netns/<pod netns>/* bind-mounted over
/etc, exactly the container's environment, its workingDir, a new session (hence
process group = PID), `PR_SET_PDEATHSIG` so a crashed agent leaves no orphans).
Its stdout and stderr are pumped into the CRI log file a whole read at a time (up to
`READ_SIZE`; `CriLogFramer` frames all lines of a read at once, one `write` each).  `wait()`
returns the exit code as Kubernetes reports it (128 + signal number for a signal
death).  `run_exec` runs a one-shot command (exec probes, preStop hooks) inside
the running container's namespaces (`nsenter --target <pid>`), with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import datetime
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from portico.agent._crilog import CriLogFramer, Stream
from portico.agent._sandbox import NSENTER
from portico.agent._spawner import SpawnedProcess
from portico.oci import lookup as oci_container

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
READ_SIZE = 1 << 20
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _child_setup() -> None:
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def exit_code(returncode: int) -> tuple[int, int | None]:
    """(Kubernetes exit code, signal) from a Popen returncode."""
    if returncode < 0:
        return 128 - returncode, -returncode
    return returncode, None


def in_container(pid: int, argv: Sequence[str], working_dir: str) -> list[str]:
    """argv run in the namespaces of container process `pid` (network, mounts, hostname)
    and its working directory, as `runc exec` joins a running container.  (`--wd`: entering
    a mount namespace moves the process to that namespace's root.)"""
    oci = oci_container(pid)
    if oci is not None:  # a container of an image: crun exec (its env, user and cwd)
        return oci.exec_argv(list(argv))
    return [NSENTER, f"--target={pid}", "--net", "--mount", "--uts", f"--wd={working_dir}",
            "--", *argv]


class ContainerProcess:
    """A running container (from `Spawner`): its output pumped into the CRI log."""

    def __init__(self, proc: SpawnedProcess, log_path: Path) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self._log = open(log_path, "ab", buffering=0)  # noqa: SIM115 - closed in wait()
        self._pumps = [asyncio.create_task(self._pump(proc.stdout, Stream.STDOUT)),
                       asyncio.create_task(self._pump(proc.stderr, Stream.STDERR))]
        self._waiter = asyncio.ensure_future(self._wait())

    async def _pump(self, reader: asyncio.StreamReader | None, stream: Stream) -> None:
        if reader is None:
            return
        framer = CriLogFramer(stream)
        while True:
            try:
                chunk = await reader.read(READ_SIZE)
            except OSError:  # a terminal's master reads EIO once the slave is gone
                chunk = b""
            now = datetime.datetime.now(datetime.UTC)
            data = framer.feed(chunk, now) if chunk else framer.close(now)
            if data:
                self._log.write(data)
            self._output(stream, chunk)
            if not chunk:
                return

    def _output(self, stream: Stream, chunk: bytes) -> None:
        """Called with every chunk of output after it was logged (b"": the stream ended)."""

    def running(self) -> bool:
        return self.proc.returncode is None

    async def _wait(self) -> tuple[int, int | None]:
        returncode = await self.proc.wait()
        # Children of the container may keep the pipes open; do not wait for them.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._pumps), 1.0)
        for pump in self._pumps:
            pump.cancel()
        self._log.close()
        return exit_code(returncode)

    async def wait(self) -> tuple[int, int | None]:
        """Wait for the exit and the end of its output: (exit code, signal)."""
        return await asyncio.shield(self._waiter)

    def kill_group(self, sig: signal.Signals) -> None:
        """Signal the container's process group (PGID = PID, from setsid); an image's
        container through crun (SIGKILL to crun itself would orphan the container)."""
        oci = oci_container(self.pid)
        if oci is not None:
            oci.kill(sig)
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


async def run_exec(container_pid: int, argv: Sequence[str], env: Mapping[str, str],
                   working_dir: str, timeout: float) -> tuple[int | None, bytes]:
    """Run a command in a running container; (exit code or None on timeout, output)."""
    proc = await asyncio.create_subprocess_exec(
        *in_container(container_pid, argv, working_dir), env={"PATH": DEFAULT_PATH, **env},
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True, preexec_fn=_child_setup)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return None, b""
    return exit_code(proc.returncode or 0)[0], out
