"""Canonical item documents: the exact bytes written to ``items/`` and the paths that changed.

The same AWS state must always give the same bytes, or every sync would commit noise. So:

- ``canonical_json`` has one spelling for each value: sorted keys, 2-space indent, UTF-8,
  trailing newline; datetimes in UTC as ``YYYY-MM-DDTHH:MM:SSZ``, with ``.ffffff`` only when the
  microseconds are non-zero (AWS reports some times with milliseconds; dropping them would
  hide a change, and a value without them is written without them every time); naive
  datetimes are taken as UTC; ``Decimal`` becomes int when integral, else float; sets become
  sorted lists. ``bytes``, NaN, infinities, non-string keys and unknown types are refused
  with ``NormalizationError`` naming the path: a watcher must decode what it reads.
- ``normalize_item`` then, on ``configuration``: removes ephemeral paths (recording their values
  under concrete paths such as ``configuration.AccessKeys.0.LastUsedDate``), replaces secret
  values by a keyed hash, and sorts unordered lists by the canonical JSON of their elements,
  deepest lists first, after the removals so that an ephemeral value never moves an element.

Declared paths are dotted keys where ``*`` matches any key of an object or any element of a
list, and a number matches that list index. In the concrete paths of recorded ephemeral values,
``.`` and ``\\`` inside a key are escaped with ``\\``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from gitmonkey.model import Item, Technology
from gitmonkey.normalize.paths import validate_region

REDACTED_PREFIX = "<redacted hmac-sha256:"
CHANGED_PATHS_LIMIT = 20
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


class NormalizationError(ValueError):
    """A value cannot be written as canonical JSON, or a declaration cannot be applied."""


@dataclass(frozen=True)
class Normalized:
    content: bytes
    document: dict[str, Any]
    ephemeral: dict[str, Any]


def canonical_json(obj: Any) -> str:
    """The one canonical spelling of ``obj`` as JSON text (see the module docstring)."""
    return _dumps(_convert(obj, "$")) + "\n"


def normalize_item(item: Item, technology: Technology, *, account_id: str, secret_key: bytes) -> Normalized:
    """Build the document of ``item`` and its file content; ``item`` is left untouched."""
    if item.technology != technology.name:
        raise NormalizationError(f"item technology {item.technology!r} does not match {technology.name!r}")
    if not isinstance(account_id, str) or not re.fullmatch(r"[0-9]{12}", account_id):
        raise NormalizationError(f"account id {account_id!r} must be 12 digits")
    if not isinstance(secret_key, bytes) or not secret_key:
        raise NormalizationError("secret_key must be non-empty bytes: without a key, redaction is reversible")
    validate_region(item.region)
    for field in ("id", "name", "arn"):
        if not isinstance(getattr(item, field), str):
            raise NormalizationError(f"item {field} must be a str, not {type(getattr(item, field)).__name__}")
    if not item.id:
        raise NormalizationError("item id must not be empty")
    if not isinstance(item.configuration, Mapping):
        raise NormalizationError(f"{item.id}: configuration must be an object")

    configuration = _convert(item.configuration, "configuration")
    removed = _remove_ephemeral(configuration, technology.ephemeral_paths)
    _redact(configuration, technology.secret_paths, secret_key)
    _sort_unordered(configuration, technology.unordered_paths)

    locations = {id(container): segments for container, segments in _containers(configuration, [])}
    ephemeral = {
        "configuration." + _join([*locations[id(parent)], key]): value for parent, key, value in removed
    }
    document = {
        "account": account_id,
        "arn": item.arn,
        "configuration": configuration,
        "id": item.id,
        "name": item.name,
        "region": item.region,
        "technology": item.technology,
    }
    content = (_dumps(document) + "\n").encode("utf-8")
    return Normalized(content=content, document=document, ephemeral=dict(sorted(ephemeral.items())))


def merge_ephemeral(document: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` with recorded ephemeral values put back (for the audit).

    A value whose parent no longer exists in the document (the item changed since it was
    recorded) is skipped.
    """
    merged = copy.deepcopy(document)
    for path, value in values.items():
        *parents, last = _split(path)
        node: Any = merged
        for segment in parents:
            node = _child(node, segment)
            if node is None:
                break
        if isinstance(node, dict):
            node[last] = copy.deepcopy(value)
    return merged


