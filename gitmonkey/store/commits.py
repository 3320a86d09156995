"""Plan a sync's commits and write their messages.

One baseline commit for the slices seen for the first time, then one commit per added, modified
or deleted item, in a stable order. Subjects read like
``ec2.security_group us-east-1 sg-0abc (web): modified``; the body lists the changed JSON paths;
trailers name account, region, technology, item, ARN and the sync, so ``git log --grep`` and
``git interpret-trailers`` can select them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitmonkey.config import AccountConfig
from gitmonkey.normalize import Normalized, changed_paths
from gitmonkey.normalize.paths import parse_item_path
from gitmonkey.store import Author, FileChange, PlannedCommit

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0080-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SUBJECT_NAME_LIMIT = 80

Annotate = Callable[[dict[str, Any]], list[tuple[str, str]]]


def one_line(text: str, limit: int | None = None) -> str:
    """Make untrusted text safe for a commit subject or trailer: no control or bidi characters."""
    safe = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    if limit is not None and len(safe) > limit:
        safe = safe[: limit - 1] + "…"
    return safe


@dataclass(frozen=True)
class _Change:
    kind: str  # added | modified | deleted
    path: str
    document: dict[str, Any] | None
    content: bytes | None
    old_sha: str | None
    author: Author | None = None
    trailers: tuple[tuple[str, str], ...] = ()


class Plan:
    """The commits of one run. ``run_id`` is written as ``Gitmonkey-Sync`` (a full read) or, with
    ``seen_by="Listen"``, ``Gitmonkey-Listen`` (a re-read after CloudTrail events), so every commit
    says how its change was seen."""

    def __init__(self, account: AccountConfig, run_id: str, *, seen_by: str = "Sync") -> None:
        self.account = account
        self.sync_id = run_id
        self.seen_by = seen_by
        self._baseline: list[tuple[str, Normalized]] = []
        self._changes: list[_Change] = []

    def add(
        self, path: str, doc: Normalized, *, baseline: bool = False, author: Author | None = None,
        trailers: Sequence[tuple[str, str]] = (),
    ) -> None:
        if baseline:
            self._baseline.append((path, doc))
        else:
            self._changes.append(
                _Change("added", path, doc.document, doc.content, None, author, tuple(trailers))
            )

    def modify(
        self, path: str, doc: Normalized, old_sha: str, *, author: Author | None = None,
        trailers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._changes.append(
            _Change("modified", path, doc.document, doc.content, old_sha, author, tuple(trailers))
        )

    def delete(
        self, path: str, old_sha: str, *, author: Author | None = None,
        trailers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._changes.append(_Change("deleted", path, None, None, old_sha, author, tuple(trailers)))

    def __len__(self) -> int:
        return len(self._changes) + (1 if self._baseline else 0)

    def counts(self) -> tuple[int, int, int]:
        kinds = Counter(c.kind for c in self._changes)
        return kinds["added"] + len(self._baseline), kinds["modified"], kinds["deleted"]

    def build(self, repo: AccountRepository, *, annotate: Annotate | None = None) -> list[PlannedCommit]:
        """The commits, in a stable order. ``annotate`` gives extra trailers for an item's commit
        from its document (the last recorded one for a deletion): who made the change, say."""
        commits: list[PlannedCommit] = []
        if self._baseline:
            commits.append(self._baseline_commit())
        old_shas = [c.old_sha for c in self._changes if c.old_sha]
        old_blobs = repo.read_blobs(old_shas) if old_shas else {}
        for change in sorted(self._changes, key=lambda c: c.path):
            old_doc = json.loads(old_blobs[change.old_sha]) if change.old_sha else None
            extra = list(change.trailers)
            if annotate:
                extra += annotate(change.document or old_doc or {})
            commits.append(self._item_commit(change, old_doc, extra))
        return commits

    def _trailers(self, **extra: str) -> str:
        lines = [f"Gitmonkey-Account: {self.account.name} ({self.account.id})"]
        lines += [f"Gitmonkey-{key.capitalize()}: {one_line(value)}" for key, value in extra.items() if value]
        lines.append(f"Gitmonkey-{self.seen_by}: {self.sync_id}")
        return "\n".join(lines)

    def _baseline_commit(self) -> PlannedCommit:
        slices = Counter()
        for path, _doc in self._baseline:
            location = parse_item_path(path)
            slices[(location.region, location.technology)] += 1
        body = "\n".join(f"{tech} {region}: {n} items" for (region, tech), n in sorted(slices.items()))
        technologies = ", ".join(sorted({tech for _region, tech in slices}))
        message = (
            f"baseline: {len(self._baseline)} items in {len(slices)} slices\n\n{body}\n\n"
            + self._trailers(technology=technologies, kind="baseline")
            + "\n"
        )
        changes = tuple(FileChange(path, doc.content) for path, doc in sorted(self._baseline))
        return PlannedCommit(message=message, changes=changes)

    def _item_commit(
        self, change: _Change, old_doc: dict[str, Any] | None, extra: list[tuple[str, str]]
    ) -> PlannedCommit:
        doc = change.document or old_doc or {}
        item_id = str(doc.get("id", ""))
        name = str(doc.get("name", ""))
        technology = str(doc.get("technology", ""))
        region = str(doc.get("region", ""))
        label = one_line(item_id, SUBJECT_NAME_LIMIT)
        if name and name != item_id:
            label += f" ({one_line(name, SUBJECT_NAME_LIMIT)})"
        subject = f"{technology} {region} {label}: {change.kind}"
        paths = changed_paths(old_doc, change.document)
        body = "\n".join(one_line(p) for p in paths) or change.kind
        message = (
            f"{subject}\n\n{body}\n\n"
            + self._trailers(
                region=region,
                technology=technology,
                item=item_id,
                arn=str(doc.get("arn", "")),
                kind=change.kind,
            )
            + "".join(f"\n{one_line(key)}: {one_line(value)}" for key, value in extra)
            + "\n"
        )
        return PlannedCommit(
            message=message, changes=(FileChange(change.path, change.content),), author=change.author
        )
