"""What every filter node shares: errors, JMESPath compilation and search, matches and scopes."""

from __future__ import annotations

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
    """Where a node is evaluated: ``value`` (at ``path``) inside the configuration of ``document``.

    ``document`` is the item whose configuration is being read (the audited item, or a related
    item inside ``related.where``): ``related`` follows its references. Child scopes (list
    elements, old / new values) keep it.
    """

    value: Any
    path: str
    ctx: AuditContext
    bindings: Mapping[str, Any] = field(default_factory=dict)
    previous: Any = None
    has_previous: bool = False
    document: Mapping[str, Any] | None = None

    def child(self, value: Any, path: str, bindings: Mapping[str, Any]) -> Scope:
        return Scope(value=value, path=path, ctx=self.ctx, bindings=bindings, document=self.document)


class Node:
    def evaluate(self, scope: Scope) -> list[Match]:
        raise NotImplementedError


# How a node compiles a condition nested inside it: ``compile_filter`` with ``top=False``, passed
# in as an argument so that node modules need not import the compiler, which imports them.
CompileNested = Callable[[Any, str], Node]


def _generic(path: str, bindings: Mapping[str, Any]) -> list[Match]:
    return [Match(path=path, bindings=bindings)]
