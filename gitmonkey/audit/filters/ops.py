"""Leaf conditions on one value of the item: ``key`` / ``op`` / ``value`` / ``value_type`` and presence."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.filters.base import (
    FilterError,
    Match,
    Node,
    Scope,
    _generic,
    _join,
    _NoMatch,
    compile_expression,
    parse_datetime,
    search,
)

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not-in", "contains", "not-contains", "glob", "regex",
       "intersect", "difference")
OP_ALIASES = {"equal": "eq", "not-equal": "ne", "greater-than": "gt", "gte": "ge", "less-than": "lt",
              "lte": "le", "ni": "not-in"}
VALUE_TYPES = ("age", "expiration", "integer", "size", "cidr", "cidr_size", "normalize", "date", "string")
PRESENCE = ("present", "absent", "empty", "not-empty", "not-null")
CONTEXT_VALUES = ("account_id", "trusted_cidrs", "known_account_ids", "friendly_account_ids",
                  "third_party_account_ids")
_LIST_OPS = ("in", "not-in", "intersect", "difference")
_NUMERIC_TYPES = ("age", "expiration", "integer", "size", "cidr_size")


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise _NoMatch from None


class Presence(Node):
    def __init__(self, key: str, kind: str, where: str) -> None:
        self.key = key
        self.kind = kind
        self.compiled = compile_expression(key, where)

    def evaluate(self, scope: Scope) -> list[Match]:
        value = search(self.compiled, scope.value)
        empty = value is None or value == [] or value == {} or value == ""
        result = {
            "present": value is not None,
            "absent": value is None,
            "empty": empty,
            "not-empty": not empty,
            "not-null": not empty,
        }[self.kind]
        return _generic(_join(scope.path, self.key), scope.bindings) if result else []


class Value(Node):
    """``key`` / ``op`` / ``value`` / ``value_type``: a comparison of one value of the item."""

    def __init__(self, spec: Mapping[str, Any], where: str) -> None:
        allowed = {"key", "op", "value", "value_type", "value_from"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise FilterError(where, f"unknown field {unknown[0]!r} in a value filter; "
                                     f"expected {sorted(allowed)}")
        if "key" not in spec:
            raise FilterError(where, "a value filter needs a 'key'")
        self.key = spec["key"]
        self.compiled = compile_expression(self.key, f"{where}.key")
        op = spec.get("op", "eq")
        if not isinstance(op, str):
            raise FilterError(f"{where}.op", f"expected an op name such as 'eq', got {op!r}")
        op = OP_ALIASES.get(op, op)
        if op not in OPS:
            raise FilterError(f"{where}.op", f"unknown op {op!r}; expected one of {', '.join(OPS)}")
        self.op = op
        self.value_type = spec.get("value_type")
        if self.value_type is not None and not isinstance(self.value_type, str):
            raise FilterError(f"{where}.value_type", f"expected a value type name, got {self.value_type!r}")
        if self.value_type is not None and self.value_type not in VALUE_TYPES:
            raise FilterError(
                f"{where}.value_type",
                f"unknown value_type {self.value_type!r}; expected one of {', '.join(VALUE_TYPES)}",
            )
        self.value_from = spec.get("value_from")
        if ("value" in spec) == (self.value_from is not None):
            raise FilterError(where, "a value filter needs exactly one of 'value' or 'value_from'")
        if self.value_from is not None and self.value_from not in CONTEXT_VALUES:
            raise FilterError(
                f"{where}.value_from",
                f"unknown context value {self.value_from!r}; expected one of {', '.join(CONTEXT_VALUES)}",
            )
        self.value = self._prepare(spec.get("value"), f"{where}.value") if self.value_from is None else None
        self.regex = None
        if op == "regex":
            if not isinstance(self.value, str):
                raise FilterError(f"{where}.value", "op 'regex' needs a string value")
            try:
                self.regex = re.compile(self.value)
            except re.error as exc:
                raise FilterError(f"{where}.value", f"invalid regular expression: {exc}") from None

    def _prepare(self, value: Any, where: str) -> Any:
        if self.op in _LIST_OPS and not isinstance(value, list):
            raise FilterError(where, f"op {self.op!r} needs a list value, got {value!r}")
        if self.op == "glob" and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            raise FilterError(where, "op 'glob' needs a pattern or a list of patterns")
        try:
            return self._convert_value(value)
        except (_NoMatch, ValueError, TypeError):
            raise FilterError(where, f"{value!r} is not a valid {self.value_type} value") from None

    def _convert_value(self, value: Any) -> Any:
        if isinstance(value, list) and self.value_type not in (None, "string"):
            return [self._convert_value(v) for v in value]
        if self.value_type in _NUMERIC_TYPES:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(value)
            return value
        if self.value_type == "cidr":
            return ipaddress.ip_network(str(value), strict=False)
        if self.value_type == "date":
            return parse_datetime(value)
        if self.value_type == "normalize":
            return str(value).strip().lower()
        if self.value_type == "string":
            return str(value) if not isinstance(value, list) else [str(v) for v in value]
        return value

    def _context_value(self, ctx: AuditContext) -> Any:
        values = {
            "account_id": ctx.account_id,
            "trusted_cidrs": list(ctx.trusted_cidrs),
            "known_account_ids": sorted(ctx.known_accounts),
            "friendly_account_ids": sorted(
                a for a, e in ctx.known_accounts.items() if e.get("type", "friendly") == "friendly"
            ),
            "third_party_account_ids": sorted(
                a for a, e in ctx.known_accounts.items() if e.get("type") == "third_party"
            ),
        }
        value = values[self.value_from]
        try:
            return self._convert_value(value)
        except (ValueError, TypeError):
            raise _NoMatch from None

    def _convert_resource(self, value: Any, ctx: AuditContext) -> Any:
        kind = self.value_type
        if kind == "age":
            return (ctx.now - parse_datetime(value)).total_seconds() / 86400
        if kind == "expiration":
            return (parse_datetime(value) - ctx.now).total_seconds() / 86400
        if kind == "integer":
            try:
                return int(value)
            except (TypeError, ValueError):
                raise _NoMatch from None
        if kind == "size":
            try:
                return len(value)
            except TypeError:
                raise _NoMatch from None
        if kind == "cidr":
            return _network(value)
        if kind == "cidr_size":
            return _network(value).prefixlen
        if kind == "date":
            return parse_datetime(value)
        if kind == "normalize":
            return str(value).strip().lower()
        if kind == "string":
            return str(value)
        return value

    def evaluate(self, scope: Scope) -> list[Match]:
        resource = search(self.compiled, scope.value)
        if resource is None:
            return []
        try:
            expected = self._context_value(scope.ctx) if self.value_from else self.value
            ok = self._compare(self._convert_resource(resource, scope.ctx), expected)
        except (_NoMatch, TypeError):
            ok = False
        return _generic(_join(scope.path, self.key), scope.bindings) if ok else []

    def _compare(self, r: Any, v: Any) -> bool:
        op = self.op
        if self.value_type == "cidr":
            return _compare_cidr(op, r, v)
        comparisons: dict[str, Callable[[], bool]] = {
            "eq": lambda: r == v,
            "ne": lambda: r != v,
            "lt": lambda: r < v,
            "le": lambda: r <= v,
            "gt": lambda: r > v,
            "ge": lambda: r >= v,
            "in": lambda: r in v,
            "not-in": lambda: r not in v,
            "contains": lambda: _contains(r, v),
            "not-contains": lambda: not _contains(r, v),
            "glob": lambda: _glob(r, v),
            "regex": lambda: isinstance(r, str) and self.regex.search(r) is not None,
            "intersect": lambda: isinstance(r, list) and any(x in v for x in r),
            "difference": lambda: isinstance(r, list) and any(x not in v for x in r),
        }
        return comparisons[op]()


def _contains(resource: Any, value: Any) -> bool:
    if isinstance(resource, list | dict | str):
        return value in resource if not (isinstance(resource, str) and not isinstance(value, str)) else False
    raise _NoMatch


def _glob(resource: Any, patterns: Any) -> bool:
    if not isinstance(resource, str):
        return False
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return any(fnmatch.fnmatchcase(resource, p) for p in patterns)


def _subnet(a: Any, b: Any) -> bool:
    return a.version == b.version and a.subnet_of(b)


def _compare_cidr(op: str, r: Any, v: Any) -> bool:
    if op == "eq":
        return r == v
    if op == "ne":
        return r != v
    if op == "in":
        return any(_subnet(r, n) for n in v)
    if op == "not-in":
        return not any(_subnet(r, n) for n in v)
    if op == "contains":
        return any(_subnet(n, r) for n in (v if isinstance(v, list) else [v]))
    if op == "not-contains":
        return not any(_subnet(n, r) for n in (v if isinstance(v, list) else [v]))
    if op in ("lt", "le", "gt", "ge"):
        raise _NoMatch
    raise _NoMatch

