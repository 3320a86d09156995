"""Related items, for rules that judge an item by other items of its account.

Relations are declared once, as data, in ``gitmonkey.audit.references``. Two things follow from a
declaration:

- a rule can read the items an item refers to (``ctx.related.referenced(document, "iam.group")``)
  and the items that refer to it (``ctx.related.referring(document, "ec2.instance")``), from the
  same commit the audit reads (``RepositoryItems``);
- when an item changes, the audit re-evaluates the items whose findings depend on it in the same
  run (``referring_paths``): a user when a policy of one of its groups changes, an instance when
  the route table of its subnet changes, a security group when an instance using it moves.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from gitmonkey.audit.references import (
    CHAIN,
    DEPENDENCIES,
    GLOBAL,
    REFERENCES,
    Dependency,
    Ref,
    Reference,
    managed_policy_ref,
    reaudited_targets,
    references,
)
from gitmonkey.normalize import paths

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

__all__ = [
    "DEPENDENCIES", "GLOBAL", "REFERENCES", "Dependency", "NoRelatedItems", "Ref", "Reference",
    "RelatedItems", "RepositoryItems", "StaticItems", "managed_policy_ref", "references", "referring_paths",
]


class RelatedItems:
    """The documents of other items of the same account, at the commit being audited."""

    @property
    def memo(self) -> dict[str, Any]:
        """A cache for what rules compute from related items (an item's exposure), kept as long as
        this view of the account: one audit run."""
        memo = self.__dict__.get("_memo")
        if memo is None:
            memo = self.__dict__["_memo"] = {}
        return memo

    def get(self, technology: str, item_id: str, region: str = GLOBAL) -> dict[str, Any] | None:
        raise NotImplementedError

    def referenced(self, document: Mapping[str, Any], target: str) -> list[tuple[Ref, dict[str, Any] | None]]:
        """Each reference of ``document`` to a ``target`` item, with that item's document (None if
        the repository has no such item: deleted, not watched, or not read yet)."""
        configuration = document.get("configuration")
        if not isinstance(configuration, Mapping):
            return []
        technology = str(document.get("technology") or "")
        region = str(document.get("region") or GLOBAL)
        return [(r, self.get(r.technology, r.item_id, r.region))
                for r in references(technology, configuration, target, region)]

    def referring(self, document: Mapping[str, Any], source: str) -> list[tuple[Ref, dict[str, Any]]]:
        """The ``source`` items that refer to ``document``'s item, each with its reference to it
        (the path in the referring item). Regional sources are looked for in the item's region
        (in every region for a global item). The references of a slice are indexed once."""
        target = (str(document.get("technology") or ""), str(document.get("region") or GLOBAL),
                  str(document.get("id") or ""))
        regions = self.regions(source) if target[1] == GLOBAL else (target[1],)
        return [found for region in regions
                for found in self._referring_index(source, region, target[0]).get(target, ())]

    def _referring_index(self, source: str, region: str, target: str) -> dict[tuple[str, ...], list[Any]]:
        indexes = self.memo.setdefault("referring", {})
        index = indexes.get((source, region, target))
        if index is None:
            index = indexes[(source, region, target)] = {}
            for candidate in self.all(source, region):
                configuration = candidate.get("configuration")
                if isinstance(configuration, Mapping):
                    for ref in references(source, configuration, target, region):
                        key = (ref.technology, ref.region, ref.item_id)
                        index.setdefault(key, []).append((ref, candidate))
        return index

    def all(self, technology: str, region: str) -> list[dict[str, Any]]:
        """Every item of ``technology`` in ``region``, in path order."""
        raise NotImplementedError

    def regions(self, technology: str) -> list[str]:
        """The regions holding items of ``technology``, sorted."""
        raise NotImplementedError


class NoRelatedItems(RelatedItems):
    """For an item judged alone (``gitmonkey rules test`` without ``related:``)."""

    def get(self, technology: str, item_id: str, region: str = GLOBAL) -> dict[str, Any] | None:
        return None

    def all(self, technology: str, region: str) -> list[dict[str, Any]]:
        return []

    def regions(self, technology: str) -> list[str]:
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

    def regions(self, technology: str) -> list[str]:
        return sorted({r for (t, _, r) in self._documents if t == technology})


class RepositoryItems(RelatedItems):
    """Items read from one commit's tree; a technology's slice is read in one batch when first asked for.

    ``ephemeral`` (item path -> {dotted path: value}) puts back the values kept out of history that
    the last sync saw (an instance's public address), as the audit does for the item it judges.
    """

    def __init__(self, repo: AccountRepository, blobs: Mapping[str, str],
                 ephemeral: Mapping[str, Mapping[str, Any]] | None = None):
        self._repo = repo
        self._blobs = blobs
        self._ephemeral = ephemeral or {}
        self._loaded: set[tuple[str, str]] = set()
        self._documents: dict[str, dict[str, Any] | None] = {}
        self._regions: dict[str, list[str]] | None = None

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
        listed = self.memo.setdefault("all", {})
        if prefix not in listed:
            listed[prefix] = [d for p, d in sorted(self._documents.items())
                              if p.startswith(prefix) and d is not None]
        return list(listed[prefix])

    def regions(self, technology: str) -> list[str]:
        if self._regions is None:
            found: dict[str, set[str]] = {}
            for path in self._blobs:
                parts = path.split("/")
                if len(parts) == 5 and parts[0] == paths.ITEMS_DIR:
                    found.setdefault(f"{parts[2]}.{parts[3]}", set()).add(parts[1])
            self._regions = {t: sorted(r) for t, r in found.items()}
        return self._regions.get(technology, [])

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
            extra = self._ephemeral.get(path) if isinstance(document, dict) else None
            if extra:
                from gitmonkey.normalize import merge_ephemeral

                document = merge_ephemeral(document, extra)
            self._documents[path] = document if isinstance(document, dict) else None


def referring_paths(
    changed: Iterable[str], items: Mapping[str, str], read: Callable[[Iterable[str]], Mapping[str, bytes]],
    previous: Mapping[str, str] | None = None,
) -> set[str]:
    """Paths of the items (in ``items``: path -> blob id) whose findings depend on one of the
    ``changed`` item paths: the items that refer to it, directly or through other items (a user,
    through its group, to the group's policy), and the targets that a reference declares judged by
    their sources (``references.Reference.reaudits_target``: the security groups of a changed
    instance). ``previous`` (path -> blob id of the version before the change) adds the targets a
    changed item referred to before: the group an instance left, the groups of a deleted instance.
    ``read`` maps blob ids to contents. Only the slices of technologies that can refer to a changed
    technology are read, each once."""
    documents: dict[str, Any] = {}
    versions: dict[tuple[str, str], Any] = {}
    slices = _Slices(items)
    changed = set(changed)
    found: set[str] = set()
    alone: set[str] = set()
    frontier = set(changed)
    old = {p: s for p, s in (previous or {}).items() if _reaudits(p)}
    for path, chain in _judged_targets(old, read, versions, items):
        (frontier if chain else alone).add(path)
    found |= frontier - changed
    while frontier:
        new = _direct_referrers(frontier, slices, read, documents) - found - changed
        current = {p: items[p] for p in frontier | new if _reaudits(p) and p in items}
        chained = set()
        for path, chain in _judged_targets(current, read, versions, items):
            (chained if chain else alone).add(path)
        new |= chained - found - changed
        found |= new
        frontier = new
    return (found | alone) - changed


def _reaudits(path: str) -> bool:
    try:
        return bool(reaudited_targets(paths.parse_item_path(path).technology))
    except ValueError:
        return False


def _judged_targets(
    wanted: Mapping[str, str], read: Callable[[Iterable[str]], Mapping[str, bytes]],
    documents: dict[tuple[str, str], Any], items: Mapping[str, str],
) -> Iterator[tuple[str, bool]]:
    """(path, chain?) of the items that ``wanted`` items' references declare judged by them."""
    unread = {p: s for p, s in wanted.items() if (p, s) not in documents}
    if unread:
        contents = read(set(unread.values()))
        for path, sha in unread.items():
            try:
                documents[(path, sha)] = json.loads(contents[sha])
            except (KeyError, ValueError):
                documents[(path, sha)] = None
    for path, sha in wanted.items():
        document = documents[(path, sha)]
        if not isinstance(document, dict) or not isinstance(document.get("configuration"), dict):
            continue
        technology = str(document.get("technology") or "")
        modes = reaudited_targets(technology)
        region = str(document.get("region") or GLOBAL)
        for ref in references(technology, document["configuration"], region=region):
            mode = modes.get(ref.technology)
            if not mode:
                continue
            try:
                target = paths.item_path(ref.region, ref.technology, ref.item_id)
            except ValueError:
                continue
            if target in items:
                yield target, mode == CHAIN


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
    wanted: dict[str, set[tuple[str, str, str]]] = {}
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
            if location.technology in reference.targets and reference.reaudits_source:
                key = (location.technology, location.region, location.id)
                wanted.setdefault(reference.source, set()).add(key)
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
        keys = wanted.get(technology, set())
        targets = {key[0] for key in keys}
        region = str(document.get("region") or GLOBAL)
        if any((ref.technology, ref.region, ref.item_id) in keys
               for ref in references(technology, document["configuration"], region=region, targets=targets)):
            found.add(path)
    return found
