"""Predicates on the change itself: ``changed``, ``added-item`` / ``removed-item``, ``previous``, ``is-new``.

They compare the item with its previous version, so they are only allowed at the top of a filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitmonkey.audit.filters.base import (
    CompileNested,
    FilterError,
    Match,
    Node,
    Scope,
    _generic,
    _join,
    canonical,
    compile_expression,
    search,
)
from gitmonkey.audit.filters.conditions import ListItem

CHANGE_KEYWORDS = ("changed", "added-item", "removed-item", "previous", "is-new")


class ItemDelta(ListItem):
    """``added-item`` / ``removed-item``: list elements (or matches inside them) new since the last version.

    Elements are paired across versions by ``identity`` (a JMESPath on the element; the whole
    element by default). For a paired element, only matches of ``where`` that did not exist on
    the other side count, so a /0 range added to an existing permission is still "added".
    """

    def __init__(self, spec: Mapping[str, Any], where: str, compile_nested: CompileNested, *,
                 added: bool) -> None:
        label = "added-item" if added else "removed-item"
        super().__init__(spec, where, compile_nested, top=True, label=label)
        self.added = added
        identity = spec.get("identity")
        self.identity = compile_expression(identity, f"{where}.identity") if identity is not None else None

    def _identity(self, element: Any) -> str:
        return canonical(search(self.identity, element) if self.identity is not None else element)

    def _signatures(self, scope: Scope, matches: list[Match]) -> set[str]:
        outer = set(scope.bindings) | {self.name}
        return {canonical({k: v for k, v in m.bindings.items() if k not in outer}) for m in matches}

    def evaluate(self, scope: Scope) -> list[Match]:
        if not scope.has_previous:
            return []
        new_side, old_side = scope.value, scope.previous
        base = _join(scope.path if self.added else f"previous.{scope.path}", self.key)
        if not self.added:
            new_side, old_side = old_side, new_side
        others = {}
        for element in self._items(old_side):
            others.setdefault(self._identity(element), element)
        result: list[Match] = []
        for index, element in enumerate(self._items(new_side)):
            path = f"{base}[{index}]"
            matches = self._element_matches(scope, element, path)
            if not matches:
                continue
            counterpart = others.get(self._identity(element))
            if counterpart is None:
                result.extend(matches)
                continue
            seen = self._signatures(scope, self._element_matches(scope, counterpart, path))
            result.extend(m for m in matches if self._signatures(scope, [m]) - seen)
        return result


class Changed(Node):
    """The value at ``key`` differs from the previous version (optionally ``from`` / ``to`` a condition)."""

    def __init__(self, spec: Any, where: str, compile_nested: CompileNested) -> None:
        if isinstance(spec, str):
            spec = {"key": spec}
        if not isinstance(spec, Mapping) or "key" not in spec:
            raise FilterError(where, "changed needs a key: 'changed: KEY' or "
                                     "'changed: {key: KEY, from:, to:}'")
        unknown = sorted(set(spec) - {"key", "from", "to"})
        if unknown:
            raise FilterError(where, f"unknown field {unknown[0]!r} in changed; "
                                     "expected ['from', 'key', 'to']")
        self.key = spec["key"]
        self.compiled = compile_expression(self.key, f"{where}.key")
        self.before = compile_nested(spec["from"], f"{where}.from") if "from" in spec else None
        self.after = compile_nested(spec["to"], f"{where}.to") if "to" in spec else None

    def evaluate(self, scope: Scope) -> list[Match]:
        if not scope.has_previous:
            return []
        old = search(self.compiled, scope.previous)
        new = search(self.compiled, scope.value)
        if canonical(old) == canonical(new):
            return []
        if self.before is not None and not self.before.evaluate(scope.child(old, scope.path, scope.bindings)):
            return []
        if self.after is not None and not self.after.evaluate(scope.child(new, scope.path, scope.bindings)):
            return []
        return _generic(_join(scope.path, self.key), {**scope.bindings, "old": old, "new": new})


class Previous(Node):
    """``previous: FILTER``: the previous version of the item matched FILTER."""

    def __init__(self, spec: Any, where: str, compile_nested: CompileNested) -> None:
        self.inner = compile_nested(spec, where)

    def evaluate(self, scope: Scope) -> list[Match]:
        if not scope.has_previous:
            return []
        matched = self.inner.evaluate(scope.child(scope.previous, f"previous.{scope.path}", scope.bindings))
        return _generic(scope.path, scope.bindings) if matched else []


class IsNew(Node):
    def __init__(self, spec: Any, where: str) -> None:
        if not isinstance(spec, bool):
            raise FilterError(where, f"is-new needs true or false, got {spec!r}")
        self.expected = spec

    def evaluate(self, scope: Scope) -> list[Match]:
        return _generic(scope.path, scope.bindings) if (not scope.has_previous) == self.expected else []

