"""``related``: judge an item by the items it names, or by the items that name it.

The relations are the ones declared in ``gitmonkey.audit.references``; the items are read through
``ctx.related`` (``gitmonkey.audit.related``) at the audited commit. ``where`` is evaluated on the
related item's own configuration, with the related item as the scope's document, so a ``related``
inside it follows the related item's references (an instance -> its instance profile -> its role).

A match is made per related item that satisfies ``where`` (per innermost element or related item
when ``where`` itself matches specific things). Its path is in the audited item: where the
reference is named (``referenced``), or the scope's path (``referring``: the item as a whole,
which names nothing). The related document is bound under ``as`` for templates, and a last,
hidden binding (``KEY_BINDING``) holds the related item's identity: the loader keys a finding by
a specific match's last binding, so the key is ``technology:region:id`` (followed by the inner
match's key) rather than a digest of a document that changes with every edit of the related item.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from gitmonkey.audit.filters.base import CompileNested, FilterError, Match, Node, Scope, canonical
from gitmonkey.audit.references import REFERENCES
from gitmonkey.audit.related import NoRelatedItems

DIRECTIONS = ("referenced", "referring")
RESERVED_NAMES = ("config", "document", "old", "new")
KEY_BINDING = "@related"
"""The hidden binding that keys a ``related`` match (not an identifier, so no ``as`` can take it)."""

_FIELDS = ("technology", "direction", "as", "where", "missing")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TECHNOLOGY = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


def _declared(technology: str, direction: str) -> bool:
    """Whether some declared reference can relate items of ``technology`` in ``direction``."""
    if direction == "referenced":
        return any(technology in reference.targets for reference in REFERENCES)
    return any(technology == reference.source for reference in REFERENCES)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else canonical(value)
    return text if len(text) <= 100 else hashlib.sha256(text.encode()).hexdigest()[:16]


class RelatedUnknown(Exception):
    """An item judged alone (no related items at all): a filter that asks for related items cannot
    be decided, in either direction, so the rule does not match (``compiler.evaluate``)."""


class Related(Node):
    """``related: {technology, direction, as, where, missing}`` (docs/readme/rules.md)."""

    def __init__(self, spec: Any, where: str, compile_nested: CompileNested) -> None:
        if not isinstance(spec, Mapping):
            raise FilterError(where, f"related needs a mapping with at least 'technology', got {spec!r}")
        unknown = sorted(str(k) for k in set(spec) - set(_FIELDS))
        if unknown:
            raise FilterError(where, f"unknown field {unknown[0]!r} in related; expected {sorted(_FIELDS)}")
        if "technology" not in spec:
            raise FilterError(where, "related needs a 'technology' (the related items' technology, "
                                     "e.g. iam.instance_profile)")
        technology = spec["technology"]
        if not isinstance(technology, str) or not _TECHNOLOGY.match(technology):
            raise FilterError(f"{where}.technology", "expected a technology '<service>.<type>' such as "
                                                     f"iam.role, got {technology!r}")
        direction = spec.get("direction", "referenced")
        if direction not in DIRECTIONS:
            raise FilterError(f"{where}.direction",
                              f"expected 'referenced' (items this item names) or 'referring' "
                              f"(items that name this item), got {direction!r}")
        if not _declared(technology, direction):
            what = ("no declared reference names {0} items" if direction == "referenced"
                    else "{0} items name no other items")
            raise FilterError(f"{where}.technology",
                              f"{what.format(technology)} (see gitmonkey/audit/references.py)")
        if "missing" in spec:
            if direction == "referring":
                raise FilterError(f"{where}.missing", "'missing' is only for direction 'referenced': "
                                                      "an item that refers to this one is always held")
            if not isinstance(spec["missing"], bool):
                raise FilterError(f"{where}.missing", f"expected true or false, got {spec['missing']!r}")
        name = spec.get("as", "related")
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise FilterError(f"{where}.as", f"'as' must be an identifier, got {name!r}")
        if name in RESERVED_NAMES:
            raise FilterError(f"{where}.as", f"{name!r} is a reserved name")
        self.technology = technology
        self.direction = direction
        self.name = name
        self.missing = bool(spec.get("missing", False))
        condition = spec.get("where")
        self.where = compile_nested(condition, f"{where}.where") if condition is not None else None

    def _related(self, scope: Scope) -> list[tuple[str, str, dict[str, Any], bool]]:
        """(path in the audited item, identity, document, missing?) of each related item."""
        document = scope.document
        if not isinstance(document, Mapping):
            return []
        related = scope.ctx.related
        if self.direction == "referring":
            return [(scope.path, f"{self.technology}:{other.get('region')}:{other.get('id')}", other, False)
                    for _, other in related.referring(document, self.technology)]
        found = []
        for ref, other in related.referenced(document, self.technology):
            identity = f"{ref.technology}:{ref.region}:{ref.item_id}"
            if other is not None:
                found.append((ref.path, identity, other, False))
            elif self.missing:
                stub = {"technology": ref.technology, "id": ref.item_id, "region": ref.region, "name": None,
                        "arn": None, "configuration": None, "missing": True, "reference": ref.value}
                found.append((ref.path, identity, stub, True))
        return found

    def evaluate(self, scope: Scope) -> list[Match]:
        if isinstance(scope.ctx.related, NoRelatedItems):
            raise RelatedUnknown
        outer = {k: v for k, v in scope.bindings.items() if k != KEY_BINDING}
        result: list[Match] = []
        for path, identity, other, missing in self._related(scope):
            bindings = {**outer, self.name: other}
            if self.where is None or missing:
                # A missing item (``missing: true``) cannot be judged: it matches whatever ``where`` says.
                result.append(Match(path=path, bindings={**bindings, KEY_BINDING: identity}, specific=True))
                continue
            configuration = other.get("configuration")
            inner = self.where.evaluate(Scope(
                value=configuration if isinstance(configuration, Mapping) else {},
                path="configuration", ctx=scope.ctx, bindings=bindings, document=other,
            ))
            nested = [m for m in inner if m.specific and m.bindings]
            if inner and not nested:
                result.append(Match(path=path, bindings={**bindings, KEY_BINDING: identity}, specific=True))
            for match in nested:
                # The innermost match names what was found (the role of the profile, a policy of the
                # role); its path is in the related item, so the match is placed at this item's.
                result.append(Match(path=path, bindings=_rekeyed(match.bindings, identity), specific=True))
        return result


def _rekeyed(bindings: Mapping[str, Any], identity: str) -> dict[str, Any]:
    """``bindings`` with the key binding last, ``identity`` followed by the inner match's key: the
    inner key binding of a nested ``related``, else the inner element (a digest when long)."""
    names = list(bindings)
    last = bindings[names[-1]]
    inner = last if names[-1] == KEY_BINDING else _short(last)
    return {**{k: v for k, v in bindings.items() if k != KEY_BINDING}, KEY_BINDING: f"{identity} > {inner}"}
