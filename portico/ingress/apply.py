"""Make HAProxy run a plan: runtime API when the shape is unchanged, else a checked reload.

Theory of operation (track -> render -> apply): `Applier.apply(plan)` assigns
server slots (keeping endpoints where they were), renders, and compares with
what HAProxy runs now (`self.running`):
- nothing differs: nothing to do;
- the config's *shape* (render.shape: server addresses masked), the Lua script
  or the default certificate differ, a certificate is removed or its SNI
  filters change: a reload. The files are first rendered into `staging/` and
  checked with `haproxy -c`; only a valid config is written over the live one,
  then the master reloads. An invalid config is reported and HAProxy keeps
  serving the old one (without the check, `precheck=False`, the master refuses
  it: the old worker keeps serving and the reload is reported failed);
- otherwise runtime commands only (`changes.runtime_commands`): `set server
  addr/state`, `prepare/add/commit map`, `set/commit ssl cert` and `new ssl
  cert` + `add ssl crt-list` for new certificates. The files are written too, so
  a later reload starts from the same state. If HAProxy refuses a command, the
  applier falls back to a reload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from portico.ingress import render
from portico.ingress.endpoints import Slots, assign_slots
from portico.ingress.files import write_files
from portico.ingress.haproxy import HAProxyProcess, RuntimeError_, check_config
from portico.ingress.model import Settings
from portico.ingress.render import Rendered

log = logging.getLogger("portico.ingress.apply")


class Outcome(StrEnum):
    UNCHANGED = "unchanged"
    RUNTIME = "runtime"
    STARTED = "started"
    RELOADED = "reloaded"
    INVALID = "invalid"       # haproxy -c refused the config; the old one keeps serving
    FAILED = "failed"         # the reload did not bring a new worker up


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message: str = ""


def _crt_lines(crt_list: str) -> dict[str, str]:
    return {line.split()[0]: line for line in crt_list.splitlines() if line.strip()}


def needs_reload(previous: Rendered, current: Rendered) -> bool:
    if previous.config != current.config and \
            render.shape(previous.config) != render.shape(current.config):
        return True
    if previous.lua != current.lua or previous.default_certificate != \
            current.default_certificate:
        return True
    before, after = _crt_lines(previous.crt_list), _crt_lines(current.crt_list)
    return any(after.get(path) != line for path, line in before.items())


def server_commands(previous: dict[str, Slots], current: dict[str, Slots]) -> list[str]:
    commands: list[str] = []
    for backend, slots in sorted(current.items()):
        old = previous.get(backend, ())
        for i, server in enumerate(slots, start=1):
            was = old[i - 1] if i - 1 < len(old) else None
            if server == was:
                continue
            name = f"{backend}/s{i}"
            if server is None:
                commands.append(f"set server {name} state maint")
            else:
                commands += [f"set server {name} addr {server.address} port {server.port}",
                             f"set server {name} state ready"]
    return commands


Renderer = Callable[[Any, dict[str, Slots], Settings], Rendered]


class Applier:
    """Runs plans on one HAProxy. `renderer` turns a plan (anything whose `backends`
    have `name` and `servers`) into files: Ingress's by default, the Gateway's too."""

    def __init__(self, settings: Settings, haproxy: HAProxyProcess,
                 renderer: Renderer = render.render_config, precheck: bool = True) -> None:
        """`precheck=False`: a reload skips `haproxy -c` (a failed reload leaves the old
        worker serving; for renderers that only produce configs HAProxy accepts)."""
        self.settings = settings
        self.precheck = precheck
        self.renderer = renderer
        self.haproxy = haproxy
        self.root = Path(settings.state_dir)
        self.staging = replace(settings, state_dir=PurePosixPath(self.root / "staging"))
        self.running: Rendered | None = None
        self.slots: dict[str, Slots] = {}
        self.reloads = 0
        self.failed_reloads = 0
        self.runtime_updates = 0

    def place(self, plan: Any) -> dict[str, Slots]:
        return {b.name: assign_slots(b.servers, self.slots.get(b.name, ()),
                                     self.settings.slot_scale) for b in plan.backends}

    async def apply(self, plan: Any) -> Result:
        slots = self.place(plan)
        current = self.renderer(plan, slots, self.settings)
        if self.running is not None and current == self.running and self.haproxy.running:
            return Result(Outcome.UNCHANGED)
        starting = not self.haproxy.running or self.running is None
        if not starting and self.running is not None and \
                not needs_reload(self.running, current):
            # Same shape as the checked config HAProxy runs: no `haproxy -c` needed.
            try:
                await self._runtime(current, slots)
                write_files(self.root, current)
                self.runtime_updates += 1
                return self._done(current, slots, Result(Outcome.RUNTIME))
            except (RuntimeError_, OSError) as exc:
                log.warning("runtime update refused (%s); reloading", exc)
        valid, message = self._check(plan, slots) if starting or self.precheck else (True, "")
        if not valid:
            log.error("generated HAProxy config is invalid, keeping the running one: %s",
                      message)
            return Result(Outcome.INVALID, message)
        write_files(self.root, current)
        if starting:
            await self.haproxy.start()
            return self._done(current, slots, Result(Outcome.STARTED))
        self.reloads += 1
        if not await self.haproxy.reload():
            self.failed_reloads += 1
            return Result(Outcome.FAILED, "HAProxy did not start a new worker")
        return self._done(current, slots, Result(Outcome.RELOADED))

    def _done(self, current: Rendered, slots: dict[str, Slots], result: Result) -> Result:
        self.running, self.slots = current, slots
        return result

    def _check(self, plan: Any, slots: dict[str, Slots]) -> tuple[bool, str]:
        staged = self.renderer(plan, slots, self.staging)
        directory = Path(self.staging.state_dir)
        write_files(directory, staged)
        return check_config(directory / "haproxy.cfg", self.haproxy.binary)

    async def _runtime(self, current: Rendered, slots: dict[str, Slots]) -> None:
        assert self.running is not None
        runtime = self.haproxy.runtime
        commands = server_commands(self.slots, slots)
        for start in range(0, len(commands), 50):
            await runtime.execute(*commands[start:start + 50])
        for name, text in current.maps.items():
            if self.running.maps.get(name) != text:
                await self._replace_map(str(render.map_path(self.settings, name)), text)
        before = _crt_lines(self.running.crt_list)
        for name, pem in current.certificates.items():
            path = str(render.cert_path(self.settings, name))
            if path not in before:
                await runtime.execute(f"new ssl cert {path}")
            if self.running.certificates.get(name) != pem:
                await runtime.payload(f"set ssl cert {path}", pem)
                await runtime.execute(f"commit ssl cert {path}")
            if path not in before:
                line = _crt_lines(current.crt_list)[path]
                await runtime.payload(
                    f"add ssl crt-list {render.crt_list_path(self.settings)}", line)

    async def _replace_map(self, path: str, text: str) -> None:
        runtime = self.haproxy.runtime
        answer = await runtime.execute(f"prepare map {path}")
        version = answer.strip().rsplit(":", 1)[-1].strip()
        if text.strip():
            await runtime.payload(f"add map @{version} {path}", text)
        await runtime.execute(f"commit map @{version} {path}")
