"""`portico policy check`: the answer and its explanation, from the model (pure part)."""

from __future__ import annotations

import pytest
from netpol_builders import cluster, policy

from portico.cli._policy import CheckError, Question, decide, parse_destination
from portico.model.vocabulary import Protocol

ALLOW_B = policy("x", "allow-b", {"podSelector": {"matchLabels": {"pod": "a"}},
                                  "ingress": [{"from": [{"podSelector": {
                                      "matchLabels": {"pod": "b"}}}]}]})
DENY = policy("x", "deny", {"podSelector": {}})


def test_allowed_names_the_policy() -> None:
    allowed, text = decide(cluster(ALLOW_B, DENY),
                           Question("x/b", "x/a", "serve-80-tcp", Protocol.TCP))
    assert allowed
    assert text == (
        "x/b -> x/a:80/TCP (10.244.1.10 -> 10.244.0.10): allowed\n"
        "  egress  x/b: allowed (no NetworkPolicy selects it for egress)\n"
        "  ingress x/a: allowed by x/allow-b (selected by x/allow-b, x/deny)")


def test_denied_names_the_isolating_policies() -> None:
    allowed, text = decide(cluster(ALLOW_B, DENY), Question("y/b", "x/c", "81", Protocol.UDP))
    assert not allowed
    assert text.splitlines()[-1] == \
        "  ingress x/c: denied: selected by x/deny, none of whose rules allows it"


def test_external_address_source() -> None:
    allowed, _ = decide(cluster(DENY), Question("203.0.113.9", "y/a", "80", Protocol.TCP))
    assert allowed


@pytest.mark.parametrize(("question", "message"), [
    pytest.param(Question("x/b", "x/nope", "80", Protocol.TCP),
                 "pod x/nope not found, or it has no IP address yet", id="unknown-pod"),
    pytest.param(Question("x/b", "x/a", "serve-80-tcp", Protocol.UDP),
                 "pod x/a has no UDP port named 'serve-80-tcp'", id="unknown-named-port"),
])
def test_unanswerable(question: Question, message: str) -> None:
    with pytest.raises(CheckError, match=message):
        decide(cluster(), question)


def test_parse_destination() -> None:
    assert parse_destination("x/a:80") == ("x/a", "80")
    with pytest.raises(CheckError):
        parse_destination("x/a")
