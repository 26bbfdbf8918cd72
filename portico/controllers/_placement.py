"""Where a pod goes: kube-scheduler's default-profile filters and scores, over plain dicts.

No I/O. `schedule(pod, nodes, pods, namespaces)` sees one snapshot: every node, the
pods bound to them that are not Succeeded/Failed (kube-scheduler's pod informer drops
terminated pods; pods being deleted stay until they are gone, and the scheduler's
"assumed" pods are in the list) and the labels of every namespace.

Filter: each node gets the first failing reason, in the default profile's plugin order:
- NodeUnschedulable (`spec.unschedulable`, unless the pod tolerates the unschedulable
  taint, as DaemonSet pods do), TaintToleration (NoSchedule/NoExecute),
  Ready (Portico's stand-in for the not-ready taint), NodeAffinity (`nodeSelector` and
  required node affinity, `matchFields` on `metadata.name` included);
- PodTopologySpread, the pod's `DoNotSchedule` constraints: for each, the matching pods
  (same namespace, not being deleted, `labelSelector` plus `matchLabelKeys`) are
  counted per domain over the nodes that carry every constraint's topology key and pass
  the inclusion policies (`nodeAffinityPolicy` Honor, `nodeTaintsPolicy` Ignore by
  default); a node fails when its domain's count, plus one if the pod matches itself,
  exceeds the smallest domain's count (0 while fewer than `minDomains` domains) by more
  than `maxSkew`; a node without the key fails "(missing required label)";
- InterPodAffinity: every required pod-affinity term needs a matching pod in the node's
  domain (all terms' keys on the node; the first pod of a group that matches its own
  terms passes when no pod matches at all); no required anti-affinity term may have a
  match in the node's domain; and no bound pod's required anti-affinity term may match
  the pod in its own domain (symmetry). A term's scope is `namespaces` or
  `namespaceSelector`, the pod's own namespace when both are empty; a nil selector
  matches nothing, an empty one everything. Pods being deleted count.
Reasons are counted per node and sorted as kube's FitError does:
`0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.`

Score: PodTopologySpread's `ScheduleAnyway` constraints and InterPodAffinity's preferred
terms (the pod's, and bound pods' preferred and required terms towards it), each
normalized to 0..100 as upstream and weighted 2 as in the default profile. kube's
system-default soft spreading (by hostname and zone, per owner) is replaced by
Portico's spread by count: equal scores go to the node with fewest pods, then by name.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from portico.controllers._pods import (
    Obj,
    condition,
    is_terminated,
    is_terminating,
    labels_of,
    meta,
)
from portico.model.selectors import (
    SelectorError,
    label_selector_matches,
    selector_from_node_selector_requirements,
    selector_from_set,
)
from portico.model.vocabulary import ConditionStatus, TolerationOperator

HOSTNAME_LABEL = "kubernetes.io/hostname"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR = "Honor"
POD_AFFINITY = "podAffinity"
POD_ANTI_AFFINITY = "podAntiAffinity"
MAX_NODE_SCORE = 100
SPREAD_WEIGHT = 2  # the default profile's weights of PodTopologySpread and InterPodAffinity
AFFINITY_WEIGHT = 2
HARD_POD_AFFINITY_WEIGHT = 1  # InterPodAffinityArgs.hardPodAffinityWeight
_SCHEDULING_EFFECTS = ("NoSchedule", "NoExecute")
# NodeUnschedulable lets a pod tolerating this taint (DaemonSet pods) onto a cordoned node.
UNSCHEDULABLE_TAINT: Obj = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}

R_NOT_READY = "node(s) were not ready"
R_UNSCHEDULABLE = "node(s) were unschedulable"
R_SELECTOR = "node(s) didn't match Pod's node affinity/selector"
R_SPREAD = "node(s) didn't match pod topology spread constraints"
R_SPREAD_LABEL = R_SPREAD + " (missing required label)"
R_AFFINITY = "node(s) didn't match pod affinity rules"
R_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
R_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
NO_NODES = "no nodes available to schedule pods"

Requirements = tuple[Obj, ...] | None  # a parsed LabelSelector; None selects nothing
TopologyPair = tuple[str, str]


@dataclass(frozen=True)
class Decision:
    node: str | None
    message: str


# --- label selectors ------------------------------------------------------------------
def requirements(selector: Obj | None) -> Requirements:
    """`LabelSelectorAsSelector`: nil selects nothing, `{}` everything."""
    if selector is None:
        return None
    exact = tuple({"key": k, "operator": "In", "values": [v]}
                  for k, v in (selector.get("matchLabels") or {}).items())
    return exact + tuple(selector.get("matchExpressions") or ())


def selects(reqs: Requirements, labels: Mapping[str, str]) -> bool:
    return reqs is not None and label_selector_matches({"matchExpressions": list(reqs)}, labels)


def _label_keys(labels: Mapping[str, str], keys: Iterable[str], op: str) -> tuple[Obj, ...]:
    """`matchLabelKeys` (In) / `mismatchLabelKeys` (NotIn): the owner's values of `keys`."""
    return tuple({"key": k, "operator": op, "values": [labels[k]]} for k in keys if k in labels)