def changed_paths(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, limit: int = CHANGED_PATHS_LIMIT
) -> list[str]:
    """Lines ``"+ path"``, ``"- path"``, ``"~ path"`` (added, removed, changed) for a commit body.

    Objects are compared key by key; in lists, equal elements are matched first, so an element
    inserted anywhere reads ``+ configuration.IpPermissions[3]`` (index in the new list; removed
    elements carry their index in the old list). After ``limit`` lines, one
    ``"... and N more"`` line stands for the rest.
    """
    lines = list(_diff(old or {}, new or {}, ""))
    if len(lines) > limit:
        return [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def _dumps(value: Any) -> str:
    """Canonical JSON text; lone surrogates are written as ``\\uXXXX`` so the text encodes as UTF-8."""
    text = json.dumps(
        value, sort_keys=True, indent=2, ensure_ascii=False, separators=(",", ": "), allow_nan=False
    )
    return _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _convert(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NormalizationError(f"{path}: {value!r} is not a JSON number")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NormalizationError(f"{path}: {value!r} is not a JSON number")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        converted = {}
        for key, child in value.items():
            if not isinstance(key, str):
                raise NormalizationError(f"{path}: key {key!r} is not a string")
            converted[key] = _convert(child, f"{path}.{key}")
        return converted
    if isinstance(value, list | tuple):
        return [_convert(child, f"{path}[{i}]") for i, child in enumerate(value)]
    if isinstance(value, set | frozenset):
        return sorted((_convert(child, f"{path}[]") for child in value), key=_dumps)
    if isinstance(value, bytes | bytearray | memoryview):
        raise NormalizationError(f"{path}: bytes are not allowed; the watcher must decode them")
    raise NormalizationError(f"{path}: cannot write a {type(value).__name__} as JSON")


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    value = value.replace(tzinfo=None)
    spec = "microseconds" if value.microsecond else "seconds"
    return value.isoformat(timespec=spec) + "Z"


def _targets(node: Any, segments: list[str]) -> Iterator[tuple[Any, Any]]:
    """(container, key) pairs of the values a declared path designates."""
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict):
        keys: list[Any] = list(node) if head == "*" else [head] if head in node else []
    elif isinstance(node, list):
        if head == "*":
            keys = list(range(len(node)))
        else:
            keys = [int(head)] if head.isdigit() and int(head) < len(node) else []
    else:
        return
    for key in keys:
        if rest:
            yield from _targets(node[key], rest)
        else:
            yield node, key


def _declared(paths: tuple[str, ...], *, deepest_first: bool) -> list[list[str]]:
    parsed = [path.split(".") for path in paths if path]
    return sorted(parsed, key=len, reverse=deepest_first)


def _remove_ephemeral(configuration: dict[str, Any], paths: tuple[str, ...]) -> list[tuple[Any, str, Any]]:
    removed = []
    for segments in _declared(paths, deepest_first=False):
        for container, key in list(_targets(configuration, segments)):
            if isinstance(container, list):
                raise NormalizationError(
                    f"ephemeral path {'.'.join(segments)!r} designates list elements;"
                    " declare a key inside the elements instead"
                )
            removed.append((container, key, container.pop(key)))
    return removed


def _redact(configuration: dict[str, Any], paths: tuple[str, ...], secret_key: bytes) -> None:
    """Replace secret values by a keyed hash: a change stays visible, the value is not derivable.

    ``None`` stays ``None``: "no value set" reveals nothing and is worth seeing.
    """
    done: set[tuple[int, Any]] = set()
    for segments in _declared(paths, deepest_first=False):
        for container, key in list(_targets(configuration, segments)):
            value = container[key]
            if value is None or (id(container), key) in done:
                continue
            done.add((id(container), key))
            data = _dumps(value).encode("utf-8")
            digest = hmac.new(secret_key, data, hashlib.sha256).hexdigest()[:16]
            container[key] = f"{REDACTED_PREFIX}{digest}>"


def _sort_unordered(configuration: dict[str, Any], paths: tuple[str, ...]) -> None:
    for segments in _declared(paths, deepest_first=True):
        for container, key in list(_targets(configuration, segments)):
            if isinstance(container[key], list):
                container[key].sort(key=_dumps)


def _containers(node: Any, segments: list[str]) -> Iterator[tuple[Any, list[str]]]:
    if isinstance(node, dict):
        yield node, segments
        for key, child in node.items():
            yield from _containers(child, [*segments, key])
    elif isinstance(node, list):
        yield node, segments
        for index, child in enumerate(node):
            yield from _containers(child, [*segments, str(index)])


def _join(segments: list[str]) -> str:
    return ".".join(segment.replace("\\", "\\\\").replace(".", "\\.") for segment in segments)


def _split(path: str) -> list[str]:
    segments, current, escaped = [], [], False
    for char in path:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return segments


def _child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        return node.get(segment)
    if isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
        return node[int(segment)]
    return None


def _diff(old: Any, new: Any, path: str) -> Iterator[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in sorted(set(old) | set(new)):
            child = f"{path}.{_key(key)}" if path and not _key(key).startswith("[") else f"{path}{_key(key)}"
            if key not in old:
                yield f"+ {child}"
            elif key not in new:
                yield f"- {child}"
            else:
                yield from _diff(old[key], new[key], child)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _diff_list(old, new, path)
    elif type(old) is not type(new) or old != new:
        yield f"~ {path}"


def _diff_list(old: list[Any], new: list[Any], path: str) -> Iterator[str]:
    """Elements equal on both sides are matched first, wherever they sit, so an element inserted
    into a sorted list reads as one addition instead of a shift of every later element. What is
    left unmatched is paired in order and compared inside; the surplus is added or removed."""
    unmatched_old: dict[str, list[int]] = {}
    for index, element in enumerate(old):
        unmatched_old.setdefault(_dumps(element), []).append(index)
    unmatched_new: list[int] = []
    for index, element in enumerate(new):
        same = unmatched_old.get(_dumps(element))
        if same:
            same.pop(0)
        else:
            unmatched_new.append(index)
    removed = sorted(i for indexes in unmatched_old.values() for i in indexes)
    for old_index, new_index in zip(removed, unmatched_new, strict=False):
        yield from _diff(old[old_index], new[new_index], f"{path}[{new_index}]")
    for new_index in unmatched_new[len(removed):]:
        yield f"+ {path}[{new_index}]"
    for old_index in removed[len(unmatched_new):]:
        yield f"- {path}[{old_index}]"


def _key(key: str) -> str:
    """A key as it reads in a path; keys that could mislead (dots, spaces, controls) are quoted."""
    if key and key.isprintable() and not any(char in key for char in ' .[]"\\'):
        return key
    return f"[{json.dumps(key)}]"
