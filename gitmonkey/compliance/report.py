"""The compliance report: per account, each control of a framework as pass / fail / not evaluated.

A control's status in an account is decided from the rules that declare it (``compliance:``), the
issue files at HEAD of the account repository (as ``gitmonkey issues`` and the audit read them,
never the working tree) and the sync state of the slices the rules' technologies were read from:

- ``fail``: an enabled rule implementing the control has an open, unjustified issue; the failing
  items are listed (rule, score, item path, details). Evidence of a failure stands even when a
  later read of the slice failed: the item was last recorded in that state.
- ``pass``: at least one enabled rule implements it, every enabled implementing rule had all the
  slices of its technologies read (last read succeeded, not stale, every configured region), and
  none of them has an open unjustified issue. Justified issues are listed as accepted exceptions.
- ``not evaluated``, with the reason: a manual control; no rule implements it; every implementing
  rule is disabled for the account; a rule's technology is not watched or not enabled; a slice it
  needs is failing, stale or was never read; the account was never synced; commits are waiting
  to be audited (``.git/gitmonkey/audit-pending.json``), so the issue files may be behind.

Exit status of the command (``exit_code``): 1 if any control fails in any account; else 3 if a
control that a rule implements could not be evaluated because data is missing (failing, stale or
never-read slices, an account never synced, an audit pending); else 0. Manual controls,
controls without a rule, disabled rules and technologies left out of the configuration are
choices, not errors: they are reported but do not change the exit status.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gitmonkey.compliance.catalogue import Catalogue, Control, load_catalogue
from gitmonkey.config import AccountConfig, Config
from gitmonkey.status import parse_time

PASS = "pass"  # noqa: S105 (a status, not a password)
FAIL = "fail"
NOT_EVALUATED = "not evaluated"
STATUSES = (FAIL, PASS, NOT_EVALUATED)

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_INCOMPLETE = 3

# Reasons a control is not evaluated; the ones caused by missing data make the report incomplete.
MANUAL = "manual control"
NO_RULE = "no rule implements it"


@dataclass(frozen=True)
class Failure:
    """One open or justified issue of a rule implementing a control."""

    rule: str
    score: int
    technology: str
    region: str
    item_id: str
    item_name: str
    item_path: str
    details: str
    fingerprint: str
    justification: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "justification"}
        if self.justification is not None:
            data["justification"] = self.justification
        return data


@dataclass
class ControlResult:
    control: Control
    status: str
    rules: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    exceptions: list[Failure] = field(default_factory=list)
    missing_data: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.control.id,
            "title": self.control.title,
            "status": self.status,
            "rules": list(self.rules),
            "reasons": list(self.reasons),
            "failures": [f.to_dict() for f in self.failures],
            "accepted_exceptions": [f.to_dict() for f in self.exceptions],
        }


@dataclass
class AccountReport:
    account: str
    account_id: str
    controls: list[ControlResult]
    errors: list[str] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        totals = dict.fromkeys(STATUSES, 0)
        for result in self.controls:
            totals[result.status] += 1
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_id": self.account_id,
            "totals": self.totals(),
            "controls": [c.to_dict() for c in self.controls],
            "errors": list(self.errors),
        }


@dataclass
class ComplianceReport:
    framework: str
    title: str
    version: str
    accounts: list[AccountReport]

    @property
    def exit_code(self) -> int:
        results = [c for a in self.accounts for c in a.controls]
        if any(c.status == FAIL for c in results):
            return EXIT_FAIL
        if any(c.missing_data for c in results):
            return EXIT_INCOMPLETE
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "title": self.title,
            "version": self.version,
            "accounts": [a.to_dict() for a in self.accounts],
        }


# -- building ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SliceView:
    """What the sync state says about the slices of one account."""

    slices: dict[str, dict[str, Any]]
    now: datetime
    max_age: timedelta
    regions: tuple[str, ...] | None

    def problems(self, technology: Any) -> list[str]:
        """Why the items of ``technology`` are not known completely (empty: they are)."""
        from gitmonkey.model import GLOBAL_REGION
        from gitmonkey.sync import offered_in

        name = technology.name
        mine = {key.split("/", 1)[0]: entry for key, entry in self.slices.items()
                if key.split("/", 1)[1] == name}
        if technology.is_global:
            expected: list[str] = [GLOBAL_REGION]
        elif self.regions is not None:
            expected = [r for r in self.regions if offered_in(technology, r)]
        else:
            expected = sorted(mine)
        if not expected:
            return [f"{name}: never read"]
        problems = []
        for region in expected:
            entry = mine.get(region)
            success = parse_time(entry.get("last_success")) if entry else None
            if success is None:
                problems.append(f"{region}/{name}: never read")
                continue
            error_at = parse_time(entry.get("last_error_at"))
            if error_at is not None and error_at >= success:
                problems.append(f"{region}/{name}: failing ({entry.get('last_error') or 'read failed'})")
            elif self.now - success > self.max_age:
                problems.append(f"{region}/{name}: stale (last read {entry.get('last_success')})")
        return problems


def build_report(
    config: Config,
    framework: str,
    *,
    accounts: Sequence[str] = (),
    now: datetime | None = None,
    ruleset: Any = None,
) -> ComplianceReport:
    """The compliance report of ``framework`` for the configured accounts (or those named)."""
    from gitmonkey.audit.run import load_ruleset

    catalogue = load_catalogue(framework)
    now = now or datetime.now(UTC)
    selected = [config.account(a) for a in accounts] if accounts else list(config.accounts)
    ruleset = ruleset if ruleset is not None else load_ruleset(config)
    return ComplianceReport(
        framework=catalogue.framework,
        title=catalogue.title,
        version=catalogue.version,
        accounts=[account_report(config, account, catalogue, ruleset, now) for account in selected],
    )


def account_report(
    config: Config, account: AccountConfig, catalogue: Catalogue, ruleset: Any, now: datetime
) -> AccountReport:
    """The controls of ``catalogue`` in one account."""
    from gitmonkey.audit import output
    from gitmonkey.audit.rule_model import RULE_ERROR_ID
    from gitmonkey.hooks import load_pending
    from gitmonkey.store import AccountRepository
    from gitmonkey.store.state import SyncState
    from gitmonkey.watchers import all_technologies

    implementing: dict[str, list[Any]] = {}
    for rule in ruleset.rules:
        for control_id in rule.compliance.get(catalogue.framework, ()):
            implementing.setdefault(control_id, []).append(rule)

    path = config.repo_path(account)
    report = AccountReport(account.name, account.id, [])
    synced = (path / ".git").is_dir()
    rows: list[Any] = []
    view = None
    audit_pending = False
    if synced:
        repo = AccountRepository.open(path, create=False)
        rows = output.read_issue_rows(repo, account.name, account.id, report.errors)
        state = SyncState.load(repo.state_dir)
        report.errors += state.warnings
        # Commits a hook could not audit: the issue files at HEAD may miss issues of their items.
        audit_pending = bool(load_pending(repo.state_dir))
        if audit_pending:
            report.errors.append("commits not audited yet (run `gitmonkey audit`): no control can pass")
        view = _SliceView(state.slices(), now, timedelta(hours=config.stale_after_hours), account.regions)
    technologies = all_technologies()
    issues_by_rule: dict[str, list[Any]] = {}
    for row in rows:
        issues_by_rule.setdefault(row.issue.rule, []).append(row)

    for control in catalogue.controls:
        rules = sorted(implementing.get(control.id, ()), key=lambda r: r.id)
        result = ControlResult(control, NOT_EVALUATED, rules=[r.id for r in rules])
        report.controls.append(result)
        if control.manual:
            result.reasons.append(MANUAL)
            continue
        if not rules:
            result.reasons.append(NO_RULE)
            continue
        enabled_rules = [r for r in rules if ruleset.settings(r, account.id, account.name)[0]]
        for rule in rules:
            if rule not in enabled_rules:
                result.reasons.append(f"rule {rule.id} disabled")
        if not enabled_rules:
            continue
        for rule in enabled_rules:
            for row in issues_by_rule.get(rule.id, ()):
                failure = _failure(row)
                (result.exceptions if row.issue.justified else result.failures).append(failure)
        if result.failures:
            result.status = FAIL
            result.reasons = []
            continue
        if not synced:
            result.reasons.append("account never synced")
            result.missing_data = True
            continue
        assert view is not None
        complete = True
        for rule in enabled_rules:
            matched = [t for n, t in sorted(technologies.items()) if fnmatch.fnmatchcase(n, rule.technology)]
            if not matched:
                result.reasons.append(f"rule {rule.id}: technology {rule.technology} is not watched")
                complete = False
                continue
            for tech in matched:
                if not config.technology_enabled(tech.name):
                    result.reasons.append(f"rule {rule.id}: technology {tech.name} not enabled")
                    complete = False
                    continue
                problems = view.problems(tech)
                if problems:
                    complete = False
                    result.missing_data = True
                    result.reasons += [f"rule {rule.id}: {p}" for p in problems]
        for rule in enabled_rules:
            # A rule that crashed on an item (a gitmonkey.rule-error issue keyed by the rule's id)
            # decided nothing about that item.
            crashed = [r for r in issues_by_rule.get(RULE_ERROR_ID, ()) if r.issue.key == rule.id]
            if crashed:
                complete = False
                result.missing_data = True
                result.reasons += [f"rule {rule.id} failed on {r.item.path}" for r in crashed]
        if complete and audit_pending:
            result.reasons.append("audit pending")
            result.missing_data = True
        elif complete:
            result.status = PASS
            result.reasons = [r for r in result.reasons if r.endswith("disabled")]
    return report


def _failure(row: Any) -> Failure:
    justification = None
    if row.issue.justified:
        justification = str((row.issue.justification or {}).get("reason", ""))
    return Failure(
        rule=row.issue.rule,
        score=row.issue.score,
        technology=row.item.technology,
        region=row.item.region,
        item_id=row.item.id,
        item_name=row.item.name,
        item_path=row.item.path,
        details=row.issue.details or row.issue.title,
        fingerprint=row.issue.fingerprint,
        justification=justification,
    )


# -- rendering --------------------------------------------------------------------------------------

_LABELS = {PASS: "PASS", FAIL: "FAIL", NOT_EVALUATED: "N/E"}


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


def _totals_text(totals: dict[str, int]) -> str:
    return ", ".join(f"{totals[s]} {s}" for s in STATUSES)


def render_text(report: ComplianceReport) -> str:
    lines = []
    for account in report.accounts:
        lines.append(f"{account.account} ({account.account_id}): {report.title}")
        lines.append(f"  {_totals_text(account.totals())}")
        for error in account.errors:
            lines.append(f"  warning: {_one_line(error)}")
        for result in _ordered(account.controls):
            label = _LABELS[result.status]
            lines.append(f"  {label:<4}  {result.control.id:<8} {_one_line(result.control.title)}")
            for f in result.failures:
                lines.append(f"        {f.rule} ({f.score}) {f.item_path}: {_one_line(f.details)}")
            for f in result.exceptions:
                lines.append(f"        accepted: {f.rule} ({f.score}) {f.item_path}: "
                             f"{_one_line(f.justification or '')}")
            if result.status != FAIL:
                for reason in result.reasons:
                    lines.append(f"        {_one_line(reason)}")
    return "\n".join(lines) + "\n"


def render_markdown(report: ComplianceReport) -> str:
    def cell(text: str) -> str:
        return _one_line(text).replace("|", "\\|")

    lines = [f"# {report.title}", ""]
    for account in report.accounts:
        lines += [f"## {account.account} ({account.account_id})", "", _totals_text(account.totals()), ""]
        lines += ["| status | control | title | rules | failing items / reason |", "|---|---|---|---|---|"]
        for result in _ordered(account.controls):
            if result.status == FAIL:
                notes = [f"`{f.rule}` ({f.score}) `{f.item_path}`: {f.details}" for f in result.failures]
            else:
                notes = list(result.reasons)
            notes += [f"accepted: `{f.rule}` `{f.item_path}` ({f.justification})" for f in result.exceptions]
            rules = ", ".join(f"`{r}`" for r in result.rules)
            lines.append(f"| {result.status} | {cell(result.control.id)} | {cell(result.control.title)} | "
                         f"{rules} | {'<br>'.join(cell(n) for n in notes)} |")
        lines.append("")
    return "\n".join(lines)


def render_json(report: ComplianceReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _ordered(results: Iterable[ControlResult]) -> list[ControlResult]:
    """Catalogue order; failures first keep the catalogue order among themselves."""
    results = list(results)
    return [r for s in STATUSES for r in results if r.status == s]
