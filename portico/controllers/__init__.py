"""Controllers (kube-controller-manager's role), each talking to the API through `portico.client`.

`ControllerManager` runs them; `run(kubeconfig)` is the process `portico up` forks
for them, a client over HTTPS like any other.
"""

from portico.controllers._manager import ControllerManager, run

__all__ = ["ControllerManager", "run"]
