"""Start the controllers: watches trigger coalescing runners that resync from full state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Namespace

from portico.controllers._garbage import GarbageCollector
from portico.controllers._kinds import OWNED_KINDS
from portico.controllers._namespace import NamespaceController
from portico.controllers._runner import CoalescingRunner

log = logging.getLogger("portico.controllers")


class ControllerManager:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: list[CoalescingRunner] = []
        self._client: AsyncClient | None = None

    async def start(self) -> None:
        config = KubeConfig.from_file(str(self.kubeconfig))
        self._client = AsyncClient(config=config, field_manager="portico-controller-manager")
        namespaces = CoalescingRunner("namespace-controller",
                                      NamespaceController(self._client).sync, 0.05, 10.0)
        garbage = CoalescingRunner("garbage-collector",
                                   GarbageCollector(self._client).sync, 0.05, 30.0)
        self._runners = [namespaces, garbage]
        for runner in self._runners:
            runner.start()
        self._watch(Namespace, [namespaces, garbage])
        for kind in OWNED_KINDS:
            self._watch(kind, [garbage])

    def _watch(self, kind: type, runners: list[CoalescingRunner]) -> None:
        async def follow() -> None:
            assert self._client is not None
            namespaced = "Namespaced" in kind.__mro__[1].__name__
            while True:
                try:
                    stream = self._client.watch(kind, namespace="*") if namespaced else \
                        self._client.watch(kind)
                    async for _event, _obj in stream:
                        for runner in runners:
                            runner.run()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - watches are re-established
                    log.debug("watch %s ended: %s", kind.__name__, exc)
                    await asyncio.sleep(0.5)

        self._tasks.append(asyncio.create_task(follow(), name=f"watch-{kind.__name__}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for runner in self._runners:
            await runner.stop()
        if self._client:
            await self._client.close()
