"""Placement: topology spread constraints and inter-pod (anti-)affinity, filter and score.

Three Ready nodes n1..n3 in zones a..c (hostname and zone labels, as Portico's nodes),
hand-built pods bound to them; messages are compared with kube-scheduler's.
"""

from __future__ import annotations

from typing import Any

import pytest

from portico.controllers._placement import (
    Snapshot,
    affinity_scores,
    schedule,
    spread_scores,
)

Obj = dict[str, Any]
HOST = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
ZONES = {"n1": "a", "n2": "b", "n3": "c"}


def node(name: str, zone: str | None = None, **spec: Any) -> Obj:
    labels = {HOST: name}
    if zone is not None:
        labels[ZONE] = zone
    return {"metadata": {"name": name, "labels": labels}, "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


NODES = [node(name, zone) for name, zone in ZONES.items()]


def pod(name: str = "new", on: str | None = None, labels: dict[str, str] | None = None,
        namespace: str = "default", deleting: bool = False, phase: str | None = None,
        **spec: Any) -> Obj:
    metadata: Obj = {"name": name, "namespace": namespace, "labels": labels or {}}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if on is not None:
        spec["nodeName"] = on
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase or "Running"}}


def on_nodes(app: str, *names: str, **kw: Any) -> list[Obj]:
    """One pod labelled app=<app> per name in `names` (a name may repeat)."""
    return [pod(f"{app}-{i}", on=n, labels={"app": app}, **kw) for i, n in enumerate(names)]


def spread(key: str = ZONE, action: str = "DoNotSchedule", max_skew: int = 1,
           selector: Obj | None = None, **extra: Any) -> Obj:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": action,
            "labelSelector": {"matchLabels": {"app": "web"}} if selector is None else selector,
            **extra}


def web(*constraints: Obj, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return pod(labels=labels or {"app": "web"}, topologySpreadConstraints=list(constraints),
               **spec)


def term(app: str, key: str = HOST, **extra: Any) -> Obj:
    return {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key, **extra}


def affinity(kind: str = "podAntiAffinity", required: list[Obj] | None = None,
             preferred: list[tuple[int, Obj]] | None = None) -> Obj:
    section: Obj = {}
    if required:
        section["requiredDuringSchedulingIgnoredDuringExecution"] = required
    if preferred:
        section["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": w, "podAffinityTerm": t} for w, t in preferred]
    return {kind: section}


def msg(*reasons: str) -> str:
    return f"0/3 nodes are available: {', '.join(reasons)}."


def decide(the_pod: Obj, bound: list[Obj], nodes: list[Obj] | None = None,
           namespaces: dict[str, dict[str, str]] | None = None) -> tuple[str | None, str]:
    decision = schedule(the_pod, NODES if nodes is None else nodes, bound, namespaces)
    return decision.node, decision.message


# --- topology spread: DoNotSchedule filters ---------------------------------------------
SPREAD_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
BUSY_N3 = on_nodes("other", "n3", "n3", "n3")  # load that the count spread would avoid


