"""Issue files and the life of an issue: new, fixed, regressed, justified, expired.

``issues/<region>/<service>/<type>/<id>.yaml`` mirrors ``items/.../<id>.json`` and holds the
open issues of that one item; an item without issues has no file. The file is a pure function
of the previous file, the findings and the justifications, written with ``yaml.safe_dump`` in a
fixed key order so that re-auditing unchanged input rewrites identical bytes.

An issue of a rule that compares versions (``Rule.compares_versions``) records in
``compared_with`` the commit its previous version was read from when it was first found; the
audit re-checks it against that version (see ``audit.run``). Files without the field load.

Fixed fingerprints are not kept in a side file: the audit commit lists them in
``Gitmonkey-Audit-Fixed:`` trailers, so any clone can tell a regression from a new issue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from gitmonkey import yamlio

ITEMS_PREFIX = "items/"
ISSUES_PREFIX = "issues/"

TRAILER_NEW = "Gitmonkey-Audit-New"
TRAILER_FIXED = "Gitmonkey-Audit-Fixed"
TRAILER_REGRESSED = "Gitmonkey-Audit-Regressed"
TRAILER_JUSTIFIED = "Gitmonkey-Audit-Justified"
TRAILER_EXPIRED = "Gitmonkey-Audit-Expired"

NEW, FIXED, REGRESSED, JUSTIFIED, EXPIRED = "new", "fixed", "regressed", "justified", "expired"
TRANSITION_TRAILERS = {
    NEW: TRAILER_NEW,
    FIXED: TRAILER_FIXED,
    REGRESSED: TRAILER_REGRESSED,
    JUSTIFIED: TRAILER_JUSTIFIED,
    EXPIRED: TRAILER_EXPIRED,
}


class IssueFileError(ValueError):
    """An issue file that cannot be read; the message names the file."""


def fingerprint(rule_id: str, technology: str, region: str, item_id: str, key: str) -> str:
    """Stable identity of one finding: the same rule, item and specific finding give the same id."""
    text = "|".join((rule_id, technology, region, item_id, key))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def issue_path_for(item_path: str) -> str:
    """``items/r/s/t/x.json`` -> ``issues/r/s/t/x.yaml`` (the same escaped id, by construction)."""
    if not item_path.startswith(ITEMS_PREFIX) or not item_path.endswith(".json"):
        raise ValueError(f"not an item path: {item_path!r}")
    return ISSUES_PREFIX + item_path[len(ITEMS_PREFIX) : -len(".json")] + ".yaml"


def item_path_for(issue_path: str) -> str:
    if not issue_path.startswith(ISSUES_PREFIX) or not issue_path.endswith(".yaml"):
        raise ValueError(f"not an issue path: {issue_path!r}")
    return ITEMS_PREFIX + issue_path[len(ISSUES_PREFIX) : -len(".yaml")] + ".json"


@dataclass(frozen=True)
class ItemRef:
    """The item an issue file is about, as named in its document."""

    technology: str
    region: str
    id: str
    name: str
    path: str

    @classmethod
    def from_document(cls, document: Mapping[str, Any], path: str) -> ItemRef:
        return cls(
            technology=str(document.get("technology", "")),
            region=str(document.get("region", "")),
            id=str(document.get("id", "")),
            name=str(document.get("name") or ""),
            path=path,
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "technology": self.technology,
            "region": self.region,
            "id": self.id,
            "name": self.name,
            "path": self.path,
        }


@dataclass(frozen=True)
class Issue:
    fingerprint: str
    rule: str
    score: int
    title: str
    details: str
    path: str
    key: str
    first_seen_commit: str
    first_seen_date: str
    regressed: bool = False
    justified: bool = False
    justification: dict[str, Any] | None = None
    compared_with: str | None = None
    """Change rules only: the commit of the previous version the change was first measured against."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "score": self.score,
            "title": self.title,
            "details": self.details,
            "path": self.path,
            "key": self.key,
            "first_seen": {"commit": self.first_seen_commit, "date": self.first_seen_date},
        }
        if self.compared_with:
            data["compared_with"] = self.compared_with
        data["justified"] = self.justified
        if self.regressed:
            data["regressed"] = True
        if self.justification is not None:
            data["justification"] = dict(self.justification)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Issue:
        first = data.get("first_seen") or {}
        return cls(
            fingerprint=str(data["fingerprint"]),
            rule=str(data["rule"]),
            score=int(data.get("score", 0)),
            title=str(data.get("title", "")),
            details=str(data.get("details", "")),
            path=str(data.get("path", "")),
            key=str(data.get("key", "")),
            first_seen_commit=str(first.get("commit", "")),
            first_seen_date=str(first.get("date", "")),
            regressed=bool(data.get("regressed", False)),
            justified=bool(data.get("justified", False)),
            justification=dict(data["justification"]) if data.get("justification") else None,
            compared_with=str(data["compared_with"]) if data.get("compared_with") else None,
        )


