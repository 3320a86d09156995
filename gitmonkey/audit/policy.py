"""IAM and resource-policy analysis. Action expansion and categories come from policyuniverse
(imported lazily: it loads a large table); who a resource policy admits from ``statement``.

Two questions are answered here:
- who can use a resource policy (S3 bucket policy, IAM role trust policy): the internet, the same
  account, a friendly or third-party known account, an unknown account, another account's root;
- what an identity policy allows: ``*``, ``iam:*``, permission-changing actions, ``iam:PassRole`` on
  ``*``, Allow with ``NotAction`` / ``NotResource``, security group changes, write (mutating) actions
  per service;
- which ARNs in a policy cannot be parsed (a typo, or a principal deleted since).

Where a watcher stores policies is declared in the tables below, so a renamed key is a one-line change.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import gitmonkey.audit.statement as statement_reading
from gitmonkey.audit.context import SAME, UNKNOWN, AuditContext
from gitmonkey.audit.statement import parse_arn

RESOURCE_POLICY_KEYS: dict[str, str] = {
    "s3.bucket": "Policy",
    "iam.role": "AssumeRolePolicyDocument",
    "sqs.queue": "Policy",
    "sns.topic": "Policy",
    "kms.key": "KeyPolicy",
    "lambda.function": "Policy",
    "ec2.vpc_endpoint": "PolicyDocument",
    "ecr.repository": "Policy",
    "opensearch.domain": "AccessPolicies",
    "secretsmanager.secret": "ResourcePolicy",
    "glacier.vault": "Policy",
}
# Technologies whose resource policies are a map of named documents (SES sending authorization).
RESOURCE_POLICY_MAPS: dict[str, str] = {
    "ses.identity": "Policies",
}
INLINE_POLICY_LISTS: dict[str, str] = {
    "iam.user": "UserPolicyList",
    "iam.role": "RolePolicyList",
    "iam.group": "GroupPolicyList",
}
MANAGED_POLICY_DOCUMENT_KEYS: tuple[str, ...] = ("Document", "PolicyDocument", "DefaultVersion")
# AWS-managed policies whose effect equals a finding, for an attached one whose document is not
# recorded (see effective.EffectivePolicies.equivalents).
AWS_MANAGED_EQUIVALENTS: dict[str, str] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": "*",
    "arn:aws:iam::aws:policy/IAMFullAccess": "iam:*",
}

_ACCOUNT = re.compile(r"^\d{12}$")
INTERNET, FRIENDLY, THIRD_PARTY, ROOT = "internet", "friendly", "third_party", "root"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class StatementRef:
    """One statement of one policy, with where it sits in the item document."""

    policy_name: str
    index: int
    statement: dict[str, Any]
    path: str

    @property
    def key(self) -> str:
        sid = self.statement.get("Sid")
        return f"{self.policy_name}/{sid if sid else self.index}"

    @property
    def allows(self) -> bool:
        return self.statement.get("Effect") == "Allow"

    def actions(self) -> list[str]:
        return [str(a) for a in as_list(self.statement.get("Action"))]

    def resources(self) -> list[str]:
        return [str(r) for r in as_list(self.statement.get("Resource"))]


def statements(document: Any, policy_name: str, path: str) -> list[StatementRef]:
    if not isinstance(document, dict):
        return []
    raw = document.get("Statement")
    if isinstance(raw, dict):
        return [StatementRef(policy_name, 0, raw, f"{path}.Statement")]
    return [
        StatementRef(policy_name, i, s, f"{path}.Statement[{i}]")
        for i, s in enumerate(as_list(raw))
        if isinstance(s, dict)
    ]


def identity_policies(technology: str, configuration: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(name, JSON path, document) of each policy an IAM item carries inline (or is, for iam.policy)."""
    list_key = INLINE_POLICY_LISTS.get(technology)
    if list_key:
        for i, entry in enumerate(as_list(configuration.get(list_key))):
            if isinstance(entry, dict):
                yield (
                    str(entry.get("PolicyName", i)),
                    f"configuration.{list_key}[{i}].PolicyDocument",
                    entry.get("PolicyDocument"),
                )
    if technology == "iam.policy":
        name = str(configuration.get("PolicyName", "policy"))
        for key in MANAGED_POLICY_DOCUMENT_KEYS:
            document = configuration.get(key)
            if isinstance(document, dict) and "Document" in document and "Statement" not in document:
                yield name, f"configuration.{key}.Document", document["Document"]
                return
            if isinstance(document, dict):
                yield name, f"configuration.{key}", document
                return
        for i, version in enumerate(as_list(configuration.get("PolicyVersionList"))):
            if isinstance(version, dict) and version.get("IsDefaultVersion"):
                yield name, f"configuration.PolicyVersionList[{i}].Document", version.get("Document")