@pytest.mark.parametrize(("the_pod", "bound", "expected"), [
    pytest.param(web(spread()), on_nodes("web", "n1", "n2") + BUSY_N3, ("n3", ""),
                 id="emptiest-zone-despite-load"),
    pytest.param(web(spread()), on_nodes("web", "n1", "n2", "n3"), ("n1", ""),
                 id="balanced-then-count"),
    pytest.param(web(spread(minDomains=4)), on_nodes("web", "n1", "n2", "n3"),
                 (None, msg(f"3 {SPREAD_NOT_MATCH}")), id="min-domains-unsatisfiable"),
    pytest.param(web(spread(max_skew=2, minDomains=4)), on_nodes("web", "n1", "n2", "n3"),
                 ("n1", ""), id="min-domains-within-skew"),
    pytest.param(web(spread()), on_nodes("web", "n1", "n2", deleting=True) + BUSY_N3,
                 ("n1", ""), id="pods-being-deleted-do-not-count"),
    pytest.param(web(spread()), on_nodes("web", "n1", "n2", phase="Succeeded") + BUSY_N3,
                 ("n1", ""), id="terminated-pods-do-not-count"),
    pytest.param(web(spread()), on_nodes("web", "n1", "n2", namespace="other") + BUSY_N3,
                 ("n1", ""), id="other-namespaces-do-not-count"),
    pytest.param(web(spread(selector={"matchLabels": {"app": "db"}})),
                 on_nodes("db", "n1", "n1", "n2") + BUSY_N3, ("n2", ""),
                 id="selector-not-own-labels"),
    pytest.param(web({"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}),
                 on_nodes("web", "n1", "n2") + BUSY_N3, ("n1", ""), id="nil-selector-nothing"),
    pytest.param(web(spread(max_skew=2)), on_nodes("web", "n1", "n1", "n2") + BUSY_N3,
                 ("n2", ""), id="max-skew-2"),
    pytest.param(web(spread(key=HOST)), on_nodes("web", "n1", "n3") + BUSY_N3, ("n2", ""),
                 id="by-hostname"),
])
def test_spread_filter(the_pod, bound, expected):
    assert decide(the_pod, bound) == expected


def test_spread_match_label_keys_count_only_the_same_revision():
    old = [pod(f"old-{n}", on=n, labels={"app": "web", "hash": "1"}) for n in ("n1", "n2")]
    new = {"app": "web", "hash": "2"}
    assert decide(web(spread(), labels=new), old + BUSY_N3) == ("n3", "")
    assert decide(web(spread(matchLabelKeys=["hash"]), labels=new), old + BUSY_N3) == ("n1", "")
    # with a nil labelSelector the keys alone select
    keys_only = spread(matchLabelKeys=["hash"], selector={})
    del keys_only["labelSelector"]
    assert decide(web(keys_only, labels=new), old + BUSY_N3) == ("n1", "")


def test_spread_missing_topology_label():
    nodes = [node("n1", "a"), node("n2", "b"), node("n3")]
    assert decide(web(spread()), on_nodes("web", "n1", "n1", "n2"), nodes) == ("n2", "")
    assert decide(web(spread(minDomains=3)), on_nodes("web", "n1", "n2"), nodes) == (
        None, msg(f"1 {SPREAD_NOT_MATCH} (missing required label)", f"2 {SPREAD_NOT_MATCH}"))


def test_spread_node_affinity_policy():
    """Honor (default): nodes the pod cannot go to are no domain; Ignore: they are."""
    not_c = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": ZONE, "operator": "NotIn", "values": ["c"]}]}]}}}
    bound = on_nodes("web", "n1", "n2", "n2")
    assert decide(web(spread(), affinity=not_c), bound) == ("n1", "")
    assert decide(web(spread(nodeAffinityPolicy="Ignore"), affinity=not_c), bound) == (
        None, msg("1 node(s) didn't match Pod's node affinity/selector",
                  f"2 {SPREAD_NOT_MATCH}"))


def test_spread_node_taints_policy():
    """Ignore (default): a tainted node's zone is a domain; Honor: it is not."""
    tainted = [*NODES[:2], node("n3", "c", taints=[{"key": "k", "effect": "NoSchedule"}])]
    bound = on_nodes("web", "n1", "n2", "n2")
    assert decide(web(spread()), bound, tainted) == (
        None, msg("1 node(s) had untolerated taint {k: }", f"2 {SPREAD_NOT_MATCH}"))
    assert decide(web(spread(nodeTaintsPolicy="Honor")), bound, tainted) == ("n1", "")


# --- topology spread: ScheduleAnyway scores -----------------------------------------------
def test_spread_schedule_anyway_scores_and_never_filters():
    bound = on_nodes("web", "n1", "n1", "n2") + BUSY_N3
    the_pod = web(spread(action="ScheduleAnyway"))
    snap = Snapshot.build(the_pod, NODES, bound)
    # raw: count x log(3 zones + 2) + (maxSkew - 1) = 3, 2, 0; normalized 100*(max+min-s)/max
    assert spread_scores(the_pod, snap, NODES) == {"n1": 0, "n2": 33, "n3": 100}
    assert decide(the_pod, bound) == ("n3", "")
    crowded = on_nodes("web", "n1", "n1", "n1")
    only_n1 = web(spread(action="ScheduleAnyway"), nodeSelector={HOST: "n1"})
    assert decide(only_n1, crowded) == ("n1", "")  # a soft constraint never filters
    # a node missing a soft constraint's key is not scored (0)
    nodes = [node("n1", "a"), node("n2", "b"), node("n3")]
    snap = Snapshot.build(the_pod, nodes, on_nodes("web", "n1"))
    assert spread_scores(the_pod, snap, nodes) == {"n1": 0, "n2": 100, "n3": 0}


# --- inter-pod affinity: required ---------------------------------------------------------
ANTI = "node(s) didn't match pod anti-affinity rules"
AFFINITY = "node(s) didn't match pod affinity rules"
EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"


def anti_pod(app: str = "anti", key: str = HOST) -> Obj:
    return pod(labels={"app": app}, affinity=affinity(required=[term(app, key)]))


def with_affinity(required: list[Obj], **kw: Any) -> Obj:
    return pod(labels={"app": "web"}, affinity=affinity("podAffinity", required=required), **kw)


@pytest.mark.parametrize(("the_pod", "bound", "expected"), [
    pytest.param(anti_pod(), on_nodes("anti", "n1", "n2"), ("n3", ""), id="anti-hostname"),
    pytest.param(anti_pod(), on_nodes("anti", "n1", "n2", "n3"), (None, msg(f"3 {ANTI}")),
                 id="anti-everywhere"),
    pytest.param(anti_pod(), on_nodes("anti", "n1", "n2", "n3", deleting=True),
                 (None, msg(f"3 {ANTI}")), id="anti-pods-being-deleted-count"),
    pytest.param(anti_pod(), on_nodes("anti", "n1", "n2", "n3", phase="Failed"), ("n1", ""),
                 id="anti-terminated-pods-do-not-count"),
    pytest.param(anti_pod(), on_nodes("anti", "n1", "n2", "n3", namespace="other"), ("n1", ""),
                 id="anti-own-namespace-only"),
    pytest.param(anti_pod(key=ZONE), on_nodes("anti", "n1", "n2") + BUSY_N3, ("n3", ""),
                 id="anti-zone"),
    pytest.param(pod(labels={"app": "web"}),
                 [pod(f"guard-{n}", on=n, affinity=affinity(required=[term("web")]))
                  for n in ("n1", "n2", "n3")],
                 (None, msg(f"3 {EXISTING}")), id="existing-anti-symmetry"),
    pytest.param(pod(labels={"app": "web"}),
                 [pod("guard", on="n1", affinity=affinity(required=[term("web", ZONE)]))],
                 ("n2", ""), id="existing-anti-symmetry-zone"),
    pytest.param(with_affinity([term("db", ZONE)]), on_nodes("db", "n2") + on_nodes("x", "n2"),
                 ("n2", ""), id="affinity-zone"),
    pytest.param(with_affinity([term("db")]), on_nodes("cache", "n1"),
                 (None, msg(f"3 {AFFINITY}")), id="affinity-no-match"),
    pytest.param(with_affinity([term("web")]), on_nodes("x", "n1"), ("n2", ""),
                 id="affinity-first-of-its-group"),
    pytest.param(with_affinity([term("db")]), on_nodes("db", "n1", namespace="other"),
                 (None, msg(f"3 {AFFINITY}")), id="affinity-own-namespace-only"),
    pytest.param(with_affinity([term("db", namespaces=["other"])]),
                 on_nodes("db", "n1", namespace="other"), ("n1", ""),
                 id="affinity-listed-namespace"),
    pytest.param(with_affinity([term("db", namespaceSelector={})]),
                 on_nodes("db", "n3", namespace="other"), ("n3", ""),
                 id="affinity-every-namespace"),
    pytest.param(with_affinity([term("db", "rack")]), on_nodes("db", "n1"),
                 (None, msg(f"3 {AFFINITY}")), id="affinity-missing-topology-key"),
    pytest.param(with_affinity([term("db", ZONE)], nodeSelector={ZONE: "c"}),
                 on_nodes("db", "n1"),
                 (None, msg(f"1 {AFFINITY}",
                            "2 node(s) didn't match Pod's node affinity/selector")),
                 id="reasons-sorted-as-strings"),
])
def test_affinity_filter(the_pod, bound, expected):
    assert decide(the_pod, bound) == expected


def test_affinity_namespace_selector():
    namespaces = {"default": {"kubernetes.io/metadata.name": "default"},
                  "blue": {"team": "blue"}, "red": {"team": "red"}}
    the_pod = with_affinity([term("db", namespaceSelector={"matchLabels": {"team": "blue"}})])
    assert decide(the_pod, on_nodes("db", "n1", namespace="red") + on_nodes(
        "db", "n2", namespace="blue"), namespaces=namespaces) == ("n2", "")
    assert decide(the_pod, on_nodes("db", "n1", namespace="red"), namespaces=namespaces) == (
        None, msg(f"3 {AFFINITY}"))
    # an existing pod's anti-affinity selects the incoming pod's namespace by its labels
    guard = pod("guard", on="n1", namespace="red", affinity=affinity(required=[
        term("web", namespaceSelector={"matchLabels": {"team": "blue"}})]))
    only_n1 = {HOST: "n1"}
    blue_web = pod(labels={"app": "web"}, namespace="blue", nodeSelector=only_n1)
    assert decide(blue_web, [guard], namespaces=namespaces) == (None, msg(
        f"1 {EXISTING}", "2 node(s) didn't match Pod's node affinity/selector"))
    default_web = pod(labels={"app": "web"}, nodeSelector=only_n1)
    assert decide(default_web, [guard], namespaces=namespaces) == ("n1", "")


def test_anti_affinity_mismatch_label_keys():
    """mismatchLabelKeys: only pods of other values of the key repel (tenant isolation)."""
    repel = term("x", mismatchLabelKeys=["tenant"], labelSelector={
        "matchExpressions": [{"key": "tenant", "operator": "Exists"}]})
    the_pod = pod(labels={"tenant": "a"}, affinity=affinity(required=[repel]))
    bound = [pod("a1", on="n1", labels={"tenant": "a"}), pod("b1", on="n2", labels={"tenant": "b"}),
             pod("b2", on="n3", labels={"tenant": "b"})]
    assert decide(the_pod, bound) == ("n1", "")


def test_anti_affinity_and_spread_together():
    the_pod = pod(labels={"app": "web"}, affinity=affinity(required=[term("web")]),
                  topologySpreadConstraints=[spread()])
    nodes = [*NODES, node("n4", "a")]
    assert decide(the_pod, on_nodes("web", "n1", "n2", "n3"), nodes) == ("n4", "")
    assert schedule(the_pod, nodes, on_nodes("web", "n1", "n2", "n3", "n4")).message == (
        f"0/4 nodes are available: 2 {ANTI}, 2 {SPREAD_NOT_MATCH}.")


# --- inter-pod affinity: preferred scores ---------------------------------------------------
def test_preferred_affinity_and_anti_affinity_scores():
    near_cache = pod(labels={"app": "web"}, affinity=affinity(
        "podAffinity", preferred=[(50, term("cache", ZONE))]))
    bound = on_nodes("cache", "n3") + BUSY_N3
    assert decide(near_cache, bound) == ("n3", "")
    snap = Snapshot.build(near_cache, NODES, bound)
    assert affinity_scores(near_cache, snap, NODES) == {"n1": 0, "n2": 0, "n3": 100}
    away = pod(labels={"app": "web"}, affinity=affinity(
        preferred=[(10, term("web")), (30, term("batch", ZONE))]))
    bound = on_nodes("web", "n1") + on_nodes("batch", "n2")
    snap = Snapshot.build(away, NODES, bound)
    # raw -10, -30, 0 against min(0, ...) and max(0, ...): 100*(s+30)/30
    assert affinity_scores(away, snap, NODES) == {"n1": 66, "n2": 0, "n3": 100}
    assert decide(away, bound + BUSY_N3) == ("n3", "")


def test_existing_pods_terms_score_the_incoming_pod():
    """Bound pods' preferred (anti-)affinity and required affinity attract or repel it."""
    wants_web = pod("friend", on="n2", affinity=affinity(
        "podAffinity", preferred=[(20, term("web"))]))
    hates_web = pod("foe", on="n1", affinity=affinity(preferred=[(20, term("web"))]))
    needs_web = pod("needy", on="n3", affinity=affinity("podAffinity", required=[term("web")]))
    incoming = pod(labels={"app": "web"})
    snap = Snapshot.build(incoming, NODES, [wants_web, hates_web, needs_web])
    # raw: n1 -20, n2 +20, n3 +1 (hardPodAffinityWeight)
    assert affinity_scores(incoming, snap, NODES) == {"n1": 0, "n2": 100, "n3": 52}
    assert decide(incoming, [wants_web, hates_web, needs_web]) == ("n2", "")


def test_no_terms_no_score_count_spread_decides():
    bound = on_nodes("x", "n1", "n1", "n2", "n3", "n3")
    incoming = pod(labels={"app": "web"})
    snap = Snapshot.build(incoming, NODES, bound)
    assert affinity_scores(incoming, snap, NODES) == {"n1": 0, "n2": 0, "n3": 0}
    assert spread_scores(incoming, snap, NODES) == {"n1": 0, "n2": 0, "n3": 0}
    assert decide(incoming, bound) == ("n2", "")


def test_the_pod_itself_and_foreign_nodes_are_ignored():
    me = pod("new", on="n1", labels={"app": "anti"})  # a stale copy of the pod, bound
    ghost = pod("ghost", on="gone", labels={"app": "anti"})
    assert decide(anti_pod(), [me, ghost]) == ("n1", "")
