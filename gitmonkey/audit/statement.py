"""Who a resource-policy statement admits: its principals and its limiting conditions.

The same reading as policyuniverse's ``Statement`` and ``ARN`` (Security Monkey's, which the
built-in policy rules follow), done here because importing policyuniverse loads its 8 MB table of
every AWS action, ~0.1 s that the post-commit hook cannot afford for a bucket policy that needs no
action expansion. ``tests/test_statement.py`` checks this reading against policyuniverse's on every
policy of the rule cases and on generated statements; policyuniverse stays the source for what
needs its action table (wildcard expansion, action categories).

A statement admits the internet when it allows something, names ``*`` (or an ARN with account
``*``, or uses ``NotPrincipal``) and has no condition that limits the caller, where the limiting
conditions are the positive ARN, string and IP operators on the keys in ``CONDITION_KEYS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CONDITION_KEYS: dict[str, str] = {
    "aws:sourcearn": "arn",
    "aws:principalarn": "arn",
    "aws:sourceowner": "account",
    "aws:sourceaccount": "account",
    "aws:principalaccount": "account",
    "aws:principalorgid": "organization",
    "aws:principalorgpaths": "organization",
    "kms:calleraccount": "account",
    "aws:userid": "userid",
    "aws:sourceip": "cidr",
    "aws:sourcevpc": "vpc",
    "aws:sourcevpce": "vpce",
    "saml:aud": "saml-endpoint",
}
# Positive operators only: a negated one (StringNotEquals...) limits nothing. Matched at the
# start of the operator, case-insensitively, as IAM spells them with prefixes and suffixes.
_LIMITING_OPERATORS = (
    re.compile(r"((ForAllValues|ForAnyValue):)?ARN(Equals|Like)(IfExists)?", re.IGNORECASE),
    re.compile(r"((ForAllValues|ForAnyValue):)?String(Equals|Like)(IgnoreCase)?(IfExists)?", re.IGNORECASE),
    re.compile(r"((ForAllValues|ForAnyValue):)?IpAddress(IfExists)?", re.IGNORECASE),
)
_ARN = re.compile(r"^arn:([^:]*):([^:]*):([^:]*):(|\*|\d{12}|cloudfront|aws):(.+)$")
_ACCOUNT = re.compile(r"^(\d{12})+$")
_SERVICE = (re.compile(r"^(([^.]+)(.[^.]+)?)\.amazon(aws)?\.com$"), re.compile(r"^([^.]+).aws.internal$"))


@dataclass(frozen=True)
class Arn:
    """A principal or resource as an ARN, a bare account id, or a service principal."""

    service: str | None = None
    account: str | None = None
    resource: str | None = None
    is_service_principal: bool = False
    root: bool = False


def parse_arn(value: str) -> Arn | None:
    """The parts of ``value``; None if it is neither an ARN, an account id nor a service name."""
    match = _ARN.match(value)
    if match:
        service, account, resource = match.group(2), match.group(4), match.group(5)
        return Arn(service, account, resource, root=service == "iam" and resource == "root")
    if _ACCOUNT.match(value):
        return Arn(account=value)
    for pattern in _SERVICE:
        match = pattern.match(value)
        if match:
            return Arn(service=match.group(1), is_service_principal=True)
    return None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple | set) else [value]


@dataclass(frozen=True)
class Who:
    """One entry of who a statement admits: ``category`` is principal, arn, account,
    organization, userid, cidr, vpc, vpce or saml-endpoint."""

    category: str
    value: Any


def principals(statement: dict[str, Any]) -> list[Any]:
    """The values of Principal (``*``, or its AWS, Service and Federated entries)."""
    principal = statement.get("Principal")
    if not principal:
        return []
    if isinstance(principal, dict):
        keys = ("AWS", "Service", "Federated")
        return [v for key in keys if key in principal for v in _as_list(principal[key])]
    return _as_list(principal)


def condition_entries(statement: dict[str, Any]) -> list[Who]:
    """The values of the limiting conditions (see ``CONDITION_KEYS``), in document order."""
    condition = statement.get("Condition")
    if not isinstance(condition, dict):
        return []
    found = []
    for operator, keys in condition.items():
        if not any(p.match(str(operator)) for p in _LIMITING_OPERATORS) or not isinstance(keys, dict):
            continue
        for key, value in keys.items():
            category = CONDITION_KEYS.get(str(key).lower())
            if category is not None:
                found.extend(Who(category, v) for v in _as_list(value))
    return found


def whos_allowed(statement: dict[str, Any]) -> list[Who]:
    """Principals and limiting condition values, each once."""
    found: dict[tuple[str, str], Who] = {}
    for who in [Who("principal", p) for p in principals(statement)] + condition_entries(statement):
        found.setdefault((who.category, repr(who.value)), who)
    return list(found.values())


def actions(statement: dict[str, Any]) -> list[str]:
    """The statement's Action entries as written (not expanded), sorted."""
    return sorted({str(a) for a in _as_list(statement.get("Action") or [])})


def _arn_open(value: Any) -> bool:
    text = str(value)
    if text == "*":
        return True
    arn = parse_arn(text)
    if arn is None:
        return "*" in text
    if arn.service == "s3":  # S3 ARNs carry no account; the S3 service principal is not the internet
        return False
    if not arn.account and not arn.is_service_principal:
        return True
    return arn.account == "*"


def _organization_open(value: Any) -> bool:
    parts = str(value).split("/")
    valid = parts[0].startswith("o-") or parts[0] == "*"
    if valid and len(parts) > 1:
        valid = parts[1].startswith("r-") or parts[1] == "*"
    open_ended = False
    for ou in parts[2:] if valid else ():
        if open_ended or not (ou in ("", "*", "ou-*") or ou.startswith("ou-")):
            valid = False
            break
        open_ended = ou in ("", "*", "ou-*")
    if not valid:
        return "o-*" in str(value)
    return parts[0] == "o-*"


def _entry_open(who: Who) -> bool:
    value = who.value
    if who.category == "arn":
        return _arn_open(value)
    if who.category == "organization":
        return _organization_open(value)
    if who.category == "userid":  # a trailing wildcard (AROA...:*) still names one role
        text = str(value)
        return text.find("*") != len(text) - 1
    if who.category == "cidr":
        return str(value).endswith("/0")
    return "*" in str(value)


def is_internet_accessible(statement: dict[str, Any]) -> bool:
    """An Allow that admits anyone: ``*`` (or NotPrincipal) with no condition limiting the caller."""
    if statement.get("Effect") != "Allow":
        return False
    entries = condition_entries(statement)
    if entries and not any(_entry_open(e) for e in entries):
        return False
    if "NotPrincipal" in statement:
        return True
    return any(_arn_open(p) for p in principals(statement))


def arn_values(statement: dict[str, Any]) -> Iterator[Any]:
    """The values of ARN conditions (``aws:SourceArn``, ``aws:PrincipalArn``)."""
    return (who.value for who in condition_entries(statement) if who.category == "arn")
