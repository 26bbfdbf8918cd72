"""The agent's side of real images: which images it pulls, kubelet's pull policy and
events, and a container's start under crun (`portico.oci`).

`ImageRuntime.pulls(image)`: any image that is neither mapped (the user's mapping
wins) nor built in is pulled; built-in ones too when the cluster asks for real
catalog images (`pull_builtin_images`).  `start_image_container(runner)` is
kubelet's EnsureImageExists then CreateContainer for one such container:
- pull policy (default `Always` for `:latest` or no tag, else `IfNotPresent`):
  `Never` and absent -> `ErrImageNeverPull`; present -> `Pulled` "already present";
  else `Pulling`, the pull (credentials: the pod's `imagePullSecrets`, else its
  service account's), then `Pulled` "Successfully pulled image ... in 1.2s (1.2s
  including waiting). Image size: N bytes." or `Failed` + `ErrImagePull`, and
  kubelet's per pod and image back-off (`_oci_backoff`: `ImagePullBackOff`);
- the runtime config (`_spec`): argv, env, user, runAsNonRoot, mounts (hosts,
  resolv.conf, hostname, service-account token, emptyDir volumes), resources; a
  config error is `CreateContainerConfigError`/`CreateContainerError`;
- the pod's IPC and UTS namespaces joined (`_oci_namespaces`, made once per pod;
  with shareProcessNamespace a running peer's, at launch), the bundle and cgroups
  (`OciContainer.create`), in one thread per container, the pod's containers at
  once; then the launcher runs `crun run` in the pod (`runner.launch`).
  `finish_image_container` after the exit tells an OOM kill (`OOMKilled`, 137),
  removes every trace of the container and collects the store's garbage when its
  image was removed meanwhile (`portico.oci._gc`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portico.agent import _events as ev
from portico.agent._env import CONFIG_ERROR, EnvError, container_env, expand
from portico.agent._image_events import pull_backed_off, pull_failed
from portico.agent._names import serviceaccount_dir, uid_hex
from portico.agent._oci_backoff import PullBackoff
from portico.agent._oci_namespaces import pod_namespaces_for
from portico.agent._volumes import VolumeError, container_mounts
from portico.images._catalog import BUILTIN
from portico.images._mappings import MappingSource
from portico.images._reference import Reference, parse
from portico.model.kinds import SECRET, SERVICE_ACCOUNT
from portico.model.quantity import value as memory_bytes
from portico.model.vocabulary import EventType, ImagePullPolicy
from portico.oci import (
    BindMount,
    ImageStore,
    OciContainer,
    Puller,
    PullError,
    SpecError,
    StoredImage,
    StoreError,
    _gc,
    _registries,
    _spec,
    full_ref,
    register,
    unregister,
)
from portico.oci._container import RUNTIME_STATE, cgroup_base
from portico.oci._seccomp import profile_for

if TYPE_CHECKING:
    from portico.agent._config import AgentConfig
    from portico.agent._containers import ContainerRunner
    from portico.agent._runtime import ContainerProcess

Object = dict[str, Any]
OOM_KILLED = "OOMKilled"
NETNS_ETC = "/etc/netns"  # the pod's hosts and resolv.conf (`_sandbox`)
SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
PULL_HINT = ('{error}; image "{image}" is not built into portico: push it to a registry this '
             "machine reaches, load it with `portico image load`, or map the image in {hint}")
PULLED = ('Successfully pulled image "{image}" in {pull} ({total} including waiting). '
          "Image size: {size} bytes.")


def go_duration(seconds: float) -> str:
    """Go's Duration text truncated to milliseconds, as kubelet prints pull times."""
    ms = int(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:g}s"
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes}m{rest / 1000:g}s"


def pull_policy(container: Object, ref: Reference) -> str:
    policy = container.get("imagePullPolicy")
    if policy:
        return str(policy)
    return "Always" if not ref.digest and ref.tag in (None, "latest") else "IfNotPresent"


