"""Container logs in kubelet's CRI format, and the reads `/containerLogs` serves.

Each line on disk is `<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>`:
`F` ends a line, `P` is a partial chunk of a longer line (split at 16 KiB, as
the CRI runtimes do).  `CriLogFramer` turns one output stream into such lines a
whole read at a time, as containerd's CRI log writer does: one timestamp per read, and
the lines of a read framed with one `split` and one `join` (C loops), so a chatty
container costs the agent per read, not per line; only a line longer than 16 KiB
takes the slower per-line path.  `parse_line` reads one back; `select_lines` applies
the query options (sinceTime/sinceSeconds, tailLines, limitBytes, timestamps) as
kubelet's `ReadLogs` does.  All pure.
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


class CriLogFramer:
    """Feed one stream's raw output chunks with the time they were read; get back CRI
    log lines (`F` lines, and `P` chunks of lines longer than `MAX_LINE`)."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._rest = b""

    def feed(self, data: bytes, when: datetime.datetime) -> bytes:
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        out = self._lines(lines, when) if lines else b""
        if len(self._rest) > MAX_LINE:
            cut = len(self._rest) - (len(self._rest) - 1) % MAX_LINE - 1
            partials, self._rest = self._rest[:cut], self._rest[cut:]
            out += self._long(partials, when, Tag.PARTIAL)
        return out

    def close(self, when: datetime.datetime) -> bytes:
        """End of stream: an unterminated last line is logged as a full line."""
        rest, self._rest = self._rest, b""
        return self._long(rest, when, Tag.FULL) if rest else b""

    def _lines(self, lines: list[bytes], when: datetime.datetime) -> bytes:
        if max(map(len, lines)) <= MAX_LINE:
            prefix = f"{rfc3339nano(when)} {self._stream.value} {Tag.FULL.value} ".encode()
            return prefix + (b"\n" + prefix).join(lines) + b"\n"
        return b"".join(self._long(line, when, Tag.FULL) for line in lines)

    def _long(self, line: bytes, when: datetime.datetime, last: Tag) -> bytes:
        """`line` as `P` chunks of `MAX_LINE` bytes and a last chunk tagged `last`."""
        chunks = [line[i:i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [b""]
        tags = [Tag.PARTIAL] * (len(chunks) - 1) + [last]
        return b"".join(format_record(when, self._stream, tag, chunk)
                        for tag, chunk in zip(tags, chunks, strict=True))


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
