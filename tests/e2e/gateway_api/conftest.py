"""One cluster for the Gateway API end-to-end modules of this directory (package scope).

`portico up` with 2 nodes, then `gateway_support.setup`: the Gateway API CRDs and
the conformance base (Gateways of class `approuting-istio`, echo backends).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portico.testing.sandbox import Cluster
from tests.e2e import gateway_support as gs
from tests.e2e.cluster_support import running_cluster


@pytest.fixture(scope="package")
def cluster() -> Iterator[Cluster]:
    for running in running_cluster(2):
        gs.setup(running)
        yield running


@pytest.fixture(scope="package")
def same_ns(cluster: Cluster) -> str:
    """The load balancer address of the base Gateway `same-namespace`."""
    return gs.address(cluster, "same-namespace")
