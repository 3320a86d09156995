"""Which item a CloudTrail management event touched: the mapping from (eventSource, eventName) to
(technology, item ids), as data — one file per service in ``gitmonkey/watchers/events/``.

The foundation of ``gitmonkey listen`` (issue #8): an event delivered by EventBridge names the call
that changed something; the mapping says which watched item to read again. A file::

    source: ec2.amazonaws.com            # the events' eventSource
    events:
      - names: [AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress, ModifySecurityGroupRules]
        technology: ec2.security_group
        ids: requestParameters.groupId   # JMESPath over the event: a string or a list of strings
      - names: [CreateSecurityGroup]
        technology: ec2.security_group
        ids: responseElements.groupId
      - names: [CreateTags, DeleteTags]  # a batch naming several kinds of item
        ids: requestParameters.resourcesSet.items[].resourceId
        by_prefix: {"sg-": ec2.security_group, "i-": ec2.instance}
      - names: [UpdateAccountPasswordPolicy]
        technology: iam.password_policy
        slice: true                      # no id in the event: re-read the (account, region, technology)

Optional ``transform: last-segment`` keeps the last ``/``-separated segment of the value (an item
named by its name when the event carries its ARN or URL: ``role/path/deploy`` -> ``deploy``, an SQS
queue URL -> the queue name); ``transform: arn-resource`` keeps an ARN's resource after its type
(``...:loadbalancer/app/web/123`` -> ``app/web/123``) — only where the item id is that;
``transform: arn-name-after-type`` reads ``:``-separated resources
(``arn:aws:lambda:r:a:function:name[:alias]`` -> ``name``) and keeps a value that is not an ARN;
``transform: load-balancer-name`` reads the name of an ELBv2 load balancer from its ARN or the ARN of
one of its listeners or rules (``listener/app/NAME/...``), and nothing from other ARNs.
``lowercase: true`` lower-cases the ids after the transform, for services that store identifiers in
lower case whatever the caller typed (RDS, Redshift): the request's spelling is not the item's id.

``load_event_map`` validates every file (schema, known technologies, compiled expressions, no
(source, name) claimed twice for one technology) and raises ``EventMapError`` naming the file and the
entry; the listener refuses to start on an invalid map.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import jmespath
import jmespath.exceptions

from gitmonkey import yamlio

TRANSFORMS = ("last-segment", "arn-resource", "arn-name-after-type", "load-balancer-name")
_LOAD_BALANCER_RESOURCES = ("loadbalancer", "listener", "listener-rule")
_ENTRY_KEYS = {"names", "technology", "ids", "by_prefix", "slice", "transform", "lowercase", "note"}


class EventMapError(ValueError):
    """A mapping file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class EventRule:
    source: str
    names: tuple[str, ...]
    technology: str | None
    ids: Any = None
    """The compiled JMESPath of the item ids (None for ``slice``)."""
    by_prefix: tuple[tuple[str, str], ...] = ()
    slice: bool = False
    transform: str = ""
    lowercase: bool = False
    where: str = ""


@dataclass(frozen=True)
class Target:
    """An item (or, with ``item_id`` None, a whole slice) an event asks to read again."""

    technology: str
    item_id: str | None


@dataclass
class EventMap:
    rules: dict[tuple[str, str], list[EventRule]] = field(default_factory=dict)

    def technologies(self) -> set[str]:
        found = set()
        for rules in self.rules.values():
            for rule in rules:
                if rule.technology:
                    found.add(rule.technology)
                found.update(t for _, t in rule.by_prefix)
        return found

    def targets(self, event: Mapping[str, Any]) -> list[Target]:
        """What an event (its ``detail``: the CloudTrail record) touched; [] for an unmapped event."""
        key = (str(event.get("eventSource") or ""), str(event.get("eventName") or ""))
        found: dict[tuple[str, str | None], Target] = {}
        for rule in self.rules.get(key, ()):
            if rule.slice:
                found.setdefault((rule.technology or "", None), Target(rule.technology or "", None))
                continue
            for value in _strings(rule.ids.search(event)):
                value = _transform(value, rule.transform)
                if rule.lowercase:
                    value = value.lower()
                if not value:
                    continue
                technology = rule.technology or next(
                    (t for prefix, t in rule.by_prefix if value.startswith(prefix)), None
                )
                if technology:
                    found.setdefault((technology, value), Target(technology, value))
        return list(found.values())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for item in value for v in _strings(item)]
    return []


