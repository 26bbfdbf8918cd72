"""NetworkPolicy defaults, validation and cells (`pkg/apis/networking/validation`)."""

from __future__ import annotations

import datetime

import pytest

from portico.apiserver.resources.networkpolicies import NETWORKPOLICIES

NOW = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def _np(**spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "default",
                         "creationTimestamp": "2025-01-01T11:00:00Z"},
            "spec": {"podSelector": {}, **spec}}


def _errors(obj: dict) -> list[str]:
    NETWORKPOLICIES.strategy.default(obj)
    return [e.message() for e in NETWORKPOLICIES.strategy.validate(obj)]


@pytest.mark.parametrize(("spec", "want"), [
    pytest.param({}, [], id="deny-all-ingress"),
    pytest.param({"ingress": [{"from": [{"podSelector": {"matchLabels": {"nobody": "x"}}}]}]},
                 [], id="selector-matching-nothing-is-valid"),
    pytest.param({"ingress": [{"ports": [{"port": 0}]}]},
                 ["spec.ingress[0].ports[0].port: Invalid value: 0: "
                  "must be between 1 and 65535, inclusive"], id="port-zero"),
    pytest.param({"egress": [{"ports": [{"port": 90, "endPort": 80}]}]},
                 ["spec.egress[0].ports[0].endPort: Invalid value: 80: "
                  "must be greater than or equal to `port`"], id="end-port-below-port"),
    pytest.param({"egress": [{"ports": [{"endPort": 80}]}]},
                 ["spec.egress[0].ports[0].endPort: Invalid value: 80: "
                  "may not be specified when `port` is not specified"], id="end-port-alone"),
    pytest.param({"egress": [{"ports": [{"port": "http", "endPort": 80}]}]},
                 ["spec.egress[0].ports[0].endPort: Invalid value: 80: "
                  "may not be specified when `port` is non-numeric"], id="end-port-named"),
    pytest.param({"ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]},
                 ['spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": '
                  'supported values: "TCP", "UDP", "SCTP"'], id="protocol"),
    pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]},
                 ['spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": '
                  "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"],
                 id="bad-cidr"),
    pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16",
                                                     "except": ["10.1.0.0/24"]}}]}]},
                 ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": '
                  "must be a strict subset of `cidr`"], id="except-outside"),
    pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16",
                                                     "except": ["10.0.0.0/16"]}}]}]},
                 ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/16": '
                  "must be a strict subset of `cidr`"], id="except-equal"),
    pytest.param({"ingress": [{"from": [{}]}]},
                 ["spec.ingress[0].from[0]: Required value: must specify a peer"], id="no-peer"),
    pytest.param({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"},
                                         "podSelector": {}}]}]},
                 ["spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and "
                  "another peer"], id="ip-block-and-selector"),
    pytest.param({"policyTypes": ["Ingress", "Sideways"]},
                 ['spec.policyTypes[1]: Unsupported value: "Sideways": '
                  'supported values: "Ingress", "Egress"'], id="policy-type"),
])
def test_validation(spec: dict, want: list[str]) -> None:
    assert _errors(_np(**spec)) == want


@pytest.mark.parametrize(("spec", "types"), [
    pytest.param({}, ["Ingress"], id="ingress-by-default"),
    pytest.param({"egress": [{}]}, ["Ingress", "Egress"], id="egress-rules-add-egress"),
    pytest.param({"policyTypes": ["Egress"]}, ["Egress"], id="explicit-kept"),
])
def test_policy_types_default(spec: dict, types: list[str]) -> None:
    obj = _np(**spec)
    NETWORKPOLICIES.strategy.default(obj)
    assert obj["spec"]["policyTypes"] == types


def test_port_protocol_defaults_to_tcp() -> None:
    obj = _np(ingress=[{"ports": [{"port": 80}]}])
    NETWORKPOLICIES.strategy.default(obj)
    assert obj["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_cells() -> None:
    obj = _np(podSelector={"matchLabels": {"app": "web"}})
    assert NETWORKPOLICIES.table.cells(obj, NOW) == ["p", "app=web", "60m"]
    assert NETWORKPOLICIES.table.cells(_np(), NOW)[1] == "<none>"