def identity_statements(technology: str, configuration: dict[str, Any]) -> list[StatementRef]:
    return [
        ref
        for name, path, document in identity_policies(technology, configuration)
        for ref in statements(document, name, path)
    ]


def expanded_actions(ref: StatementRef) -> set[str]:
    """Every action the statement names, wildcards and NotAction expanded (lower case)."""
    return set(_expanded(ref))


def _expanded(ref: StatementRef) -> frozenset[str]:
    return _expand(json.dumps({k: ref.statement.get(k) for k in ("Action", "NotAction")}, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _expand(actions_json: str) -> frozenset[str]:
    """Cached: expanding a wildcard scans policyuniverse's ~15,000 actions, and the same statements
    recur across many roles and users."""
    from policyuniverse.expander_minimizer import get_actions_from_statement

    statement = {k: v for k, v in json.loads(actions_json).items() if v is not None}
    return frozenset(get_actions_from_statement(statement))


@functools.cache
def _permission_category() -> frozenset[str]:
    from policyuniverse.action_categories import actions_for_category

    return frozenset(actions_for_category("Permissions"))


def permission_actions(ref: StatementRef) -> list[str]:
    """Actions in policyuniverse's "Permissions" category (they change who may do what)."""
    return sorted(expanded_actions(ref) & _permission_category())


SECURITY_GROUP_ACTIONS: dict[str, str] = {
    name.lower(): name
    for name in ("ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress")
}
# "DataPlaneMutating" is the name older policyuniverse releases (and Security Monkey) gave to "Write".
MUTATING_CATEGORIES = frozenset({"Write", "DataPlaneMutating"})


def security_group_actions(ref: StatementRef) -> list[str]:
    """``ec2:AuthorizeSecurityGroupIngress`` / ``Egress`` if the statement names them (or a wildcard)."""
    return sorted(SECURITY_GROUP_ACTIONS[a] for a in _expanded(ref) & SECURITY_GROUP_ACTIONS.keys())


def mutating_services(ref: StatementRef, services: Collection[str] | None = None) -> list[str]:
    """Service prefixes of which the statement allows Write (mutating) actions, per policyuniverse's
    action categories; ``services`` limits the answer to those prefixes (``None``: every service)."""
    found = _write_services(_expanded(ref))
    if services is not None:
        wanted = {s.lower() for s in services}
        found = frozenset(s for s in found if s in wanted)
    return sorted(found)


@functools.lru_cache(maxsize=1024)
def _write_services(actions: frozenset[str]) -> frozenset[str]:
    """Cached like ``_expand``: a ``*`` statement expands to every action of every service."""
    from policyuniverse.action_categories import categories_for_actions

    return frozenset(
        service for service, categories in categories_for_actions(actions).items()
        if categories & MUTATING_CATEGORIES
    )


def _unparseable(value: Any) -> bool:
    """True for a value that is not an ARN, account id or service name (policyuniverse's reading,
    ``statement.parse_arn``); ``*`` and policy variables (``${...}``, which may stand in for the
    account or region) are not ARNs to parse."""
    if not isinstance(value, str):
        return True
    if value == "*" or "${" in value:
        return False
    return parse_arn(value) is None


def _principal_values(statement: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """AWS principals of Principal / NotPrincipal; Service and Federated names are not ARNs."""
    for field in ("Principal", "NotPrincipal"):
        principal = statement.get(field)
        if isinstance(principal, dict):
            for value in as_list(principal.get("AWS")):
                yield f"{field}.AWS", value
        else:
            for value in as_list(principal):
                yield field, value


def invalid_arns(ref: StatementRef, *, resource_policy: bool) -> list[tuple[str, str]]:
    """(where, value) of each ARN in the statement that cannot be parsed (``parse_arn``): Resource and
    NotResource entries; for a resource policy also AWS principals and ARN condition values
    (``aws:SourceArn``, ``aws:PrincipalArn``). An IAM unique id (``AROA...``) in a principal counts:
    AWS puts it there when the principal it named was deleted."""
    candidates: list[tuple[str, Any]] = [
        (field, value) for field in ("Resource", "NotResource") for value in as_list(ref.statement.get(field))
    ]
    if resource_policy:
        candidates += _principal_values(ref.statement)
        candidates += [("Condition", value) for value in statement_reading.arn_values(ref.statement)]
    seen: set[str] = set()
    found = []
    for where, value in candidates:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        if text not in seen and _unparseable(value):
            seen.add(text)
            found.append((where, text))
    return found


@dataclass(frozen=True)
class Access:
    """Someone a resource policy lets in: ``kind`` is internet, same, friendly, third_party or unknown."""

    kind: str
    entity: str
    account: str | None
    root: bool
    path: str
    actions: tuple[str, ...]

    def describe(self, ctx: AuditContext) -> str:
        who = "anyone (Principal *)" if self.kind == INTERNET else self.entity
        if self.account and self.account not in self.entity:
            who = f"{who} in account {ctx.account_label(self.account)}"
        elif self.account:
            who = f"{who} (account {ctx.account_label(self.account)})"
        actions = ", ".join(self.actions[:10]) + (" ..." if len(self.actions) > 10 else "")
        return f"{who} may {actions or 'act'}"


def _principal_account(value: str) -> tuple[str | None, bool]:
    """(account id, is-root) of a principal or condition value; (None, False) for services and others."""
    if _ACCOUNT.match(value):
        return value, True
    if not value.startswith("arn:"):
        return None, False
    arn = parse_arn(value)
    if arn is None or arn.is_service_principal or not arn.account or not _ACCOUNT.match(arn.account):
        return None, False
    return arn.account, arn.root


def resource_policy_access(policy: Any, path: str, ctx: AuditContext) -> list[Access]:
    """Classify everyone an Allow statement of ``policy`` admits (Security Monkey's inspect_entity)."""
    found: list[Access] = []
    for ref in statements(policy, "policy", path):
        if not ref.allows:
            continue
        actions = tuple(statement_reading.actions(ref.statement))
        if statement_reading.is_internet_accessible(ref.statement):
            found.append(Access(INTERNET, "*", None, False, ref.path, actions))
            continue
        for who in statement_reading.whos_allowed(ref.statement):
            value = str(who.value)
            if who.category == "cidr":
                kind = SAME if ctx.is_trusted_cidr(value) else UNKNOWN
                found.append(Access(kind, f"cidr:{value}", None, False, ref.path, actions))
                continue
            if who.category not in ("principal", "account", "arn"):
                continue
            account, root = _principal_account(value)
            if account is None:
                continue
            root = root and who.category == "principal"
            found.append(Access(ctx.classify_account(account), value, account, root, ref.path, actions))
    return found


def resource_policies(technology: str, configuration: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(JSON path, document) of every resource policy of an item of ``technology``."""
    key = RESOURCE_POLICY_KEYS.get(technology)
    if key is not None:
        yield f"configuration.{key}", configuration.get(key)
    key = RESOURCE_POLICY_MAPS.get(technology)
    if key is not None:
        documents = configuration.get(key)
        for name, document in sorted((documents if isinstance(documents, dict) else {}).items()):
            yield f"configuration.{key}.{name}", document
