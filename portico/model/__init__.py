"""Portico's shared Kubernetes model: vocabulary and views, pure (no I/O).

- `vocabulary`: the API's closed sets as `StrEnum`s (ServiceType, Protocol, PodPhase,
  ConditionStatus, WatchEventType, ...); `gatewayapi`: Gateway API's match types.
- `selectors` (with `label_parser` and `validation`): the one label-selector
  implementation, with upstream's nil/empty semantics for each kind of caller.
- `meta`, `core`, `discovery`, `networking`: frozen views (`ObjectMeta`, `Service`,
  `Pod`, `Node`, `EndpointSlice`, `Ingress`, `CustomObject`), each parsed once from an
  object's JSON with `from_obj`.
- `quantity`, `cron`: resource quantities and cron schedules.

Components import from these modules; nothing here imports from the rest of Portico.
"""
