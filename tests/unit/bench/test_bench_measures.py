"""The benchmarks' pure parts: wrk's summary, the client-bound verdict, ratios,
interleaving, the hand-written reference rules and baselines, the log check."""

from __future__ import annotations

import datetime
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from bench import _lbtraffic, _wrk, dataplane, ingress, logs
from bench._traffic import reference_rules
from portico.agent._crilog import CriLogFramer, Stream
from portico.cloud import NodePlan

KEEP_ALIVE = """Running 2s test @ http://10.244.0.2:80/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   402.11us  201.30us   8.01ms   91.20%
    Req/Sec    39.10k     2.01k   42.00k    80.00%
  77836 requests in 2.00s, 63.09MB read
Requests/sec:  38912.51
Transfer/sec:     31.54MB
"""
WITH_ERRORS = """Running 1s test @ http://10.0.0.100:80/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.29ms    2.11ms  40.00ms   95.00%
    Req/Sec     4.03k   300.00     4.50k    70.00%
  4029 requests in 1.00s, 3.26MB read
  Socket errors: connect 3, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   4025.97
Transfer/sec:      3.26MB
"""


def test_parse_wrk_reads_the_summary() -> None:
    assert _wrk.parse_wrk(KEEP_ALIVE) == _wrk.WrkSummary(77836, 38912.51, 0)
    assert _wrk.parse_wrk(WITH_ERRORS) == _wrk.WrkSummary(4029, 4025.97, 10)


def test_parse_wrk_refuses_output_without_a_summary() -> None:
    with pytest.raises(ValueError, match="no wrk summary"):
        _wrk.parse_wrk("unable to connect to 10.0.0.100:80 Connection refused\n")


@pytest.mark.parametrize(("client", "server", "bound"), [
    pytest.param(0.98, 0.40, True, id="client-saturated-server-idle"),
    pytest.param(0.98, 0.95, False, id="both-saturated"),
    pytest.param(0.60, 0.30, False, id="client-not-saturated"),
])  # fmt: skip
def test_client_bound(client: float, server: float, bound: bool) -> None:
    sample = _wrk.Sample(rate=10000, errors=0, client_cpu=client, server_cpu=server)
    why = _wrk.client_bound(sample, server_workers=2, cpus=2)
    assert (why is not None) == bound
    if bound:
        assert why == ("client-bound: wrk used 0.98 of its 1 core(s), the server 0.40 of "
                       "the 1.02 left to it")


def _runs(*rates: float, client: float = 0.5) -> list[_wrk.Sample]:
    return [_wrk.Sample(rate, 0, client, 0.3) for rate in rates]


def test_ratio_is_the_median_of_the_rounds_against_the_goal() -> None:
    samples = {"direct": _runs(100, 200, 100), "path": _runs(95, 150, 99)}
    assert _wrk.ratio_text(samples, "path", "direct", 0.90) == \
        "0.95 of direct (by CPU per request 0.95; goal >= 0.90: met)"
    assert _wrk.ratio_text(samples, "path", "direct", 0.97) == \
        "0.95 of direct (by CPU per request 0.95; goal >= 0.97: MISSED)"
    assert _wrk.ratio_text(samples, "path", "direct", None) == \
        "0.95 of direct (by CPU per request 0.95)"


def test_no_ratio_against_a_client_bound_baseline() -> None:
    samples = {"direct": _runs(100, 100, client=0.99), "path": _runs(90, 90)}
    assert _wrk.ratio_text(samples, "path", "direct", 0.90).startswith(
        "no ratio vs direct (client-bound: wrk used 0.99 of its 1 core(s)")


def test_interleave_rotates_the_order_each_round() -> None:
    calls: list[str] = []

    def path(name: str):  # type: ignore[no-untyped-def]
        return lambda: calls.append(name) or _wrk.Sample(1, 0, 0, 0)

    samples = _wrk.interleave({n: path(n) for n in "abc"}, rounds=3)
    assert calls == list("abc" "bca" "cab")
    assert {n: len(s) for n, s in samples.items()} == {"a": 3, "b": 3, "c": 3}


def test_cpu_per_request() -> None:
    assert _wrk.Sample(20000, 0, 0.5, 1.5).cpu_per_request == pytest.approx(1e-4)
    assert _wrk.Sample(0, 0, 0.5, 1.5).cpu_per_request == 0.0


def test_a_run_over_several_urls_must_split_threads_and_connections_evenly() -> None:
    with pytest.raises(ValueError, match="1 threads and 16 connections do not split over 2"):
        _wrk.run_wrk("nowhere", ["http://a/", "http://b/"], 1, False, lambda: 0,
                     connections=16, threads=1)


