"""Ingress controller: Ingress objects -> HAProxy (the data plane), configured by Python.

Layers (track -> render -> apply): `routes.build_plan(snapshot, settings)` and
`render.render_config(plan, slots, settings)` are pure; `match.match` states the
routing rules the maps encode; `apply.Applier` drives HAProxy (`haproxy.py`)
through its runtime API or a checked, hitless reload. `python -m portico.ingress`
runs the controller (image `portico/ingress-controller`); the environment it reads
there (`SERVICEACCOUNT_ENV`, `SERVICEACCOUNT_DIR`, `CONTAINER_DIR_ENV`) is the
Gateway controller's too.
"""

from portico.ingress._config import CONTAINER_DIR_ENV, SERVICEACCOUNT_DIR, SERVICEACCOUNT_ENV
from portico.ingress.apply import Applier, Outcome
from portico.ingress.model import Plan, Settings, Snapshot
from portico.ingress.render import Rendered, render_config
from portico.ingress.routes import build_plan

__all__ = ["CONTAINER_DIR_ENV", "SERVICEACCOUNT_DIR", "SERVICEACCOUNT_ENV", "Applier", "Outcome",
           "Plan", "Rendered", "Settings", "Snapshot", "build_plan", "render_config"]
