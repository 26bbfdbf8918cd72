"""Ingresses -> the equivalent Gateway API objects, for migrating to approuting-istio (pure).

Theory of operation: the Ingresses of one namespace become one Gateway of class
`approuting-istio` and one HTTPRoute per (Ingress, host).  The Gateway gets an
HTTP listener (port 80) per host the Ingresses name (`http-<host>`; `http` for
rules without a host) and an HTTPS listener (port 443) per TLS host
(`https-<host>`, terminating with the Ingress's Secret).  Each route attaches to
its host's listeners by `sectionName`; its rules are the Ingress's paths:

- pathType Exact -> Exact, Prefix -> PathPrefix, ImplementationSpecific ->
  PathPrefix, or RegularExpression when use-regex (or rewrite-target) is set;
- the Service backend -> a backendRef (a named port resolved through `ports`);
- rewrite-target -> URLRewrite: ReplaceFullPath for a target without captures,
  ReplacePrefixMatch `/` for the `PREFIX(/|$)(.*)` -> `/$2` idiom;
- ssl-redirect (on by default for TLS hosts) and force-ssl-redirect -> a second
  route on the HTTP listener with a RequestRedirect to https, status 308 as
  ingress-nginx answers;
- a canary Ingress for the same host and path -> weighted backendRefs
  (canary-weight of canary-weight-total), and canary-by-header(-value|-pattern)
  -> rules with a header match sending to the canary (`always`) or the main
  backend (`never`);
- proxy-read-timeout -> `timeouts.backendRequest`.

Everything else (other annotations, resource backends, unresolvable ports,
canaries without a main Ingress, semantic differences) becomes a note naming the
Ingress: nothing is dropped silently.  Output order is deterministic: the
Gateway, then the routes by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from portico.ingress._torules import (
    Canaries,
    IngressView,
    Obj,
    PortLookup,
    note,
    route_rules,
)
from portico.ingress.annotations import collect, parse

GROUP = "gateway.networking.k8s.io"
API_VERSION = f"{GROUP}/v1"
GATEWAY_CLASS = "approuting-istio"
REDIRECT_STATUS = 308  # ingress-nginx's ssl-redirect code
# Annotations Portico honours that Gateway API's standard channel has no form for
NO_FORM = {
    "proxy-connect-timeout": "no Gateway API form (only request and backendRequest timeouts)",
    "proxy-send-timeout": "no Gateway API form (only request and backendRequest timeouts)",
    "proxy-body-size": "no Gateway API form",
    "affinity": "session persistence is experimental-channel only",
    "whitelist-source-range": "no Gateway API form",
    "limit-rps": "no Gateway API form",
    "auth-type": "no Gateway API form",
    "backend-protocol": "HTTPS backends need a BackendTLSPolicy with the backend's CA",
    "canary-by-cookie": "Gateway API matches no cookies",
}
MAX_RULES = 16  # an HTTPRoute's rules (the CRD's maxItems): more make more routes


@dataclass
class Conversion:
    objects: list[Obj] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def slug(host: str) -> str:
    """A listener-name-safe form of a host: `*.example.com` -> `wildcard-example-com`."""
    return host.lower().replace("*", "wildcard").replace(".", "-")


def convert(ingresses: Sequence[Obj], ports: PortLookup,
            gateway: str = "gateway") -> Conversion:
    """The Gateway API objects for `ingresses`, one Gateway per namespace."""
    result = Conversion()
    namespaces = sorted({i["metadata"].get("namespace", "default") for i in ingresses})
    for namespace in namespaces:
        members = [_view(i, result.notes) for i in ingresses
                   if i["metadata"].get("namespace", "default") == namespace]
        _convert_namespace(sorted(members, key=lambda i: i.name), ports, gateway, result)
    return result


def _view(ingress: Obj, notes: list[str]) -> IngressView:
    meta = ingress["metadata"]
    annotations = meta.get("annotations") or {}
    found, _ = collect(annotations)
    options, problems = parse(annotations, meta.get("namespace", "default"),
                              lambda ns, name: None)
    view = IngressView(meta["name"], meta.get("namespace", "default"),
                       ingress.get("spec") or {}, options, frozenset(found))
    for _reason, message in problems:
        if not message.startswith("annotation auth-type"):  # listed below as having no form
            note(notes, view, f"{message}; not converted")
    if options.use_regex:
        note(notes, view, "use-regex: paths became RegularExpression matches, which are "
             "case-sensitive (ingress-nginx's regex locations are not)")
    for key in sorted(view.annotations & NO_FORM.keys()):
        note(notes, view, f"annotation {key}: {NO_FORM[key]}; not converted")
    return view


def _tls_secrets(ingresses: Sequence[IngressView],
                 notes: list[str]) -> dict[str, tuple[str, IngressView]]:
    """TLS host ("" for TLS without hosts) -> its Secret and Ingress, the first winning."""
    secrets: dict[str, tuple[str, IngressView]] = {}
    for ingress in ingresses:
        if ingress.options.canary:
            continue
        for tls in ingress.spec.get("tls") or []:
            for host in tls.get("hosts") or [""]:
                secret = tls.get("secretName")
                if not secret:
                    note(notes, ingress, f"TLS for {host or 'every host'} without a "
                         "secretName (the controller's default certificate); not converted")
                elif secrets.setdefault(host, (secret, ingress))[0] != secret:
                    note(notes, ingress, f"TLS Secret {secret} for {host or 'every host'} "
                         f"ignored: another Ingress gives {secrets[host][0]}")
    return secrets


def _served_secrets(hosts: list[str], tls: Mapping[str, tuple[str, IngressView]],
                    notes: list[str]) -> dict[str, str]:
    """Served host -> the Secret of its TLS entry, exact or a wildcard covering it (as
    the certificate's SAN would); a TLS entry serving no host is noted."""
    served: dict[str, str] = {}
    used: set[str] = set()
    for host in hosts:
        parent = host.split(".", 1)[1] if "." in host and not host.startswith("*") else None
        for candidate in (host, f"*.{parent}" if parent else None):
            if candidate is not None and candidate in tls:
                served[host] = tls[candidate][0]
                used.add(candidate)
                break
    for host, (secret, ingress) in sorted(tls.items()):
        if host not in used:
            note(notes, ingress, f"TLS Secret {secret} for {host or 'every host'}: no rule "
                 "serves that host; not converted")
    return served


def _hosts(ingresses: Sequence[IngressView]) -> list[str]:
    hosts = {rule.get("host", "") for i in ingresses if not i.options.canary
             for rule in i.spec.get("rules") or []}
    if any(i.spec.get("defaultBackend") and not i.options.canary for i in ingresses):
        hosts.add("")
    return sorted(hosts)


def _listeners(hosts: list[str], secrets: Mapping[str, str]) -> list[Obj]:
    listeners = []
    for host in hosts:
        listeners.append(_listener("http", host, 80, "HTTP"))
        if host in secrets:
            listener = _listener("https", host, 443, "HTTPS")
            listener["tls"] = {"mode": "Terminate",
                               "certificateRefs": [{"kind": "Secret", "name": secrets[host]}]}
            listeners.append(listener)
    return listeners


def _listener(kind: str, host: str, port: int, protocol: str) -> Obj:
    listener: Obj = {"name": f"{kind}-{slug(host)}" if host else kind, "port": port,
                     "protocol": protocol}
    if host:
        listener["hostname"] = host
    return listener


def _convert_namespace(ingresses: list[IngressView], ports: PortLookup, gateway: str,
                       result: Conversion) -> None:
    namespace = ingresses[0].namespace
    hosts = _hosts(ingresses)
    if not hosts:
        return
    secrets = _served_secrets(hosts, _tls_secrets(ingresses, result.notes), result.notes)
    result.objects.append({
        "apiVersion": API_VERSION, "kind": "Gateway",
        "metadata": {"name": gateway, "namespace": namespace},
        "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": _listeners(hosts, secrets)},
    })
    canaries = Canaries.of(ingresses, result.notes)
    routes: list[Obj] = []
    for ingress in ingresses:
        if ingress.options.canary:
            continue
        for host, paths in _paths_by_host(ingress).items():
            rules = route_rules(ingress, host, paths, canaries, ports, result.notes)
            routes += _routes(ingress, gateway, host, rules, host in secrets, result.notes)
    canaries.report_unused(result.notes)
    result.objects += sorted(routes, key=lambda r: str(r["metadata"]["name"]))