class ImageRuntime:
    """The node's image service: disabled (no store) in agents run on their own."""

    def __init__(self, config: AgentConfig | None) -> None:
        self.config = config
        self.store: ImageStore | None = None
        self.puller: Puller | None = None
        self.backoff = PullBackoff()
        if config is not None and config.image_store is not None:
            self.store = ImageStore(config.image_store)
            self.puller = Puller(self.store, _registries.load(config.registries_file),
                                 config.pull_netns)

    @classmethod
    def disabled(cls) -> ImageRuntime:
        return cls(None)

    def pulls(self, image: str, mappings: MappingSource) -> bool:
        if self.store is None or self.config is None:
            return False
        try:
            ref = parse(image)
        except ValueError:
            return False  # InvalidImageName, as for any image
        if mappings.lookup(ref) is not None:
            return False
        return ref.name not in BUILTIN or self.config.pull_builtin_images


async def _pull_credentials(runner: ContainerRunner, registry: str) -> list[tuple[str, str]]:
    """The pod's pull secrets (else its service account's), for `registry`."""
    pod = runner.pod
    spec, client = pod.pod.get("spec") or {}, pod.ctx.client
    refs = spec.get("imagePullSecrets") or []
    if not refs:
        account = await client.get_or_none(SERVICE_ACCOUNT,
                                           spec.get("serviceAccountName") or "default",
                                           pod.namespace)
        refs = (account or {}).get("imagePullSecrets") or []
    out: list[tuple[str, str]] = []
    for ref in refs:
        secret = await client.get_or_none(SECRET, ref.get("name", ""), pod.namespace)
        for key in (".dockerconfigjson", ".dockercfg"):
            data = ((secret or {}).get("data") or {}).get(key)
            if data:
                out += _registries.secret_credentials(json.loads(base64.b64decode(data)),
                                                      registry)
    return out


async def ensure_image(runner: ContainerRunner, ref: Reference) -> StoredImage | None:
    """kubelet's EnsureImageExists with its events; None when the container must wait."""
    rt = runner.pod.ctx.images
    assert rt.store is not None and rt.puller is not None and rt.config is not None
    image, name, node = runner.record.image, full_ref(ref), rt.config.node_name
    policy = pull_policy(runner.spec, ref)
    present = await asyncio.to_thread(rt.store.lookup, name, node)
    if present is not None and policy != ImagePullPolicy.ALWAYS:
        runner._event(EventType.NORMAL, ev.Reason.PULLED, ev.ALREADY_PRESENT.format(image=image))
        return present
    if policy == ImagePullPolicy.NEVER:
        message = ev.NEVER_PULL.format(image=image)
        runner._event(EventType.WARNING, ev.Reason.ERR_IMAGE_NEVER_PULL, message)
        runner._create_failed(ev.Reason.ERR_IMAGE_NEVER_PULL, message,
                             ev.Reason.ERR_IMAGE_NEVER_PULL)
        return None
    if pull_backed_off(runner):
        return None
    runner._event(EventType.NORMAL, ev.Reason.PULLING, ev.PULLING.format(image=image))
    try:
        credentials = await _pull_credentials(runner, ref.registry)
        pulled = await rt.puller.pull(ref, node, credentials)
    except PullError as error:
        pull_failed(runner, PULL_HINT.format(error=error, image=image,
                                             hint=runner.pod.ctx.mappings.hint))
        return None
    rt.backoff.succeeded(runner.pod.ctx.clock())
    took = go_duration(pulled.seconds)
    runner._event(EventType.NORMAL, ev.Reason.PULLED, PULLED.format(
        image=image, pull=took, total=took, size=pulled.image.size))
    return pulled.image


