"""Test support: `sandbox` runs clusters and clients inside private network namespaces."""

from portico.testing.sandbox import Cluster, Sandbox, SandboxError, wait_for

__all__ = ["Cluster", "Sandbox", "SandboxError", "wait_for"]
