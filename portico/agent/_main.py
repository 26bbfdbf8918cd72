"""`main(config_path)`: the agent process, run until SIGTERM/SIGINT (then a node shutdown)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from portico.agent._config import AgentConfig
from portico.agent._spawner import Spawner
from portico.lifecycle import run_until_signalled
from portico.logs import setup as setup_logging

log = logging.getLogger("portico.agent")


async def _run(config: AgentConfig, spawner: Spawner) -> int:
    from portico.agent._agent import Agent

    agent = Agent(config, spawner=spawner)
    return await run_until_signalled(
        agent.start, agent.stop,
        lambda: print(f"portico agent: node {config.node_name} is up", flush=True))


def main(config_path: Path) -> int:
    setup_logging()
    config = AgentConfig.from_file(Path(config_path))
    # before the event loop: the launcher shares our modules (or a previous agent's
    # launcher is adopted, with the containers it kept running)
    spawner = Spawner.forked(str(config.data_dir))
    return asyncio.run(_run(config, spawner))
