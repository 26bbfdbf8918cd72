"""RBAC PolicyRule matching and coverage (pure), as `pkg/apis/rbac/v1/evaluation_helpers.go`.

A rule allows a resource request when its verbs, apiGroups, resources (`*`, an exact
`resource/subresource`, or `*/subresource`) and resourceNames (empty: any name)
match; a non-resource request when its verbs and nonResourceURLs (exact, `*`, or a
prefix ending in `*`) match. `uncovered(owner, requested)` is the escalation check:
the requested rules broken into single (group, resource, verb, name) permissions,
each of which some owner rule must allow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from portico.apiserver.auth._attributes import Attributes

ALL = "*"


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: dict[str, object]) -> Rule:
        def strings(key: str) -> tuple[str, ...]:
            value = raw.get(key) or []
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        return cls(strings("verbs"), strings("apiGroups"), strings("resources"),
                   strings("resourceNames"), strings("nonResourceURLs"))

    def as_object(self) -> dict[str, list[str]]:
        out = {"verbs": list(self.verbs)}
        for key, value in (("apiGroups", self.api_groups), ("resources", self.resources),
                           ("resourceNames", self.resource_names),
                           ("nonResourceURLs", self.non_resource_urls)):
            if value:
                out[key] = list(value)
        return out

    def compact(self) -> str:
        """The rule as `CompactString` prints it in escalation errors."""
        fields = []
        for label, value in (("APIGroups", self.api_groups), ("Resources", self.resources),
                             ("NonResourceURLs", self.non_resource_urls),
                             ("ResourceNames", self.resource_names), ("Verbs", self.verbs)):
            if value:
                fields.append(f"{label}:[" + " ".join(f'"{v}"' for v in value) + "]")
        return "{" + ", ".join(fields) + "}"


def _has(values: Sequence[str], wanted: str) -> bool:
    return ALL in values or wanted in values


def _resource_matches(rule: Rule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for candidate in rule.resources:
        if candidate in (ALL, combined):
            return True
        if subresource and candidate == f"*/{subresource}":
            return True
    return False


def _url_matches(rule: Rule, path: str) -> bool:
    for candidate in rule.non_resource_urls:
        if candidate in (ALL, path):
            return True
        if candidate.endswith("*") and path.startswith(candidate[:-1]):
            return True
    return False


def allows(rule: Rule, attrs: Attributes) -> bool:
    if not _has(rule.verbs, attrs.verb):
        return False
    if not attrs.resource_request:
        return _url_matches(rule, attrs.path)
    return (_has(rule.api_groups, attrs.api_group)
            and _resource_matches(rule, attrs.resource, attrs.subresource)
            and (not rule.resource_names or attrs.name in rule.resource_names))


def any_allows(rules: Iterable[Rule], attrs: Attributes) -> bool:
    return any(allows(rule, attrs) for rule in rules)


def _atoms(rule: Rule) -> Iterable[Attributes]:
    """A rule as single permissions (a wildcard stays a wildcard the owner must hold)."""
    for verb in rule.verbs:
        for url in rule.non_resource_urls:
            yield Attributes(verb, False, path=url)
        for group in rule.api_groups:
            for resource in rule.resources:
                name_list = rule.resource_names or ("",)
                res, _, sub = resource.partition("/")
                for name in name_list:
                    yield Attributes(verb, True, api_group=group, resource=res,
                                     subresource=sub, name=name)


def _covers(owner: Rule, atom: Attributes) -> bool:
    if not _has(owner.verbs, atom.verb):
        return False
    if not atom.resource_request:
        return _url_matches(owner, atom.path)
    combined = f"{atom.resource}/{atom.subresource}" if atom.subresource else atom.resource
    return (_has(owner.api_groups, atom.api_group)
            and (ALL in owner.resources or combined in owner.resources
                 or (bool(atom.subresource) and f"*/{atom.subresource}" in owner.resources))
            and (not owner.resource_names or atom.name in owner.resource_names))


def uncovered(owner: Sequence[Rule], requested: Iterable[Rule]) -> list[Rule]:
    """The requested permissions no owner rule grants, one rule per permission."""
    missing: list[Rule] = []
    for rule in requested:
        for atom in _atoms(rule):
            if any(_covers(o, atom) for o in owner):
                continue
            if atom.resource_request:
                resource = atom.resource + (f"/{atom.subresource}" if atom.subresource else "")
                missing.append(Rule((atom.verb,), (atom.api_group,), (resource,),
                                    (atom.name,) if atom.name else ()))
            else:
                missing.append(Rule((atom.verb,), non_resource_urls=(atom.path,)))
    return missing


def compact(rules: Iterable[Rule]) -> list[Rule]:
    """Single-resource rules that differ only in verbs merged into one (`CompactRules`)."""
    merged: dict[tuple[tuple[str, ...], ...], list[str]] = {}
    for rule in rules:
        key = (rule.api_groups, rule.resources, rule.resource_names, rule.non_resource_urls)
        verbs = merged.setdefault(key, [])
        verbs.extend(v for v in rule.verbs if v not in verbs)
    return [Rule(tuple(verbs), *key) for key, verbs in merged.items()]
