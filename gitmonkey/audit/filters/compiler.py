"""Compiling a filter spec into a tree of nodes, and evaluating that tree on an item document."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.filters.base import FilterError, Match, Node, Scope, canonical
from gitmonkey.audit.filters.changes import CHANGE_KEYWORDS, Changed, IsNew, ItemDelta, Previous
from gitmonkey.audit.filters.conditions import And, ListItem, Not, Or
from gitmonkey.audit.filters.ops import PRESENCE, Presence, Value
from gitmonkey.audit.filters.related import Related, RelatedUnknown

_SINGLE_KEYWORDS = ("and", "or", "not", "list-item", "related", *CHANGE_KEYWORDS, *PRESENCE)


def compile_filter(spec: Any, where: str = "filter", *, top: bool = True, related: bool = True) -> Node:
    """Compile a filter; ``top`` is False inside list elements and related items, where change
    predicates make no sense; ``related`` is False inside change predicates, which compare two
    versions of the item while its related items are those of the audited commit only."""
    nested = partial(compile_filter, top=False, related=related)
    if isinstance(spec, list):
        if not spec:
            raise FilterError(where, "an empty list of conditions")
        return And([compile_filter(s, f"{where}[{i}]", top=top, related=related) for i, s in enumerate(spec)])
    if not isinstance(spec, Mapping):
        raise FilterError(where, f"expected a condition (a mapping) or a list of conditions, got {spec!r}")
    keywords = [k for k in spec if k in _SINGLE_KEYWORDS]
    if not keywords:
        if isinstance(spec.get("value"), str) and spec["value"] in PRESENCE and set(spec) == {"key", "value"}:
            return Presence(spec["key"], spec["value"], f"{where}.key")
        return Value(spec, where)
    if len(spec) != 1:
        raise FilterError(where, f"{keywords[0]!r} must be alone in its mapping, found {sorted(spec)}")
    keyword = keywords[0]
    body = spec[keyword]
    inner = f"{where}.{keyword}"
    if keyword in CHANGE_KEYWORDS and not top:
        raise FilterError(inner, f"{keyword!r} compares with the previous version and is only allowed at "
                                 "the top of a rule's filter (not inside list-item, related, changed or "
                                 "previous)")
    if keyword == "related" and not related:
        raise FilterError(inner, "'related' reads the related items of the audited commit only, so it is "
                                 "not allowed inside changed, previous, added-item or removed-item")
    if keyword in ("and", "or"):
        if not isinstance(body, list) or not body:
            raise FilterError(inner, f"{keyword!r} needs a non-empty list of conditions")
        children = [compile_filter(s, f"{inner}[{i}]", top=top, related=related) for i, s in enumerate(body)]
        return And(children) if keyword == "and" else Or(children)
    if keyword == "not":
        return Not(compile_filter(body, inner, top=top, related=related))
    if keyword == "list-item":
        return ListItem(body, inner, nested, top=top)
    if keyword == "related":
        return Related(body, inner, nested)
    if keyword in PRESENCE:
        return Presence(body, keyword, inner)
    in_change = partial(compile_filter, top=False, related=False)
    if keyword == "changed":
        return Changed(body, inner, in_change)
    if keyword in ("added-item", "removed-item"):
        return ItemDelta(body, inner, in_change, added=keyword == "added-item")
    if keyword == "previous":
        return Previous(body, inner, in_change)
    return IsNew(body, inner)


def evaluate(node: Node, document: Mapping[str, Any], previous: Mapping[str, Any] | None,
             ctx: AuditContext) -> list[Match]:
    """Evaluate a compiled filter on an item document; keys are relative to its ``configuration``."""
    scope = Scope(
        value=document.get("configuration") or {},
        path="configuration",
        ctx=ctx,
        previous=(previous.get("configuration") or {}) if previous is not None else None,
        has_previous=previous is not None,
        document=document,
    )
    try:
        matches = node.evaluate(scope)
    except RelatedUnknown:
        return []
    unique: dict[str, Match] = {}
    for match in matches:
        unique.setdefault(match.path + canonical(dict(match.bindings)), match)
    return list(unique.values())

