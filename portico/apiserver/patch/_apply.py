"""Server-side apply (`application/apply-patch+yaml`): merge, prune, conflicts, managedFields.

Steps, as kube's field manager and structured-merge-diff's `Updater.Apply`:
1. Decode the live object's managers. A live object with none is first attributed
   to `before-first-apply` (an Update that owns everything).
2. Merge the applied configuration into the live object (`merge`).
3. The applier's new set is what the configuration holds (`to_field_set`),
   minus server-owned metadata and reset fields.
4. Prune: fields the applier owned last time, no longer applies, and that no
   manager (the applier included) still owns are removed from the result.
5. Compare live with the result: fields another manager owns that this apply
   adds or changes are conflicts (409) unless `force`, which takes them over.
   Removed fields leave every other manager's set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portico.apiserver.errors import StatusError, bad_request
from portico.apiserver.patch._common import deep_copy, plain_error
from portico.apiserver.patch._fieldset import FieldSet, Path, iterate, path_string
from portico.apiserver.patch._managed import (
    APPLY,
    BEFORE_FIRST_APPLY,
    UPDATE,
    Managed,
    ManagerKey,
    Managers,
    decode_managers,
    diff,
    encode_managers,
    record_update,
    settle,
    strip,
    take_from_others,
    without_managed_fields,
)
from portico.apiserver.patch._typed import (
    KeyError_,
    TypeInfo,
    all_paths,
    item_element,
    named_prefixes,
    root_info,
    to_field_set,
)
from portico.apiserver.patch._walk import merge, remove
from portico.apiserver.schema import Definitions, definitions
from portico.model.kinds import GroupVersionKind


def _describe(key: ManagerKey) -> str:
    """kube's `printManager`: `"name"`, plus subresource and `using <apiVersion>` for updaters."""
    text = f'"{key.manager}"'
    if key.subresource:
        text += f' with subresource "{key.subresource}"'
    if key.operation == UPDATE:
        text += f" using {key.api_version}"
    return text


def conflict_error(conflicts: dict[ManagerKey, FieldSet]) -> StatusError:
    """409 Conflict worded as `internal.NewConflictError`."""
    pairs: list[tuple[str, Path]] = []
    for key in sorted(conflicts, key=_describe):
        pairs.extend((_describe(key), path) for path in iterate(conflicts[key]))
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {who}",
         "field": path_string(path)}
        for who, path in pairs
    ]
    if len(pairs) == 1:
        who, path = pairs[0]
        message = f"Apply failed with 1 conflict: conflict with {who}: {path_string(path)}"
    else:
        lines: list[str] = []
        for who in dict.fromkeys(w for w, _ in pairs):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {path_string(p)}" for w, p in pairs if w == who)
        message = f"Apply failed with {len(pairs)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, {"causes": causes})


def _fill_keys(config: Any, defaulted: Any, info: TypeInfo, path: Path = ()) -> set[Path]:
    """Copy missing list-map key fields from the defaulted copy; return the filled paths."""
    filled: set[Path] = set()
    if isinstance(config, dict) and isinstance(defaulted, dict):
        for key, value in config.items():
            filled |= _fill_keys(value, defaulted.get(key), info.child(key), path + ("f:" + key,))
    elif isinstance(config, list) and isinstance(defaulted, list) and info.keys:
        item = info.item()
        for index, (mine, theirs) in enumerate(zip(config, defaulted, strict=False)):
            if not isinstance(mine, dict) or not isinstance(theirs, dict):
                continue
            for key in info.keys:
                if mine.get(key) is None and theirs.get(key) is not None:
                    mine[key] = deep_copy(theirs[key])
                    filled.add(path + (f"#{index}", "f:" + key))
            filled |= _fill_keys(mine, theirs, item, path + (f"#{index}",))
    return filled


def _resolve_filled(config: Any, info: TypeInfo, filled: set[Path]) -> set[Path]:
    """Turn `#index` placeholders of filled key paths into real path elements."""
    out: set[Path] = set()
    for placeholder in filled:
        node, current, real = config, info, []
        for element in placeholder:
            if element.startswith("#"):
                index = int(element[1:])
                real.append(item_element(current, node[index], index))
                node, current = node[index], current.item()
            else:
                real.append(element)
                node, current = (node or {}).get(element[2:]), current.child(element[2:])
        out.add(tuple(real))
    return out


def _prune(merged: dict[str, Any], info: TypeInfo, managers: Managers, last: FieldSet,
           applied: set[Path]) -> dict[str, Any]:
    """Drop what the applier owned last time, no longer applies, and nobody else owns.

    `applied` is the configuration's full set, server-owned metadata included: SMD
    prunes before kube strips `metadata.name` and friends.
    """
    if not last:
        return merged
    owned: set[Path] = set(applied)
    for path in applied:
        owned |= named_prefixes(path, info)
    for managed in managers.values():
        owned |= managed.fields
        for path in managed.fields:
            owned |= named_prefixes(path, info)
    last_e = set(last)
    for path in last:
        last_e |= named_prefixes(path, info)
    candidates = {p for p in (last_e & all_paths(merged, info)) if p not in owned}
    topmost = {p for p in candidates if not any(p[:n] in candidates for n in range(1, len(p)))}
    pruned: dict[str, Any] = remove(merged, info, topmost)
    return pruned


def _check_config(applied: Any) -> None:
    if not isinstance(applied, dict):
        raise bad_request("error decoding YAML: Object 'Kind' is missing")
    metadata = applied.get("metadata")
    if isinstance(metadata, dict) and metadata.get("managedFields"):
        raise bad_request("metadata.managedFields must be nil")


def apply_patch(
    live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
    gvk: GroupVersionKind, now: str,
    default: Callable[[dict[str, Any]], None] | None = None, subresource: str = "",
    defs: Definitions | None = None,
) -> dict[str, Any]:
    """Server-side apply of `applied` by `manager` onto `live` (None: create); `defs` holds
    the kind's schema when it is not a built-in one (custom resources)."""
    _check_config(applied)
    info = root_info(defs or definitions(), gvk)
    gv = gvk.api_version
    live_obj = without_managed_fields(live)
    managers = decode_managers(live)
    if live is not None and not managers:
        record_update(managers, {}, live_obj, ManagerKey(BEFORE_FIRST_APPLY, UPDATE, gv), gv,
                      info, now)
    config = deep_copy(applied)
    filled: set[Path] = set()
    if default is not None:
        defaulted = deep_copy(applied)
        default(defaulted)
        filled = _resolve_filled(config, info, _fill_keys(config, defaulted, info))
    writer = ManagerKey(manager, APPLY, "", subresource)
    try:
        merged = merge(live_obj, config, info)
        config_set = to_field_set(config, info)
        owned = strip(config_set, subresource) - filled
        last = managers[writer].fields if writer in managers else frozenset()
        managers[writer] = Managed(owned, gv, now)
        merged = _prune(merged, info, managers, last, config_set)
        found = diff(live_obj, merged, info, subresource)
    except KeyError_ as err:
        raise plain_error(f"failed to create typed patch object: {err}") from None
    conflicts = take_from_others(managers, writer, found)
    if conflicts and not force:
        raise conflict_error(conflicts)
    settle(managers, writer, found, conflicts)
    if not managers[writer].fields:
        del managers[writer]
    entries = encode_managers(managers)
    metadata = merged.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = entries
    return merged
