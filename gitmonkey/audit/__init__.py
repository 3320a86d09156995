"""The audit: rules over item documents. Heavy imports (jsonschema, policyuniverse) stay lazy."""

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.rules import RULE_ERROR_ID, Finding, Hit, Rule, RuleError, RuleSet, rule

__all__ = ["RULE_ERROR_ID", "AuditContext", "Finding", "Hit", "Rule", "RuleError", "RuleSet", "rule"]