# --- node filters (NodeUnschedulable, TaintToleration, NodeAffinity) ---------------------
def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == TolerationOperator.EXISTS:
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (
                taint.get("value") or ""):
            return True
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    """Label expressions on the node's labels, `matchFields` on `metadata.name`; a term
    with neither selects no node (`nodeaffinity.NewNodeSelector` skips it)."""
    expressions, match_fields = term.get("matchExpressions"), term.get("matchFields")
    if not expressions and not match_fields:
        return False
    fields = {"metadata.name": str(meta(node).get("name") or "")}
    return ((not expressions or _node_selects(expressions, labels_of(node)))
            and (not match_fields or _node_selects(match_fields, fields)))


def _node_selects(expressions: list[Obj], labels: Mapping[str, str]) -> bool:
    try:
        return selector_from_node_selector_requirements(expressions).matches(labels)
    except SelectorError:
        return False


def matches_node(pod: Obj, node: Obj) -> bool:
    """nodeSelector AND (any of the required node affinity terms)."""
    spec = pod.get("spec") or {}
    if not selector_from_set(spec.get("nodeSelector")).matches(labels_of(node)):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    return not terms or any(_term_matches(t, node) for t in terms)


def untolerated_taint(pod: Obj, node: Obj) -> Obj | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in _SCHEDULING_EFFECTS and not tolerates(tolerations, taint):
            return dict(taint)
    return None


def filter_reason(pod: Obj, node: Obj) -> str | None:
    """Why `node` itself cannot take `pod` (pods elsewhere aside), or None."""
    if (node.get("spec") or {}).get("unschedulable") and not tolerates(
            (pod.get("spec") or {}).get("tolerations") or [], UNSCHEDULABLE_TAINT):
        return R_UNSCHEDULABLE
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    ready = condition(node, "Ready")
    if not ready or ready.get("status") != ConditionStatus.TRUE:
        return R_NOT_READY
    if not matches_node(pod, node):
        return R_SELECTOR
    return None