@dataclass(frozen=True)
class IssueFile:
    item: ItemRef
    issues: tuple[Issue, ...]

    @property
    def score(self) -> int:
        """The item's unjustified score: what still needs attention."""
        return sum(i.score for i in self.issues if not i.justified)

    def dump(self) -> bytes:
        data = {
            "item": self.item.to_dict(),
            "score": self.score,
            "justified_score": sum(i.score for i in self.issues if i.justified),
            "issues": [i.to_dict() for i in sorted(self.issues, key=_issue_order)],
        }
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
        return text.encode("utf-8")

    @classmethod
    def load(cls, content: bytes, source: str) -> IssueFile:
        try:
            data = yamlio.safe_load(content.decode("utf-8"))
            item = data["item"]
            return cls(
                item=ItemRef(
                    technology=str(item["technology"]),
                    region=str(item["region"]),
                    id=str(item["id"]),
                    name=str(item.get("name") or ""),
                    path=str(item.get("path") or item_path_for(source)),
                ),
                issues=tuple(Issue.from_dict(i) for i in data.get("issues") or ()),
            )
        except (yaml.YAMLError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            raise IssueFileError(f"{source}: not a valid issue file ({type(exc).__name__}: {exc})") from exc


def _issue_order(issue: Issue) -> tuple[Any, ...]:
    return (-issue.score, issue.rule, issue.fingerprint)


@dataclass(frozen=True)
class Transition:
    """One change in an issue's life, for the commit trailers and the notifier."""

    kind: str
    issue: Issue
    item: ItemRef


@dataclass(frozen=True)
class JustificationMatch:
    """What ``justify.Justifications.lookup`` says about one issue."""

    entry: dict[str, Any]
    expired: bool


@dataclass
class Reconciled:
    file: IssueFile | None
    transitions: list[Transition] = field(default_factory=list)


def reconcile(
    item: ItemRef,
    previous: Iterable[Issue],
    findings: Iterable[Any] | None,
    *,
    justify: Callable[[Issue, ItemRef], JustificationMatch | None],
    first_seen: tuple[str, str] | Callable[[], tuple[str, str]],
    was_fixed: Callable[[str], bool],
) -> Reconciled:
    """Compute an item's new issue list from its previous issues and the rules' findings.

    ``findings`` is None when the rules were not re-run (only justifications changed): the
    previous issues are kept and only their justification state is recomputed.
    ``was_fixed(fingerprint)`` says whether history records the fingerprint as fixed before.
    ``first_seen`` is (commit, date) for new issues, or a function returning it when first needed.
    A finding's ``compared_with`` (change rules) is recorded on a new issue, and on an existing
    one that has none yet; an existing issue keeps the one it has.
    """
    before = {i.fingerprint: i for i in previous}
    current: dict[str, Issue] = {}
    if findings is None:
        current = dict(before)
    else:
        for finding in findings:
            fp = fingerprint(finding.rule_id, item.technology, item.region, item.id, finding.key)
            old = before.get(fp) or current.get(fp)
            if fp in current and current[fp].score >= finding.score:
                continue
            if old is None and callable(first_seen):
                first_seen = first_seen()
            current[fp] = Issue(
                fingerprint=fp,
                rule=finding.rule_id,
                score=int(finding.score),
                title=finding.title,
                details=finding.details,
                path=finding.path,
                key=finding.key,
                first_seen_commit=old.first_seen_commit if old else first_seen[0],
                first_seen_date=old.first_seen_date if old else first_seen[1],
                regressed=old.regressed if old else False,
                justified=old.justified if old else False,
                justification=old.justification if old else None,
                compared_with=(old.compared_with if old and old.compared_with
                               else getattr(finding, "compared_with", None)),
            )
    result = Reconciled(file=None)
    final: list[Issue] = []
    for fp, issue in current.items():
        match = justify(issue, item)
        active = match is not None and not match.expired
        updated = replace(
            issue,
            justified=active,
            justification=_justification_record(match) if match else None,
        )
        old = before.get(fp)
        if old is None:
            regressed = was_fixed(fp)
            updated = replace(updated, regressed=regressed)
            kind = REGRESSED if regressed else NEW
            result.transitions.append(Transition(kind, updated, item))
            if active:
                result.transitions.append(Transition(JUSTIFIED, updated, item))
        elif active and not old.justified:
            result.transitions.append(Transition(JUSTIFIED, updated, item))
        elif old.justified and not active:
            result.transitions.append(Transition(EXPIRED, updated, item))
        final.append(updated)
    for fp, old in before.items():
        if fp not in current:
            result.transitions.append(Transition(FIXED, old, item))
    if final:
        result.file = IssueFile(item=item, issues=tuple(sorted(final, key=_issue_order)))
    return result


def _justification_record(match: JustificationMatch) -> dict[str, Any]:
    record = {k: match.entry[k] for k in ("reason", "by", "date", "expires", "source") if k in match.entry}
    if match.expired:
        record["expired"] = True
    return record


def audit_message(transitions: list[Transition], updated_files: int) -> str:
    """The audit commit's message: a summary subject, one line per transition, trailers."""
    counts = {kind: 0 for kind in TRANSITION_TRAILERS}
    for t in transitions:
        counts[t.kind] += 1
    subject = f"audit: {counts[NEW]} new, {counts[FIXED]} fixed"
    extra = [f"{counts[k]} {k}" for k in (REGRESSED, JUSTIFIED, EXPIRED) if counts[k]]
    if not transitions:
        extra.append(f"{updated_files} updated")
    if extra:
        subject += ", " + ", ".join(extra)
    lines = [
        _printable(f"{t.kind:<9} {t.issue.rule} on {t.item.technology} {t.item.region}/{t.item.id}")
        + f" ({t.issue.fingerprint})"
        for t in transitions
    ]
    trailers = [f"{TRANSITION_TRAILERS[t.kind]}: {t.issue.fingerprint}" for t in transitions]
    parts = [subject]
    if lines:
        parts.append("\n".join(lines))
    if trailers:
        parts.append("\n".join(trailers))
    return "\n\n".join(parts) + "\n"


def _printable(text: str) -> str:
    """Item ids are untrusted: a newline in one must not forge a trailer line in the message."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