def _mounts(runner: ContainerRunner, hostname_file: Path,
            env: dict[str, str]) -> list[BindMount]:
    """/etc/hosts, resolv.conf and hostname, the service-account token, then the
    container's volumes: the same machine paths a process container mounts (`_volumes`)."""
    pod, cfg = runner.pod, runner.pod.ctx.config
    etc = Path(NETNS_ETC) / pod.netns
    mounts = [BindMount(str(etc / name), f"/etc/{name}") for name in ("hosts", "resolv.conf")
              if (etc / name).exists()]
    mounts.append(BindMount(str(hostname_file), "/etc/hostname"))
    volumes = container_mounts(runner.spec, pod.pod["spec"].get("volumes") or [],
                               pod.volumes.paths, env)
    sa = serviceaccount_dir(cfg.data_dir, pod.uid)
    if sa.is_dir() and all(m.target != SA_MOUNT for m in volumes):
        mounts.append(BindMount(str(sa), SA_MOUNT, read_only=True))
    mounts += [BindMount(m.source, m.target, m.read_only) for m in volumes]
    return mounts


def _plan(runner: ContainerRunner, image: StoredImage, env: dict[str, str],
          joined: dict[str, str] | None) -> PlannedContainer:
    """The container's bundle and config.json, joining the pod's namespaces `joined`
    (blocking: reads the image's files)."""
    store = runner.pod.ctx.images.store
    assert store is not None
    cid = _container_id(runner)
    with store.locked(shared=True):  # leased at once: GC keeps the layers while in use
        lower = store.unpacked_if_present(image)
        lease = _gc.lease(store, lower, cid) if lower else None
    if lease is None:  # a layer to unpack first (a loaded image's, or one collected)
        with store.locked():
            lower = store.unpacked(image)
            lease = _gc.lease(store, lower, cid)
    try:
        return _configure(runner, image, env, lower, lease, joined)
    except BaseException:
        lease.unlink(missing_ok=True)
        raise


def image_file(layers: tuple[Path, ...], path: str) -> str:
    """A regular file of the image as its container sees it (the top layer that has the
    name wins; a whiteout, link or directory there reads as no file)."""
    for layer in layers:
        found = layer / path
        if os.path.lexists(found):
            return found.read_text(errors="replace") if stat.S_ISREG(
                found.lstat().st_mode) else ""
    return ""


def _configure(runner: ContainerRunner, image: StoredImage, env: dict[str, str],
               lower: tuple[Path, ...], lease: Path,
               joined: dict[str, str] | None) -> PlannedContainer:
    pod, spec = runner.pod, runner.spec
    store = pod.ctx.images.store
    assert store is not None
    image_config = store.config(image).get("config") or {}
    security = _spec.security_context(pod.pod.get("spec") or {}, spec)
    _spec.check_run_as_non_root(security, image_config.get("User") or "",
                                ev.format_pod(pod.pod), spec["name"])
    user = _spec.resolve_user(image_config.get("User") or "", image_file(lower, "etc/passwd"),
                              image_file(lower, "etc/group"),
                              security.get("runAsUser"), security.get("runAsGroup"))
    command = [expand(c, env) for c in spec.get("command") or []] or None
    args = [expand(a, env) for a in spec.get("args") or []] or None
    process = _spec.ProcessSpec(
        _spec.merged_argv(command, args, image_config),
        _spec.merged_env(image_config, pod.place.hostname, env),
        spec.get("workingDir") or image_config.get("WorkingDir") or "/", user,
        bool(spec.get("tty")))
    limit = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
    container = _container(runner, lower, memory_bytes(str(limit)) if limit is not None
                           else None, lease)
    container.bundle.mkdir(parents=True, exist_ok=True)
    hostname = container.bundle / "hostname"
    hostname.write_text(pod.place.hostname + "\n")
    config = _spec.runtime_config(process, _mounts(runner, hostname, env),
                                  container.cgroup_parent + "/c", spec.get("resources") or {},
                                  pod.place.hostname, profile_for(security))
    if joined is not None:
        _spec.join(config, joined)
    container.create(config)
    return PlannedContainer(container, config, joined is not None)


