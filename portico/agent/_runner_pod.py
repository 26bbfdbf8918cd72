"""What a container's runner may see and do of its pod: the seam between
`ContainerRunner` (one container, `_containers`, with the image path `_oci` and
`_image_events`) and `PodWorker` (the pod, `_pod`).

The runner reads the node's shared services (`ctx`), the pod's newest object and
the facts its sandbox settled (identity, network namespace and place, IP, volume
paths, the sources of the containers' environment); it sees its sibling runners
(image containers share the pod's namespaces); it reads whether the pod is
terminating and with which grace period; and it does two things: `mark_dirty()`
after each change to its `ContainerRecord` (the pod worker reports the status) and
holding `image_lock` while it starts an image container. `PodWorker` is the one
implementation; nothing else of the worker is the runner's business.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from portico.agent._containers import ContainerRunner
    from portico.agent._env import EnvSources
    from portico.agent._pod import AgentContext
    from portico.agent._spawner import PodPlace
    from portico.agent._volume_manager import PodVolumes


class RunnerPod(Protocol):
    ctx: AgentContext
    pod: dict[str, Any]
    uid: str
    namespace: str
    netns: str
    place: PodPlace
    pod_ip: str
    volumes: PodVolumes
    env_sources: EnvSources
    image_lock: asyncio.Lock
    terminating: bool
    init: list[ContainerRunner]
    containers: list[ContainerRunner]

    def mark_dirty(self) -> None: ...

    def grace_period(self) -> float: ...
