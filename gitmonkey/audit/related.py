"""Relations between items, for rules that judge an item by the items it refers to.

A relation is declared once, as data: which technology refers to which, and how the ids of the
items referred to are read from the referring item's configuration (``REFERENCES``). Two things
follow from a declaration:

- a rule can read the items an item refers to (``ctx.related.referenced(document, "iam.group")``),
  from the same commit the audit reads (``RepositoryItems``);
- when an item changes, the audit re-evaluates the items that refer to it in the same run
  (``referring_paths``), so a user is re-judged when a policy of one of its groups changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitmonkey import paths
from gitmonkey.audit.statement import parse_arn

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

GLOBAL = "global"


@dataclass(frozen=True)
class Ref:
    """One reference found in an item: the item referred to, and the JSON path where it is named."""

    technology: str
    item_id: str
    path: str
    region: str = GLOBAL
    value: str = ""
    """The reference as the item writes it (a group name, a policy ARN)."""


@dataclass(frozen=True)
class Reference:
    """``source`` items name ``targets`` items; ``read`` finds the references in a configuration."""

    source: str
    targets: tuple[str, ...]
    read: Callable[[Mapping[str, Any]], Iterator[Ref]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _groups(configuration: Mapping[str, Any]) -> Iterator[Ref]:
    for i, name in enumerate(_as_list(configuration.get("GroupList"))):
        if isinstance(name, str) and name:
            yield Ref("iam.group", name, f"configuration.GroupList[{i}]", value=name)


def managed_policy_ref(arn: str, path: str) -> Ref | None:
    """The item of a managed policy ARN: ``iam.aws_policy`` for AWS's (``arn:<partition>:iam::aws:``),
    ``iam.policy`` for the account's own; both are named by the policy name (unique per account)."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "iam" or not (parsed.resource or "").startswith("policy/"):
        return None
    name = (parsed.resource or "").rsplit("/", 1)[-1]
    if not name:
        return None
    return Ref("iam.aws_policy" if parsed.account == "aws" else "iam.policy", name, path, value=arn)


def _managed_policies(configuration: Mapping[str, Any]) -> Iterator[Ref]:
    for i, attached in enumerate(_as_list(configuration.get("AttachedManagedPolicies"))):
        arn = attached.get("PolicyArn") if isinstance(attached, dict) else None
        where = f"configuration.AttachedManagedPolicies[{i}]"
        if isinstance(arn, str) and (ref := managed_policy_ref(arn, where)):
            yield ref
    boundary = configuration.get("PermissionsBoundary")
    arn = boundary.get("PermissionsBoundaryArn") if isinstance(boundary, dict) else None
    if isinstance(arn, str) and (ref := managed_policy_ref(arn, "configuration.PermissionsBoundary")):
        yield ref


_POLICIES = ("iam.policy", "iam.aws_policy")
REFERENCES: tuple[Reference, ...] = (
    Reference("iam.user", ("iam.group",), _groups),
    Reference("iam.user", _POLICIES, _managed_policies),
    Reference("iam.role", _POLICIES, _managed_policies),
    Reference("iam.group", _POLICIES, _managed_policies),
)


@dataclass(frozen=True)
class Dependency:
    """Rules on ``source`` items judge them by every item of the ``on`` technologies (an account's
    posture by its metric filters and alarms): a change to any of those re-audits all ``source``
    items. For relations that no item names by id."""

    source: str
    on: tuple[str, ...]


DEPENDENCIES: tuple[Dependency, ...] = (
    Dependency("iam.root", ("iam.role", "iam.group", "iam.user")),
    Dependency("cloudtrail.status",
               ("cloudtrail.trail", "logs.metric_filter", "cloudwatch.alarm", "sns.topic")),
)


def references(technology: str, configuration: Mapping[str, Any], target: str | None = None) -> list[Ref]:
    """The references an item of ``technology`` makes (to ``target`` items only, if given)."""
    found = []
    for reference in REFERENCES:
        if reference.source == technology and (target is None or target in reference.targets):
            found.extend(r for r in reference.read(configuration) if target is None or r.technology == target)
    return found


class RelatedItems:
    """The documents of other items of the same account, at the commit being audited."""

    def get(self, technology: str, item_id: str, region: str = GLOBAL) -> dict[str, Any] | None:
        raise NotImplementedError

    def referenced(self, document: Mapping[str, Any], target: str) -> list[tuple[Ref, dict[str, Any] | None]]:
        """Each reference of ``document`` to a ``target`` item, with that item's document (None if
        the repository has no such item: deleted, not watched, or not read yet)."""
        configuration = document.get("configuration")
        if not isinstance(configuration, Mapping):
            return []
        technology = str(document.get("technology") or "")
        return [(r, self.get(r.technology, r.item_id, r.region))
                for r in references(technology, configuration, target)]


    def all(self, technology: str, region: str) -> list[dict[str, Any]]:
        """Every item of ``technology`` in ``region``, in path order."""
        raise NotImplementedError


