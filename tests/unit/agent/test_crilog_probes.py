"""CRI log format and selection; probe result folding on a fake clock."""

from __future__ import annotations

import datetime

import pytest

from portico.agent._crilog import (
    MAX_LINE,
    CriLogFramer,
    LogOptions,
    Stream,
    Tag,
    format_record,
    parse_line,
    render_record,
    rfc3339nano,
    select_lines,
)
from portico.agent._probes import ProbeResult, ProbeTiming, ProbeTracker, ProbeType

T0 = datetime.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=datetime.UTC)

S, F = ProbeResult.SUCCESS, ProbeResult.FAILURE


def test_format_and_parse_round_trip() -> None:
    line = format_record(T0, Stream.STDERR, Tag.FULL, b"hello world")
    assert line == b"2026-01-02T03:04:05.12Z stderr F hello world\n"
    rec = parse_line(line.rstrip(b"\n"))
    assert (rec.when, rec.stream, rec.tag, rec.content) == (T0, Stream.STDERR, Tag.FULL,
                                                            b"hello world")
    assert rfc3339nano(T0.replace(microsecond=0)) == "2026-01-02T03:04:05Z"


def test_framer_frames_a_read_at_once() -> None:
    f = CriLogFramer(Stream.STDOUT)
    assert f.feed(b"a\n\nb", T0) == (b"2026-01-02T03:04:05.12Z stdout F a\n"
                                    b"2026-01-02T03:04:05.12Z stdout F \n")
    assert f.feed(b"c\n", T0) == b"2026-01-02T03:04:05.12Z stdout F bc\n"
    assert f.feed(b"", T0) == b""
    assert f.close(T0) == b""


def _records(data: bytes) -> list[tuple[Tag, bytes]]:
    return [(r.tag, r.content) for r in map(parse_line, data.splitlines())]


@pytest.mark.parametrize(("chunks", "expected"), [
    pytest.param([b"x" * (MAX_LINE + 5)], [(Tag.PARTIAL, b"x" * MAX_LINE), (Tag.FULL, b"x" * 5)],
                 id="unterminated-long"),
    pytest.param([b"x" * MAX_LINE], [(Tag.FULL, b"x" * MAX_LINE)], id="unterminated-max"),
    pytest.param([b"y" * (2 * MAX_LINE) + b"\nz\n"],
                 [(Tag.PARTIAL, b"y" * MAX_LINE), (Tag.FULL, b"y" * MAX_LINE), (Tag.FULL, b"z")],
                 id="long-line-in-a-read"),
    pytest.param([b"y" * (MAX_LINE + 1), b"yy\n"],
                 [(Tag.PARTIAL, b"y" * MAX_LINE), (Tag.FULL, b"yyy")], id="long-across-reads"),
])  # fmt: skip
def test_framer_splits_long_lines(chunks: list[bytes], expected: list[tuple[Tag, bytes]]) -> None:
    f = CriLogFramer(Stream.STDERR)
    out = b"".join(f.feed(chunk, T0) for chunk in chunks) + f.close(T0)
    assert _records(out) == expected


def _lines(n: int) -> list[bytes]:
    return [format_record(T0 + datetime.timedelta(seconds=i), Stream.STDOUT, Tag.FULL,
                          f"line {i}".encode()) for i in range(n)]


@pytest.mark.parametrize(("opts", "expected"), [
    pytest.param(LogOptions(), [b"line 0", b"line 1", b"line 2", b"line 3"], id="all"),
    pytest.param(LogOptions(tail_lines=2), [b"line 2", b"line 3"], id="tail"),
    pytest.param(LogOptions(tail_lines=0), [], id="tail-0"),
    pytest.param(LogOptions(since=T0 + datetime.timedelta(seconds=3)), [b"line 3"], id="since"),
])
def test_select_lines(opts: LogOptions, expected: list[bytes]) -> None:
    assert [r.content for r in select_lines(_lines(4) + [b"garbage"], opts)] == expected


def test_render_record_with_timestamps() -> None:
    rec = parse_line(_lines(1)[0].rstrip())
    assert render_record(rec, True) == b"2026-01-02T03:04:05.12Z line 0\n"
    assert render_record(rec, False) == b"line 0\n"


def run(tracker: ProbeTracker, results: list[ProbeResult]) -> list[ProbeResult | None]:
    out = []
    for r in results:
        now = tracker.next_at()
        out.append(tracker.observe(r, now))
    return out


@pytest.mark.parametrize(("ptype", "timing", "results", "reported"), [
    pytest.param(ProbeType.READINESS, ProbeTiming(failure_threshold=3), [S, F, F, F, S],
                 [S, None, None, F, S], id="readiness-failure-threshold"),
    pytest.param(ProbeType.READINESS, ProbeTiming(success_threshold=2), [S, S, F],
                 [None, S, None], id="readiness-success-threshold"),
    pytest.param(ProbeType.LIVENESS, ProbeTiming(failure_threshold=2), [F, F, F, F],
                 [None, F, None, F], id="liveness-restarts-count-again"),
    pytest.param(ProbeType.STARTUP, ProbeTiming(failure_threshold=5), [F, F, S],
                 [None, None, S], id="startup"),
])
def test_probe_tracker(ptype: ProbeType, timing: ProbeTiming, results: list[ProbeResult],
                       reported: list[ProbeResult | None]) -> None:
    assert run(ProbeTracker(ptype, timing, 0.0), results) == reported


def test_probe_timing_on_a_fake_clock() -> None:
    timing = ProbeTiming.from_probe({"initialDelaySeconds": 5, "periodSeconds": 2})
    tracker = ProbeTracker(ProbeType.READINESS, timing, started_at=100.0)
    assert (tracker.reported, tracker.due(104.9), tracker.due(105.0)) == (F, False, True)
    tracker.observe(S, 105.5)
    assert (tracker.next_at(), tracker.reported) == (107.5, S)
