"""Built-in rules that YAML says badly: policy analysis and classification of other accounts.

Rules made per technology by the factories below are collected in ``RULES``; ``rules_from_object``
reads that list, as it would for a plug-in module published under the ``gitmonkey.rules`` entry point.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gitmonkey.audit.policy as policy
from gitmonkey.audit.context import FRIENDLY, SAME, THIRD_PARTY, UNKNOWN, AuditContext
from gitmonkey.audit.filters import JMESPATH_OPTIONS
from gitmonkey.audit.rule_model import Hit, Rule

RULES: list[Rule] = []

_REMEDIATE_POLICY = "Restrict the Principal (or add a limiting Condition) to the accounts that need access."
_RESOURCE_POLICY_CHECKS = (
    # suffix, score, title, description
    (
        "internet",
        10,
        "Internet accessible",
        "An Allow statement admits Principal * with no condition that limits who can use it.",
    ),
    (
        "unknown-account",
        10,
        "Unknown cross-account access",
        "An Allow statement admits an account (or a source CIDR) that is neither this account nor listed "
        "in audit.known_accounts / audit.trusted_cidrs.",
    ),
    (
        "friendly-account",
        0,
        "Friendly cross-account access",
        "An Allow statement admits a known friendly account (informational).",
    ),
    (
        "thirdparty-account",
        0,
        "Third-party cross-account access",
        "An Allow statement admits a known third-party account (informational).",
    ),
    (
        "cross-account-root",
        6,
        "Cross-account root access",
        "An Allow statement admits the root of another account, i.e. any principal that account allows.",
    ),
    (
        "invalid-arn",
        3,
        "Unparseable ARN",
        "A principal, ARN condition value (aws:SourceArn, aws:PrincipalArn) or resource of a statement is "
        "not an ARN that policyuniverse can parse: a typo, or an IAM unique id (AROA..., AIDA...) that AWS "
        "put in place of a principal deleted since. The other policy rules cannot classify it.",
    ),
)
_REMEDIATE_ARN = ("Correct the ARN; if it is a unique id, the principal was deleted: remove it, or name the "
                  "re-created principal again.")
_RESOURCE_POLICY_PREFIX = {
    "s3.bucket": "s3.bucket.policy",
    "iam.role": "iam.role.trust",
    "sqs.queue": "sqs.queue.policy",
    "sns.topic": "sns.topic.policy",
    "kms.key": "kms.key.policy",
    "lambda.function": "lambda.function.policy",
    "ec2.vpc_endpoint": "ec2.vpc_endpoint.policy",
    "ecr.repository": "ecr.repository.policy",
    "opensearch.domain": "opensearch.domain.policy",
    "secretsmanager.secret": "secretsmanager.secret.policy",
    "glacier.vault": "glacier.vault.policy",
    "ses.identity": "ses.identity.policy",
}


def _register(func: Callable[..., Iterable[Hit]], **fields: Any) -> None:
    RULES.append(Rule(source=f"python:{__name__}", check=func, **fields))


def _resource_policy_check(technology: str, suffix: str) -> Callable[..., Iterator[Hit]]:
    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
        configuration = document.get("configuration") or {}
        for path, doc in policy.resource_policies(technology, configuration):
            yield from _policy_hits(suffix, doc, path, ctx)

    return check


def _policy_hits(suffix: str, doc: Any, path: str, ctx: AuditContext) -> Iterator[Hit]:
    if suffix == "invalid-arn":
        for ref in policy.statements(doc, "policy", path):
            for where, value in policy.invalid_arns(ref, resource_policy=True):
                yield Hit(f"statement {ref.key.split('/', 1)[1]}: {where} {value!r} is not a valid ARN",
                          ref.path, value)
        return
    for access in policy.resource_policy_access(doc, path, ctx):
        wanted = {
            "internet": access.kind == policy.INTERNET,
            "unknown-account": access.kind == UNKNOWN,
            "friendly-account": access.kind == FRIENDLY,
            "thirdparty-account": access.kind == THIRD_PARTY,
            "cross-account-root": access.root and access.kind != SAME,
        }[suffix]
        if wanted:
            yield Hit(access.describe(ctx), access.path, access.entity)


def _policy_key(technology: str) -> str:
    if technology in policy.RESOURCE_POLICY_KEYS:
        return policy.RESOURCE_POLICY_KEYS[technology]
    return policy.RESOURCE_POLICY_MAPS[technology] + ".<name>"


# The FSBP controls a resource-policy rule decides exactly: each fails when the policy admits
# anyone (Principal * without a limiting condition), which is what the "-internet" rule reports.
_RESOURCE_POLICY_COMPLIANCE: dict[str, dict[str, tuple[str, ...]]] = {
    "lambda.function.policy-internet": {"fsbp": ("Lambda.1",)},
    "sns.topic.policy-internet": {"fsbp": ("SNS.4",)},
    "sqs.queue.policy-internet": {"fsbp": ("SQS.3",)},
    "kms.key.policy-internet": {"fsbp": ("KMS.5",)},
}

# A VPC endpoint's policy only governs traffic that already comes through the endpoint from
# inside the VPC: `Principal: *` there (AWS's default) is not access from the internet.
_NOT_INTERNET_FACING = {"ec2.vpc_endpoint"}

for _tech, _prefix in _RESOURCE_POLICY_PREFIX.items():
    for _suffix, _score, _title, _description in _RESOURCE_POLICY_CHECKS:
        if _suffix == "internet" and _tech in _NOT_INTERNET_FACING:
            continue
        _register(
            _resource_policy_check(_tech, _suffix),
            id=f"{_prefix}-{_suffix}",
            technology=_tech,
            score=_score,
            title=_title,
            description=f"{_description} (policy: configuration.{_policy_key(_tech)})",
            remediation=_REMEDIATE_ARN if _suffix == "invalid-arn" else _REMEDIATE_POLICY,
            compliance=_RESOURCE_POLICY_COMPLIANCE.get(f"{_prefix}-{_suffix}", {}),
        )


def _acl_check(wanted: str) -> Callable[..., Iterator[Hit]]:
    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
        acl = (document.get("configuration") or {}).get("Acl") or {}
        owner = (acl.get("Owner") or {}).get("ID")
        grantees: dict[str, tuple[str, list[str], str]] = {}
        for i, grant in enumerate(policy.as_list(acl.get("Grants"))):
            grantee = (grant or {}).get("Grantee") or {}
            if grantee.get("Type") == "CanonicalUser" and grantee.get("ID"):
                kind, account = ctx.classify_canonical_id(grantee["ID"], owner)
                label = f"canonical id {grantee['ID']}" + (
                    f" ({ctx.account_label(account)})" if account else ""
                )
                ident = grantee["ID"]
            elif grantee.get("Type") == "AmazonCustomerByEmail" and grantee.get("EmailAddress"):
                kind, label, ident = UNKNOWN, f"email {grantee['EmailAddress']}", grantee["EmailAddress"]
            else:
                continue
            if kind == wanted:
                entry = grantees.setdefault(ident, (label, [], f"configuration.Acl.Grants[{i}]"))
                entry[1].append(str(grant.get("Permission")))
        for ident, (label, permissions, path) in grantees.items():
            yield Hit(f"ACL grants {', '.join(sorted(permissions))} to {label}", path, ident)

    return check


for _suffix, _kind, _score, _title in (
    ("unknown-account", UNKNOWN, 10, "ACL grant to an unknown account"),
    ("friendly-account", FRIENDLY, 0, "ACL grant to a friendly account"),
    ("thirdparty-account", THIRD_PARTY, 0, "ACL grant to a third-party account"),
):
    _register(
        _acl_check(_kind),
        id=f"s3.bucket.acl-{_suffix}",
        technology="s3.bucket",
        score=_score,
        title=_title,
        description="The bucket ACL grants access to a canonical user id (or e-mail) that is not the owner; "
        "accounts are recognised by audit.known_accounts.<id>.canonical_id.",
        remediation="Remove the grant, or use a bucket policy naming the account.",
    )


def _is_public_network(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return network.prefixlen > 0 and network.is_global


_SG_DIRECTIONS = {"ingress": ("IpPermissions", "from"), "egress": ("IpPermissionsEgress", "to")}


def _sg_references(
    configuration: dict[str, Any], direction: str
) -> Iterator[tuple[str, str, str, str | None]]:
    """(path, rule label, entity, account id or None) of every source (ingress) or destination
    (egress) of the group's rules except /0 ranges."""
    import jmespath

    list_key = _SG_DIRECTIONS[direction][0]
    for i, permission in enumerate(policy.as_list(configuration.get(list_key))):
        if not isinstance(permission, dict):
            continue
        label = "{}:{}".format(
            *(
                jmespath.search(f, permission, options=JMESPATH_OPTIONS)
                for f in ("protocol_name(IpProtocol)", "port_range(@)")
            )
        )
        for j, pair in enumerate(policy.as_list(permission.get("UserIdGroupPairs"))):
            if isinstance(pair, dict) and pair.get("UserId"):
                entity = f"{pair['UserId']}/{pair.get('GroupId') or pair.get('GroupName')}"
                yield (
                    f"configuration.{list_key}[{i}].UserIdGroupPairs[{j}]",
                    label,
                    entity,
                    str(pair["UserId"]),
                )
        for range_key, cidr_key in (("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")):
            for j, cidr_range in enumerate(policy.as_list(permission.get(range_key))):
                cidr = str((cidr_range or {}).get(cidr_key, ""))
                if _is_public_network(cidr):
                    yield f"configuration.{list_key}[{i}].{range_key}[{j}]", label, cidr, None


