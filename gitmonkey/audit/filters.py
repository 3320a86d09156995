"""The YAML filter language: Cloud Custodian's value filters plus predicates on the change itself.

A filter compiles once (``compile_filter``) into a tree of nodes; evaluating it on an item returns
the list of ``Match``es, empty when the filter does not match. A match carries the JSON path of
what matched and the list elements bound on the way (``list-item`` / ``added-item``), so one rule
yields one finding per offending element. See docs/readme/rules.md for the reference.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jmespath
import jmespath.exceptions
from jmespath import functions as jp_functions

from gitmonkey.audit.context import AuditContext

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not-in", "contains", "not-contains", "glob", "regex",
       "intersect", "difference")
OP_ALIASES = {"equal": "eq", "not-equal": "ne", "greater-than": "gt", "gte": "ge", "less-than": "lt",
              "lte": "le", "ni": "not-in"}
VALUE_TYPES = ("age", "expiration", "integer", "size", "cidr", "cidr_size", "normalize", "date", "string")
PRESENCE = ("present", "absent", "empty", "not-empty", "not-null")
CONTEXT_VALUES = ("account_id", "trusted_cidrs", "known_account_ids", "friendly_account_ids",
                  "third_party_account_ids")
CHANGE_KEYWORDS = ("changed", "added-item", "removed-item", "previous", "is-new")
_LIST_OPS = ("in", "not-in", "intersect", "difference")
_NUMERIC_TYPES = ("age", "expiration", "integer", "size", "cidr_size")


class FilterError(ValueError):
    """A filter that cannot compile; ``where`` is its path inside the rule, e.g. ``filter.and[1]``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class _NoMatch(Exception):
    """A value that cannot be compared (missing, wrong type): the condition is false."""


class _Functions(jp_functions.Functions):
    """JMESPath functions gitmonkey adds for readable findings."""

    @jp_functions.signature({"types": ["string", "number", "null"]})
    def _func_protocol_name(self, protocol: Any) -> str:
        names = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
        return names.get(str(protocol), str(protocol)) if protocol is not None else "all"

    @jp_functions.signature({"types": ["object", "null"]})
    def _func_port_range(self, permission: Any) -> str:
        """``22``, ``80-443`` or ``all`` for a security-group permission."""
        permission = permission or {}
        low, high = permission.get("FromPort"), permission.get("ToPort")
        protocol = str(permission.get("IpProtocol"))
        if protocol == "-1" or low is None or (low in (0, -1) and high in (65535, -1)):
            return "all"
        return str(low) if low == high else f"{low}-{high}"


JMESPATH_OPTIONS = jmespath.Options(custom_functions=_Functions())


def compile_expression(expression: Any, where: str) -> Any:
    if not isinstance(expression, str) or not expression.strip():
        raise FilterError(where, f"expected a JMESPath expression (a non-empty string), got {expression!r}")
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise FilterError(where, f"invalid JMESPath {expression!r}: {exc}") from None


def search(compiled: Any, data: Any) -> Any:
    return compiled.search(data, options=JMESPATH_OPTIONS)


def parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _NoMatch from None
    else:
        raise _NoMatch
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise _NoMatch from None


def _join(path: str, key: str) -> str:
    if key == "@":
        return path
    return f"{path}.{key}" if _SIMPLE_KEY.match(key) else f"{path}.({key})"


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Match:
    """One reason a filter matched: a JSON path and the list elements bound on the way there."""

    path: str
    bindings: Mapping[str, Any] = field(default_factory=dict)
    specific: bool = False


@dataclass(frozen=True)
class Scope:
    value: Any
    path: str
    ctx: AuditContext
    bindings: Mapping[str, Any] = field(default_factory=dict)
    previous: Any = None
    has_previous: bool = False

    def child(self, value: Any, path: str, bindings: Mapping[str, Any]) -> Scope:
        return Scope(value=value, path=path, ctx=self.ctx, bindings=bindings)


class Node:
    def evaluate(self, scope: Scope) -> list[Match]:
        raise NotImplementedError


