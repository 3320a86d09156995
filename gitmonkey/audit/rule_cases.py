"""Rule test cases: a YAML file of ``fires:`` / ``passes:`` items run against one rule.

A case may list ``related:`` items (technology, id, region, configuration): the items its item
refers to, for rules that follow references (``gitmonkey.audit.related``).

``gitmonkey rules test`` runs these through ``RuleSet.test_file``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gitmonkey import yamlio
from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.filters.base import _NoMatch, parse_datetime
from gitmonkey.audit.related import StaticItems
from gitmonkey.audit.rule_model import RULE_ERROR_ID, Rule

if TYPE_CHECKING:
    from gitmonkey.audit.rules import RuleSet

DEFAULT_CASE_CONTEXT: dict[str, Any] = {
    "account_id": "123456789012",
    "account_name": "test",
    "known_accounts": {
        "111111111111": {"name": "partner", "type": "friendly",
                         "canonical_id": "1" * 64},
        "222222222222": {"name": "vendor", "type": "third_party",
                         "canonical_id": "2" * 64},
    },
    "trusted_cidrs": ["10.0.0.0/8", "52.94.0.0/16"],
    "now": "2024-06-01T00:00:00Z",
}


def run_case_file(ruleset: RuleSet, path: Path) -> list[str]:
    """Run a rule case file (``fires:`` / ``passes:`` items); returns failures, empty if all pass."""
    path = Path(path)
    try:
        data = yamlio.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [f"{path}: cannot read: {exc}"]
    if not isinstance(data, Mapping):
        return [f"{path}: expected a mapping with 'fires:' and 'passes:' lists"]
    rule_id = data.get("rule", path.stem)
    target = ruleset.by_id.get(rule_id)
    if target is None:
        return [f"{path}: no rule {rule_id!r}"]
    try:
        ctx = _case_context(data.get("context"))
    except (TypeError, ValueError, _NoMatch) as exc:
        return [f"{path}: context: {exc or 'bad value'}"]
    failures = []
    for section, should_fire in (("fires", True), ("passes", False)):
        cases = data.get(section)
        if not isinstance(cases, list) or not cases:
            failures.append(f"{path}: needs a non-empty '{section}:' list")
            continue
        for index, case in enumerate(cases):
            where = f"{path}: {section}[{index}]"
            if not isinstance(case, Mapping) or not isinstance(case.get("configuration"), Mapping):
                failures.append(f"{where}: needs a 'configuration:' mapping")
                continue
            failures.extend(_run_case(ruleset, target, case, ctx, should_fire, where))
    return failures


def _case_context(spec: Mapping[str, Any] | None) -> AuditContext:
    values = {**DEFAULT_CASE_CONTEXT, **(spec or {})}
    return AuditContext(
        account_id=str(values["account_id"]),
        account_name=str(values["account_name"]),
        known_accounts={str(k): dict(v) for k, v in values["known_accounts"].items()},
        trusted_cidrs=tuple(values["trusted_cidrs"]),
        now=parse_datetime(values["now"]),
        sensitive_services=tuple(values["sensitive_services"]) if values.get("sensitive_services") else None,
    )


def _case_document(target: Rule, case: Mapping[str, Any], configuration: Any, ctx: AuditContext) -> dict:
    item_id = str(case.get("id", "test-item"))
    return {
        "account": ctx.account_id,
        "arn": case.get("arn", f"arn:aws:test::{ctx.account_id}:{item_id}"),
        "configuration": configuration,
        "id": item_id,
        "name": case.get("name", item_id),
        "region": case.get("region", "us-east-1"),
        "technology": case.get("technology", target.technology),
    }


def _run_case(ruleset: RuleSet, target: Rule, case: Mapping[str, Any], ctx: AuditContext,
              should_fire: bool, where: str) -> list[str]:
    related = case.get("related")
    if related is not None:
        if not isinstance(related, list) or not all(
            isinstance(r, Mapping) and r.get("technology") and r.get("id") is not None
            and isinstance(r.get("configuration"), Mapping) for r in related
        ):
            return [f"{where}: related: expected a list of items with technology, id and configuration"]
        ctx = replace(ctx, related=StaticItems(
            {**r, "id": str(r["id"]), "region": str(r.get("region") or "global")} for r in related
        ))
    document = _case_document(target, case, case["configuration"], ctx)
    previous = (_case_document(target, case, case["previous"], ctx)
                if case.get("previous") is not None else None)
    findings = ruleset.run_rule(target, document, previous, ctx)
    errors = [f for f in findings if f.rule_id == RULE_ERROR_ID]
    if errors:
        return [f"{where}: {errors[0].details}"]
    if not should_fire:
        return [f"{where}: expected no finding, got {[f.details for f in findings]}"] if findings else []
    if not findings:
        return [f"{where}: expected a finding, got none"]
    failures = []
    keys, paths, details = (sorted(f.key for f in findings), sorted(f.path for f in findings),
                            [f.details for f in findings])
    if "keys" in case and keys != sorted(str(k) for k in case["keys"]):
        failures.append(f"{where}: expected keys {sorted(case['keys'])}, got {keys}")
    if "paths" in case and paths != sorted(case["paths"]):
        failures.append(f"{where}: expected paths {sorted(case['paths'])}, got {paths}")
    for expected in case.get("details", []):
        if not any(expected in text for text in details):
            failures.append(f"{where}: no finding's details contain {expected!r}: {details}")
    return failures
