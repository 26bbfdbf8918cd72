"""One Ingress host's paths -> HTTPRoute rules, with its canary merged in (pure).

The half of `togateway` that works path by path: matches, backendRefs, URLRewrite,
timeouts, and the canary Ingress of the same host and path as weighted
backendRefs and header-matched rules.  Every deviation is a note; see
`togateway` for the whole mapping.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from portico.ingress.model import Options
from portico.model.gatewayapi import PathMatchType
from portico.model.vocabulary import PathType

Obj = dict[str, Any]
PortLookup = Callable[[str, str, str], int | None]  # namespace, Service, port name
# ingress-nginx's strip-a-prefix idiom: path `/app(/|$)(.*)` with target `/$2`
_STRIP_PREFIX = re.compile(r"^(?P<prefix>/[-._~a-zA-Z0-9/]*?)/?\(/\|\$\)\(\.\*\)$")
_PATH_TYPES = {PathType.EXACT: PathMatchType.EXACT, PathType.PREFIX: PathMatchType.PATH_PREFIX}


@dataclass(frozen=True)
class IngressView:
    """One Ingress as the conversion reads it: its spec and parsed annotations."""

    name: str
    namespace: str
    spec: Obj
    options: Options
    annotations: frozenset[str]  # the annotation keys given (prefix stripped)


def note(notes: list[str], ingress: IngressView, message: str) -> None:
    notes.append(f"ingress {ingress.namespace}/{ingress.name}: {message}")


@dataclass
class Canaries:
    """Canary Ingresses' paths by (host, path), and which a main Ingress used."""

    paths: dict[tuple[str, str], tuple[IngressView, Obj]] = field(default_factory=dict)
    used: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def of(cls, ingresses: Sequence[IngressView], notes: list[str]) -> Canaries:
        canaries = cls()
        for ingress in ingresses:
            if ingress.options.canary:
                own = sorted(k for k in ingress.annotations if not k.startswith("canary"))
                if own:
                    note(notes, ingress, f"annotations {', '.join(own)} of a canary are not "
                         "converted: its rules are the main Ingress's")
                for rule in ingress.spec.get("rules") or []:
                    for path in (rule.get("http") or {}).get("paths") or []:
                        key = (rule.get("host", ""), path.get("path") or "/")
                        canaries.paths.setdefault(key, (ingress, path["backend"]))
        return canaries

    def take(self, host: str, path: str) -> tuple[IngressView, Obj] | None:
        found = self.paths.get((host, path))
        if found is not None:
            self.used.add((host, path))
        return found

    def report_unused(self, notes: list[str]) -> None:
        for (host, path), (ingress, _) in sorted(self.paths.items()):
            if (host, path) not in self.used:
                note(notes, ingress, f"canary for {host or '*'}{path} has no main Ingress of "
                     "the same host and path; not converted")


def backend_ref(ingress: IngressView, backend: Obj, ports: PortLookup,
                notes: list[str]) -> Obj | None:
    service = backend.get("service")
    if service is None:
        note(notes, ingress, f"resource backend {backend.get('resource')} has no Gateway API "
             "form; its rule answers 500")
        return None
    port = service.get("port") or {}
    number = port.get("number")
    if number is None and port.get("name"):
        number = ports(ingress.namespace, service["name"], port["name"])
        if number is None:
            note(notes, ingress, f"Service {service['name']} has no port named "
                 f"{port['name']!r} (backendRefs need a number); its rule answers 500")
            return None
    return {"name": service["name"], "port": number}


def _match(ingress: IngressView, path: Obj, notes: list[str]) -> tuple[Obj, list[Obj]]:
    """The path match of an Ingress path, and the URLRewrite filter it implies."""
    value, options = path.get("path") or "/", ingress.options
    kind = PathMatchType.REGULAR_EXPRESSION if options.use_regex else _PATH_TYPES.get(
        path.get("pathType", ""), PathMatchType.PATH_PREFIX)
    specific = path.get("pathType") == PathType.IMPLEMENTATION_SPECIFIC
    if kind == PathMatchType.PATH_PREFIX and specific:
        note(notes, ingress, f"ImplementationSpecific path {value} became PathPrefix, which "
             "matches whole segments (ingress-nginx matches characters)")
    target = options.rewrite_target
    if target is None:
        return {"path": {"type": kind.value, "value": value}}, []
    strip = _STRIP_PREFIX.match(value)
    if strip and target == "/$2":
        return ({"path": {"type": "PathPrefix", "value": strip["prefix"] or "/"}},
                [{"type": "URLRewrite", "urlRewrite": {"path": {
                    "type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}])
    if "$" in target:
        note(notes, ingress, f"rewrite-target {target} uses regex captures, which Gateway API "
             f"cannot express; path {value} is not rewritten")
        return {"path": {"type": kind.value, "value": value}}, []
    return ({"path": {"type": kind.value, "value": value}},
            [{"type": "URLRewrite", "urlRewrite": {"path": {
                "type": "ReplaceFullPath", "replaceFullPath": target}}}])


def _canary_rules(base: Obj, main: Obj, canary: IngressView, canary_ref: Obj) -> list[Obj]:
    """Header-matched rules sending to the canary (or, for `never`, the main backend)."""
    options = canary.options
    if options.canary_header is None:
        return []
    match = base.get("matches", [{}])[0]
    name = options.canary_header

    def rule(header: Obj, ref: Obj) -> Obj:
        return {**base, "matches": [{**match, "headers": [header]}], "backendRefs": [ref]}

    if options.canary_header_value is not None:
        return [rule({"name": name, "value": options.canary_header_value}, canary_ref)]
    if options.canary_header_pattern is not None:
        return [rule({"type": "RegularExpression", "name": name,
                      "value": options.canary_header_pattern}, canary_ref)]
    return [rule({"name": name, "value": "always"}, canary_ref),
            rule({"name": name, "value": "never"}, main)]


def route_rules(ingress: IngressView, host: str, paths: Sequence[Obj], canaries: Canaries,
                ports: PortLookup, notes: list[str]) -> list[Obj]:
    """The rules of one (Ingress, host); a path-less entry is the default backend."""
    rules: list[Obj] = []
    for path in paths:
        rule: Obj = {}
        if "path" in path or "pathType" in path:
            match, filters = _match(ingress, path, notes)
            rule["matches"] = [match]
            if filters:
                rule["filters"] = filters
        if ingress.options.read_timeout is not None:
            rule["timeouts"] = {"backendRequest": f"{ingress.options.read_timeout}s"}
        main = backend_ref(ingress, path["backend"], ports, notes)
        rule["backendRefs"] = [main] if main else []
        canary = canaries.take(host, path.get("path") or "/") if main else None
        if canary is not None and main is not None:
            canary_ref = backend_ref(canary[0], canary[1], ports, notes)
            if canary_ref is not None:
                rules += _canary_rules(rule, main, canary[0], canary_ref)
                rule["backendRefs"] = _weighted(main, canary[0].options, canary_ref)
        rules.append(rule)
    return rules


def _weighted(main: Obj, options: Options, canary_ref: Obj) -> list[Obj]:
    if options.canary_weight == 0:
        return [main]
    total = options.canary_weight_total
    weight = min(options.canary_weight, total)
    return [{**main, "weight": total - weight}, {**canary_ref, "weight": weight}]
