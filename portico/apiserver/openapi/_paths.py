"""The `paths` of one group-version's OpenAPI v3 document, shaped like kube-apiserver's.

For each resource the document lists the collection and item URLs (namespaced
ones also get the all-namespaces list), the deprecated `watch/` URLs and the
`status`/`scale` subresources. Every operation carries `operationId`,
`x-kubernetes-action`, `x-kubernetes-group-version-kind`, its query `parameters`
(writes declare `dryRun`, `fieldManager`, `fieldValidation`; patch adds `force`),
a `requestBody` and `responses` that `$ref` the kind's schema. kubectl's
`--validate=strict` looks for `fieldValidation` on the kind's `patch` operation.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.openapi._convert import schema_ref
from portico.apiserver.resources._base import ResourceType, Subresource

Operation = dict[str, Any]

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
STATUS = META + "Status"
DELETE_OPTIONS = META + "DeleteOptions"
PATCH = META + "Patch"
WATCH_EVENT = META + "WatchEvent"

PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)

_DESCRIPTIONS = {
    "dryRun": "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed",  # noqa: E501
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",  # noqa: E501
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",  # noqa: E501
    "force": "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",  # noqa: E501
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",  # noqa: E501
    "propagationPolicy": "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",  # noqa: E501
    "pretty": "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",  # noqa: E501
    "allowWatchBookmarks": "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
    "continue": "The continue option should be set when retrieving more results from the server.",  # noqa: E501
    "fieldSelector": "A selector to restrict the list of returned objects by their fields. Defaults to everything.",  # noqa: E501
    "labelSelector": "A selector to restrict the list of returned objects by their labels. Defaults to everything.",  # noqa: E501
    "limit": "limit is a maximum number of responses to return for a list call.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",  # noqa: E501
    "resourceVersionMatch": "resourceVersionMatch determines how resourceVersion is applied to list calls.",  # noqa: E501
    "sendInitialEvents": "`sendInitialEvents=true` may be set together with `watch=true`.",
    "timeoutSeconds": "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",  # noqa: E501
    "watch": "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",  # noqa: E501
}
_TYPES = {
    "force": "boolean", "gracePeriodSeconds": "integer", "allowWatchBookmarks": "boolean",
    "limit": "integer", "sendInitialEvents": "boolean", "timeoutSeconds": "integer",
    "watch": "boolean",
}
_LIST_PARAMS = (
    "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
    "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")


def query(name: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[name], "in": "query", "name": name,
        "schema": {"type": _TYPES.get(name, "string"), "uniqueItems": True},
    }


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description, "in": "path", "name": name, "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }


def _content(schema_name: str, *types: str) -> dict[str, Any]:
    return {t: {"schema": schema_ref(schema_name)} for t in types or ("application/json",)}


def _responses(schema_name: str, codes: tuple[str, ...], watch: bool = False) -> dict[str, Any]:
    words = {"200": "OK", "201": "Created", "202": "Accepted"}
    types = ("application/json", "application/json;stream=watch") if watch else ()
    out: dict[str, Any] = {
        code: {"content": _content(schema_name, *types), "description": words[code]}
        for code in codes
    }
    out["401"] = {"description": "Unauthorized"}
    return out


def group_words(group: str) -> list[str]:
    """`networking.k8s.io` -> ["networking"]; `` -> ["core"]; dotted names split."""
    if not group:
        return ["core"]
    return group.removesuffix(".k8s.io").split(".")


def tag(group: str, version: str) -> str:
    words = group_words(group)
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:]) + "_" + version


def operation_prefix(group: str, version: str) -> str:
    """`CoreV1`, `AppsV1`, `NetworkingV1`, `RbacAuthorizationV1`."""
    words = [*group_words(group), version]
    return "".join(w[:1].upper() + w[1:] for w in words)


class _Builder:
    """Builds the operations of one resource; `schema` is the kind's definition name."""

    def __init__(self, rt: ResourceType, schema: str, list_schema: str) -> None:
        self.rt = rt
        self.schema = schema
        self.list_schema = list_schema
        self.prefix = operation_prefix(rt.group, rt.version)
        self.tag = tag(rt.group, rt.version)

    def op(self, action: str, op_id: str, description: str, gvk: dict[str, str],
           **parts: Any) -> Operation:
        out: Operation = {"description": description, "operationId": op_id}
        out.update(parts)
        out["tags"] = [self.tag]
        out["x-kubernetes-action"] = action
        out["x-kubernetes-group-version-kind"] = gvk
        return out

    def gvk(self) -> dict[str, str]:
        return {"group": self.rt.group, "kind": self.rt.kind, "version": self.rt.version}

    def write_params(self, patch: bool = False) -> list[dict[str, Any]]:
        params = [query(name) for name in _WRITE_PARAMS]
        return [*params, query("force")] if patch else params

    def item_ops(self, scope: str, schema: str, gvk: dict[str, str], sub: str = "",
                 verbs: tuple[str, ...] = ()) -> dict[str, Operation]:
        """get/put/patch/delete on one object (or one subresource of it)."""
        kind = self.rt.kind + sub[:1].upper() + sub[1:]
        what = f"{sub} of the specified {self.rt.kind}" if sub else f"the specified {kind}"
        verbs = verbs or self.rt.verbs
        ops: dict[str, Operation] = {}
        if "get" in verbs:
            ops["get"] = self.op("get", f"read{self.prefix}{scope}{kind}", f"read {what}", gvk,
                                 responses=_responses(schema, ("200",)))
        if "update" in verbs:
            ops["put"] = self.op(
                "put", f"replace{self.prefix}{scope}{kind}", f"replace {what}", gvk,
                parameters=self.write_params(),
                requestBody={"content": _content(schema, "*/*"), "required": True},
                responses=_responses(schema, ("200", "201")))
        if "patch" in verbs:
            ops["patch"] = self.op(
                "patch", f"patch{self.prefix}{scope}{kind}", f"partially update {what}", gvk,
                parameters=self.write_params(patch=True),
                requestBody={"content": _content(PATCH, *PATCH_TYPES), "required": True},
                responses=_responses(schema, ("200", "201")))
        if "delete" in verbs and not sub:
            ops["delete"] = self.op(
                "delete", f"delete{self.prefix}{scope}{kind}", f"delete a {kind}", gvk,
                parameters=[query("dryRun"), query("gracePeriodSeconds"),
                            query("propagationPolicy")],
                requestBody={"content": _content(DELETE_OPTIONS, "*/*")},
                responses=_responses(STATUS, ("200", "202")))
        return ops

    def collection_ops(self, scope: str) -> dict[str, Operation]:
        """list/post/deletecollection on a collection."""
        kind, verbs, gvk = self.rt.kind, self.rt.verbs, self.gvk()
        ops: dict[str, Operation] = {}
        if "list" in verbs:
            ops["get"] = self.op(
                "list", f"list{self.prefix}{scope}{kind}", f"list or watch objects of kind {kind}",
                gvk, parameters=[query(name) for name in _LIST_PARAMS],
                responses=_responses(self.list_schema, ("200",), watch=True))
        if "create" in verbs:
            ops["post"] = self.op(
                "post", f"create{self.prefix}{scope}{kind}", f"create a {kind}", gvk,
                parameters=self.write_params(),
                requestBody={"content": _content(self.schema, "*/*"), "required": True},
                responses=_responses(self.schema, ("200", "201", "202")))
        if "deletecollection" in verbs:
            ops["delete"] = self.op(
                "deletecollection", f"delete{self.prefix}Collection{scope}{kind}",
                f"delete collection of {kind}", gvk,
                parameters=[*(query(n) for n in _LIST_PARAMS if n != "watch"), query("dryRun")],
                requestBody={"content": _content(DELETE_OPTIONS, "*/*")},
                responses=_responses(STATUS, ("200",)))
        return ops

    def watch_op(self, op_id: str, description: str, action: str) -> dict[str, Operation]:
        return {"get": self.op(action, op_id, description, self.gvk(),
                               responses=_responses(WATCH_EVENT, ("200",), watch=True))}


