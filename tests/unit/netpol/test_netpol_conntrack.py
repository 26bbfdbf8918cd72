"""Which running connections a policy change cuts: `conntrack -L` lines in, verdicts out."""

from __future__ import annotations

from netpol_builders import cluster, ip, policy

from portico.netpol._conntrack import forbidden, parse_flows

LINES = f"""\
tcp      6 431999 ESTABLISHED src={ip("y/a")} dst={ip("x/a")} sport=40000 dport=80 src={ip("x/a")} dst={ip("y/a")} sport=80 dport=40000 [ASSURED] mark=0 use=1
tcp      6 431999 ESTABLISHED src={ip("x/b")} dst={ip("x/a")} sport=40001 dport=80 src={ip("x/a")} dst={ip("x/b")} sport=80 dport=40001 [ASSURED] mark=0 use=1
tcp      6 100 TIME_WAIT src={ip("y/a")} dst={ip("x/a")} sport=40002 dport=80 src={ip("x/a")} dst={ip("y/a")} sport=80 dport=40002 [ASSURED] mark=0 use=1
udp      17 29 src={ip("y/a")} dst=10.0.0.9 sport=5000 dport=53 src={ip("x/a")} dst={ip("y/a")} sport=5353 dport=5000 mark=0 use=1
icmp     1 29 src=10.244.0.1 dst={ip("x/a")} type=8 code=0 id=1 src={ip("x/a")} dst=10.244.0.1 type=0 code=0 id=1 mark=0 use=1
"""  # noqa: E501 - conntrack's lines


def test_parse_skips_closed_and_non_port_flows() -> None:
    flows = parse_flows(LINES)
    assert [(f.src, f.dport, f.endpoint, f.endpoint_port) for f in flows] == [
        (ip("y/a"), 80, ip("x/a"), 80), (ip("x/b"), 80, ip("x/a"), 80),
        (ip("y/a"), 53, ip("x/a"), 5353)]


def test_cut_only_what_the_policies_now_forbid_on_this_node() -> None:
    allow_b = policy("x", "allow-b", {"podSelector": {"matchLabels": {"pod": "a"}},
                                      "ingress": [{"from": [{"podSelector": {
                                          "matchLabels": {"pod": "b"}}}]}]})
    flows = parse_flows(LINES)
    c = cluster(allow_b)
    assert [forbidden(c, "node-1", f) for f in flows] == [True, False, True]
    assert [forbidden(c, "node-2", f) for f in flows] == [False, False, False], \
        "x/a's ingress is node-1's to enforce"
    assert flows[0].delete_argv() == [
        "conntrack", "-D", "-p", "tcp", "-s", ip("y/a"), "-d", ip("x/a"), "--dport", "80",
        "--reply-src", ip("x/a")]
