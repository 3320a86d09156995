"""Rules as a set: overrides, loading from every source, and evaluation of one item.

This is the public entry; it re-exports the model (``Rule``, ``Hit``, ``Finding``, ``rule``,
``RuleError``) from ``rule_model``, loading from ``loading``, the ``audit:`` section check from
``schemas``; rule test cases run through ``rule_cases``. Sources, in order: the built-in ``rules/``
folder and ``gitmonkey.audit.python_rules``, the ``audit.rule_dirs`` of gitmonkey.yaml, and the
``gitmonkey.rules`` entry point group. Rule ids are unique across all of them; a clash is an error
naming both sources.

A rule that raises on one item does not stop the audit: it yields a finding of the pseudo-rule
``gitmonkey.rule-error`` (score ``RULE_ERROR_SCORE``, key = the failing rule's id), so the failure is
visible as an issue of that item instead of silently hiding what the rule checks.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.loading import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from gitmonkey.audit.loading import entry_point_rules, load_rule_dir, load_rule_file, rules_from_object
from gitmonkey.audit.rule_cases import DEFAULT_CASE_CONTEXT as DEFAULT_CASE_CONTEXT
from gitmonkey.audit.rule_cases import run_case_file
from gitmonkey.audit.rule_model import RULE_ERROR_ID, RULE_ERROR_SCORE, Finding, Hit, Rule, RuleError, rule
from gitmonkey.audit.rule_model import CheckFunction as CheckFunction
from gitmonkey.audit.schemas import validate_audit_config
from gitmonkey.validation_cache import ValidationCache

__all__ = [
    "RULE_ERROR_ID",
    "AuditContext",
    "Finding",
    "Hit",
    "Override",
    "Rule",
    "RuleError",
    "RuleSet",
    "load_rule_dir",
    "load_rule_file",
    "rule",
    "rules_from_object",
    "validate_audit_config",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Override:
    """One ``audit.overrides`` entry: a score or an enabled state for matching rules and accounts."""

    rule: str
    score: int | None = None
    disabled: bool | None = None
    accounts: tuple[str, ...] | None = None

    def matches(self, rule_id: str, account_id: str | None, account_name: str | None) -> bool:
        if not fnmatch.fnmatchcase(rule_id, self.rule):
            return False
        return self.accounts is None or account_id in self.accounts or account_name in self.accounts


class RuleSet:
    def __init__(self, rules: Iterable[Rule], overrides: Iterable[Override] = ()) -> None:
        self.rules: list[Rule] = []
        by_id: dict[str, Rule] = {}
        for item in rules:
            if item.id in by_id:
                raise RuleError(f"rule {item.id!r} is defined twice: in {by_id[item.id].source} "
                                f"and in {item.source}")
            by_id[item.id] = item
            self.rules.append(item)
        self.by_id = by_id
        self.overrides = tuple(overrides)
        from gitmonkey.config import ConfigError

        known = [*by_id, RULE_ERROR_ID]
        for index, override in enumerate(self.overrides):
            if not any(fnmatch.fnmatchcase(rule_id, override.rule) for rule_id in known):
                raise ConfigError(f"audit.overrides[{index}].rule: no rule matches {override.rule!r}")

    @classmethod
    def load(cls, audit_config: dict, *, base_dir: Path, cache: ValidationCache | None = None) -> RuleSet:
        """Built-in rules, then ``audit.rule_dirs`` (relative to ``base_dir``), then entry points.

        ``cache`` (see ``gitmonkey.validation_cache``) skips the schema checks of unchanged inputs.
        """
        import gitmonkey.audit.exposure_rules as exposure_rules
        import gitmonkey.audit.iam_rules as iam_rules
        import gitmonkey.audit.monitoring_rules as monitoring_rules
        import gitmonkey.audit.privilege_escalation as privilege_escalation
        import gitmonkey.audit.python_rules as python_rules
        from gitmonkey.config import ConfigError
        from gitmonkey.resources import builtin_rules_dir

        config = validate_audit_config(audit_config, cache)
        rules = load_rule_dir(builtin_rules_dir(), cache)
        rules += rules_from_object(python_rules, "gitmonkey.audit.python_rules")
        rules += rules_from_object(iam_rules, "gitmonkey.audit.iam_rules")
        rules += rules_from_object(privilege_escalation, "gitmonkey.audit.privilege_escalation")
        rules += rules_from_object(monitoring_rules, "gitmonkey.audit.monitoring_rules")
        rules += rules_from_object(exposure_rules, "gitmonkey.audit.exposure_rules")
        for index, directory in enumerate(config.get("rule_dirs") or ()):
            path = (Path(base_dir) / directory).resolve()
            if not path.is_dir():
                raise ConfigError(f"audit.rule_dirs[{index}]: {path} is not a directory")
            rules += load_rule_dir(path, cache)
        state_dir = cache.path.parent if cache is not None and cache.path is not None else None
        rules += entry_point_rules(state_dir)
        if cache is not None:
            cache.save()
        overrides = [
            Override(
                rule=o["rule"],
                score=o.get("score"),
                disabled=o.get("disabled"),
                accounts=tuple(str(a) for a in o["accounts"]) if o.get("accounts") else None,
            )
            for o in config.get("overrides") or ()
        ]
        return cls(rules, overrides)

    def settings(self, rule: Rule, account_id: str | None = None,
                 account_name: str | None = None) -> tuple[bool, int]:
        """(enabled, score) of ``rule`` in an account after overrides; later overrides win."""
        enabled, score = rule.enabled, rule.score
        for override in self.overrides:
            if override.matches(rule.id, account_id, account_name):
                if override.disabled is not None:
                    enabled = not override.disabled
                if override.score is not None:
                    score = override.score
        return enabled, score

    def compares_versions(self, rule_id: str) -> bool:
        """Whether the rule ``rule_id`` compares an item with its previous version (a change rule)."""
        found = self.by_id.get(rule_id)
        return found is not None and found.compares_versions

    def run_rule(self, rule: Rule, document: dict, previous: dict | None, ctx: AuditContext,
                 score: int | None = None) -> list[Finding]:
        """Run one rule (ignoring overrides); a crash becomes a ``gitmonkey.rule-error`` finding."""
        score = rule.score if score is None else score
        try:
            hits = list(rule.check(document, previous, ctx))
            bad = [h for h in hits if not isinstance(h, Hit)]
            if bad:
                raise TypeError(f"check yielded {type(bad[0]).__name__}, expected Hit")
        except Exception as exc:
            log.exception("rule %s failed on %s", rule.id, document.get("id"))
            error_enabled, error_score = self.settings_by_id(RULE_ERROR_ID, ctx)
            if not error_enabled:
                return []
            return [Finding(RULE_ERROR_ID, error_score, "Rule error",
                            f"rule {rule.id} ({rule.source}) failed: {type(exc).__name__}: {exc}"[:1024],
                            "", rule.id)]
        findings: list[Finding] = []
        seen: set[str] = set()
        for hit in hits:
            if hit.key in seen:
                continue
            seen.add(hit.key)
            hit_score = score if hit.score is None else min(score, hit.score)
            details = hit.details
            if rule.weigh:
                from gitmonkey.audit.exposure_rules import weigh_hit

                weight = weigh_hit(rule.weigh, document, hit, ctx)
                if weight is not None:
                    weighed = weight.score(hit_score)
                    note = f" (scored {weighed} of {hit_score}: {weight.text})" if weighed != hit_score else (
                        f" ({weight.text})" if weight.text else "")
                    hit_score, details = weighed, details + note
            findings.append(Finding(rule.id, hit_score, rule.title, details[:1024], hit.path, hit.key))
        return findings

    def settings_by_id(self, rule_id: str, ctx: AuditContext) -> tuple[bool, int]:
        enabled, score = True, RULE_ERROR_SCORE
        for override in self.overrides:
            if override.matches(rule_id, ctx.account_id, ctx.account_name):
                enabled = enabled if override.disabled is None else not override.disabled
                score = score if override.score is None else override.score
        return enabled, score

    def evaluate(self, document: dict, previous: dict | None, ctx: AuditContext) -> list[Finding]:
        """Findings of every enabled rule for ``document``'s technology, with overridden scores."""
        technology = document.get("technology") or ""
        findings: list[Finding] = []
        for item in self.rules:
            if not item.applies_to(technology):
                continue
            enabled, score = self.settings(item, ctx.account_id, ctx.account_name)
            if enabled:
                findings.extend(self.run_rule(item, document, previous, ctx, score))
        return findings


    def test_file(self, path: Path) -> list[str]:
        """Run a rule case file (``fires:`` / ``passes:`` items); returns failures, empty if all pass."""
        return run_case_file(self, path)
