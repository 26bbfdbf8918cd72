"""Container logs in kubelet's CRI format, and the reads `/containerLogs` serves.

Each line on disk is `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>`:
`F` ends a line, `P` is a partial chunk of a longer line (split at 16 KiB, as
the CRI runtimes do).  `CriLineSplitter` turns a byte stream into such records;
`parse_line` reads one back; `select_lines` applies the query options
(sinceTime/sinceSeconds, tailLines, limitBytes, timestamps) as kubelet's
`ReadLogs` does.  All pure.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

MAX_LINE = 16 * 1024


class Stream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"


class Tag(StrEnum):
    FULL = "F"
    PARTIAL = "P"


def rfc3339nano(when: datetime.datetime) -> str:
    """Go's RFC3339Nano (trailing zeros dropped) for a UTC datetime."""
    text = when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    return text.rstrip(".") + "Z"


def format_record(when: datetime.datetime, stream: Stream, tag: Tag, content: bytes) -> bytes:
    return f"{rfc3339nano(when)} {stream.value} {tag.value} ".encode() + content + b"\n"


class CriLineSplitter:
    """Feed raw output chunks; get back (tag, content) records (content without \\n)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[tuple[Tag, bytes]]:
        self._buffer += data
        out: list[tuple[Tag, bytes]] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline == -1 or newline > MAX_LINE:
                break
            out.append((Tag.FULL, self._buffer[:newline]))
            self._buffer = self._buffer[newline + 1:]
        while len(self._buffer) > MAX_LINE:
            out.append((Tag.PARTIAL, self._buffer[:MAX_LINE]))
            self._buffer = self._buffer[MAX_LINE:]
        return out

    def close(self) -> list[tuple[Tag, bytes]]:
        """End of stream: an unterminated last line is reported as a full line."""
        rest, self._buffer = self._buffer, b""
        return [(Tag.FULL, rest)] if rest else []


@dataclass(frozen=True)
class LogRecord:
    timestamp: str
    when: datetime.datetime
    stream: Stream
    tag: Tag
    content: bytes


def _parse_time(text: str) -> datetime.datetime:
    base, _, frac = text.rstrip("Z").partition(".")
    when = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    micros = int((frac + "000000")[:6]) if frac else 0
    return when.replace(microsecond=micros)


def parse_line(line: bytes) -> LogRecord:
    """One CRI log line (without its trailing newline); ValueError if malformed."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        raise ValueError(f"not a CRI log line: {line[:80]!r}")
    timestamp = parts[0].decode()
    content = parts[3] if len(parts) == 4 else b""
    return LogRecord(timestamp, _parse_time(timestamp), Stream(parts[1].decode()),
                     Tag(parts[2].decode()), content)


@dataclass(frozen=True)
class LogOptions:
    """The `/containerLogs` query (PodLogOptions)."""
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since: datetime.datetime | None = None


def render_record(record: LogRecord, timestamps: bool) -> bytes:
    """The bytes `kubectl logs` shows for one record (no newline after a partial)."""
    end = b"\n" if record.tag is Tag.FULL else b""
    prefix = record.timestamp.encode() + b" " if timestamps else b""
    return prefix + record.content + end


def select_lines(lines: Iterable[bytes], opts: LogOptions) -> list[LogRecord]:
    """The records to send first: parsed, filtered by `since`, cut to `tailLines`."""
    records: list[LogRecord] = []
    for line in lines:
        try:
            record = parse_line(line.rstrip(b"\n"))
        except ValueError:
            continue
        if opts.since is not None and record.when < opts.since:
            continue
        records.append(record)
    if opts.tail_lines is not None:
        # tailLines counts full lines; a line's partial chunks come with it.
        full_seen = 0
        start = len(records)
        for i in range(len(records) - 1, -1, -1):
            if records[i].tag is Tag.FULL:
                if full_seen == opts.tail_lines:
                    break
                full_seen += 1
            start = i
        records = records[start:] if opts.tail_lines > 0 else []
    return records
