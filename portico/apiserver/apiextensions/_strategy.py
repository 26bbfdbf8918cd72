"""The strategy of custom resources: kube-apiserver's order of steps on every write.

The generic writer (`registry._write`) runs, for a custom resource:

1. `check_fields` (the registry's decode step): prune unknown fields with the
   version's schema; `fieldValidation=Strict` turns them into a 400
   (`… strict decoding error: unknown field "spec.x"`), Warn (the default) into
   one warning each, Ignore drops them silently;
2. `default`: the schema's defaults (and null dropping);
3. `prepare_for_create`: the main resource does not take `status` when the status
   subresource is on (the writer restores the old status on updates);
4. `validate` / `validate_update` / `validate_status_update`: the schema (with
   ratcheting against the old object on updates), then the CEL rules, which are
   skipped after errors that make them meaningless (`blocks_cel`).

`read` is the storage side: every object read is pruned and defaulted with the
storage version's schema and then, under conversion `None`, given the requested
apiVersion (pruned and defaulted again with that version's schema).
"""

from __future__ import annotations

from typing import Any

from portico.apiserver import errors
from portico.apiserver.apiextensions._kinds import CustomInfo
from portico.apiserver.errors import FieldError
from portico.apiserver.openapi import FieldValidation, decode_problems, strict_decoding_message
from portico.apiserver.registry import PatchType
from portico.apiserver.registry._objects import deep_copy
from portico.apiserver.resources._base import Object, Strategy
from portico.model.kinds import CONFIG_MAP

STRATEGIC_REFUSED = (
    "the body of the request was in an unknown format - accepted media types include: "
    f"{PatchType.JSON}, {PatchType.MERGE}, {PatchType.APPLY}")
CEL_SKIPPED = ("some validation rules were not checked because the object was invalid; "
               "correct the existing errors to complete validation")


def refuse_request(info: CustomInfo, method: str, named: bool, content_type: str) -> None:
    """What kube-apiserver refuses for custom resources before any generic handling."""
    if method == "POST" and not named and info.terminating:
        raise errors.method_not_allowed(
            "create not allowed while custom resource definition is terminating")
    if method == "PATCH" and content_type == PatchType.STRATEGIC:
        raise errors.StatusError(415, "UnsupportedMediaType", STRATEGIC_REFUSED)


def _engine() -> Any:
    from portico.apiserver.apiextensions import schema  # noqa: PLC0415 (first use: kept off start-up)

    return schema


class CustomResourceStrategy(Strategy):
    def __init__(self, info: CustomInfo) -> None:
        self.info = info
        # (id of the object last validated, its CEL warnings): `warnings` follows
        # `validate*` in the same synchronous write, so one slot is enough
        self._warned: tuple[int, list[str]] = (0, [])

    def unknown_fields(self, obj: Object, mode: str,
                       duplicates: tuple[str, ...] = ()) -> list[str]:
        """Coerce `obj` in place (metadata checked and its unknown keys dropped, unknown
        fields pruned); the duplicate and unknown fields as `fieldValidation` wants them."""
        kind = self.info.kind
        prefix = f'{kind} in version "{self.info.version}" cannot be handled as a {kind}: '
        texts = [f'duplicate field "{path}"' for path in duplicates]
        texts += self._coerce_metadata(obj, prefix)
        texts += [f'unknown field "{path}"' for path in _engine().prune(obj, self.info.schema)]
        if not texts or mode == FieldValidation.IGNORE:
            return []
        if mode == FieldValidation.STRICT:
            raise errors.bad_request(prefix + strict_decoding_message(texts))
        return texts

    @staticmethod
    def _coerce_metadata(obj: Object, prefix: str) -> list[str]:
        """ObjectMeta as the typed decoder reads it: a 400 for a mistyped field, unknown
        keys dropped (and reported)."""
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return []
        problems = decode_problems(CONFIG_MAP.gvk, {"metadata": meta})
        if problems.type_error is not None:
            raise errors.bad_request(prefix + problems.type_error)
        unknown = problems.strict_errors()
        for text in unknown:
            key = text.removeprefix('unknown field "metadata.').removesuffix('"')
            if "." not in key:
                meta.pop(key, None)
        return unknown

    def default(self, obj: Object) -> None:
        _engine().default(obj, self.info.schema)

    def prepare_for_create(self, obj: Object) -> None:
        if self.info.status:
            obj.pop("status", None)
        obj["apiVersion"] = self.storage_api_version

    def prepare_for_update(self, new: Object, old: Object) -> None:
        new["apiVersion"] = self.storage_api_version

    def validate(self, obj: Object) -> list[FieldError]:
        return self._validate(obj, None)

    def validate_update(self, new: Object, old: Object) -> list[FieldError]:
        return self._validate(new, old)

    def validate_status_update(self, new: Object, old: Object) -> list[FieldError]:
        engine = _engine()
        status_schema = (self.info.schema.get("properties") or {}).get("status")
        errs: list[FieldError] = []
        if status_schema is not None and "status" in new:
            errs = engine.validate(new["status"], status_schema, path="status",
                                   old=old.get("status", engine.MISSING))
        return errs + self._cel(new, old, errs)

    def _validate(self, obj: Object, old: Object | None) -> list[FieldError]:
        engine = _engine()
        errs: list[FieldError] = engine.validate(
            obj, self.info.schema, old=engine.MISSING if old is None else old)
        return errs + self._cel(obj, old, errs)

    def _cel(self, obj: Object, old: Object | None, errs: list[FieldError]) -> list[FieldError]:
        self._warned = (0, [])
        rules = self.info.rules
        if rules is None or rules.empty:
            return []
        if _engine().blocks_cel(errs):
            return [errors.invalid("<nil>", "null", CEL_SKIPPED)]
        if old is None:
            found, warned = rules.validate(obj)
        else:
            found, warned = rules.validate(obj, old)
        self._warned = (id(obj), list(warned))
        return list(found)

    def warnings(self, obj: Object) -> list[str]:
        """The CEL warnings (ratcheted failures) of `obj`'s validation."""
        return self._warned[1] if self._warned[0] == id(obj) else []

    def read(self, stored: Object) -> Object:
        """A stored object as this version serves it (a copy: `stored` may be shared)."""
        obj = deep_copy(stored)
        engine = _engine()
        info = self.info
        engine.prune(obj, info.storage_schema)
        engine.default(obj, info.storage_schema)
        obj["apiVersion"] = f"{info.group}/{info.version}"
        if info.version != info.storage_version:
            engine.prune(obj, info.schema)
            engine.default(obj, info.schema)
        return obj

    @property
    def storage_api_version(self) -> str:
        return f"{self.info.group}/{self.info.storage_version}"
