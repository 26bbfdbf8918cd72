"""The AKS-style cloud load balancer: LoadBalancer Services -> frontends, rules, probes.

Pure core: `model` (vocabulary), `annotations` (AKS knobs), `ipam` (frontend
addresses), `build.plan` (Services + Nodes -> load balancers), `render` (-> nft
script and policy routes), `objects` (-> LoadBalancer objects). Edges: `probes`
(health checks in a netns), `apply` (nft/ip), `controller` (the API, through portico.client), run by
`python -m portico.cloud.lb` inside the cloud netns.
"""

from portico.cloud.lb.build import LbConfig, Plan, plan
from portico.cloud.lb.controller import ControllerConfig, LoadBalancerController
from portico.cloud.lb.render import Ruleset, render, script

__all__ = ["ControllerConfig", "LbConfig", "LoadBalancerController", "Plan", "Ruleset", "plan",
           "render", "script"]
