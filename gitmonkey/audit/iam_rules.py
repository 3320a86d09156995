"""IAM policy rules of users, roles, groups and customer-managed policies.

Each rule of ``_IAM_CHECKS`` is registered once per IAM technology (``iam.user.policy-admin``...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gitmonkey.audit.policy as policy
from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.effective import EffectivePolicies, Grant, effective_policies
from gitmonkey.audit.rule_model import Hit, Rule

RULES: list[Rule] = []


def _register(func: Callable[..., Iterable[Hit]], **fields: Any) -> None:
    RULES.append(Rule(source=f"python:{__name__}", check=func, **fields))


_IAM_CHECKS: tuple[tuple[str, int, str, str, str], ...] = (
    # suffix, score, title, description, remediation
    (
        "admin",
        10,
        "Administrator access",
        "An Allow statement grants Action * (or AdministratorAccess is attached).",
        "Grant only the actions the principal needs.",
    ),
    (
        "iam-star",
        10,
        "Full IAM access",
        "An Allow statement grants iam:* (or IAMFullAccess is attached).",
        "Grant only the IAM actions needed; iam:* lets the principal make itself an administrator.",
    ),
    (
        "notaction",
        10,
        "Allow with NotAction",
        "An Allow statement uses NotAction: it grants every action but "
        "those listed, including actions AWS adds later.",
        "List the allowed actions with Action.",
    ),
    (
        "notresource",
        10,
        "Allow with NotResource",
        "An Allow statement uses NotResource: it applies to every resource but those listed.",
        "List the resources with Resource.",
    ),
    (
        "permissions",
        10,
        "Sensitive permissions",
        "An Allow statement grants actions that change permissions "
        "(policyuniverse category Permissions), e.g. iam:PutRolePolicy, s3:PutBucketPolicy.",
        "Remove permission-changing actions or restrict their resources.",
    ),
    (
        "passrole",
        10,
        "iam:PassRole on *",
        "An Allow statement grants iam:PassRole on every role, letting the "
        "principal hand any role (and its permissions) to a service.",
        "Restrict iam:PassRole to the roles needed.",
    ),
    (
        "security-group-permissions",
        7,
        "Security group changes allowed",
        "An Allow statement grants ec2:AuthorizeSecurityGroupIngress or ec2:AuthorizeSecurityGroupEgress "
        "(also through a wildcard such as ec2:* or *): the principal can open network access.",
        "Leave security group changes to the deployment roles that need them, on specific groups.",
    ),
    (
        "mutating-services",
        1,
        "Write access to services",
        "An Allow statement grants actions that modify resources or data (policyuniverse category Write, "
        "Security Monkey's DataPlaneMutating) of a service (informational; one finding per statement, "
        "naming the services).",
        "Grant write actions only where the principal needs to modify resources.",
    ),
    (
        "invalid-arn",
        3,
        "Unparseable ARN",
        "A Resource or NotResource entry of a statement (Allow or Deny) is not an ARN policyuniverse can "
        "parse, so the statement does not cover what was meant. Policy variables (${...}) are not checked.",
        "Correct the ARN.",
    ),
)


def _grants(technology: str, document: dict[str, Any], ctx: AuditContext) -> EffectivePolicies:
    if technology == "iam.policy":
        configuration = document.get("configuration") or {}
        return EffectivePolicies(
            grants=[Grant(ref, (), ref.path) for ref in policy.identity_statements(technology, configuration)]
        )
    return effective_policies(document, ctx.related)


def _iam_hits(suffix: str, technology: str, document: dict[str, Any], ctx: AuditContext) -> Iterator[Hit]:
    effective = _grants(technology, document, ctx)
    if suffix in ("admin", "iam-star"):
        action = "*" if suffix == "admin" else "iam:*"
        for equivalent, attached in effective.equivalents():
            if equivalent == action:
                yield Hit(f"{attached.where()} allows {action}", attached.path, attached.key)
    for grant in effective.grants:
        ref = grant.ref
        where = grant.where() + (" (conditional)" if grant.conditional else "")
        if suffix == "invalid-arn":
            if grant.chain:
                continue  # reported on the policy's own item
            for field_name, value in policy.invalid_arns(ref, resource_policy=False):
                yield Hit(f"{where}: {field_name} {value!r} is not a valid ARN", ref.path,
                          f"{ref.key}:{value}")
            continue
        if not ref.allows:
            continue
        actions = [a.lower() for a in ref.actions()]
        resources = ", ".join(ref.resources()) or "NotResource " + ", ".join(
            str(r) for r in policy.as_list(ref.statement.get("NotResource"))
        )
        if suffix == "admin" and "*" in actions:
            yield Hit(f"{where} allows * on {resources}", grant.path, grant.key)
        elif suffix == "iam-star" and "iam:*" in actions:
            yield Hit(f"{where} allows iam:* on {resources}", grant.path, grant.key)
        elif suffix == "notaction" and "NotAction" in ref.statement:
            excluded = ", ".join(str(a) for a in policy.as_list(ref.statement["NotAction"]))
            yield Hit(f"{where} allows every action except {excluded}", grant.path, grant.key)
        elif suffix == "notresource" and "NotResource" in ref.statement:
            yield Hit(f"{where} allows {', '.join(ref.actions()) or 'NotAction'} on {resources}",
                      grant.path, grant.key)
        elif suffix == "permissions" and "*" not in actions:
            sensitive = policy.permission_actions(ref)
            if sensitive:
                yield Hit(f"{where} allows {_first(sensitive, 8)}", grant.path, grant.key)
        elif (
            suffix == "passrole" and "*" in ref.resources() and "iam:passrole" in policy.expanded_actions(ref)
        ):
            yield Hit(f"{where} allows iam:PassRole on *", grant.path, grant.key)
        elif suffix == "security-group-permissions" and (found := policy.security_group_actions(ref)):
            yield Hit(f"{where} allows {', '.join(found)} on {resources}", grant.path, grant.key)
        elif suffix == "mutating-services" and (
            services := policy.mutating_services(ref, ctx.sensitive_services)
        ):
            yield Hit(f"{where} allows Write actions of {_first(services, 12)}", grant.path, grant.key)


def _first(names: list[str], limit: int) -> str:
    return ", ".join(names[:limit]) + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def _iam_check(suffix: str, technology: str) -> Callable[..., Iterator[Hit]]:
    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
        return _iam_hits(suffix, technology, document, ctx)

    return check


def _compliance(technology: str, suffix: str) -> dict[str, tuple[str, ...]]:
    """CIS 1.16: no policy allowing "*:*" is attached (to this principal, or, for a customer managed
    policy, anywhere); FSBP IAM.1 judges customer managed policies only."""
    if suffix != "admin":
        return {}
    if technology == "iam.policy":
        return {"cis-aws-3.0": ("1.16",), "fsbp": ("IAM.1",)}
    return {"cis-aws-3.0": ("1.16",)}


_EFFECTIVE = (" Users, roles and groups are judged on their effective policies: their inline policies, "
              "their attached managed policies and, for a user, the inline and attached policies of each "
              "of its groups; the finding names the path (via group G, attached policy P statement S).")

for _tech in ("iam.user", "iam.role", "iam.group", "iam.policy"):
    for _suffix, _score, _title, _description, _remediation in _IAM_CHECKS:
        _register(
            _iam_check(_suffix, _tech),
            id=f"{_tech}.policy-{_suffix}",
            technology=_tech,
            score=_score,
            title=_title,
            description=_description
            + ("" if _tech == "iam.policy" or _suffix == "invalid-arn" else _EFFECTIVE),
            remediation=_remediation,
            compliance=_compliance(_tech, _suffix),
        )


_SUPPORT_POLICY = ":policy/AWSSupportAccess"


def _support_role(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
    for technology in ("iam.role", "iam.group", "iam.user"):
        for principal in ctx.related.all(technology, "global"):
            attached = (principal.get("configuration") or {}).get("AttachedManagedPolicies") or []
            if any(str((a or {}).get("PolicyArn", "")).endswith(_SUPPORT_POLICY) for a in attached):
                return
    yield Hit("no IAM role, group or user has the AWS managed policy AWSSupportAccess attached",
              "configuration", "no-support-role")


_register(
    _support_role,
    id="iam.root.no-support-role",
    technology="iam.root",
    score=2,
    title="No support role",
    description=(
        "No IAM role, group or user of the account has AWSSupportAccess attached, so during an "
        "incident nobody but the root user (or an administrator) can open and follow AWS Support "
        "cases. Judged from the account's iam.role, iam.group and iam.user items (a change to any of "
        "them re-audits this one), so those technologies must be watched. Scored 2: Security Hub rates "
        "IAM.18 low, and a new account has no such role."
    ),
    remediation=(
        "Create a role for incident responders (trusted by your identity provider or admin accounts) "
        "and attach arn:aws:iam::aws:policy/AWSSupportAccess."
    ),
    compliance={"cis-aws-3.0": ("1.17",)},
)
