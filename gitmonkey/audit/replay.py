"""Rebuild the issue events of audit commits from history, for a run that died before notifying.

An audit's issue events exist only in memory until ``notify.enqueue`` has them. If the process
dies after the audit commit, the next audit is idempotent (no transitions) and cannot produce
them again; the commit itself still records them. This module reads them back.

An audit commit is recognised by all of: the subject ``audit: ``, at least one
``Gitmonkey-Audit-*`` trailer, and the bot's committer identity (the repository's configured
name and email). People's commits may quote trailers, but not as the bot.

Each event is built exactly as ``audit.run.issue_events`` builds the live one: new, regressed,
justified and expired from the issue entry in the commit's version of the item's issue file;
fixed from the entry in the first parent's version. A replayed event has the identity of the live
one (fingerprint and audit commit, see ``gitmonkey.notify.dedup``), so the outbox drops it for a
recipient that already has it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitmonkey import events as ev
from gitmonkey.audit import issues as iss
from gitmonkey.config import AccountConfig
from gitmonkey.gitcmd import EMPTY_TREE, cat_file_batch

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

SUBJECT_PREFIX = "audit: "
_KIND_OF_TRAILER = {trailer.lower(): kind for kind, trailer in iss.TRANSITION_TRAILERS.items()}
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


class ReplayError(ValueError):
    """An audit commit whose trailers and issue files disagree; the message names the commit."""


@dataclass(frozen=True)
class AuditCommit:
    sha: str
    parent: str | None
    trailers: tuple[tuple[str, str], ...]
    """(transition kind, fingerprint) in the commit's trailer order, which is the audit's order."""


_FORMAT = "--format=%x01%H%x00%P%x00%cn%x00%ce%x00%s%x00%(trailers:only,unfold)"


def audit_commits(repo: AccountRepository, old: str | None, new: str) -> list[AuditCommit]:
    """The bot's audit commits in ``old..new`` on the first-parent line, oldest first."""
    rng = new if old is None else f"{old}..{new}"
    return _parse_log(repo, repo.git("log", "--first-parent", "--reverse", _FORMAT, rng, "--"))


def audit_commits_at(repo: AccountRepository, shas: Iterable[str]) -> list[AuditCommit]:
    """Those of the given commits that are the bot's audit commits, in the order given."""
    shas = list(dict.fromkeys(shas))
    if not shas:
        return []
    return _parse_log(repo, repo.git("log", "--no-walk=unsorted", _FORMAT, *shas, "--"))


def _parse_log(repo: AccountRepository, out: str) -> list[AuditCommit]:
    commits = []
    for record in out.split("\x01")[1:]:
        sha, parents, name, email, subject, trailers = record.split("\0", 5)
        if name != repo.committer_name or email != repo.committer_email:
            continue
        if not subject.startswith(SUBJECT_PREFIX):
            continue
        parsed = _parse_trailers(trailers)
        if parsed:
            commits.append(AuditCommit(sha, (parents.split() or [None])[0], parsed))
    return commits


def _parse_trailers(text: str) -> tuple[tuple[str, str], ...]:
    found = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        kind = _KIND_OF_TRAILER.get(key.strip().lower())
        value = value.strip()
        if sep and kind and _FINGERPRINT.fullmatch(value):
            found.append((kind, value))
    return tuple(found)


def issue_events_from_commits(
    repo: AccountRepository, account: AccountConfig, old: str | None, new: str
) -> list[ev.Event]:
    """The issue events of every audit commit in ``old..new`` (see ``audit_commits``), in order."""
    return issue_events_of(repo, account, audit_commits(repo, old, new))


def issue_events_of(
    repo: AccountRepository, account: AccountConfig, commits: Iterable[AuditCommit]
) -> list[ev.Event]:
    events: list[ev.Event] = []
    for commit in commits:
        events += _events_of(repo, account, commit)
    return events


def _events_of(repo: AccountRepository, account: AccountConfig, commit: AuditCommit) -> list[ev.Event]:
    from gitmonkey.audit.run import issue_events

    after, before = _issue_files(repo, commit)
    by_fp_after = {i.fingerprint: (f, i) for f in after.values() for i in f.issues}
    by_fp_before = {i.fingerprint: (p, i) for p, f in before.items() for i in f.issues}
    transitions = []
    for kind, fp in commit.trailers:
        if kind == iss.FIXED:
            found = by_fp_before.get(fp)
            if found is None:
                raise ReplayError(f"audit commit {commit.sha}: fixed {fp} is in no issue file of its parent")
            path, issue = found
            item = after[path].item if path in after else _item_at(repo, commit.sha, before[path].item)
        else:
            found = by_fp_after.get(fp)
            if found is None:
                raise ReplayError(f"audit commit {commit.sha}: {kind} {fp} is in no issue file it wrote")
            file, issue = found
            item = file.item
        transitions.append(iss.Transition(kind, issue, item))
    return issue_events(account, transitions, commit.sha)


def _issue_files(
    repo: AccountRepository, commit: AuditCommit
) -> tuple[dict[str, iss.IssueFile], dict[str, iss.IssueFile]]:
    """The issue files the commit changed: its versions and its first parent's."""
    base = commit.parent or EMPTY_TREE
    out = repo.git("diff", "--no-renames", "--name-only", "-z", base, commit.sha, "--", iss.ISSUES_PREFIX)
    paths = [p for p in out.split("\0") if p.endswith(".yaml")]
    after = _load(repo, commit.sha, paths)
    before = _load(repo, commit.parent, paths) if commit.parent else {}
    return after, before


def _load(repo: AccountRepository, rev: str, paths: list[str]) -> dict[str, iss.IssueFile]:
    blobs = cat_file_batch(repo.path, [f"{rev}:{p}" for p in paths])
    return {p: iss.IssueFile.load(blobs[f"{rev}:{p}"], p) for p in paths if f"{rev}:{p}" in blobs}


def _item_at(repo: AccountRepository, rev: str, fallback: iss.ItemRef) -> iss.ItemRef:
    """The item as the live audit saw it when all its issues were fixed: its document, if it exists."""
    content = cat_file_batch(repo.path, [f"{rev}:{fallback.path}"]).get(f"{rev}:{fallback.path}")
    if content is not None:
        try:
            return iss.ItemRef.from_document(json.loads(content), fallback.path)
        except ValueError:
            pass
    return fallback
