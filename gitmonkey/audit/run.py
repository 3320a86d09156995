"""Audit an account repository: every item, or the items a commit range changed.

The audit reads items, issue files and justifications from the commit at HEAD (never from the
working tree), evaluates the rules, and records all resulting issue-file changes in one commit
made with ``AccountRepository.commit``. Its result depends only on items, justifications,
rules, config and the history of earlier audit commits, so re-running it converges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitmonkey import events as ev
from gitmonkey.audit import issues as iss
from gitmonkey.audit.anchors import ChangeAnchors, read_versions
from gitmonkey.audit.justify import JUSTIFICATIONS_PREFIX, Justifications
from gitmonkey.config import AccountConfig, Config
from gitmonkey.normalize.paths import parse_item_path

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

VALIDATION_CACHE = "validated.json"


_EVENT_KINDS = {
    iss.NEW: ev.ISSUE_NEW,
    iss.REGRESSED: ev.ISSUE_REGRESSED,
    iss.FIXED: ev.ISSUE_FIXED,
    iss.JUSTIFIED: ev.ISSUE_JUSTIFIED,
    iss.EXPIRED: ev.JUSTIFICATION_EXPIRED,
}


@dataclass
class AuditResult:
    head: str | None = None
    commit: str | None = None
    audited: int = 0
    transitions: list[iss.Transition] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {kind: 0 for kind in iss.TRANSITION_TRAILERS}
        for t in self.transitions:
            counts[t.kind] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "commit": self.commit,
            "audited": self.audited,
            "counts": self.counts(),
            "errors": list(self.errors),
        }


def load_ruleset(config: Config, state_dir: Path | None = None) -> Any:
    """The rules; with an account's ``state_dir``, schema checks of unchanged rule files are skipped."""
    from gitmonkey.audit.rules import RuleSet
    from gitmonkey.validation_cache import ValidationCache

    cache = ValidationCache(state_dir / VALIDATION_CACHE) if state_dir is not None else None
    return RuleSet.load(config.audit, base_dir=config.path.parent, cache=cache)


def audit_context(config: Config, account: AccountConfig, now: datetime) -> Any:
    from gitmonkey.audit.context import AuditContext

    ctx = AuditContext.from_config(config.audit, account_id=account.id, account_name=account.name, now=now)
    return replace(ctx, technologies=config.technologies)


def changed_in_range(repo: AccountRepository, old: str | None, new: str) -> tuple[set[str], bool]:
    """Item paths changed between two commits, and whether any justification changed."""
    if old is None:
        paths = set(repo.list_blobs("items/", new)) | set(repo.list_blobs(JUSTIFICATIONS_PREFIX, new))
    else:
        out = repo.git("diff", "--name-only", "--no-renames", "-z", old, new, "--", iss.ITEMS_PREFIX,
                       JUSTIFICATIONS_PREFIX)
        paths = {p for p in out.split("\0") if p}
    items = {p for p in paths if p.startswith(iss.ITEMS_PREFIX) and p.endswith(".json")}
    return items, any(p.startswith(JUSTIFICATIONS_PREFIX) for p in paths)


def audit_all(
    repo: AccountRepository, config: Config, account: AccountConfig, *, ruleset: Any = None,
    now: datetime | None = None,
) -> AuditResult:
    return audit_repository(repo, config, account, targets=None, recheck_justifications=True,
                            ruleset=ruleset, now=now)


def audit_ranges(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    ranges: Iterable[tuple[str | None, str]],
    *,
    recheck_justifications: bool = False,
    ruleset: Any = None,
    now: datetime | None = None,
) -> AuditResult:
    """Audit what the ranges changed; each item is compared with its version at its range's start."""
    targets: dict[str, str | None] = {}
    for old, new in ranges:
        items, justifications_changed = changed_in_range(repo, old, new)
        recheck_justifications = recheck_justifications or justifications_changed
        for path in items:
            targets.setdefault(path, old)
    return audit_repository(repo, config, account, targets=targets,
                            recheck_justifications=recheck_justifications, ruleset=ruleset, now=now)