def _sg_check(direction: str, wanted: str) -> Callable[..., Iterator[Hit]]:
    preposition = _SG_DIRECTIONS[direction][1]

    def check(document: dict, previous: dict | None, ctx: AuditContext) -> Iterator[Hit]:
        for path, label, entity, account in _sg_references(document.get("configuration") or {}, direction):
            if account is not None:
                kind, who = (
                    ctx.classify_account(account),
                    f"security group {entity} of account " + (ctx.account_label(account)),
                )
            else:
                kind, who = (SAME if ctx.is_trusted_cidr(entity) else UNKNOWN), entity
            if kind == wanted:
                yield Hit(f"{direction} {label.replace(':', ' ')} {preposition} {who}", path,
                          f"{direction}:{label}:{entity}")

    return check


_SG_CLASSES = (
    # suffix, class, score, title words, description ({d}: ingress or egress)
    ("unknown-account", UNKNOWN, 10, "an unknown account",
     "An {d} rule names a security group of an account not listed in audit.known_accounts, or a public "
     "CIDR outside audit.trusted_cidrs. Private ranges and /0 (see {d}-internet) are not flagged."),
    ("friendly-account", FRIENDLY, 0, "a friendly account",
     "An {d} rule names a security group of a friendly account of audit.known_accounts (informational)."),
    ("thirdparty-account", THIRD_PARTY, 0, "a third-party account",
     "An {d} rule names a security group of a third-party account of audit.known_accounts (informational)."),
)
for _direction, (_, _to) in _SG_DIRECTIONS.items():
    for _suffix, _kind, _score, _whom, _description in _SG_CLASSES:
        _register(
            _sg_check(_direction, _kind),
            id=f"ec2.security_group.{_direction}-{_suffix}",
            technology="ec2.security_group",
            score=_score,
            title=f"{_direction.capitalize()} {_to} {_whom}",
            description=_description.format(d=_direction),
            remediation="Remove the rule, or list the account in audit.known_accounts (CIDR: trusted_cidrs).",
        )