def _paths_by_host(ingress: IngressView) -> dict[str, list[Obj]]:
    """Host -> its HTTP paths; the default backend is a path-less entry of host ""."""
    paths: dict[str, list[Obj]] = {}
    for rule in ingress.spec.get("rules") or []:
        paths.setdefault(rule.get("host", ""), []).extend((rule.get("http") or {}).get("paths")
                                                          or [])
    if ingress.spec.get("defaultBackend"):
        paths.setdefault("", []).append({"backend": ingress.spec["defaultBackend"]})
    return paths


def _routes(ingress: IngressView, gateway: str, host: str, rules: list[Obj], tls: bool,
            notes: list[str]) -> list[Obj]:
    """The route of (ingress, host), and its https redirect route when one is due."""
    name = f"{ingress.name}-{slug(host)}" if host else ingress.name
    http, https = _listener("http", host, 0, "")["name"], _listener("https", host, 0, "")["name"]
    redirect = (ingress.options.ssl_redirect and tls) or ingress.options.force_ssl_redirect
    if redirect and not tls:
        note(notes, ingress, f"force-ssl-redirect for {host or 'every host'}, which has no "
              "TLS here: not converted (the Gateway has no HTTPS listener for it)")
        redirect = False
    sections = [https] if redirect else [http, https] if tls else [http]
    routes = _chunked(ingress, name, gateway, host, sections, rules)
    if redirect:
        redirects = [{**({"matches": [{"path": m["path"]} for m in r["matches"]]}
                         if "matches" in r else {}),
                      "filters": [{"type": "RequestRedirect", "requestRedirect": {
                          "scheme": "https", "statusCode": REDIRECT_STATUS}}]} for r in rules]
        unique = [r for i, r in enumerate(redirects) if r not in redirects[:i]]
        routes += _chunked(ingress, f"{name}-https-redirect", gateway, host, [http], unique)
    return routes


