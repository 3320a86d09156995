"""Conditions over conditions: ``and`` / ``or`` / ``not``, and ``list-item`` over a list's elements."""

from __future__ import annotations

import re
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
    compile_expression,
    search,
)

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class And(Node):
    def __init__(self, children: list[Node]) -> None:
        self.children = children

    def evaluate(self, scope: Scope) -> list[Match]:
        results = []
        for child in self.children:
            matches = child.evaluate(scope)
            if not matches:
                return []
            results.append(matches)
        specific = [m for matches in results for m in matches if m.specific]
        if specific:
            return specific
        if len(results) == 1:
            return results[0]
        bindings: dict[str, Any] = {}
        for matches in results:
            for match in matches:
                bindings.update(match.bindings)
        return _generic(scope.path, bindings)


class Or(Node):
    def __init__(self, children: list[Node]) -> None:
        self.children = children

    def evaluate(self, scope: Scope) -> list[Match]:
        matches = [m for child in self.children for m in child.evaluate(scope)]
        specific = [m for m in matches if m.specific]
        return specific or matches[:1]


class Not(Node):
    def __init__(self, child: Node) -> None:
        self.child = child

    def evaluate(self, scope: Scope) -> list[Match]:
        return [] if self.child.evaluate(scope) else _generic(scope.path, scope.bindings)


class ListItem(Node):
    """One match per element of the list at ``key`` that satisfies ``where``."""

    def __init__(self, spec: Mapping[str, Any], where: str, compile_nested: CompileNested, *, top: bool,
                 label: str = "list-item") -> None:
        if not isinstance(spec, Mapping):
            raise FilterError(where, f"{label} needs a mapping with 'key' and 'where'")
        allowed = {"key", "where", "attrs", "as", "identity"} if label != "list-item" else {
            "key", "where", "attrs", "as"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise FilterError(where, f"unknown field {unknown[0]!r} in {label}; expected {sorted(allowed)}")
        if "key" not in spec:
            raise FilterError(where, f"{label} needs a 'key' selecting the list")
        self.key = spec["key"]
        self.compiled = compile_expression(self.key, f"{where}.key")
        self.name = spec.get("as", "element")
        if not isinstance(self.name, str) or not _IDENTIFIER.match(self.name):
            raise FilterError(f"{where}.as", f"'as' must be an identifier, got {self.name!r}")
        condition = spec.get("where", spec.get("attrs"))
        self.where = compile_nested(condition, f"{where}.where") if condition is not None else None

    def _element_matches(self, scope: Scope, element: Any, path: str) -> list[Match]:
        bindings = {**scope.bindings, self.name: element}
        if self.where is None:
            return [Match(path=path, bindings=bindings, specific=True)]
        inner = self.where.evaluate(scope.child(element, path, bindings))
        if not inner:
            return []
        nested = [m for m in inner if m.specific]
        return nested or [Match(path=path, bindings=bindings, specific=True)]

    def _items(self, value: Any) -> list[Any]:
        items = search(self.compiled, value)
        return items if isinstance(items, list) else []

    def evaluate(self, scope: Scope) -> list[Match]:
        base = _join(scope.path, self.key)
        result: list[Match] = []
        for index, element in enumerate(self._items(scope.value)):
            result.extend(self._element_matches(scope, element, f"{base}[{index}]"))
        return result