def _transform(value: str, transform: str) -> str:
    if transform == "last-segment":
        return value.rstrip("/").rsplit("/", 1)[-1]
    if transform == "arn-resource":
        if not value.startswith("arn:"):
            return value
        resource = value.split(":", 5)[-1]
        return resource.split("/", 1)[1] if "/" in resource else resource
    if transform == "load-balancer-name":
        resource = value.split(":", 5)[-1] if value.startswith("arn:") else ""
        parts = resource.split("/")
        return parts[2] if len(parts) > 2 and parts[0] in _LOAD_BALANCER_RESOURCES else ""
    if transform == "arn-name-after-type":
        if not value.startswith("arn:"):
            return value
        parts = value.split(":")
        return parts[6] if len(parts) > 6 else ""
    return value


def load_event_map(
    files: Iterable[tuple[str, str]] | None = None, known_technologies: Iterable[str] | None = None
) -> EventMap:
    """Read and validate mapping files (``(name, text)`` pairs; default: the built-in ones)."""
    if files is None:
        folder = resources.files("gitmonkey.watchers") / "events"
        files = sorted(
            (p.name, p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".yaml")
        )
    if known_technologies is None:
        from gitmonkey.watchers import all_technologies

        known_technologies = all_technologies()
    known = set(known_technologies)
    result = EventMap()
    claimed: dict[tuple[str, str, str], str] = {}
    for name, text in files:
        for rule in _read_file(name, text, known):
            for event_name in rule.names:
                for technology in [rule.technology] if rule.technology else [t for _, t in rule.by_prefix]:
                    key = (rule.source, event_name, technology)
                    if key in claimed:
                        raise EventMapError(
                            f"{rule.where}: {rule.source} {event_name} -> {technology} is already "
                            f"mapped at {claimed[key]}"
                        )
                    claimed[key] = rule.where
                result.rules.setdefault((rule.source, event_name), []).append(rule)
    return result


def _read_file(name: str, text: str, known: set[str]) -> list[EventRule]:
    try:
        data = yamlio.safe_load(text)
    except Exception as exc:  # any YAML error is the file's fault
        raise EventMapError(f"events/{name}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or set(data) != {"source", "events"}:
        raise EventMapError(f"events/{name}: expected a mapping with exactly 'source' and 'events'")
    source = data["source"]
    if not isinstance(source, str) or not source.endswith(".amazonaws.com"):
        raise EventMapError(
            f"events/{name}: source: expected an eventSource like 'ec2.amazonaws.com', got {source!r}"
        )
    entries = data["events"]
    if not isinstance(entries, list) or not entries:
        raise EventMapError(f"events/{name}: events: expected a non-empty list")
    return [
        _read_entry(f"events/{name}: events[{i}]", source, entry, known) for i, entry in enumerate(entries)
    ]


def _read_entry(where: str, source: str, entry: Any, known: set[str]) -> EventRule:
    if not isinstance(entry, Mapping):
        raise EventMapError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise EventMapError(f"{where}: unknown key {unknown[0]!r}; expected some of {sorted(_ENTRY_KEYS)}")
    names = entry.get("names")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.isalnum() for n in names):
        raise EventMapError(f"{where}: names: expected a non-empty list of event names like 'CreateBucket'")
    technology = entry.get("technology")
    by_prefix = entry.get("by_prefix") or {}
    if (technology is None) == (not by_prefix):
        raise EventMapError(f"{where}: give exactly one of 'technology' and 'by_prefix'")
    for tech in [technology] if technology else list(by_prefix.values()):
        if tech not in known:
            raise EventMapError(f"{where}: {tech!r} is not a known technology")
    is_slice = entry.get("slice", False)
    if not isinstance(is_slice, bool) or (is_slice and (by_prefix or entry.get("ids") is not None)):
        raise EventMapError(f"{where}: slice: true goes with a technology and no ids")
    transform = entry.get("transform", "")
    if transform and transform not in TRANSFORMS:
        raise EventMapError(f"{where}: transform: expected one of {list(TRANSFORMS)}, got {transform!r}")
    lowercase = entry.get("lowercase", False)
    if not isinstance(lowercase, bool) or (lowercase and is_slice):
        raise EventMapError(f"{where}: lowercase: expected true or false, with ids")
    compiled = None
    if not is_slice:
        expression = entry.get("ids")
        if not isinstance(expression, str) or not expression:
            raise EventMapError(f"{where}: ids: expected a JMESPath expression (or slice: true)")
        try:
            compiled = jmespath.compile(expression)
        except jmespath.exceptions.JMESPathError as exc:
            raise EventMapError(f"{where}: ids: invalid JMESPath {expression!r}: {exc}") from None
    return EventRule(
        source=source,
        names=tuple(names),
        technology=technology,
        ids=compiled,
        by_prefix=tuple(sorted(by_prefix.items())),
        slice=is_slice,
        transform=transform,
        lowercase=lowercase,
        where=where,
    )