@dataclass(frozen=True)
class PlannedContainer:
    """A container made but not launched; `joined`: its config.json joins the pod's
    namespaces already (else, with shareProcessNamespace, a running peer's, if any,
    when it launches)."""
    container: OciContainer
    config: dict[str, Any]
    joined: bool

    def join(self, joined: dict[str, str]) -> None:
        """Join the pod's namespaces (`shared_namespaces`), if any (blocking)."""
        if joined:
            _spec.join(self.config, joined)
            self.container.write_config(self.config)


async def start_image_container(runner: ContainerRunner) -> PlannedContainer | None:
    """Pull as needed and create the container's bundle (the pod's containers do this
    at once; only the launch waits for a peer's namespaces); None: it waits (reported)."""
    rec = runner.record
    ref = parse(rec.image)
    image = await ensure_image(runner, ref)
    if image is None:
        return None
    try:
        env = container_env(runner.pod.pod, runner.spec, runner.pod.env_sources)
        joined = await pod_namespaces_for(runner)
        planned = await asyncio.to_thread(_plan, runner, image, env, joined)
    except EnvError as error:
        runner._create_failed(str(error.reason), error.message)
        return None
    except VolumeError as error:
        runner._create_failed(CONFIG_ERROR, str(error))
        return None
    except (SpecError, StoreError, OSError) as error:
        reason = error.reason if isinstance(error, SpecError) else "CreateContainerError"
        runner._create_failed(reason, str(error))
        return None
    runner.env = env
    rec.image_ref, rec.image_id = image.ref, image.image_id
    return planned


def _container_id(runner: ContainerRunner) -> str:
    """The container's runtime id: one per pod, container and restart."""
    rec = runner.record
    return f"{uid_hex(runner.pod.uid)[:12]}-{rec.name}-{rec.restart_count}"


def _container(runner: ContainerRunner, lower: tuple[Path, ...], memory_limit: int | None,
               lease: Path | None = None) -> OciContainer:
    """The container's runtime identity, bundle and cgroup."""
    cfg, cid = runner.pod.ctx.config, _container_id(runner)
    return OciContainer(cid, cfg.data_dir / RUNTIME_STATE, cfg.data_dir / "oci" / cid,
                        f"{cgroup_base(cfg.cluster_name, cfg.node_name)}/{cid}", lower,
                        memory_limit, lease)


def adopt_image_container(runner: ContainerRunner, pid: int) -> OciContainer | None:
    """Re-register a container a previous agent started (same id, same bundle)."""
    container = _container(runner, (), None)
    if not (container.runtime_root / container.id).is_dir():
        return None
    register(pid, container)
    return container


async def launched(container: OciContainer, pid: int | None) -> None:
    """The launcher started crun as `pid` (None: it could not start it)."""
    if pid is None:
        await asyncio.to_thread(container.finish)
    else:
        register(pid, container)


async def created(container: OciContainer, proc: ContainerProcess | None,
                  timeout: float = 10.0) -> None:
    """Wait until crun has made the container (its namespaces exist to be joined), it
    ended, or `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while proc is not None and proc.running() and loop.time() < deadline:
        if container.created():  # one stat, no thread: many pods may wait at once
            return
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class ImageExit:
    oom: bool  # reached its memory limit
    start_error: str  # crun could not start the process: why (runc's words)


async def _finish(container: OciContainer, pid: int, store: ImageStore | None) -> ImageExit:
    unregister(pid)
    ended = ImageExit(await asyncio.to_thread(container.oom_killed),
                      await asyncio.to_thread(container.start_error))
    await asyncio.to_thread(container.finish)
    if store is not None:
        await asyncio.to_thread(_gc.release, store, container.lower)
    return ended


async def finish_image_container(runner: ContainerRunner, pid: int) -> ImageExit:
    """The runner's image container exited: how; every trace removed, once (even if the
    caller is cancelled)."""
    container, runner.oci = runner.oci, None
    if container is None:
        return ImageExit(False, "")
    return await asyncio.shield(_finish(container, pid, runner.pod.ctx.images.store))