def base_url(rt: ResourceType) -> str:
    return f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"


def _params(*names: str, kind: str = "") -> list[dict[str, Any]]:
    out = []
    if "name" in names:
        out.append(_path_param("name", f"name of the {kind}"))
    if "namespace" in names:
        out.append(_path_param(
            "namespace", "object name and auth scope, such as for teams and projects"))
    out.append(query("pretty"))
    return out


def _sub_schema(sub: Subresource, default: str, names: dict[tuple[str, str, str], str]) -> tuple[
        str, dict[str, str] | None]:
    if not sub.kind:
        return default, None
    gvk = {"group": sub.group, "kind": sub.kind, "version": sub.version}
    return names.get((sub.group, sub.version, sub.kind), default), gvk


def resource_paths(
    rt: ResourceType, schema: str, list_schema: str,
    sub_names: dict[tuple[str, str, str], str],
) -> dict[str, dict[str, Any]]:
    """All URLs of one resource with their operations and path-level parameters."""
    build = _Builder(rt, schema, list_schema)
    base, plural, kind = base_url(rt), rt.plural, rt.kind
    scope = "Namespaced" if rt.namespaced else ""
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    scoped = ("namespace",) if rt.namespaced else ()
    paths: dict[str, dict[str, Any]] = {
        f"{base}{ns}/{plural}": {**build.collection_ops(scope), "parameters": _params(*scoped)},
        f"{base}{ns}/{plural}/{{name}}": {
            **build.item_ops(scope, schema, build.gvk()),
            "parameters": _params("name", *scoped, kind=kind)},
    }
    for sub in rt.subresources:
        if sub.name not in ("status", "scale") and not sub.kind:
            continue
        sub_schema, sub_gvk = _sub_schema(sub, schema, sub_names)
        ops = build.item_ops(scope, sub_schema, sub_gvk or build.gvk(), sub.name, sub.verbs)
        paths[f"{base}{ns}/{plural}/{{name}}/{sub.name}"] = {
            **ops, "parameters": _params("name", *scoped, kind=sub.kind or kind)}
    if "watch" in rt.verbs:
        paths.update(_watch_paths(build, base, ns, scope, scoped))
    if rt.namespaced and "list" in rt.verbs:
        all_ops = build.collection_ops("")["get"]
        all_ops["operationId"] = f"list{build.prefix}{kind}ForAllNamespaces"
        paths[f"{base}/{plural}"] = {"get": all_ops, "parameters": _params()}
    return paths


