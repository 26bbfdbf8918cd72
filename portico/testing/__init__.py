"""Test support, with the real things' semantics (never imported by production code).

`sandbox` runs clusters and clients inside private network namespaces; `topology`
builds the real cluster topology from a sandbox and `lb_cloud` adds HTTP servers
on its nodes for the load balancer's tests; `clock` is a fake clock that owns its
event loop's time; `nft` is an in-memory nftables with a packet tracer;
`write_context` an in-memory store transaction; `tls` makes TLS Secrets;
`oci_images` and `traffic` serve fault tests and benchmarks.
"""

from portico.testing.clock import FakeClock, VirtualTimeLoop, run_on_fake_clock
from portico.testing.sandbox import Cluster, Sandbox, SandboxError, wait_for

__all__ = ["Cluster", "FakeClock", "Sandbox", "SandboxError", "VirtualTimeLoop",
           "run_on_fake_clock", "wait_for"]
