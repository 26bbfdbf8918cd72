"""The cloud: the machine side of a cluster (cloud netns, VNet, edge link, node netns).

`plan(TopologyConfig(name, nodes))` names and numbers everything (pure);
`create(topology)` brings up whatever is missing; `add_node` scales up;
`destroy(name)` removes every trace.  See `_topology` for the picture.
"""

from portico.cloud._netops import (
    TopologyError,
    add_node,
    create,
    destroy,
    observe,
    owned_netns,
)
from portico.cloud._steps import TopologyConflict
from portico.cloud._topology import (
    EDGE_CLOUD_IF,
    NODE_NIC,
    POD_BRIDGE,
    VNET_BRIDGE,
    NodePlan,
    Route,
    RouteType,
    Topology,
    TopologyConfig,
    cloud_netns_name,
    cloud_routes,
    edge_host_if_name,
    host_routes,
    name_problem,
    node_netns_name,
    node_routes,
    plan,
    plan_node,
    with_node,
)

__all__ = [
    "EDGE_CLOUD_IF",
    "NODE_NIC",
    "POD_BRIDGE",
    "VNET_BRIDGE",
    "NodePlan",
    "Route",
    "RouteType",
    "Topology",
    "TopologyConfig",
    "TopologyConflict",
    "TopologyError",
    "add_node",
    "cloud_netns_name",
    "cloud_routes",
    "create",
    "destroy",
    "edge_host_if_name",
    "host_routes",
    "name_problem",
    "node_netns_name",
    "node_routes",
    "observe",
    "owned_netns",
    "plan",
    "plan_node",
    "with_node",
]
