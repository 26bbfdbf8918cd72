"""The node agent: kubelet (pods as netns + processes, probes, status, logs) for one node.

Public API: `AgentConfig` (the JSON config the supervisor writes), `Agent`
(start/stop, for embedding and tests), `main(config_path) -> int` (the process:
runs until SIGTERM/SIGINT, then stops its pods as a node shutdown and returns 0),
`build_app` (the :10250 aiohttp app; extra routes plug in there), and
`CrashLoopBackoff` (kubelet's restart back-off, which the supervisor's watchdog
applies to Portico's own processes too).
In-cluster processes find their service-account files via `$PORTICO_SERVICEACCOUNT_DIR`
(`KubeConfig.from_service_account(os.environ["PORTICO_SERVICEACCOUNT_DIR"])`).
"""

from portico.agent._agent import Agent
from portico.agent._backoff import CrashLoopBackoff
from portico.agent._config import AgentConfig
from portico.agent._env import SERVICEACCOUNT_DIR_ENV
from portico.agent._main import main
from portico.agent._server import LogLookupError, LogTarget, build_app, serve

__all__ = ["SERVICEACCOUNT_DIR_ENV", "Agent", "AgentConfig", "CrashLoopBackoff", "LogLookupError",
           "LogTarget", "build_app", "main", "serve"]
