"""Change issues and the versions they were measured against.

A rule that compares versions (``Rule.compares_versions``) reports a change between two versions
of an item; its issue stays open while the change still holds against the older one, recorded in
the issue as ``compared_with``. :class:`ChangeAnchors` decides that for ``audit.run``;
:func:`read_versions` reads the versions it needs in one batch with the item's previous versions.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gitmonkey.audit import issues as iss

if TYPE_CHECKING:
    from gitmonkey.store import AccountRepository

log = logging.getLogger(__name__)
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")

_NO_REVISION = ""
"""An anchor with no revision: the change was measured against no previous version (a new item)."""


class Versions:
    """Blobs of files at revisions, and the item documents among them, read in one batch."""

    def __init__(self, blobs: dict[tuple[str, str], str], documents: dict[str, dict[str, Any]],
                 commits: set[str]) -> None:
        self._blobs = blobs
        self._documents = documents
        self.commits = commits
        """The asked-for revisions that name a commit of this repository."""

    def blob(self, path: str, rev: str | None) -> str | None:
        """The file's blob at ``rev``; None when it did not exist there (or ``rev`` is None / "")."""
        return self._blobs.get((path, rev)) if rev else None

    def readable(self, path: str, rev: str) -> bool:
        """Whether the item's version at ``rev`` is known: a commit here, and JSON if it exists."""
        if rev == _NO_REVISION:
            return True
        if rev not in self.commits:
            return False
        blob = self.blob(path, rev)
        return blob is None or blob in self._documents

    def document(self, path: str, rev: str | None) -> dict[str, Any] | None:
        blob = self.blob(path, rev)
        return self._documents.get(blob) if blob is not None else None


def read_versions(
    repo: AccountRepository, items: Iterable[tuple[str, str]], others: Iterable[tuple[str, str]] = (),
    commits: Iterable[str] = (),
) -> Versions:
    """The documents of ``items`` (item path, revision), the blob ids of ``others`` (path,
    revision), and which of ``commits`` exist: one ``cat-file --batch-check`` and one
    ``cat-file --batch``, or none when nothing is asked."""
    items = sorted(set(items))
    specs = items + sorted(set(others) - set(items))
    commits = sorted(set(commits))
    lines = [f"{rev}:{path}" for path, rev in specs] + [f"{rev}^{{commit}}" for rev in commits]
    if not lines:
        return Versions({}, {}, set())
    out = repo.git("cat-file", "--batch-check=%(objectname) %(objecttype)",
                   input="".join(line + "\n" for line in lines).encode("utf-8"))
    answers = out.splitlines()
    blobs: dict[tuple[str, str], str] = {}
    for spec, line in zip(specs, answers[: len(specs)], strict=True):
        sha, _, kind = line.partition(" ")
        if kind == "blob":
            blobs[spec] = sha
    known = {rev for rev, line in zip(commits, answers[len(specs):], strict=True)
             if line.partition(" ")[2] == "commit"}
    contents = repo.read_blobs({blobs[spec] for spec in items if spec in blobs})
    documents: dict[str, dict[str, Any]] = {}
    for sha, content in contents.items():
        try:
            documents[sha] = json.loads(content)
        except ValueError:
            continue
    return Versions(blobs, documents, known)


