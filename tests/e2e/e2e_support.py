"""Helpers for the kubectl end-to-end tests: manifests, table parsing, line streams.

`parse_table` splits kubectl's human-readable output by the header's column
offsets (kubectl pads columns with at least three spaces, and cells may be
empty, e.g. SHORTNAMES).  `LineReader` drains a long-running process's stdout on
a thread so that tests can poll for a line with `wait_for` instead of blocking.
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading

import yaml

from portico.testing.sandbox import wait_for

AGE = r"\d+(s|m\d*s?|h\d*m?|d\d*h?|y\d*d?)"
IPV4 = r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def service(
    name: str,
    ports: list[dict[str, object]],
    labels: dict[str, str] | None = None,
    selector: dict[str, str] | None = None,
    type_: str | None = None,
) -> str:
    """A v1 Service manifest (YAML)."""
    spec: dict[str, object] = {"selector": selector or {"app": name}, "ports": ports}
    if type_:
        spec["type"] = type_
    meta: dict[str, object] = {"name": name}
    if labels:
        meta["labels"] = labels
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec})


def deployment(name: str, replicas: int = 1, image: str = "nginx") -> str:
    """An apps/v1 Deployment manifest (YAML) with one container."""
    labels = {"app": name}
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": name, "image": image}]}},
        },
    })


def manifest(api_version: str, kind: str, name: str, **fields: object) -> str:
    """Any manifest (YAML): `fields` become top-level keys beside metadata."""
    body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}, **fields}
    return yaml.safe_dump(body)


def parse_table(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """kubectl table output as (header names, rows keyed by header name)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return [], []
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    names = [header[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return names, rows


def assert_row(row: dict[str, str], expected: dict[str, str]) -> None:
    """Every expected cell matches its regex (anchored at both ends)."""
    for column, pattern in expected.items():
        assert re.fullmatch(pattern, row[column]), f"{column}={row[column]!r} !~ {pattern!r}"


class LineReader:
    """Collects a process's stdout lines on a background thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))

    def finish(self, timeout: float = 10.0) -> list[str]:
        """Every line, once the process has closed its stdout."""
        self._thread.join(timeout)
        return self.drain()

    def drain(self) -> list[str]:
        """Every line read so far."""
        while True:
            try:
                self.lines.append(self._queue.get_nowait())
            except queue.Empty:
                return self.lines

    def wait_line(self, pattern: str, timeout: float = 30.0, nth: int = 1) -> str:
        """The `nth` line (seen so far or later) matching regex `pattern`."""

        def found() -> str | None:
            matches = [ln for ln in self.drain() if re.search(pattern, ln)]
            return matches[nth - 1] if len(matches) >= nth else None

        try:
            return wait_for(found, timeout, message=f"line #{nth} matching {pattern!r}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; lines so far: {self.drain()}") from None
