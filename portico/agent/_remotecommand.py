"""exec and attach sessions: pumping a process's stdio through a `CommandIO`.

exec (`run_exec`): stdin chunks go to the process (EOF closes its stdin: `tar -x`
and `cat` finish only then); stdout and stderr go out as they come; terminal
resizes go to the pty.  When the process exits, its output is drained (children
that keep the pipes open get `DRAIN_SECONDS`), then the result is sent: `Success`
for 0, else `NonZeroExitCode` with the code, which kubectl adopts as its own exit
status.  If the client goes away first, the process group is killed.

attach (`run_attach`): the same, with a running container as the process: output
arrives through a subscription, stdin goes to the container's pipe or terminal,
the session ends with `Success` when the container's process exits (kubectl reads
the exit code from the pod status) or when the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from portico.agent._attach import AttachableProcess
from portico.agent._crilog import Stream
from portico.agent._exec import READ_SIZE, CommandProcess
from portico.agent._streamio import CommandIO
from portico.streaming import Channel, TerminalSize, exit_code_status, success_status

DRAIN_SECONDS = 2.0


async def _copy_out(io: CommandIO, reader: asyncio.StreamReader | None,
                    channel: Channel) -> None:
    if reader is None:
        return
    try:
        while chunk := await reader.read(READ_SIZE):
            await io.output(channel, chunk)
    except OSError:
        pass


async def _copy_in(io: CommandIO, write: Callable[[bytes], Awaitable[None]],
                   close: Callable[[], None]) -> None:
    while data := await io.stdin():
        await write(data)
    close()


async def _resizes(io: CommandIO, resize: Callable[[TerminalSize], None]) -> None:
    while (size := await io.resize()) is not None:
        resize(size)


async def _cancel(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def run_exec(io: CommandIO, proc: CommandProcess, stdin: bool, tty: bool) -> None:
    inputs = []
    if stdin:
        inputs.append(asyncio.create_task(_copy_in(io, proc.write_stdin, proc.close_stdin)))
    if tty:
        inputs.append(asyncio.create_task(_resizes(io, proc.resize)))
    outputs = [asyncio.create_task(_copy_out(io, proc.stdout, Channel.STDOUT)),
               asyncio.create_task(_copy_out(io, proc.stderr, Channel.STDERR))]
    waiter = asyncio.create_task(proc.wait())
    gone = asyncio.create_task(io.closed.wait())
    try:
        await asyncio.wait([waiter, gone], return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            proc.kill()
            return
        code = waiter.result()
        _done, pending = await asyncio.wait(outputs, timeout=DRAIN_SECONDS)
        await _cancel(*pending)
        await io.finish(success_status() if code == 0 else exit_code_status(code))
    finally:
        await _cancel(*inputs, *outputs, gone)
        if not waiter.done():
            proc.kill()
            await _cancel(waiter)
        proc.close()


async def run_attach(io: CommandIO, container: AttachableProcess, stdin: bool,
                     stdout: bool, stderr: bool) -> None:
    queue: asyncio.Queue[tuple[Stream, bytes] | None] = asyncio.Queue()
    wanted = {Stream.STDOUT: Channel.STDOUT if stdout else None,
              Stream.STDERR: Channel.STDERR if stderr else None}

    def listener(stream: Stream, chunk: bytes) -> None:
        if chunk and wanted.get(stream) is not None:
            queue.put_nowait((stream, chunk))

    async def forward() -> None:
        while (item := await queue.get()) is not None:
            channel = wanted[item[0]]
            assert channel is not None
            await io.output(channel, item[1])

    unsubscribe = container.subscribe(listener)
    forwarder = asyncio.create_task(forward())
    inputs = []
    if stdin and container.keeps_stdin:
        inputs.append(asyncio.create_task(_copy_in(io, container.write_stdin,
                                                   container.session_stdin_closed)))
    if container.tty:
        inputs.append(asyncio.create_task(_resizes(io, container.resize)))
    gone = asyncio.create_task(io.closed.wait())
    exited = asyncio.create_task(container.wait())
    try:
        await asyncio.wait([gone, exited], return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            queue.put_nowait(None)
            await asyncio.wait([forwarder], timeout=DRAIN_SECONDS)
            await io.finish(success_status())
    finally:
        unsubscribe()
        await _cancel(forwarder, *inputs, gone, exited)
