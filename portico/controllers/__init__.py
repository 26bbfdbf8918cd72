"""Controllers (kube-controller-manager's role), each talking to the API through lightkube.

`ControllerManager` runs them in the `portico up` process, over HTTPS like any client.
"""

from portico.controllers._manager import ControllerManager

__all__ = ["ControllerManager"]