def audit_repository(
    repo: AccountRepository,
    config: Config,
    account: AccountConfig,
    *,
    targets: Mapping[str, str | None] | None,
    recheck_justifications: bool,
    ruleset: Any = None,
    now: datetime | None = None,
) -> AuditResult:
    """Re-evaluate ``targets`` (item path -> revision of its previous version; None = all items).

    With ``recheck_justifications`` every other issue file is re-read and only its justification
    state recomputed (an expiry, or a justification merged through a pull request).

    An open issue of a rule that compares versions is re-checked against the version it was first
    compared with (its ``compared_with``), not only against the item's previous version: it stays
    open while the change it reports still holds against that version (see ``anchors.ChangeAnchors``).
    """
    now = now or datetime.now(UTC)
    head = repo.head()
    result = AuditResult(head=head)
    if head is None:
        return result
    tree = repo.list_blobs("", head)
    items = {p: s for p, s in tree.items() if p.startswith(iss.ITEMS_PREFIX)}
    issue_blobs = {p: s for p, s in tree.items() if p.startswith(iss.ISSUES_PREFIX)}
    justification_blobs = {p: s for p, s in tree.items() if p.startswith(JUSTIFICATIONS_PREFIX)}
    if targets is None:
        evaluate: dict[str, str | None] = dict.fromkeys(items)
        evaluate.update((p, r) for p, r in _last_change_parents(repo, head).items() if p in items)
        # Issue files of items that are gone: their issues are fixed (no previous version needed).
        issue_items = (iss.item_path_for(p) for p in issue_blobs if p.endswith(".yaml"))
        evaluate.update((p, None) for p in issue_items if p not in items)
    else:
        evaluate = dict(targets)
        # Items that refer to a changed item (a user in a group whose policy changed) are judged
        # again, compared with themselves: nothing of theirs changed.
        from gitmonkey.audit.related import referring_paths

        previous = _previous_blobs(repo, evaluate)
        for path in sorted(referring_paths(evaluate, items, repo.read_blobs, previous) - evaluate.keys()):
            evaluate[path] = head
    recheck = (
        {iss.item_path_for(p) for p in issue_blobs if p.endswith(".yaml")} - evaluate.keys()
        if recheck_justifications
        else set()
    )
    wanted = [items[p] for p in evaluate if p in items]
    issue_paths = (iss.issue_path_for(p) for p in (*evaluate, *recheck))
    wanted += [issue_blobs[p] for p in issue_paths if p in issue_blobs]
    wanted += list(justification_blobs.values())
    contents = repo.read_blobs(set(wanted))
    justifications = Justifications.from_files({p: contents[s] for p, s in justification_blobs.items()})
    result.errors.extend(justifications.errors)
    befores: dict[str, iss.IssueFile] = {}
    for path in sorted(evaluate.keys() | recheck):
        issue_path = iss.issue_path_for(path)
        if issue_path in issue_blobs:
            try:
                befores[path] = iss.IssueFile.load(contents[issue_blobs[issue_path]], issue_path)
            except iss.IssueFileError as exc:
                result.errors.append(str(exc))
    rules = None
    ctx = None
    ephemeral = None
    if any(p in items for p in evaluate):
        rules = ruleset if ruleset is not None else load_ruleset(config, repo.state_dir)
        from gitmonkey.audit.related import RepositoryItems

        ephemeral = _ephemeral(repo)
        ctx = replace(audit_context(config, account, now), related=RepositoryItems(repo, items, ephemeral))
    anchors = ChangeAnchors(repo, rules, evaluate, items, befores, issue_blobs, result.errors)
    previous_specs = [(p, r) for p, r in evaluate.items() if r is not None and p in items]
    versions = read_versions(repo, previous_specs + anchors.item_specs(), anchors.issue_specs(),
                              anchors.revisions())
    anchors.resolve(versions)
    state = _Run(repo, head, now, justifications)
    changes = []
    for path in sorted(evaluate.keys() | recheck):
        issue_path = iss.issue_path_for(path)
        before = befores.get(path)
        findings: list[Any] | None = None
        if path in recheck:
            if before is None:
                continue
            item = before.item
        elif path in items:
            try:
                document = json.loads(contents[items[path]])
            except ValueError as exc:
                result.errors.append(f"{path}: not valid JSON ({exc}); its issues were left as they are")
                continue
            extra = ephemeral.get(path) if ephemeral is not None else None
            if extra:
                from gitmonkey.normalize import merge_ephemeral

                document = merge_ephemeral(document, extra)
            item = iss.ItemRef.from_document(document, path)
            previous_rev = evaluate[path]
            previous = versions.document(path, previous_rev)
            findings = rules.evaluate(document, previous, ctx)
            if previous_rev:
                findings = [
                    replace(f, compared_with=previous_rev) if rules.compares_versions(f.rule_id) else f
                    for f in findings
                ]
            before, findings = anchors.judge(path, before, item, document, findings, versions, ctx)
            result.audited += 1
        elif before is not None:
            item = before.item
            findings = []
        else:
            continue
        reconciled = iss.reconcile(
            item,
            before.issues if before else (),
            findings,
            justify=state.justify,
            first_seen=lambda: state.first_seen,
            was_fixed=state.was_fixed,
        )
        result.transitions.extend(reconciled.transitions)
        old_bytes = contents.get(issue_blobs[issue_path]) if issue_path in issue_blobs else None
        new_bytes = reconciled.file.dump() if reconciled.file else None
        if new_bytes != old_bytes:
            from gitmonkey.store import FileChange

            changes.append(FileChange(issue_path, new_bytes))
    if changes:
        from gitmonkey.store import PlannedCommit

        message = iss.audit_message(result.transitions, len(changes))
        result.commit = repo.commit([PlannedCommit(message, tuple(changes))])[-1]
    result.events = issue_events(account, result.transitions, result.commit)
    return result


