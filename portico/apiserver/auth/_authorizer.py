"""One authorization decision per request, fast: kube-apiserver's authorizer chain.

The chain is kube-apiserver's `--authorization-mode=Node,RBAC` behind the
`system:masters` short cut (the privileged group is allowed before any
authorizer runs). RBAC reads a `Policy` snapshot (`_rbac`) rebuilt only after a
Role, ClusterRole or binding changed: a store watcher on the RBAC prefix tells,
at the next decision, that the snapshot is stale. Decisions are cached per
(user, groups, attributes) for the life of a snapshot; the Node authorizer's
graph decisions depend on pods and are made each time (from its `PodGraph`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._node import NodeAuthorizer, PodGraph, node_name
from portico.apiserver.auth._rbac import Policy
from portico.apiserver.auth._rules import Rule
from portico.apiserver.auth._user import MASTERS, UserInfo
from portico.store import Event, SqliteStore

Object = dict[str, Any]
RBAC_PREFIX = "/registry/rbac.authorization.k8s.io/"
_CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOW = Decision(True)


class PolicySource:
    """The current RBAC snapshot of the store, rebuilt after RBAC writes."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._stale = False
        store.hub.add_listener(self._on_commit)
        self._policy = self._build()
        self.generation = 0

    def _on_commit(self, events: list[Event]) -> None:
        if not self._stale:
            self._stale = any(e.kv.key.startswith(RBAC_PREFIX) for e in events)

    def _build(self) -> Policy:
        from portico.apiserver.registry._objects import decode

        def objects(plural: str) -> list[Object]:
            return [decode(kv) for kv in self.store.range(f"{RBAC_PREFIX}{plural}/")]

        return Policy.build(objects("roles"), objects("clusterroles"),
                            objects("rolebindings"), objects("clusterrolebindings"))

    def current(self) -> Policy:
        if self._stale:
            self._stale = False
            self._policy = self._build()
            self.generation += 1
        return self._policy


class Authorizer:
    def __init__(self, policies: PolicySource, pods: PodGraph) -> None:
        self.policies = policies
        self.node = NodeAuthorizer(pods)
        self._cache: dict[tuple[Any, Attributes], Decision] = {}
        self._generation = -1

    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        if MASTERS in user.groups:
            return ALLOW
        policy = self.policies.current()
        if self._generation != self.policies.generation or len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
            self._generation = self.policies.generation
        is_node = node_name(user) is not None
        key = (user.key(), attrs)
        if not (is_node and NodeAuthorizer.graph_dependent(attrs)):
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        decision = self._decide(policy, user, attrs, is_node)
        if not (is_node and NodeAuthorizer.graph_dependent(attrs)):
            self._cache[key] = decision
        return decision

    def _decide(self, policy: Policy, user: UserInfo, attrs: Attributes,
                is_node: bool) -> Decision:
        reasons = []
        if is_node:
            verdict, reason = self.node.decide(user, attrs)
            if verdict:
                return ALLOW
            if reason:
                reasons.append(reason)
        allowed, reason = policy.decide(user, attrs)
        if allowed:
            return ALLOW
        if reason:
            reasons.append(reason)
        return Decision(False, ", ".join(reasons))

    def rules(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[str], bool]:
        """Every rule the user holds in `namespace` (SelfSubjectRulesReview), errors, and
        whether the list is incomplete (the Node authorizer's graph is not listed)."""
        if MASTERS in user.groups:
            return [Rule(("*",), ("*",), ("*",)), Rule(("*",), non_resource_urls=("*",))], [], \
                False
        rules, errs = self.policies.current().rules(user, namespace)
        return rules, errs, node_name(user) is not None