def _generic(path: str, bindings: Mapping[str, Any]) -> list[Match]:
    return [Match(path=path, bindings=bindings)]


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
        op = OP_ALIASES.get(op, op)
        if op not in OPS:
            raise FilterError(f"{where}.op", f"unknown op {op!r}; expected one of {', '.join(OPS)}")
        self.op = op
        self.value_type = spec.get("value_type")
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


class ListItem(Node):
    """One match per element of the list at ``key`` that satisfies ``where``."""

    def __init__(self, spec: Mapping[str, Any], where: str, *, top: bool, label: str = "list-item") -> None:
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
        self.where = compile_filter(condition, f"{where}.where", top=False) if condition is not None else None

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


class ItemDelta(ListItem):
    """``added-item`` / ``removed-item``: list elements (or matches inside them) new since the last version.

    Elements are paired across versions by ``identity`` (a JMESPath on the element; the whole
    element by default). For a paired element, only matches of ``where`` that did not exist on
    the other side count, so a /0 range added to an existing permission is still "added".
    """

    def __init__(self, spec: Mapping[str, Any], where: str, *, added: bool) -> None:
        label = "added-item" if added else "removed-item"
        super().__init__(spec, where, top=True, label=label)
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

    def __init__(self, spec: Any, where: str) -> None:
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
        self.before = compile_filter(spec["from"], f"{where}.from", top=False) if "from" in spec else None
        self.after = compile_filter(spec["to"], f"{where}.to", top=False) if "to" in spec else None

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

    def __init__(self, spec: Any, where: str) -> None:
        self.inner = compile_filter(spec, where, top=False)

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


_SINGLE_KEYWORDS = ("and", "or", "not", "list-item", *CHANGE_KEYWORDS, *PRESENCE)


def compile_filter(spec: Any, where: str = "filter", *, top: bool = True) -> Node:
    """Compile a filter; ``top`` is False inside list elements, where change predicates make no sense."""
    if isinstance(spec, list):
        if not spec:
            raise FilterError(where, "an empty list of conditions")
        return And([compile_filter(s, f"{where}[{i}]", top=top) for i, s in enumerate(spec)])
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
                                 "the top of a rule's filter (not inside list-item, changed or previous)")
    if keyword in ("and", "or"):
        if not isinstance(body, list) or not body:
            raise FilterError(inner, f"{keyword!r} needs a non-empty list of conditions")
        children = [compile_filter(s, f"{inner}[{i}]", top=top) for i, s in enumerate(body)]
        return And(children) if keyword == "and" else Or(children)
    if keyword == "not":
        return Not(compile_filter(body, inner, top=top))
    if keyword == "list-item":
        return ListItem(body, inner, top=top)
    if keyword in PRESENCE:
        return Presence(body, keyword, inner)
    if keyword == "changed":
        return Changed(body, inner)
    if keyword in ("added-item", "removed-item"):
        return ItemDelta(body, inner, added=keyword == "added-item")
    if keyword == "previous":
        return Previous(body, inner)
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
    )
    matches = node.evaluate(scope)
    unique: dict[str, Match] = {}
    for match in matches:
        unique.setdefault(match.path + canonical(dict(match.bindings)), match)
    return list(unique.values())


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


class Template:
    """``"{perm.IpProtocol} from {range.CidrIp}"``: each ``{...}`` is a JMESPath over the bindings.

    Names available: the ``as`` names of list-item / added-item, ``old`` / ``new`` of changed,
    ``config`` (the configuration), ``document`` (the whole item). ``{{`` and ``}}`` are braces.
    """

    def __init__(self, text: Any, where: str) -> None:
        if not isinstance(text, str):
            raise FilterError(where, f"expected a template string, got {text!r}")
        self.text = text
        self.parts: list[str | Any] = []
        position = 0
        for found in _PLACEHOLDER.finditer(text):
            self.parts.append(text[position:found.start()])
            token = found.group(0)
            if token in ("{{", "}}"):
                self.parts.append(token[0])
            else:
                self.parts.append(compile_expression(found.group(1).strip(), f"{where} {token}"))
            position = found.end()
        self.parts.append(text[position:])

    def render(self, data: Mapping[str, Any]) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = search(part, data)
            if value is None:
                out.append("")
            elif isinstance(value, str):
                out.append(value)
            else:
                out.append(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str))
        return "".join(out)