def _watch_paths(build: _Builder, base: str, ns: str, scope: str,
                 scoped: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    rt, p = build.rt, build.prefix
    one = build.watch_op(
        f"watch{p}{scope}{rt.kind}",
        f"watch changes to an object of kind {rt.kind}. deprecated: use the 'watch' parameter "
        "with a list operation instead, filtered to a single item with the 'fieldSelector' "
        "parameter.", "watch")
    many = build.watch_op(
        f"watch{p}{scope}{rt.kind}List",
        f"watch individual changes to a list of {rt.kind}. deprecated: use the 'watch' "
        "parameter with a list operation instead.", "watchlist")
    listing = [query(name) for name in _LIST_PARAMS]
    out = {
        f"{base}/watch{ns}/{rt.plural}": {**many, "parameters": [*_params(*scoped), *listing]},
        f"{base}/watch{ns}/{rt.plural}/{{name}}": {
            **one, "parameters": [*_params("name", *scoped, kind=rt.kind), *listing]},
    }
    if rt.namespaced:
        every = build.watch_op(
            f"watch{p}{rt.kind}ListForAllNamespaces",
            f"watch individual changes to a list of {rt.kind}. deprecated: use the 'watch' "
            "parameter with a list operation instead.", "watchlist")
        out[f"{base}/watch/{rt.plural}"] = {**every, "parameters": [*_params(), *listing]}
    return out