# --- the snapshot -----------------------------------------------------------------------
def _name(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def _namespace(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


@dataclass
class Snapshot:
    """Nodes (by name) and the non-terminated pods bound to each."""

    nodes: list[Obj]
    pods_by_node: dict[str, list[Obj]]
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, pod: Obj, nodes: Iterable[Obj], pods: Iterable[Obj],
              namespaces: Mapping[str, Mapping[str, str]] | None = None) -> Snapshot:
        ordered = sorted(nodes, key=_name)
        by_node: dict[str, list[Obj]] = {_name(n): [] for n in ordered}
        me = (_namespace(pod), _name(pod))
        for other in pods:
            bound = (other.get("spec") or {}).get("nodeName")
            if (bound in by_node and not is_terminated(other)
                    and (_namespace(other), _name(other)) != me):
                by_node[bound].append(other)
        return cls(ordered, by_node, namespaces or {})

    def pods_on(self, node: Obj) -> list[Obj]:
        return self.pods_by_node.get(_name(node), [])

    def placed(self) -> Iterator[tuple[Obj, Obj]]:
        """(node, pod) for every bound pod."""
        for node in self.nodes:
            for pod in self.pods_on(node):
                yield node, pod

    def load(self, node: str) -> int:
        return len(self.pods_by_node.get(node, ()))

    def ns_labels(self, namespace: str) -> Mapping[str, str]:
        """A namespace's labels (an unknown one has only its name label, as kube sets it)."""
        known = self.namespace_labels.get(namespace)
        return known if known is not None else {NAMESPACE_NAME_LABEL: namespace}


# --- PodTopologySpread ------------------------------------------------------------------
@dataclass(frozen=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    selector: Requirements
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_taints: bool = False

    def includes(self, pod: Obj, node: Obj) -> bool:
        """The node inclusion policies: does `node` count for `pod`'s spreading?"""
        if self.honor_node_affinity and not matches_node(pod, node):
            return False
        return not (self.honor_taints and untolerated_taint(pod, node) is not None)


def spread_constraints(pod: Obj, action: str) -> list[SpreadConstraint]:
    """The pod's constraints with `whenUnsatisfiable == action`, upstream's defaults applied."""
    labels = labels_of(pod)
    out: list[SpreadConstraint] = []
    for c in (pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = requirements(c.get("labelSelector"))
        extra = _label_keys(labels, c.get("matchLabelKeys") or (), "In")
        if extra:
            selector = extra + (selector or ())
        out.append(SpreadConstraint(
            max_skew=int(c.get("maxSkew") or 1), topology_key=str(c.get("topologyKey") or ""),
            selector=selector, min_domains=max(1, int(c.get("minDomains") or 1)),
            honor_node_affinity=(c.get("nodeAffinityPolicy") or HONOR) == HONOR,
            honor_taints=(c.get("nodeTaintsPolicy") or "Ignore") == HONOR))
    return out


def _has_keys(node: Obj, constraints: list[SpreadConstraint]) -> bool:
    labels = labels_of(node)
    return all(c.topology_key in labels for c in constraints)


def _count_matching(pods: Iterable[Obj], selector: Requirements, namespace: str) -> int:
    """`countPodsMatchSelector`: pods being deleted do not count (kubernetes#87621)."""
    return sum(1 for p in pods if not is_terminating(p) and _namespace(p) == namespace
               and selects(selector, labels_of(p)))


@dataclass
class SpreadFilter:
    """PodTopologySpread's PreFilter state: matching pods per domain, per constraint."""

    pod: Obj
    constraints: list[SpreadConstraint]
    counts: list[dict[str, int]]

    @classmethod
    def build(cls, pod: Obj, snap: Snapshot) -> SpreadFilter:
        constraints = spread_constraints(pod, DO_NOT_SCHEDULE)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for node in snap.nodes:
            if not _has_keys(node, constraints):
                continue
            for c, domains in zip(constraints, counts, strict=True):
                if c.includes(pod, node):
                    value = labels_of(node)[c.topology_key]
                    domains[value] = domains.get(value, 0) + _count_matching(
                        snap.pods_on(node), c.selector, _namespace(pod))
        return cls(pod, constraints, counts)

    def reason(self, node: Obj) -> str | None:
        labels = labels_of(node)
        own = labels_of(self.pod)
        for c, domains in zip(self.constraints, self.counts, strict=True):
            if c.topology_key not in labels:
                return R_SPREAD_LABEL
            minimum = min(domains.values()) if len(domains) >= c.min_domains else 0
            here = domains.get(labels[c.topology_key], 0) + (1 if selects(c.selector, own) else 0)
            if here - minimum > c.max_skew:
                return R_SPREAD
        return None


def _round(value: float) -> int:
    """Go's math.Round for the non-negative scores here (halves away from zero)."""
    return math.floor(value + 0.5)


def spread_scores(pod: Obj, snap: Snapshot, feasible: list[Obj]) -> dict[str, int]:
    """PodTopologySpread's normalized score (0..100) for `ScheduleAnyway` constraints.

    Fewer matching pods in the node's domains score higher; each constraint's count is
    weighted by log(domains + 2) and softened by maxSkew - 1. Nodes missing a
    topology key score 0. No soft constraint: every node 0.
    """
    constraints = spread_constraints(pod, SCHEDULE_ANYWAY)
    if not constraints:
        return dict.fromkeys(map(_name, feasible), 0)
    scored = [n for n in feasible if _has_keys(n, constraints)]
    domains: list[dict[str, int]] = [
        {} if c.topology_key == HOSTNAME_LABEL
        else {labels_of(n)[c.topology_key]: 0 for n in scored} for c in constraints]
    weights = [math.log((len(scored) if c.topology_key == HOSTNAME_LABEL else len(d)) + 2)
               for c, d in zip(constraints, domains, strict=True)]
    for node in snap.nodes:
        if not _has_keys(node, constraints):
            continue
        for c, counts in zip(constraints, domains, strict=True):
            value = labels_of(node)[c.topology_key]
            if value in counts and c.includes(pod, node):
                counts[value] += _count_matching(snap.pods_on(node), c.selector, _namespace(pod))
    raw: dict[str, int] = {}
    for node in scored:
        total = 0.0
        for c, counts, weight in zip(constraints, domains, weights, strict=True):
            if c.topology_key == HOSTNAME_LABEL:
                count = _count_matching(snap.pods_on(node), c.selector, _namespace(pod))
            else:
                count = counts[labels_of(node)[c.topology_key]]
            total += count * weight + (c.max_skew - 1)
        raw[_name(node)] = _round(total)
    return {_name(n): _normalize_spread(raw, _name(n)) for n in feasible}


def _normalize_spread(raw: dict[str, int], name: str) -> int:
    if name not in raw:
        return 0
    low, high = min(raw.values()), max(raw.values())
    if high == 0:
        return MAX_NODE_SCORE
    return MAX_NODE_SCORE * (high + low - raw[name]) // high


# --- InterPodAffinity -------------------------------------------------------------------
@dataclass(frozen=True)
class AffinityTerm:
    """A PodAffinityTerm of its owner pod, parsed (weight 1 for required terms)."""

    selector: Requirements
    namespaces: frozenset[str]
    namespace_selector: Requirements
    topology_key: str
    weight: int = 1

    def matches(self, pod: Obj, snap: Snapshot) -> bool:
        namespace = _namespace(pod)
        in_scope = namespace in self.namespaces or selects(self.namespace_selector,
                                                           snap.ns_labels(namespace))
        return in_scope and selects(self.selector, labels_of(pod))


def _affinity_term(owner: Obj, term: Obj, weight: int = 1) -> AffinityTerm:
    selector = requirements(term.get("labelSelector"))
    if selector is not None:  # kube-apiserver merges the label keys into a non-nil selector
        labels = labels_of(owner)
        selector += _label_keys(labels, term.get("matchLabelKeys") or (), "In")
        selector += _label_keys(labels, term.get("mismatchLabelKeys") or (), "NotIn")
    namespaces = frozenset(term.get("namespaces") or ())
    if not namespaces and term.get("namespaceSelector") is None:
        namespaces = frozenset({_namespace(owner)})
    return AffinityTerm(selector, namespaces, requirements(term.get("namespaceSelector")),
                        str(term.get("topologyKey") or ""), weight)


def affinity_terms(pod: Obj, kind: str, required: bool) -> list[AffinityTerm]:
    """`kind` is podAffinity or podAntiAffinity; required or preferred (weighted) terms."""
    section = ((pod.get("spec") or {}).get("affinity") or {}).get(kind) or {}
    if required:
        return [_affinity_term(pod, t) for t in
                section.get("requiredDuringSchedulingIgnoredDuringExecution") or []]
    return [_affinity_term(pod, w.get("podAffinityTerm") or {}, int(w.get("weight") or 0))
            for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []]


def _pair(node: Obj, key: str) -> TopologyPair | None:
    value = labels_of(node).get(key)
    return None if value is None else (key, value)


@dataclass
class AffinityFilter:
    """InterPodAffinity's PreFilter state: matches per topology pair."""

    affinity: list[AffinityTerm]
    anti_affinity: list[AffinityTerm]
    affinity_counts: Counter[TopologyPair]
    anti_affinity_counts: Counter[TopologyPair]
    existing_anti_affinity: Counter[TopologyPair]
    matches_itself: bool

    @classmethod
    def build(cls, pod: Obj, snap: Snapshot) -> AffinityFilter:
        affinity = affinity_terms(pod, POD_AFFINITY, required=True)
        anti = affinity_terms(pod, POD_ANTI_AFFINITY, required=True)
        state = cls(affinity, anti, Counter(), Counter(), Counter(),
                    bool(affinity) and all(t.matches(pod, snap) for t in affinity))
        for node, existing in snap.placed():
            for term in affinity_terms(existing, POD_ANTI_AFFINITY, required=True):
                if term.matches(pod, snap):
                    _bump(state.existing_anti_affinity, node, term.topology_key)
            if affinity and all(t.matches(existing, snap) for t in affinity):
                for term in affinity:
                    _bump(state.affinity_counts, node, term.topology_key)
            for term in anti:
                if term.matches(existing, snap):
                    _bump(state.anti_affinity_counts, node, term.topology_key)
        return state

    def reason(self, node: Obj) -> str | None:
        if not self._satisfies_affinity(node):
            return R_AFFINITY
        for term in self.anti_affinity:
            pair = _pair(node, term.topology_key)
            if pair is not None and self.anti_affinity_counts[pair] > 0:
                return R_ANTI_AFFINITY
        if any(self.existing_anti_affinity[pair] > 0 for pair in labels_of(node).items()):
            return R_EXISTING_ANTI_AFFINITY
        return None

    def _satisfies_affinity(self, node: Obj) -> bool:
        found = True
        for term in self.affinity:
            pair = _pair(node, term.topology_key)
            if pair is None:
                return False  # every term's topology key must be on the node
            if self.affinity_counts[pair] <= 0:
                found = False
        # the first pod of a group with affinity to itself may go anywhere
        return found or (not self.affinity_counts and self.matches_itself)


def _bump(counts: Counter[TopologyPair], node: Obj, key: str, by: int = 1) -> None:
    pair = _pair(node, key)
    if pair is not None:
        counts[pair] += by


def affinity_scores(pod: Obj, snap: Snapshot, feasible: list[Obj]) -> dict[str, int]:
    """InterPodAffinity's normalized score (0..100).

    Per topology pair: + weight for each bound pod matching the pod's preferred affinity
    terms, - weight for its preferred anti-affinity terms; symmetrically + weight of
    each bound pod's preferred affinity term the pod matches (+1 for its required ones),
    - weight of its preferred anti-affinity terms. A node sums its labels' pairs.
    """
    preferred = affinity_terms(pod, POD_AFFINITY, required=False)
    avoided = affinity_terms(pod, POD_ANTI_AFFINITY, required=False)
    pairs: Counter[TopologyPair] = Counter()
    for node, existing in snap.placed():
        for term in preferred:
            if term.matches(existing, snap):
                _bump(pairs, node, term.topology_key, term.weight)
        for term in avoided:
            if term.matches(existing, snap):
                _bump(pairs, node, term.topology_key, -term.weight)
        towards = [*affinity_terms(existing, POD_AFFINITY, required=False),
                   *(AffinityTerm(t.selector, t.namespaces, t.namespace_selector,
                                  t.topology_key, HARD_POD_AFFINITY_WEIGHT)
                     for t in affinity_terms(existing, POD_AFFINITY, required=True))]
        for term in towards:
            if term.matches(pod, snap):
                _bump(pairs, node, term.topology_key, term.weight)
        for term in affinity_terms(existing, POD_ANTI_AFFINITY, required=False):
            if term.matches(pod, snap):
                _bump(pairs, node, term.topology_key, -term.weight)
    raw = {_name(n): sum(pairs[pair] for pair in labels_of(n).items()) for n in feasible}
    low, high = min([0, *raw.values()]), max([0, *raw.values()])
    if high == low:
        return dict.fromkeys(raw, 0)
    return {name: int(MAX_NODE_SCORE * (score - low) / (high - low))
            for name, score in raw.items()}


# --- the decision -----------------------------------------------------------------------
def node_scores(pod: Obj, snap: Snapshot, feasible: list[Obj]) -> dict[str, int]:
    """The weighted sum of the score plugins per feasible node (higher is better)."""
    spread = spread_scores(pod, snap, feasible)
    affinity = affinity_scores(pod, snap, feasible)
    return {_name(n): SPREAD_WEIGHT * spread[_name(n)] + AFFINITY_WEIGHT * affinity[_name(n)]
            for n in feasible}


def fit_error(total: int, reasons: Counter[str]) -> str:
    """kube's FitError: the reasons as "<count> <reason>", sorted as strings."""
    detail = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    return f"0/{total} nodes are available: {detail}."


def schedule(pod: Obj, nodes: Iterable[Obj], pods: Iterable[Obj] = (),
             namespaces: Mapping[str, Mapping[str, str]] | None = None,
             volume_reason: Callable[[Obj], str | None] | None = None) -> Decision:
    """Pick a node for `pod` among `nodes`, given the `pods` bound to them
    (`volume_reason`: why a node cannot have the pod's volumes, see `_volume_binding`)."""
    snap = Snapshot.build(pod, nodes, pods, namespaces)
    if not snap.nodes:
        return Decision(None, NO_NODES)
    spread = SpreadFilter.build(pod, snap)
    affinity = AffinityFilter.build(pod, snap)
    reasons: Counter[str] = Counter()
    feasible: list[Obj] = []
    for node in snap.nodes:
        reason = filter_reason(pod, node) or (volume_reason and volume_reason(node)) \
            or spread.reason(node) or affinity.reason(node)
        if reason is None:
            feasible.append(node)
        else:
            reasons[reason] += 1
    if not feasible:
        return Decision(None, fit_error(len(snap.nodes), reasons))
    scores = node_scores(pod, snap, feasible)
    best = min(scores, key=lambda name: (-scores[name], snap.load(name), name))
    return Decision(best, "")
