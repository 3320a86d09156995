"""The same item across accounts and regions, side by side (``gitmonkey compare``).

The ``deploy`` role in prod and in staging, a security group's rules in two regions: the items are
found by id, name or ARN (or a glob of them), read from each account repository now or at a time,
and their configurations are compared path by path. What differs by nature is left out: only
``configuration`` is compared, and a value that differs only by the item's account id or region
(an ARN, a policy's resource) counts as the same.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitmonkey import forensics
from gitmonkey.config import Config
from gitmonkey.forensics import ForensicsError, ItemNotFound, ItemRef

_GLOB = set("*?[")
MISSING = "<absent>"


@dataclass
class Comparison:
    items: list[ItemRef]
    differences: list[tuple[str, list[Any]]] = field(default_factory=list)
    same: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [r.to_dict() for r in self.items],
            "differences": [{"path": p, "values": values} for p, values in self.differences],
            "same": self.same,
        }


def find(config: Config, item: str, *, accounts: Sequence[str] = (), regions: Sequence[str] = (),
         at: str | None = None) -> list[ItemRef]:
    """The items ``item`` names (exactly, or as a glob over id, name and ARN), in the accounts and
    regions given (globs), as they existed ``at`` (default: now; deleted items are left out)."""
    if _GLOB & set(item) or at is not None:
        refs = [r for r in forensics.items_at(config, at or "now")
                if any(fnmatch.fnmatchcase(v, item) for v in (r.id, r.name, r.arn) if v)]
        if at is None:
            refs = [r for r in refs if not r.deleted]
    else:
        refs = [r for r in forensics.find_items(config, item) if not r.deleted]
    refs = [r for r in refs
            if (not accounts or any(fnmatch.fnmatchcase(r.account, a) for a in accounts))
            and (not regions or any(fnmatch.fnmatchcase(r.region, g) for g in regions))]
    if not refs:
        raise ItemNotFound(f"no item {item!r} to compare" + (f" at {at!r}" if at else ""))
    technologies = {r.technology for r in refs}
    if len(technologies) > 1:
        names = ", ".join(sorted(technologies))
        raise ForensicsError(f"{item!r} names items of several technologies ({names}); "
                             "narrow it down, e.g. with --region or an id")
    return refs


def _flatten(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and value and all(isinstance(v, dict | list) for v in value):
        for index, element in enumerate(value):
            yield from _flatten(element, f"{path}[{index}]")
    else:
        yield path, value


def compare(config: Config, refs: Sequence[ItemRef], *, at: str | None = None) -> Comparison:
    """Each configuration path whose value is not the same in every item, with each item's value."""
    flattened, placeheld = [], []
    for ref in refs:
        document = json.loads(forensics.show(config, ref, at=at))
        values = dict(_flatten(document.get("configuration") or {}, ""))
        flattened.append(values)
        placeheld.append({p: _placeheld(v, str(document.get("account") or ""), ref.region)
                          for p, v in values.items()})
    result = Comparison(list(refs))
    for path in sorted(set().union(*flattened)):
        generic = [f.get(path, MISSING) for f in placeheld]
        if all(v == generic[0] for v in generic[1:]):
            result.same += 1
        else:
            result.differences.append((path, [f.get(path, MISSING) for f in flattened]))
    return result


def _placeheld(value: Any, account: str, region: str) -> Any:
    """``value`` with the item's account id and region replaced by placeholders."""
    if not isinstance(value, str):
        return value
    if account:
        value = value.replace(account, "<account>")
    if region and region != "global":
        value = value.replace(region, "<region>")
    return value
