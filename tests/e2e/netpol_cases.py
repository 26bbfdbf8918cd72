"""Upstream's NetworkPolicy e2e cases (kubernetes test/e2e/network/netpol/network_policy.go).

Each `Case` is the upstream test of the same name, ported as data: steps that apply
policies (`Apply`, in upstream's namespace and with its names), relabel pods or
namespaces, or delete every policy, each followed by the truth tables upstream
validates (`Reachability`, the whole 9 x 9 matrix per port and protocol). Policy
builders mirror upstream's `GenNetworkPolicyWithNameAndPodMatchLabel` with
`SetSpecIngressRules` / `SetSpecEgressRules` (each adds its policy type). Pod
addresses in ipBlocks are written `{ip:y/b}` and filled in when applied.

Upstream's three SCTP cases are not ported: this kernel has no SCTP
(`socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)` fails with EPROTONOSUPPORT); the two
TCP cases about SCTP policies are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netpol_support import Reachability

NS_LABEL = "kubernetes.io/metadata.name"
Obj = dict[str, Any]


def policy(name: str, pod_labels: dict[str, str] | None = None,
           ingress: list[Obj] | None = None, egress: list[Obj] | None = None,
           pod_selector: Obj | None = None) -> Obj:
    spec: Obj = {"podSelector": pod_selector if pod_selector is not None
                 else {"matchLabels": pod_labels or {}}, "policyTypes": []}
    if ingress is not None:
        spec["ingress"] = ingress
        spec["policyTypes"].append("Ingress")
    if egress is not None:
        spec["egress"] = egress
        spec["policyTypes"].append("Egress")
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name}, "spec": spec}


def labels(**pairs: str) -> Obj:
    return {"matchLabels": pairs}


def ns_is(name: str) -> Obj:
    return {"matchLabels": {NS_LABEL: name}}


def expr(key: str, operator: str, *values: str) -> Obj:
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


def port(number: int | str | None = None, protocol: str | None = None,
         end: int | None = None) -> Obj:
    out: Obj = {}
    if number is not None:
        out["port"] = number
    if protocol is not None:
        out["protocol"] = protocol
    if end is not None:
        out["endPort"] = end
    return out


@dataclass(frozen=True)
class Apply:
    namespace: str
    policy: Obj


@dataclass(frozen=True)
class LabelPod:
    namespace: str
    pod: str
    labels: dict[str, str]


@dataclass(frozen=True)
class LabelNamespace:
    namespace: str
    labels: dict[str, str]


@dataclass(frozen=True)
class DeleteAll:
    """`cleanNetworkPolicies`: delete every policy of x, y and z."""


Action = Apply | LabelPod | LabelNamespace | DeleteAll


@dataclass
class Step:
    actions: list[Action]
    checks: list[Reachability] = field(default_factory=list)


@dataclass
class Case:
    name: str
    steps: list[Step]


def R(port_: int = 80, protocol: str = "TCP") -> Reachability:  # noqa: N802 - upstream's name
    return Reachability(port_, protocol)


def _basic_cases() -> list[Case]:
    deny_in = policy("deny-ingress", pod_selector={}, ingress=[])
    return [
        Case("default-deny-ingress", [Step([Apply("x", deny_in)],
                                           [R().expect_peer("", "x", False)])]),
        Case("default-deny-all", [Step(
            [Apply("x", policy("deny-all", pod_selector={}, ingress=[], egress=[]))],
            [R().expect_peer("", "x", False).expect_peer("x", "", False)])]),
        Case("allow-from-pods-in-server-namespace-by-pod-selector", [Step(
            [Apply("x", policy("x-a-allows-x-b", {"pod": "a"},
                               ingress=[{"from": [{"podSelector": labels(pod="b")}]}]))],
            [R().all_ingress("x/a", False).expect("x/b", "x/a", True)])]),
        Case("allow-ingress-for-a-target", [Step(
            [Apply("x", policy("deny-all", pod_selector={}, ingress=[])),
             Apply("x", policy("allow-all-to-a", {"pod": "a"}, ingress=[{"from": [
                 {"podSelector": {}, "namespaceSelector": {}}]}]))],
            [R().all_ingress("x/a", True).all_ingress("x/b", False)
             .all_ingress("x/c", False)])]),
        Case("allow-ingress-from-pods-in-all-namespaces", [Step(
            [Apply("x", policy("allow-from-another-ns", {"pod": "a"},
                               ingress=[{"from": [{"namespaceSelector": labels()}]}]))],
            [R()])]),
        Case("allow-only-from-different-namespace-by-namespace-selector", [Step(
            [Apply("x", policy("allow-client-a-via-ns-selector", {"pod": "a"},
                               ingress=[{"from": [{"namespaceSelector": ns_is("y")}]}]))],
            [R().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)])]),
        Case("pod-selector-with-match-expressions", [Step(
            [Apply("x", policy("x-a-allows-x-b", {"pod": "a"}, ingress=[{"from": [
                {"podSelector": expr("pod", "In", "b")}]}]))],
            [R().all_ingress("x/a", False).expect("x/b", "x/a", True)])]),
        Case("namespace-selector-with-match-expressions", [Step(
            [Apply("x", policy("allow-ns-y-match-selector", {"pod": "a"}, ingress=[{"from": [
                {"namespaceSelector": expr(NS_LABEL, "In", "y")}]}]))],
            [R().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)])]),
        Case("pod-selector-or-namespace-selector", [Step(
            [Apply("x", policy("allow-ns-y-match-selector", {"pod": "a"}, ingress=[{"from": [
                {"namespaceSelector": expr(NS_LABEL, "NotIn", "x")},
                {"podSelector": labels(pod="b")}]}]))],
            [R().expect("x/a", "x/a", False).expect("x/c", "x/a", False)])]),
        Case("pod-selector-and-namespace-selector", [Step(
            [Apply("x", policy("allow-ns-y-podselector-and-nsselector", {"pod": "a"},
                               ingress=[{"from": [
                                   {"namespaceSelector": expr(NS_LABEL, "NotIn", "x"),
                                    "podSelector": labels(pod="b")}]}]))],
            [R().all_ingress("x/a", False).expect("y/b", "x/a", True)
             .expect("z/b", "x/a", True)])]),
        Case("multiple-pod-selectors-and-namespace-selectors", [Step(
            [Apply("x", policy("allow-ns-y-z-pod-b-c", {"pod": "a"}, ingress=[{"from": [
                {"namespaceSelector": expr(NS_LABEL, "NotIn", "x"),
                 "podSelector": expr("pod", "In", "b", "c")}]}]))],
            [R().expect_peer("x", "x/a", False).expect("y/a", "x/a", False)
             .expect("z/a", "x/a", False)])]),
        Case("any-pod-selectors", [Step(
            [Apply("x", policy("allow-ns-x-pod-b-c", {"pod": "a"}, ingress=[{"from": [
                {"podSelector": labels(pod="b")}, {"podSelector": labels(pod="c")}]}]))],
            [R().all_ingress("x/a", False).expect("x/b", "x/a", True)
             .expect("x/c", "x/a", True)])]),
        Case("only-from-pod-in-different-namespace-by-pod-and-namespace-selector", [Step(
            [Apply("x", policy("allow-ns-y-pod-a-via-namespace-pod-selector", {"pod": "a"},
                               ingress=[{"from": [{"namespaceSelector": ns_is("y"),
                                                   "podSelector": labels(pod="a")}]}]))],
            [R().all_ingress("x/a", False).expect("y/a", "x/a", True)])]),
    ]


def _port_cases() -> list[Case]:
    from_y_81 = {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port(81, "TCP")]}
    from_y_80 = {"from": [{"namespaceSelector": ns_is("y")}], "ports": [port(80, "TCP")]}
    allow_81 = R(81).expect_peer("x", "x/a", False).expect_peer("y", "x/a", True) \
        .expect_peer("z", "x/a", False)
    allow_80 = R(80).expect_peer("x", "x/a", False).expect_peer("y", "x/a", True) \
        .expect_peer("z", "x/a", False)
    return [
        Case("ports", [Step(
            [Apply("x", policy("allow-client-a-via-ns-selector", {"pod": "a"},
                               ingress=[from_y_81]))], [allow_81])]),
        Case("multiple-stacked-policies-with-overlapping-pod-selectors", [
            Step([Apply("x", policy("allow-client-a-via-ns-selector", {"pod": "a"},
                                    ingress=[from_y_81]))],
                 [allow_81, R(80).all_ingress("x/a", False)]),
            Step([Apply("x", policy("allow-client-a-via-ns-selector-80", {"pod": "a"},
                                    ingress=[from_y_80]))], [allow_80]),
        ]),
        Case("allow-all", [Step(
            [Apply("x", policy("allow-all", {}, ingress=[{}]))], [R(80), R(81)])]),
        Case("ingress-on-one-named-port", [Step(
            [Apply("x", policy("allow-all", {}, ingress=[{"ports": [port("serve-81-tcp")]}]))],
            [R(81), R(80).expect_peer("", "x", False)])]),
        Case("ingress-from-namespace-on-one-named-port", [Step(
            [Apply("x", policy("allow-client-a-via-ns-selector-80", {"pod": "a"}, ingress=[{
                "from": [{"namespaceSelector": ns_is("y")}],
                "ports": [port("serve-80-tcp", "TCP")]}]))],
            [R(80).expect_peer("x", "x/a", False).expect_peer("z", "x/a", False),
             R(81).all_ingress("x/a", False)])]),
        Case("egress-on-one-named-port", [Step(
            [Apply("x", policy("allow-egress", {}, egress=[{"ports": [port("serve-80-tcp")]}]))],
            [R(80), R(81).expect_peer("x", "", False)])]),
        Case("ingress-any-port-on-one-protocol", [Step(
            [Apply("x", policy("allow-ingress-by-proto", {"pod": "a"},
                               ingress=[{"ports": [port(protocol="TCP")]}]))],
            [R(80), R(80, "UDP").expect_peer("", "x/a", False)])]),
        Case("multiple-ingress-policies-allow-all-takes-precedence", [
            Step([Apply("x", policy("allow-ingress-port-80", {},
                                    ingress=[{"ports": [port(80)]}]))],
                 [R(81).expect_peer("", "x", False)]),
            Step([Apply("x", policy("allow-ingress", {}, ingress=[{}]))], [R(81)]),
        ]),
        Case("multiple-egress-policies-allow-all-takes-precedence", [
            Step([Apply("x", policy("allow-egress-port-80", {}, egress=[{"ports": [port(80)]}]))],
                 [R(81).expect_peer("x", "", False)]),
            Step([Apply("x", policy("allow-egress", {}, egress=[{}]))], [R(81)]),
        ]),
        Case("sctp-policy-not-treated-as-tcp", [Step(
            [Apply("x", policy("deny-ingress", pod_selector={}, ingress=[])),
             Apply("x", policy("allow-only-sctp-ingress-on-port-81", {"pod": "a"},
                               ingress=[{"ports": [port(81, "SCTP")]}]))],
            [R(81).expect_peer("", "x", False)])]),
        Case("sctp-policy-isolates-selected-pods", [Step(
            [Apply("x", policy("allow-only-sctp-ingress-on-port-80", {"pod": "a"},
                               ingress=[{"ports": [port(80, "SCTP")]}]))],
            [R(81).all_ingress("x/a", False)])]),
        Case("udp-policy-does-not-allow-tcp", [Step(
            [Apply("x", policy("allow-only-udp-ingress-on-port-81", {"pod": "a"},
                               ingress=[{"ports": [port(81, "UDP")]}]))],
            [R(81).all_ingress("x/a", False)])]),
        Case("portico-egress-port-range-with-end-port", [Step(
            [Apply("x", policy("allow-egress-81-to-90", {"pod": "a"},
                               egress=[{"ports": [port(81, "TCP", end=90)]}]))],
            [R(80).all_egress("x/a", False), R(81)])]),
    ]


def _update_cases() -> list[Case]:
    deny_all_x = policy("deny-all", pod_selector={}, ingress=[], egress=[])
    return [
        Case("updated-policy", [
            Step([Apply("x", policy("allow-all-mutate-to-deny-all", {}, ingress=[{}]))], [R(81)]),
            Step([Apply("x", policy("allow-all-mutate-to-deny-all", {}, ingress=[]))],
                 [R(81).expect_peer("", "x", False)]),
        ]),
        Case("ingress-from-updated-namespace", [
            Step([Apply("x", policy("allow-client-a-via-ns-selector", {"pod": "a"}, ingress=[
                {"from": [{"namespaceSelector": labels(ns2="updated")}]}]))],
                 [R().all_ingress("x/a", False)]),
            Step([LabelNamespace("y", {"ns2": "updated"})],
                 [R().all_ingress("x/a", False).expect_peer("y", "", True)]),
        ]),
        Case("ingress-from-updated-pod", [
            Step([Apply("x", policy("allow-client-a-via-pod-selector", {"pod": "a"}, ingress=[
                {"from": [{"podSelector": labels(pod="b", pod2="updated")}]}]))],
                 [R().all_ingress("x/a", False)]),
            Step([LabelPod("x", "b", {"pod2": "updated"})],
                 [R().all_ingress("x/a", False).expect("x/b", "x/a", True)]),
        ]),
        Case("deny-ingress-from-pods-in-other-namespaces", [Step(
            [Apply("x", policy("deny-empty-policy", pod_selector={},
                               ingress=[{"from": [{"podSelector": labels()}]}]))],
            [R().expect_peer("y", "x", False).expect_peer("z", "x", False)])]),
        Case("deny-ingress-to-updated-pod", [
            Step([Apply("x", policy("deny-ingress-via-label-selector", {"target": "isolated"},
                                    ingress=[]))], [R()]),
            Step([LabelPod("x", "a", {"target": "isolated"})], [R().all_ingress("x/a", False)]),
        ]),
        Case("stop-enforcing-policies-after-deletion", [
            Step([Apply("x", deny_all_x)],
                 [R().expect_peer("x", "", False).expect_peer("", "x", False)]),
            Step([DeleteAll()], [R()]),
        ]),
        Case("ingress-and-egress-controlled-independently", [
            Step([Apply("x", policy("allow-egress-for-target", {"pod": "a"}, egress=[{}]))],
                 [R()]),
            Step([Apply("x", policy("deny-ingress-via-label-selector", {"pod": "a"},
                                    ingress=[]))], [R().all_ingress("x/a", False)]),
        ]),
        Case("namespace-selector-match-labels-default-namespace-label", [Step(
            [Apply("x", policy("allow-client-a-via-ns-selector-for-immutable-ns-label",
                               {"pod": "a"},
                               ingress=[{"from": [{"namespaceSelector": ns_is("y")}]}]))],
            [R().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)])]),
        Case("namespace-selector-match-expressions-default-namespace-label", [Step(
            [Apply("x", policy("allow-ns-y-match-selector-for-immutable-ns-label", {"pod": "a"},
                               egress=[{"to": [
                                   {"namespaceSelector": expr(NS_LABEL, "NotIn", "y")}]}]))],
            [R().expect_peer("x/a", "y", False)])]),
    ]


def _egress_cases() -> list[Case]:
    to_ya = {"to": [{"namespaceSelector": ns_is("y"), "podSelector": labels(pod="a")}]}
    from_xa = {"from": [{"namespaceSelector": ns_is("x"), "podSelector": labels(pod="a")}]}
    cidr_except = {"to": [{"ipBlock": {"cidr": "{ip:x/a}/4", "except": ["{ip:x/b}/32"]}}]}
    return [
        Case("deny-egress-by-pod-selector", [Step(
            [Apply("x", policy("deny-egress-pod-a", {"pod": "a"}, egress=[]))],
            [R().all_egress("x/a", False)])]),
        Case("deny-egress-from-all-pods-in-namespace", [Step(
            [Apply("x", policy("deny-egress-ns-x", pod_selector={}, egress=[]))],
            [R().expect_peer("x", "", False)])]),
        Case("ingress-and-egress-together", [Step(
            [Apply("x", policy("allow-client-a-via-pod-selector", {"pod": "a"},
                               ingress=[{"from": [{"podSelector": labels(pod="b")}]}],
                               egress=[{"ports": [port(80)]}]))],
            [R(80).all_ingress("x/a", False).expect("x/b", "x/a", True),
             R(81).all_ingress("x/a", False).all_egress("x/a", False)
             .expect("x/b", "x/a", True)])]),
        Case("deny-egress-on-client-even-if-server-allows", [Step(
            [Apply("x", policy("allow-to-ns-y-pod-a", {"pod": "a"}, egress=[to_ya])),
             Apply("y", policy("allow-from-xa-on-ya-match-selector", {"pod": "a"},
                               ingress=[from_xa])),
             Apply("y", policy("allow-from-xa-on-yb-match-selector", {"pod": "b"},
                               ingress=[from_xa]))],
            [R().expect_peer("x/a", "", False).expect_peer("", "y/a", False)
             .expect_peer("x/a", "y/a", True).expect_peer("", "y/b", False)])]),
        Case("egress-to-server-in-different-namespace-by-pod-and-namespace-selector", [Step(
            [Apply("x", policy("allow-to-ns-y-pod-a", {"pod": "a"}, egress=[to_ya]))],
            [R().all_egress("x/a", False).expect("x/a", "y/a", True)])]),
        Case("egress-to-server-in-cidr-block", [Step(
            [Apply("x", policy("allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                               egress=[{"to": [{"ipBlock": {"cidr": "{ip:y/b}/32"}}]}]))],
            [R().all_egress("x/a", False).expect("x/a", "y/b", True)])]),
        Case("except-clause-in-egress-cidr-block", [Step(
            [Apply("x", policy("allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                               egress=[cidr_except]))],
            [R().expect("x/a", "x/b", False)])]),
        Case("ip-in-both-cidr-and-except-is-allowed-by-another-cidr", [
            Step([Apply("x", policy("allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                                    egress=[cidr_except]))],
                 [R().expect("x/a", "x/b", False)]),
            Step([Apply("x", policy("allow-client-a-via-cidr-egress-rule", {"pod": "a"},
                                    egress=[{"to": [{"ipBlock": {"cidr": "{ip:x/b}/32"}}]}]))],
                 [R().all_egress("x/a", False).expect("x/a", "x/b", True)]),
        ]),
    ]


def _udp_cases() -> list[Case]:
    return [
        Case("udp-default-deny-ingress", [Step(
            [Apply("x", policy("deny-all", pod_selector={}, ingress=[]))],
            [R(80, "UDP").expect_peer("", "x", False)])]),
        Case("udp-ports", [Step(
            [Apply("x", policy("allow-ingress-on-port-81-ns-x", {"pod": "a"}, ingress=[{
                "from": [{"namespaceSelector": ns_is("y")}], "ports": [port(81, "UDP")]}]))],
            [R(81, "UDP").expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)])]),
        Case("udp-only-from-pod-in-different-namespace", [Step(
            [Apply("x", policy("allow-ns-y-pod-a-via-namespace-pod-selector", {"pod": "a"},
                               ingress=[{"from": [{"namespaceSelector": ns_is("y"),
                                                   "podSelector": labels(pod="a")}]}]))],
            [R(80, "UDP").all_ingress("x/a", False).expect("y/a", "x/a", True)])]),
    ]


CASES = _basic_cases() + _port_cases() + _update_cases() + _egress_cases() + _udp_cases()
