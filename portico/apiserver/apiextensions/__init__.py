"""CustomResourceDefinitions: apiextensions-apiserver inside Portico's API server.

- `resources.customresourcedefinitions` is the CRD kind itself (defaults, status
  rules, table); `_validation` its validation, calling the schema engine
  (`schema.structural_errors`) and the CEL compiler (`cel.compile_rules`);
- `_controller.CrdController` runs in the API server: accepted names and the
  NamesAccepted/Established conditions (`_names`), the served custom kinds, and the
  cleanup of a deleted CRD's instances;
- `_kinds` turns a CRD version into a `ResourceType` the generic registry, handlers,
  discovery and OpenAPI (`_openapi`) serve like any built-in kind, with a
  `CustomInfo` (schemas, CEL rules, printer columns over `_jsonpath`, `/scale` paths
  in `_scale`); `_strategy` runs kube's order of pruning, defaulting and validation
  on writes and converts stored objects on reads.

The package's `__init__` imports nothing, so the OpenAPI and registry modules can
use its parts without import cycles.
"""
