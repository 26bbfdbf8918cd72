"""One container's life in a pod: resolve, start, probe, wait, restart with back-off.

A `ContainerRunner` owns one `ContainerRecord` and mutates it only from its own
tasks, calling `pod.mark_dirty()` after each change so the pod worker reports
the status.  `loop(policy)` is kubelet's per-container part of `SyncPod`:
start; wait; on exit restart according to the restart policy, immediately the
first time and then after the crash-loop back-off (state waiting
`CrashLoopBackOff`, `lastState` the exit, `restartCount` + 1 on each restart).
Config and image errors leave the container waiting with their reason and are
retried every `CONFIG_RETRY_SECONDS`.  Probe tasks live as long as one run of
the process: startup gates liveness and readiness; readiness drives `ready`;
a liveness (or startup) failure kills the process group, and the restart policy
decides what follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import secrets
import signal
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.agent._adoption import container_labels, reported_status, restore_running
from portico.agent._attach import AttachableProcess
from portico.agent._backoff import CRASH_LOOP_BACK_OFF, back_off_message
from portico.agent._env import EnvError, container_env, expand
from portico.agent._names import container_log, pod_dir
from portico.agent._prober import ProbeTarget, run_probe
from portico.agent._probes import ProbeResult, ProbeTiming, ProbeTracker, ProbeType
from portico.agent._runtime import ContainerProcess, run_exec
from portico.agent._status import ContainerRecord, Reason, RestartPolicy, State
from portico.images import ImageError, resolve

if TYPE_CHECKING:
    from portico.agent._pod import PodWorker

log = logging.getLogger("portico.agent.containers")
CONFIG_RETRY_SECONDS = 10.0
CONTAINER_DIR_ENV = "PORTICO_CONTAINER_DIR"
Object = dict[str, Any]


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make_files(scratch: Path, log: Path) -> None:
    """The container's directories and its (empty) log file; run in a thread, as the
    disk may be slow to create them."""
    scratch.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()


def container_ports(spec: Object) -> dict[str, int]:
    return {p["name"]: int(p["containerPort"]) for p in spec.get("ports") or [] if p.get("name")}


class ContainerRunner:
    def __init__(self, pod: PodWorker, spec: Object, record: ContainerRecord) -> None:
        self.pod = pod
        self.spec = spec
        self.record = record
        self.proc: ContainerProcess | None = None
        self.env: dict[str, str] = {}
        self.working_dir = "/"
        self.stopping = False
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self._probes: list[asyncio.Task[None]] = []

    @property
    def key(self) -> str:
        return f"{self.pod.uid}/{self.record.name}"

    def scratch_dir(self) -> Path:
        """The container's own directory (its default working directory)."""
        return pod_dir(self.pod.ctx.config.data_dir, self.pod.uid) / self.spec["name"] / "root"

    def _prepare(self) -> tuple[list[str], dict[str, str], str | None]:
        pod, spec = self.pod, self.spec
        env = container_env(pod.pod, spec, pod.env_sources)
        workdir = self.scratch_dir()
        env.setdefault(CONTAINER_DIR_ENV, str(workdir))
        command = [expand(c, env) for c in spec.get("command") or []] or None
        args = [expand(a, env) for a in spec.get("args") or []] or None
        resolved = resolve(spec.get("image", ""), command, args, pod.ctx.mappings)
        return resolved.argv, {**resolved.env, **env}, (spec.get("workingDir")
                                                         or resolved.working_dir)

    def _waiting(self, reason: str, message: str = "") -> None:
        rec = self.record
        rec.state, rec.reason, rec.message = State.WAITING, reason, message
        rec.ready = rec.started = False
        self.pod.mark_dirty()

    async def _adopt(self) -> bool:
        """Take this container over from a previous agent's launcher, if it kept it."""
        found = await self.pod.ctx.spawner.adopt(self.pod.uid, self.record.name)
        if found is None:
            return False
        adopted, proc = found
        rec = self.record
        restore_running(rec, adopted.labels, reported_status(self.pod.pod, rec.name, False),
                        self.spec)
        with contextlib.suppress(EnvError, ImageError):
            self.env = self._prepare()[1]  # for exec probes
        self.working_dir = str(adopted.labels.get("workingDir") or "/")
        log = container_log(self.pod.ctx.config.data_dir, self.pod.uid, rec.name,
                            rec.restart_count)
        self.proc = await AttachableProcess.adopt(proc, log, adopted.fds.get("tty"), self.spec)
        self._started = asyncio.Event()
        if rec.started:
            self._started.set()
        self.pod.mark_dirty()
        return True

    async def _start(self) -> bool:
        if await self._adopt():
            return True
        rec = self.record
        try:
            argv, self.env, workdir = self._prepare()
        except (EnvError, ImageError) as error:
            self._waiting(str(error.reason), error.message)
            return False
        log = container_log(self.pod.ctx.config.data_dir, self.pod.uid, rec.name,
                            rec.restart_count)
        await asyncio.to_thread(_make_files, self.scratch_dir(), log)
        container_id, started_at = f"portico://{secrets.token_hex(32)}", now_rfc3339()
        labels = container_labels(self.pod.uid, replace(
            rec, container_id=container_id, started_at=started_at), workdir or "/")
        try:
            self.proc = await AttachableProcess.start_attachable(
                self.pod.ctx.spawner, self.pod.place, argv, self.env, workdir, log, self.spec,
                labels)
        except OSError as error:
            self._waiting("RunContainerError", str(error))
            return False
        except Exception as error:  # a bug must not end the pod's worker silently
            log.exception("container %s: start failed", self.key)
            self._waiting("RunContainerError", repr(error))
            return False
        self.working_dir = workdir or "/"
        rec.container_id = container_id
        rec.state, rec.reason, rec.message = State.RUNNING, "", ""
        rec.started_at, rec.finished_at, rec.exit_code, rec.signal = started_at, None, None, None
        rec.started = "startupProbe" not in self.spec
        rec.ready = rec.started and "readinessProbe" not in self.spec
        self._started = asyncio.Event()
        if rec.started:
            self._started.set()
        self.pod.mark_dirty()
        return True

    async def _run_once(self) -> bool:
        """Start the process and wait for its exit; False if it could not start."""
        if not await self._start():
            return False
        assert self.proc is not None
        proc, started_mono = self.proc, self.pod.ctx.clock()
        for ptype in ProbeType:
            probe = self.spec.get(f"{ptype.value}Probe")
            if probe:
                self._probes.append(asyncio.create_task(
                    self._probe_loop(ptype, probe, proc, started_mono)))
        code, sig = await proc.wait()
        for task in self._probes:
            task.cancel()
        self._probes.clear()
        rec = self.record
        rec.state, rec.exit_code, rec.signal = State.TERMINATED, code, sig
        rec.reason = Reason.COMPLETED if code == 0 else Reason.ERROR
        rec.finished_at, rec.ready, rec.started = now_rfc3339(), False, False
        self.pod.mark_dirty()
        return True

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def loop(self, policy: RestartPolicy) -> None:
        """Run until done under `policy` (init containers: OnFailure or Never)."""
        backoff, clock, rec = self.pod.ctx.backoff, self.pod.ctx.clock, self.record
        while not self.stopping:
            if not await self._run_once():
                await self._sleep(CONFIG_RETRY_SECONDS)
                continue
            if self.stopping or policy is RestartPolicy.NEVER:
                return
            if rec.exit_code == 0 and policy is RestartPolicy.ON_FAILURE:
                return
            finished, last = clock(), rec.terminated()
            remaining = backoff.remaining(self.key, finished, clock())
            if remaining > 0:
                meta = self.pod.pod["metadata"]
                self._waiting(CRASH_LOOP_BACK_OFF, back_off_message(
                    backoff.current(self.key), rec.name, meta["name"], meta["namespace"],
                    self.pod.uid))
                rec.last_terminated = last
                await self._sleep(remaining)
                if self.stopping:
                    return
            backoff.next(self.key, clock())
            rec.last_terminated = last
            rec.restart_count += 1

    async def _probe_loop(self, ptype: ProbeType, probe: Object, proc: ContainerProcess,
                          started_mono: float) -> None:
        clock = self.pod.ctx.clock
        timing = ProbeTiming.from_probe(probe)
        if ptype is not ProbeType.STARTUP:
            await self._started.wait()
        tracker = ProbeTracker(ptype, timing, started_mono)
        target = ProbeTarget(self.pod.pod_ip, proc.pid, self.working_dir,
                             container_ports(self.spec), self.env)
        while proc.running():
            delay = tracker.next_at() - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if not proc.running():
                return
            result = await run_probe(probe, target, timing.timeout)
            changed = tracker.observe(result, clock())
            if changed is not None:
                self._on_probe(ptype, changed, proc)
            if ptype is ProbeType.STARTUP and tracker.reported is ProbeResult.SUCCESS:
                return

    def _on_probe(self, ptype: ProbeType, result: ProbeResult, proc: ContainerProcess) -> None:
        rec = self.record
        if ptype is ProbeType.READINESS:
            rec.ready = result is ProbeResult.SUCCESS and not self.pod.terminating
        elif ptype is ProbeType.STARTUP and result is ProbeResult.SUCCESS:
            rec.started = True
            rec.ready = "readinessProbe" not in self.spec and not self.pod.terminating
            self._started.set()
        elif result is ProbeResult.FAILURE:
            asyncio.create_task(self._kill(proc, self.pod.grace_period()))
        self.pod.mark_dirty()

    async def _kill(self, proc: ContainerProcess, grace: float) -> None:
        proc.kill_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill_group(signal.SIGKILL)
            await proc.wait()

    async def stop(self, grace: float, pre_stop: bool) -> None:
        """Stop for good: preStop hook (exec), SIGTERM, SIGKILL after `grace` seconds."""
        self.stopping = True
        self._stop.set()
        if self.proc is None:  # kept by the launcher for a pod deleted while no agent ran
            await self._adopt()
        proc = self.proc
        if proc is None or not proc.running():
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        hook = ((self.spec.get("lifecycle") or {}).get("preStop") or {}).get("exec")
        if pre_stop and hook and grace > 0:
            await run_exec(proc.pid, hook.get("command") or [], self.env, self.working_dir,
                           grace)
        await self._kill(proc, max(deadline - loop.time(), 0.0))