def test_reference_rules_are_one_dnat_rule_per_service_address() -> None:
    node = NodePlan(index=1, name="node-1", netns="n1", ip=IPv4Address("10.224.0.4"),
                    pod_cidr=IPv4Network("10.244.0.0/24"), bridge_ip=IPv4Address("10.244.0.1"),
                    vnet_port="vn-node-1")
    assert reference_rules(node, "10.244.0.2", node_port=True) == (
        "table ip portico-bench-dnat {\n"
        "  chain prerouting { type nat hook prerouting priority dstnat; "
        "ip daddr 10.0.0.100 tcp dport 80 dnat to 10.244.0.2:80; "
        "ip daddr 10.224.0.4 tcp dport 30080 dnat to 10.244.0.2:80; }\n"
        "  chain postrouting { type nat hook postrouting priority srcnat; "
        "ct original ip daddr 10.224.0.4 masquerade; }\n"
        "}\n")
    assert "30080" not in reference_rules(node, "10.244.0.2", node_port=False)


def test_dataplane_compares_each_portico_path_with_its_own_baselines() -> None:
    assert dataplane.path_ratios("pod->ClusterIP (other node)") == [
        ("pod->pod IP (other node)", 0.90), ("pod->DNAT rule (other node)", 0.97),
        ("pod->pod IP, no netfilter (other node)", None)]
    assert dataplane.path_ratios("host->NodePort") == [
        ("host->pod IP", 0.90), ("host->DNAT rule NodePort", 0.97),
        ("host->pod IP, no netfilter", None)]


def test_dataplane_shows_what_conntrack_costs_the_direct_path() -> None:
    assert dataplane.path_ratios("pod->pod IP (same node)") == [
        ("pod->pod IP, no netfilter (same node)", None)]
    assert dataplane.path_ratios("host->DNAT rule NodePort") == []
    assert dataplane.path_ratios("host->pod IP, no netfilter") == []


def test_every_dataplane_ratio_names_a_measured_path() -> None:
    class Cluster:
        server_ip = "10.244.0.2"
        node1 = type("Node", (), {"ip": "10.224.0.4"})

        def pod_netns(self, pod: str) -> str:
            return f"ns-{pod}"

    paths = dataplane.traffic_paths(Cluster())  # type: ignore[arg-type]
    judged = [label for label in paths if any(g for _, g in dataplane.path_ratios(label))]
    assert judged == ["pod->ClusterIP (same node)", "pod->ClusterIP (other node)",
                      "host->NodePort"]
    assert {base for label in paths for base, _ in dataplane.path_ratios(label)} <= set(paths)


def test_load_balancer_reference_and_manifests() -> None:
    assert _lbtraffic.reference_rules({"198.51.100.250": "10.224.0.4:31000"}) == (
        "table ip portico-bench-dnat {\n"
        "  chain prerouting { type nat hook prerouting priority dstnat; "
        "ip daddr 198.51.100.250 tcp dport 80 dnat to 10.224.0.4:31000; }\n"
        "}\n")
    objects = _lbtraffic.manifests()
    deployments = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "Deployment"}
    services = [o for o in objects if o["kind"] == "Service"]
    assert [(s["metadata"]["name"], s["spec"]["externalTrafficPolicy"]) for s in services] == [
        ("web-cluster", "Cluster"), ("web-local", "Local")]
    for service in services:  # each Service selects its own Deployment's pods
        selected = deployments[service["metadata"]["name"]]
        assert selected["template"]["metadata"]["labels"] == service["spec"]["selector"]
        assert selected["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert deployments["web-cluster"]["replicas"] == 2
    # Local: one pod on node-1, the node every Local path goes through
    assert deployments["web-local"]["replicas"] == 1
    assert deployments["web-local"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "node-1"}
    assert sum(d["replicas"] for d in deployments.values()) == _lbtraffic.PODS


def test_ingress_baseline_balances_the_nginx_servers() -> None:
    config = ingress.baseline_config()
    assert "server a 127.0.0.1:19101" in config and "server b 127.0.0.1:19102" in config


def test_logs_check_accepts_only_every_line_framed(tmp_path: Path) -> None:
    framer = CriLogFramer(Stream.STDOUT)
    log = tmp_path / "0.log"
    log.write_bytes(framer.feed(logs.LINE * 3, datetime.datetime.now(datetime.UTC)))
    logs.check_log(log, 3)
    with pytest.raises(SystemExit, match="holds 3 records, not 4 lines"):
        logs.check_log(log, 4)


def test_workloads_bench_manifests_and_ratios() -> None:
    from bench import workloads

    deploy, sts, job = workloads.workloads(100)
    assert [w.kind for w in (deploy, sts, job)] == ["deployment", "statefulset", "job"]
    assert sts.manifest["spec"]["podManagementPolicy"] == "Parallel"  # type: ignore[index]
    assert (job.manifest["spec"]["completions"],  # type: ignore[index]
            job.manifest["spec"]["parallelism"]) == (100, 10)  # type: ignore[index]
    assert "--for=jsonpath={.status.readyReplicas}=100" in sts.wait
    assert workloads.ratios({"deployment": 10.0, "statefulset": 12.0, "job": 20.0}) == {
        "statefulset": 1.2, "job": 2.0}