class NoRelatedItems(RelatedItems):
    """For an item judged alone (``gitmonkey rules test`` without ``related:``)."""

    def get(self, technology: str, item_id: str, region: str = GLOBAL) -> dict[str, Any] | None:
        return None

    def all(self, technology: str, region: str) -> list[dict[str, Any]]:
        return []


class StaticItems(RelatedItems):
    """Related items given as documents (rule case files, tests)."""

    def __init__(self, documents: Iterable[Mapping[str, Any]]):
        self._documents = {
            (str(d.get("technology")), str(d.get("id")), str(d.get("region") or GLOBAL)): dict(d)
            for d in documents
        }

    def get(self, technology: str, item_id: str, region: str = GLOBAL) -> dict[str, Any] | None:
        return self._documents.get((technology, item_id, region))

    def all(self, technology: str, region: str) -> list[dict[str, Any]]:
        return [d for (t, _, r), d in sorted(self._documents.items()) if t == technology and r == region]


class RepositoryItems(RelatedItems):
    """Items read from one commit's tree; a technology's slice is read in one batch when first asked for."""

    def __init__(self, repo: AccountRepository, blobs: Mapping[str, str]):
        self._repo = repo
        self._blobs = blobs
        self._loaded: set[tuple[str, str]] = set()
        self._documents: dict[str, dict[str, Any] | None] = {}

    def get(self, technology: str, item_id: str, region: str = GLOBAL) -> dict[str, Any] | None:
        try:
            path = paths.item_path(region, technology, item_id)
        except ValueError:
            return None
        if (region, technology) not in self._loaded:
            self._load(region, technology)
        return self._documents.get(path)

    def all(self, technology: str, region: str) -> list[dict[str, Any]]:
        try:
            prefix = paths.slice_prefix(region, technology)
        except ValueError:
            return []
        if (region, technology) not in self._loaded:
            self._load(region, technology)
        return [d for p, d in sorted(self._documents.items()) if p.startswith(prefix) and d is not None]

    def _load(self, region: str, technology: str) -> None:
        self._loaded.add((region, technology))
        prefix = paths.slice_prefix(region, technology)
        wanted = {p: s for p, s in self._blobs.items() if p.startswith(prefix)}
        contents = self._repo.read_blobs(wanted.values())
        for path, sha in wanted.items():
            try:
                document = json.loads(contents[sha])
            except ValueError:
                document = None
            self._documents[path] = document if isinstance(document, dict) else None


def referring_paths(
    changed: Iterable[str], items: Mapping[str, str], read: Callable[[Iterable[str]], Mapping[str, bytes]]
) -> set[str]:
    """Paths of the items (in ``items``: path -> blob id) that refer to one of the ``changed`` item
    paths, directly or through other items (a user, through its group, to the group's policy);
    ``read`` maps blob ids to contents. Only the slices of technologies that can refer to a
    changed technology are read, each once."""
    documents: dict[str, Any] = {}
    slices = _Slices(items)
    found: set[str] = set()
    frontier = set(changed)
    while frontier:
        new = _direct_referrers(frontier, slices, read, documents) - found - set(changed)
        found |= new
        frontier = new
    return found


class _Slices:
    """The item paths of each technology, parsed from the paths once, when first needed."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self.items = items
        self._paths: dict[str, list[str]] | None = None

    def of(self, technology: str) -> list[str]:
        if self._paths is None:
            self._paths = {}
            for path in self.items:
                try:
                    location = paths.parse_item_path(path)
                except ValueError:
                    continue
                self._paths.setdefault(location.technology, []).append(path)
        return self._paths.get(technology, [])


def _direct_referrers(
    changed: Iterable[str], slices: _Slices, read: Callable[[Iterable[str]], Mapping[str, bytes]],
    documents: dict[str, Any],
) -> set[str]:
    wanted: dict[str, set[str]] = {}
    dependents: set[str] = set()
    for path in changed:
        try:
            location = paths.parse_item_path(path)
        except ValueError:
            continue
        if location.kind != paths.ITEMS_DIR:
            continue
        dependents.update(d.source for d in DEPENDENCIES if location.technology in d.on)
        if location.id is None:
            continue
        for reference in REFERENCES:
            if location.technology in reference.targets:
                wanted.setdefault(reference.source, set()).add(path)
    found = {p for technology in dependents for p in slices.of(technology)}
    candidates = {p: slices.items[p] for technology in wanted for p in slices.of(technology)}
    unread = {p: s for p, s in candidates.items() if p not in documents}
    if unread:
        contents = read(unread.values())
        for path, sha in unread.items():
            try:
                documents[path] = json.loads(contents[sha])
            except (KeyError, ValueError):
                documents[path] = None
    for path in candidates:
        document = documents[path]
        if not isinstance(document, dict) or not isinstance(document.get("configuration"), dict):
            continue
        technology = str(document.get("technology") or "")
        for ref in references(technology, document["configuration"]):
            try:
                target_path = paths.item_path(ref.region, ref.technology, ref.item_id)
            except ValueError:
                continue
            if target_path in wanted.get(technology, ()):
                found.add(path)
                break
    return found