class ChangeAnchors:
    """The versions that issues of change rules were first measured against.

    A change rule (``Rule.compares_versions``) reports a change between two versions of an item.
    Its issue records the revision of the older one (``compared_with``) and stays open while the
    change still holds against that version, until it is justified or undone: when the item is
    audited, the rule is run again with that version as ``previous``, and the issue keeps (or
    loses) its fingerprint by that run rather than by the comparison with the item's immediate
    previous version alone. So a later, unrelated change of the item (a tag) does not close it,
    and undoing the change closes it even when the undo is itself a change (principals changed
    back). The anchors are read in the same ``cat-file`` calls as the previous versions: an item
    without open change issues costs no extra git call.

    The audit of an item's latest change can be run again (``audit --all`` compares each item with
    its version before its last change; a range is audited again after a crash). If that audit
    closed a change issue as undone, the comparison with the previous version finds it again; the
    issue file at the previous version tells: when it had the issue open and the run against its
    anchor does not find it, the finding is dropped, as the first audit decided. This costs a git
    call only when a change rule finds something new and the issue file differs from the one at
    the previous version (never in the hook after a plain commit).

    An issue written before ``compared_with`` existed is anchored at the parent of the last commit
    that changed the item at or before its ``first_seen`` commit (one ``git log`` per issue, once:
    the audit writes ``compared_with`` from then on). An anchor that cannot be read (a commit no
    longer in the repository, e.g. history rewritten) is reported in the audit's errors and logged;
    the issue is then evaluated as before this existed: it stays open only if the comparison with
    the previous version still finds it, and is then anchored there.
    """

    def __init__(self, repo: AccountRepository, rules: Any, evaluate: Mapping[str, str | None],
                 items: Mapping[str, str], befores: Mapping[str, iss.IssueFile],
                 issue_blobs: Mapping[str, str], errors: list[str]) -> None:
        self._repo = repo
        self._rules = rules
        self._evaluate = evaluate
        self._items = items
        self._issue_blobs = issue_blobs
        self._errors = errors
        self.anchors: dict[tuple[str, str], str | None] = {}
        """(item path, fingerprint) -> revision ("" = no previous version; None = unreadable)."""
        self._recorded: dict[tuple[str, str], str] = {}
        if rules is None:
            return
        for path, file in befores.items():
            if path not in items or path not in evaluate:
                continue
            for issue in file.issues:
                if not rules.compares_versions(issue.rule):
                    continue
                if issue.compared_with:
                    self._recorded[(path, issue.fingerprint)] = issue.compared_with
                self.anchors[(path, issue.fingerprint)] = self._anchor_of(path, issue)

    def _anchor_of(self, path: str, issue: iss.Issue) -> str | None:
        if issue.compared_with:
            return issue.compared_with if _SHA.fullmatch(issue.compared_with) else None
        return _legacy_anchor(self._repo, path, issue.first_seen_commit)

    def item_specs(self) -> list[tuple[str, str]]:
        """(item path, revision) of the anchors to read, where they differ from the previous version."""
        return [(path, rev) for (path, _), rev in self.anchors.items()
                if rev and rev != self._evaluate.get(path)]

    def issue_specs(self) -> list[tuple[str, str]]:
        """(issue path, previous revision) of the audited items: the issue files their last audit saw."""
        if self._rules is None:
            return []
        return [(iss.issue_path_for(path), rev) for path, rev in self._evaluate.items()
                if rev and path in self._items]

    def revisions(self) -> set[str]:
        return {rev for rev in self.anchors.values() if rev}

    def resolve(self, versions: Versions) -> None:
        """Mark anchors whose version cannot be read as unreadable, with an error naming them."""
        for (path, fp), rev in sorted(self.anchors.items(), key=lambda kv: kv[0]):
            if rev is not None and versions.readable(path, rev):
                continue
            what = self._recorded.get((path, fp)) or "the item's version before it was first seen"
            message = (f"{path}: issue {fp}: cannot read the version it was compared with ({what});"
                       " it was evaluated against the item's previous version only")
            log.warning("%s", message)
            self._errors.append(message)
            self.anchors[(path, fp)] = None

    def judge(
        self, path: str, before: iss.IssueFile | None, item: iss.ItemRef, document: dict[str, Any],
        findings: list[Any], versions: Versions, ctx: Any,
    ) -> tuple[iss.IssueFile | None, list[Any]]:
        """The item's previous issue file and its findings, with the change issues judged against
        their anchors: an open one by a run against its anchor (one with an unreadable anchor
        loses it, and takes the finding's), a new one dropped if the audit of this version
        already closed it as undone (see the class)."""
        rules = self._rules
        previous_rev = self._evaluate.get(path)
        previous_blob = versions.blob(path, previous_rev)
        runs: dict[tuple[str, str], list[Any] | None] = {}

        def fingerprint(finding: Any) -> str:
            return iss.fingerprint(finding.rule_id, item.technology, item.region, item.id, finding.key)

        def run(rule_id: str, rev: str, anchor: dict[str, Any] | None) -> list[Any] | None:
            """The rule's findings with ``anchor`` as the previous version; None if the rule is off."""
            if (rule_id, rev) not in runs:
                rule = rules.by_id[rule_id]
                enabled, score = rules.settings(rule, ctx.account_id, ctx.account_name)
                runs[(rule_id, rev)] = rules.run_rule(rule, document, anchor, ctx, score) if enabled else None
            return runs[(rule_id, rev)]

        issues = []
        for issue in before.issues if before is not None else ():
            key = (path, issue.fingerprint)
            if key not in self.anchors:
                if issue.compared_with and rules.by_id.get(issue.rule) is not None:
                    issue = replace(issue, compared_with=None)  # the rule no longer compares versions
                issues.append(issue)
                continue
            rev = self.anchors[key]
            if rev is None:
                issues.append(replace(issue, compared_with=None))
                continue
            issues.append(issue)
            if rev == (previous_rev or _NO_REVISION) or versions.blob(path, rev) == previous_blob:
                continue  # the comparison with the previous version is the comparison with the anchor
            found = run(issue.rule, rev, versions.document(path, rev))
            if found is None:
                continue
            failed = [f for f in found if f.rule_id != issue.rule]
            if failed:  # a rule-error finding: report it, and leave the issue as the evaluation found it
                findings = findings + failed
                continue
            fp = issue.fingerprint
            findings = [f for f in findings if f.rule_id != issue.rule or fingerprint(f) != fp]
            findings += [replace(f, compared_with=rev or None) for f in found if fingerprint(f) == fp]
        if before is not None:
            before = replace(before, issues=tuple(issues))

        open_fps = {i.fingerprint for i in issues}
        fresh = [f for f in findings if rules.compares_versions(f.rule_id) and fingerprint(f) not in open_fps]
        if fresh and previous_rev:
            earlier = self._judged(path, previous_rev, versions)
            for finding in fresh:
                issue = earlier.get(fingerprint(finding))
                if issue is not None and self._undone(path, issue, previous_blob, run, fingerprint):
                    findings = [f for f in findings if f is not finding]
        return before, findings

    def _judged(self, path: str, previous_rev: str, versions: Versions) -> dict[str, iss.Issue]:
        """The change issues open in the item's issue file at its previous version, if it differs
        from the one at HEAD (an audit of this version has already been made)."""
        issue_path = iss.issue_path_for(path)
        blob = versions.blob(issue_path, previous_rev)
        if blob is None or blob == self._issue_blobs.get(issue_path):
            return {}
        try:
            file = iss.IssueFile.load(self._repo.read_blobs([blob])[blob], issue_path)
        except iss.IssueFileError:
            return {}
        return {i.fingerprint: i for i in file.issues if self._rules.compares_versions(i.rule)}

    def _undone(self, path: str, issue: iss.Issue, previous_blob: str | None, run: Any,
                fingerprint: Any) -> bool:
        """Whether the change ``issue`` reported no longer holds against its anchor."""
        rev = self._anchor_of(path, issue)
        if rev is None:
            return False
        anchor = read_versions(self._repo, [(path, rev)], commits=[rev]) if rev else Versions({}, {}, set())
        if not anchor.readable(path, rev) or anchor.blob(path, rev) == previous_blob:
            return False
        found = run(issue.rule, rev, anchor.document(path, rev))
        if found is None or any(f.rule_id != issue.rule for f in found):
            return False
        return all(fingerprint(f) != issue.fingerprint for f in found)


def _legacy_anchor(repo: AccountRepository, path: str, first_seen: str) -> str | None:
    """For an issue without ``compared_with``: the parent of the last commit that changed the item
    at or before its ``first_seen`` commit ("" for a root commit); None if that cannot be told."""
    if not _SHA.fullmatch(first_seen):
        return None
    from gitmonkey.store import GitError

    try:
        out = repo.git("log", "-1", "--format=%H %P", first_seen, "--", path)
    except GitError:
        return None
    fields = out.split()
    if not fields:
        return None
    return fields[1] if len(fields) > 1 else _NO_REVISION