def _chunked(ingress: IngressView, name: str, gateway: str, host: str, sections: list[str],
             rules: list[Obj]) -> list[Obj]:
    """Routes of at most MAX_RULES rules each: `name`, `name-2`, ..."""
    chunks = [rules[i:i + MAX_RULES] for i in range(0, len(rules), MAX_RULES)]
    return [_route(ingress, name if n == 0 else f"{name}-{n + 1}", gateway, host, sections,
                   chunk) for n, chunk in enumerate(chunks)]


def _route(ingress: IngressView, name: str, gateway: str, host: str, sections: list[str],
           rules: list[Obj]) -> Obj:
    spec: Obj = {"parentRefs": [{"name": gateway, "sectionName": s} for s in sections]}
    if host:
        spec["hostnames"] = [host]
    spec["rules"] = rules
    return {"apiVersion": API_VERSION, "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": ingress.namespace}, "spec": spec}


def to_yaml(conversion: Conversion) -> str:
    """The objects as a YAML stream, headed by the notes as comments."""
    import yaml

    head = ["# Gateway API objects equivalent to the Ingresses (portico gateway convert)"]
    if conversion.notes:
        head += ["# Not converted or converted with a difference:"]
        head += [f"#   {n}" for n in conversion.notes]
    class Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True  # shared match dicts are printed in full, not as &id001

    body = "---\n".join(yaml.dump(o, Dumper=Dumper, sort_keys=False)
                        for o in conversion.objects)
    return "\n".join(head) + "\n" + ("---\n" + body if body else "")
