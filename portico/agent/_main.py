"""`main(config_path)`: the agent process, run until SIGTERM/SIGINT (then a node shutdown)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

from portico.agent._config import AgentConfig

log = logging.getLogger("portico.agent")


async def _run(config: AgentConfig) -> int:
    from portico.agent._agent import Agent

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    agent = Agent(config)
    try:
        await agent.start()
        print(f"portico agent: node {config.node_name} is up", flush=True)
        await stop.wait()
    finally:
        await agent.stop()
    return 0


def main(config_path: Path) -> int:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return asyncio.run(_run(AgentConfig.from_file(Path(config_path))))
