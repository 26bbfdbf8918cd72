"""`main(config_path)`: the agent process, run until SIGTERM/SIGINT (then a node shutdown)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from portico.agent._config import AgentConfig
from portico.agent._spawner import Spawner
from portico.logs import setup as setup_logging

log = logging.getLogger("portico.agent")


async def _run(config: AgentConfig, spawner: Spawner) -> int:
    from portico.agent._agent import Agent

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    agent = Agent(config, spawner=spawner)
    try:
        await agent.start()
        print(f"portico agent: node {config.node_name} is up", flush=True)
        await stop.wait()
    finally:
        await agent.stop()
    return 0


def main(config_path: Path) -> int:
    setup_logging()
    config = AgentConfig.from_file(Path(config_path))
    spawner = Spawner.forked()  # before the event loop: the launcher shares our modules
    return asyncio.run(_run(config, spawner))
