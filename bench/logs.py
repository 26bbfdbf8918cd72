"""Benchmark the container log pipeline (root; on demand: `python bench/logs.py`).

    .venv/bin/python bench/logs.py [--lines 200000] [--rounds 5]

A chatty container (an access log: one `write(2)` per line, as nginx writes its
access log) writes `--lines` lines of 100 bytes.  Measured, in interleaved rounds:
- through the pipeline: the agent's own code starts it (`Spawner` -> container
  launcher, `AttachableProcess` with its stdout and stderr pipes pumped into a CRI
  log file), until the exit and every line is in the log;
- to a file: the same command, started the same way, with stdout a plain file.
Prints the median lines/s of each, their ratio (goal >= 0.5: every chatty
container pays it) and the pipeline's CPU per line in this process (the agent's
side), and checks that the log holds every line, framed.

Everything runs inside a private network namespace (`_sandbox`), with one pod
netns `portico-b-<hex>-logs`, removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._sandbox import ensure_private_netns, scratch_netns  # noqa: E402
from portico.agent._attach import AttachableProcess  # noqa: E402
from portico.agent._crilog import parse_line  # noqa: E402
from portico.agent._spawner import PodPlace, Spawner  # noqa: E402

GOAL = 0.5
LINE = b"10.244.0.3 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 615 \"-\" " \
       b"\"wrk/4.1.0\" \"-\"\n"
WRITER = f"""
import os, sys
write, line = os.write, {LINE!r}
for _ in range(int(sys.argv[1])):
    write(1, line)
"""


async def through_pipeline(spawner: Spawner, pod: PodPlace, lines: int,
                           log: Path) -> tuple[float, float]:
    """(seconds until exit and all lines logged, this process's CPU seconds)."""
    started, cpu = time.perf_counter(), time.process_time()
    proc = await AttachableProcess.start_attachable(
        spawner, pod, [sys.executable, "-c", WRITER, str(lines)], {}, None, log, {})
    await proc.wait()
    return time.perf_counter() - started, time.process_time() - cpu


async def to_file(spawner: Spawner, pod: PodPlace, lines: int, out: Path) -> float:
    started = time.perf_counter()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        proc = await spawner.spawn(pod, [sys.executable, "-c", WRITER, str(lines)], {}, "/",
                                   null, fd, fd)
    finally:
        os.close(fd)
        os.close(null)
    await proc.wait()
    return time.perf_counter() - started


def check_log(log: Path, lines: int) -> None:
    records = [parse_line(line) for line in log.read_bytes().splitlines()]
    content = LINE.rstrip(b"\n")
    if len(records) != lines or any(r.content != content for r in records):
        raise SystemExit(f"the CRI log holds {len(records)} records, not {lines} lines")


async def measure(pod: PodPlace, lines: int, rounds: int) -> None:
    spawner = Spawner()
    await spawner.start()
    piped, filed, cpu = [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            await to_file(spawner, pod, 1000, Path(tmp, "warm-up"))  # the launcher's preload
            for i in range(rounds):
                log, out = Path(tmp, f"{i}.log"), Path(tmp, f"{i}.out")
                if i % 2:
                    filed.append(lines / await to_file(spawner, pod, lines, out))
                seconds, used = await through_pipeline(spawner, pod, lines, log)
                piped.append(lines / seconds)
                cpu.append(used / lines)
                if not i % 2:
                    filed.append(lines / await to_file(spawner, pod, lines, out))
                check_log(log, lines)
                log.unlink()
                out.unlink()
    finally:
        await spawner.close()
    pipe, file = statistics.median(piped), statistics.median(filed)
    ratio = statistics.median(p / f for p, f in zip(piped, filed, strict=True))
    print(f"container log pipeline ({lines} lines of {len(LINE)} bytes, one write each; "
          f"median of {rounds} interleaved rounds)")
    print(f"  to a file                  {file:12.0f} lines/s")
    print(f"  through the log pipeline   {pipe:12.0f} lines/s   "
          f"(agent CPU {statistics.median(cpu) * 1e6:.2f} us/line)")
    print(f"  ratio pipeline/file        {ratio:12.2f}   goal >= {GOAL} "
          f"({'met' if ratio >= GOAL else 'MISSED'}); rounds: "
          f"{', '.join(f'{p / f:.2f}' for p, f in zip(piped, filed, strict=True))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    ensure_private_netns()
    with scratch_netns(f"portico-b-{secrets.token_hex(3)}-logs") as netns:
        asyncio.run(measure(PodPlace(netns, "logs"), args.lines, args.rounds))


if __name__ == "__main__":
    main()