def issue_events(
    account: AccountConfig, transitions: Iterable[iss.Transition], commit: str | None
) -> list[ev.Event]:
    """Events for the notifier; a justified issue produces issue.justified, never issue.new."""
    events = []
    for t in transitions:
        if t.kind in (iss.NEW, iss.REGRESSED) and t.issue.justified:
            continue
        title = f"{t.issue.title}: {t.issue.details}" if t.issue.details else t.issue.title
        details: dict[str, Any] = {
            "fingerprint": t.issue.fingerprint, "rule": t.issue.rule, "path": t.issue.path,
            "details": t.issue.details, "key": t.issue.key,
        }
        if t.issue.justification:
            details["justification"] = dict(t.issue.justification)
        events.append(
            ev.Event(
                kind=_EVENT_KINDS[t.kind],
                account=account.name,
                account_id=account.id,
                title=title,
                technology=t.item.technology,
                region=t.item.region,
                item_id=t.item.id,
                item_name=t.item.name or None,
                score=t.issue.score,
                commit=commit,
                details=details,
            )
        )
    return events


class _Run:
    """Per-audit lookups that cost a git call, made at most once."""

    def __init__(self, repo: AccountRepository, head: str, now: datetime, justifications: Justifications):
        self._repo = repo
        self._head = head
        self._now = now
        self._justifications = justifications
        self._fixed: set[str] | None = None
        self._first_seen: tuple[str, str] | None = None

    @property
    def first_seen(self) -> tuple[str, str]:
        """The audited commit and its date, for issues that are new in this audit."""
        if self._first_seen is None:
            stamp = int(self._repo.git("log", "-1", "--format=%ct", self._head).strip())
            self._first_seen = (self._head, datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return self._first_seen

    def justify(self, issue: iss.Issue, item: iss.ItemRef) -> iss.JustificationMatch | None:
        return self._justifications.lookup(issue, item, self._now)

    def was_fixed(self, fp: str) -> bool:
        if self._fixed is None:
            out = self._repo.git(
                "log",
                f"--format=%(trailers:key={iss.TRAILER_FIXED},valueonly)",
                f"--grep=^{iss.TRAILER_FIXED}: ",
                self._head,
            )
            self._fixed = {line.strip() for line in out.splitlines() if line.strip()}
        return fp in self._fixed


def _last_change_parents(repo: AccountRepository, head: str) -> dict[str, str | None]:
    """For each item, the first parent of the commit that last changed it.

    ``audit --all`` compares each item with that version, as the audit of that commit did, so
    change predicates give the same findings either way and re-auditing converges.
    """
    out = repo.git("log", "--format=%x01%H%x02%P", "--name-only", "--no-renames", "-z", head, "--",
                   iss.ITEMS_PREFIX)
    parents: dict[str, str | None] = {}
    for chunk in out.split("\x01")[1:]:
        header, _, names = chunk.partition("\0")
        parent = (header.partition("\x02")[2].split() or [None])[0]
        for name in names.split("\0"):
            name = name.strip("\n")
            if name and name not in parents:
                parents[name] = parent
    return parents


def _previous_blobs(repo: AccountRepository, evaluate: Mapping[str, str | None]) -> dict[str, str]:
    """Path -> blob id of the version before the change, for the changed items whose references
    decide other items' findings (``references.Reference.reaudits_target``)."""
    from gitmonkey.audit.references import reaudited_targets

    by_revision: dict[str, list[str]] = {}
    for path, revision in evaluate.items():
        if revision is None:
            continue
        try:
            technology = parse_item_path(path).technology
        except ValueError:
            continue
        if reaudited_targets(technology):
            by_revision.setdefault(revision, []).append(path)
    blobs: dict[str, str] = {}
    for revision, wanted in by_revision.items():
        for start in range(0, len(wanted), 500):
            out = repo.git("ls-tree", "-z", "--full-tree", revision, "--", *wanted[start:start + 500])
            for record in out.split("\0"):
                meta, _, path = record.partition("\t")
                if path and meta.split(" ")[1:2] == ["blob"]:
                    blobs[path] = meta.split(" ")[2]
    return blobs


def _ephemeral(repo: AccountRepository) -> Any:
    try:
        from gitmonkey.store.state import EphemeralStore
    except ImportError:
        return None
    return EphemeralStore.load(repo.state_dir)
