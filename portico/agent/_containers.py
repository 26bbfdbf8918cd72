"""One container's life in a pod: resolve, start, probe, wait, restart with back-off.

A `ContainerRunner` owns one `ContainerRecord` and mutates it only from its own
tasks, calling `pod.mark_dirty()` after each change so the pod worker reports
the status (of its pod it sees only `RunnerPod`, `_runner_pod`).  `loop(policy)`
is kubelet's per-container part of `SyncPod`:
start; wait; on exit restart according to the restart policy, immediately the
first time and then after the crash-loop back-off (state waiting
`CrashLoopBackOff`, `lastState` the exit, `restartCount` + 1 on each restart).
Config and image errors leave the container waiting with their reason and are
retried every `CONFIG_RETRY_SECONDS`; an image that cannot be had is tried again
on kubelet's image back-off (`ErrImagePull`, then `ImagePullBackOff`, `_oci_backoff`).  A
process that cannot be started (no such executable) is reported as the runtime
does: terminated, reason `StartError`, exit code 128 and the launcher's message,
after which the restart policy and back-off apply as to any exit.  kubelet's events
go with each step (`_events`): Pulled (or Pulling and Failed), Created, Started or
Failed, BackOff, Unhealthy with the probe's output, Killing.  Probe tasks live as long as one run of
the process: startup gates liveness and readiness; readiness drives `ready`;
a liveness (or startup) failure kills the process group, and the restart policy
decides what follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import secrets
import signal
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.agent import _events as ev
from portico.agent._adoption import container_labels, reported_status, restore_running
from portico.agent._attach import AttachableProcess
from portico.agent._backoff import CRASH_LOOP_BACK_OFF, back_off_message
from portico.agent._env import CONFIG_ERROR, EnvError, container_env, expand
from portico.agent._image_events import (
    ERR_IMAGE_PULL,
    IMAGE_PULL_BACK_OFF,
    image_failed,
    image_ready,
)
from portico.agent._names import container_log, pod_dir
from portico.agent._oci import (
    OOM_KILLED,
    adopt_image_container,
    created,
    finish_image_container,
    launched,
    start_image_container,
)
from portico.agent._oci_backoff import backoff_key
from portico.agent._oci_namespaces import shared_namespaces
from portico.agent._prober import ProbeTarget, run_probe
from portico.agent._probes import ProbeResult, ProbeTiming, ProbeTracker, ProbeType
from portico.agent._runtime import ContainerProcess, run_exec
from portico.agent._spawner import PodPlace
from portico.agent._status import ContainerRecord, Reason, State
from portico.agent._volumes import VolumeError, container_mounts
from portico.images import ImageError, resolve
from portico.model.vocabulary import EventType, RestartPolicy
from portico.oci import OciContainer

if TYPE_CHECKING:
    from portico.agent._runner_pod import RunnerPod

log = logging.getLogger("portico.agent.containers")
CONFIG_RETRY_SECONDS = 10.0
CONTAINER_DIR_ENV = "PORTICO_CONTAINER_DIR"
START_ERROR = "StartError"
START_ERROR_EXIT_CODE = 128
NEVER_STARTED = "1970-01-01T00:00:00Z"  # containerd's zero start time, as kubelet reports it
ROOT_STAGING = "rootfs"
Object = dict[str, Any]


class Attempt(StrEnum):
    """How an attempt to start the container ended."""
    STARTED = "started"
    START_ERROR = "start-error"  # created but could not start: terminated StartError
    NOT_CREATED = "not-created"  # image or config error: waiting, retried later


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _make_files(scratch: Path | None, log: Path) -> None:
    """The container's directories (a process container's own, and an empty one to
    stage a new root in, see `_mounts`; an image's has its bundle) and its (empty) log
    file; run in a thread, as the disk may be slow to create them."""
    if scratch is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        (scratch.parent / ROOT_STAGING).mkdir(exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.touch()


def container_ports(spec: Object) -> dict[str, int]:
    return {p["name"]: int(p["containerPort"]) for p in spec.get("ports") or [] if p.get("name")}


class ContainerRunner:
    def __init__(self, pod: RunnerPod, spec: Object, record: ContainerRecord) -> None:
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
        self.oci: OciContainer | None = None  # a pulled image's container, under crun

    @property
    def key(self) -> str:
        return f"{self.pod.uid}/{self.record.name}"

    def scratch_dir(self) -> Path:
        """The container's own directory (its default working directory)."""
        return pod_dir(self.pod.ctx.config.data_dir, self.pod.uid) / str(self.spec["name"]) / "root"

    def _place(self, env: dict[str, str]) -> PodPlace:
        """The pod's place with this container's volume mounts (raises VolumeError)."""
        pod = self.pod
        mounts = container_mounts(self.spec, pod.pod["spec"].get("volumes") or [],
                                  pod.volumes.paths, env)
        staging = self.scratch_dir().parent / ROOT_STAGING
        return dataclasses.replace(pod.place, mounts=mounts, root_staging=str(staging))

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

    def _event(self, event_type: EventType, reason: ev.Reason, message: str) -> None:
        self.pod.ctx.events.emit(self.pod.pod, event_type, reason, message,
                                 ev.field_path(self.record.name, self.record.init))

    def _create_failed(self, reason: str, message: str, event_text: str = "") -> None:
        """Waiting with `reason`; kubelet's `Error: ...` event (the reason for image
        errors, the message for the others)."""
        self._event(EventType.WARNING, ev.Reason.FAILED,
                    ev.ERROR.format(message=event_text or message))
        self._waiting(reason, message)

    def _retry_delay(self) -> float:
        """Seconds before a container that was not created is tried again."""
        reason = self.record.reason
        if reason not in (ERR_IMAGE_PULL, IMAGE_PULL_BACK_OFF):
            return CONFIG_RETRY_SECONDS
        key = backoff_key(self.pod.uid, self.record.image)
        return self.pod.ctx.images.backoff.delay(key, reason, self.pod.ctx.clock())

    def _start_failed(self, detail: str) -> None:
        """The process could not be started: terminated StartError, as containerd says."""
        rec = self.record
        message = f"failed to create portico task: unable to start container process: " \
                  f"{detail}: unknown"
        rec.container_id = f"portico://{secrets.token_hex(32)}"
        rec.state, rec.reason, rec.message = State.TERMINATED, START_ERROR, message
        rec.exit_code, rec.signal = START_ERROR_EXIT_CODE, None
        rec.started_at, rec.finished_at = NEVER_STARTED, now_rfc3339()
        rec.ready = rec.started = False
        self._event(EventType.WARNING, ev.Reason.FAILED, ev.ERROR.format(message=message))
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
        self.oci = adopt_image_container(self, proc.pid)
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

    async def _start(self) -> Attempt:
        if await self._adopt():
            return Attempt.STARTED
        rec = self.record
        if self.pod.ctx.images.pulls(rec.image, self.pod.ctx.mappings):
            return await self._start_image()
        try:
            argv, self.env, workdir = self._prepare()
        except ImageError as error:
            image_failed(self, error)
            return Attempt.NOT_CREATED
        except EnvError as error:  # kubelet builds the config after the image is there
            image_ready(self)
            self._create_failed(str(error.reason), error.message)
            return Attempt.NOT_CREATED
        image_ready(self)
        return await self._launch(argv, self.env, workdir)

    async def _start_image(self) -> Attempt:
        """Pull and prepare (with the pod's other containers, in the pod's IPC and UTS
        namespaces), then launch; with a shared PID namespace the first to launch makes
        the namespaces and the others join its."""
        planned = await start_image_container(self)
        if planned is None:
            return Attempt.NOT_CREATED
        oci = planned.container
        if planned.joined:
            return await self._launch(oci.run_argv(), {}, "/", oci)
        try:
            async with self.pod.image_lock:
                joined = await asyncio.to_thread(shared_namespaces, self)
                if joined is None:
                    attempt = await self._launch(oci.run_argv(), {}, "/", oci)
                    await created(oci, self.proc)
                    return attempt
            await asyncio.to_thread(planned.join, joined)
        except (asyncio.CancelledError, OSError) as error:
            if self.oci is not oci:  # never launched: nothing else will clean it up
                await launched(oci, None)
            if isinstance(error, asyncio.CancelledError):
                raise
            self._create_failed("CreateContainerError", str(error))
            return Attempt.NOT_CREATED
        return await self._launch(oci.run_argv(), {}, "/", oci)

    async def _launch(self, argv: list[str], env: dict[str, str], workdir: str | None,
                      oci: OciContainer | None = None) -> Attempt:
        """Start the process (for an image: crun, with `oci`'s bundle ready)."""
        rec = self.record
        log_path = container_log(self.pod.ctx.config.data_dir, self.pod.uid, rec.name,
                                 rec.restart_count)
        await asyncio.to_thread(_make_files, None if oci else self.scratch_dir(), log_path)
        # an image's container: crun in the pod, its volumes mounts of its bundle (`_oci`)
        place = replace(self.pod.place, oci_runtime=True)
        if oci is None:
            try:
                place = await asyncio.to_thread(self._place, env)
            except VolumeError as error:
                self._create_failed(CONFIG_ERROR, str(error))
                return Attempt.NOT_CREATED
        self._event(EventType.NORMAL, ev.Reason.CREATED, ev.CREATED.format(container=rec.name))
        container_id, started_at = f"portico://{secrets.token_hex(32)}", now_rfc3339()
        labels = container_labels(self.pod.uid, replace(
            rec, container_id=container_id, started_at=started_at), workdir or "/")
        try:
            self.proc = await AttachableProcess.start_attachable(
                self.pod.ctx.spawner, place, argv, env, workdir, log_path,
                self.spec, labels)
        except Exception as error:  # a bug must not end the pod's worker silently
            if oci is not None:
                await launched(oci, None)
            if not isinstance(error, OSError):
                log.exception("container %s: start failed", self.key)
            self._start_failed(error.strerror or str(error) if isinstance(error, OSError)
                               else repr(error))
            return Attempt.START_ERROR
        if oci is not None:
            await launched(oci, self.proc.pid)
        self.oci = oci
        self.working_dir = workdir or "/"
        rec.container_id = container_id
        rec.state, rec.reason, rec.message = State.RUNNING, "", ""
        rec.started_at, rec.finished_at, rec.exit_code, rec.signal = started_at, None, None, None
        rec.started = "startupProbe" not in self.spec
        rec.ready = rec.started and "readinessProbe" not in self.spec
        self._started = asyncio.Event()
        if rec.started:
            self._started.set()
        self._event(EventType.NORMAL, ev.Reason.STARTED, ev.STARTED.format(container=rec.name))
        self.pod.mark_dirty()
        return Attempt.STARTED

    async def _run_once(self) -> bool:
        """Start the process and wait for its exit; False if it was not created."""
        attempt = await self._start()
        if attempt is not Attempt.STARTED:
            return attempt is Attempt.START_ERROR
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
        ended = await finish_image_container(self, proc.pid)
        if ended.oom and code == 137:
            rec.reason = OOM_KILLED
        if ended.start_error:
            self._start_failed(ended.start_error)
            return True
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
                await self._sleep(self._retry_delay())
                continue
            if self.stopping or policy is RestartPolicy.NEVER:
                return
            if rec.exit_code == 0 and policy is RestartPolicy.ON_FAILURE:
                return
            finished, last = clock(), rec.terminated()
            remaining = backoff.remaining(self.key, finished, clock())
            if remaining > 0:
                meta = self.pod.pod["metadata"]
                self._event(EventType.WARNING, ev.Reason.BACK_OFF,
                            ev.BACK_OFF.format(container=rec.name,
                                              pod=ev.format_pod(self.pod.pod)))
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
            result, output = await run_probe(probe, target, timing.timeout)
            if result is ProbeResult.FAILURE and proc.running():
                self._event(EventType.WARNING, ev.Reason.UNHEALTHY,
                            ev.unhealthy(ptype.value, output))
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
            self._event(EventType.NORMAL, ev.Reason.KILLING,
                        ev.PROBE_KILL.format(container=rec.name, probe=ptype.value))
            asyncio.create_task(self._kill(proc, self.pod.grace_period()))
        self.pod.mark_dirty()

    async def _kill(self, proc: ContainerProcess, grace: float) -> None:
        proc.kill_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill_group(signal.SIGKILL)
            await proc.wait()

    async def stop(self, grace: float, pre_stop: bool, announce: bool = True) -> None:
        """Stop for good: preStop hook (exec), SIGTERM, SIGKILL after `grace` seconds;
        `announce`: with kubelet's Killing event."""
        self.stopping = True
        self._stop.set()
        if self.proc is None:  # kept by the launcher for a pod deleted while no agent ran
            await self._adopt()
        proc = self.proc
        if proc is None or not proc.running():
            return
        if announce:
            self._event(EventType.NORMAL, ev.Reason.KILLING,
                        ev.STOPPING.format(container=self.record.name))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        hook = ((self.spec.get("lifecycle") or {}).get("preStop") or {}).get("exec")
        if pre_stop and hook and grace > 0:
            code, _ = await run_exec(proc.pid, hook.get("command") or [], self.env,
                                     self.working_dir, grace)
            if code != 0:  # kubelet keeps the hook's output out of the event (secrets)
                self._event(EventType.WARNING, ev.Reason.FAILED_PRE_STOP_HOOK,
                            ev.PRE_STOP_HOOK_FAILED)
        await self._kill(proc, max(deadline - loop.time(), 0.0))
        await finish_image_container(self, proc.pid)
