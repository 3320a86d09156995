"""``gitmonkey.audit.statement`` reads a resource-policy statement as policyuniverse does.

The reading is done without policyuniverse so that the post-commit hook need not load its action
table; this test holds the two readings equal on every statement of the rule case files (the
policies the built-in rules are specified with) and on generated statements that cover every
principal form, condition operator and condition key the reading knows.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from policyuniverse.arn import ARN
from policyuniverse.statement import Statement

from gitmonkey.audit import statement as reading

CASES = Path(__file__).resolve().parent / "rule_cases"


def _statements(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        raw = node.get("Statement")
        if isinstance(raw, dict):
            found.append(raw)
        elif isinstance(raw, list):
            found.extend(s for s in raw if isinstance(s, dict))
        for value in node.values():
            found.extend(_statements(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_statements(value))
    return found


def _case_statements() -> list[dict[str, Any]]:
    found = []
    for path in sorted(CASES.glob("*.yaml")):
        found.extend(_statements(yaml.safe_load(path.read_text(encoding="utf-8"))))
    unique = {repr(s): s for s in found}
    return list(unique.values())


PRINCIPALS: list[Any] = [
    "*", {"AWS": "*"}, {"AWS": "arn:aws:iam::*:root"}, {"AWS": "arn:aws:iam::111111111111:root"},
    {"AWS": ["111111111111", "arn:aws:iam::222222222222:role/x"]}, {"Service": "s3.amazonaws.com"},
    {"Service": ["lambda.amazonaws.com", "logs.eu-west-1.amazonaws.com"]},
    {"Federated": "cognito-identity.amazonaws.com"}, {"AWS": "AROAEXAMPLEID"},
    {"AWS": "arn:aws:sts::111111111111:assumed-role/r/s"}, {"CanonicalUser": "abc"},
    {"AWS": "arn:aws:s3:::bucket"}, "arn:aws:iam::123456789012:user/*", {"AWS": "ec2.aws.internal"},
]
CONDITIONS: list[Any] = [
    None,
    {"StringEquals": {"aws:SourceAccount": "111111111111"}},
    {"StringLike": {"aws:SourceOwner": "*"}},
    {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:topic"}},
    {"ArnEquals": {"aws:SourceArn": "arn:aws:sqs:us-east-1:111111111111:q"}},
    {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-abc/r-1/ou-1/*"]}},
    {"StringEquals": {"aws:PrincipalOrgID": "o-*"}},
    {"StringEquals": {"aws:PrincipalOrgID": ["o-abc123"]}},
    {"StringLike": {"aws:userid": ["AROAEXAMPLE:*", "*"]}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/0"]}},
    {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}},
    {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringNotEquals": {"aws:SourceAccount": "111111111111"}},
    {"StringEqualsIgnoreCase": {"aws:SourceVpc": "vpc-1"}},
    {"StringEquals": {"aws:SourceVpce": "vpce-*"}},
    {"StringEquals": {"kms:CallerAccount": "111111111111", "kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    {"Bool": {"aws:SecureTransport": "false"}},
    {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}},
    {"StringEquals": {"aws:PrincipalOrgPaths": "o-abc/r-1/ou-1/"}},
    {"StringLike": {"aws:PrincipalOrgPaths": "o-abc/r-1/*/ou-2"}},
]


def _generated() -> list[dict[str, Any]]:
    found = []
    for effect, principal, condition in itertools.product(("Allow", "Deny"), PRINCIPALS, CONDITIONS):
        statement: dict[str, Any] = {"Effect": effect, "Principal": principal,
                                     "Action": ["s3:GetObject", "s3:*"], "Resource": "*"}
        if condition is not None:
            statement["Condition"] = condition
        found.append(statement)
    found.append({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111111111111:root"},
                  "Action": "*"})
    return found


STATEMENTS = _case_statements() + _generated()


def _theirs(statement: dict[str, Any]) -> dict[str, Any]:
    parsed = Statement(statement)
    return {
        "internet": parsed.is_internet_accessible(),
        "who": sorted((w.category, repr(w.value)) for w in parsed.whos_allowed()),
        "arns": sorted(repr(e.value) for e in parsed.condition_entries if e.category == "arn"),
        "actions": sorted(str(a) for a in parsed.actions),
    }


def _ours(statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "internet": reading.is_internet_accessible(statement),
        "who": sorted((w.category, repr(w.value)) for w in reading.whos_allowed(statement)),
        "arns": sorted(repr(v) for v in reading.arn_values(statement)),
        "actions": reading.actions(statement),
    }


def test_the_corpus_is_broad() -> None:
    from_cases = _case_statements()
    assert len(from_cases) >= 100
    assert any(reading.is_internet_accessible(s) for s in from_cases)
    assert any(s.get("Condition") for s in from_cases)


@pytest.mark.parametrize("statement", STATEMENTS, ids=lambda s: repr(s)[:80])
def test_the_reading_is_policyuniverses(statement: dict[str, Any]) -> None:
    assert _ours(statement) == _theirs(statement)


ARNS = [
    "arn:aws:iam::111111111111:root", "arn:aws:iam::111111111111:role/x", "arn:aws:s3:::bucket/*",
    "arn:aws-cn:sqs:cn-north-1:111111111111:q", "arn:aws:iam::*:root",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:cloudfront::cloudfront:distribution/x", "arn:aws:iam::12345:root", "111111111111",
    "111111111111222222222222", "s3.amazonaws.com", "logs.eu-west-1.amazonaws.com", "ec2.aws.internal",
    "AROAEXAMPLEID", "arn:aws:iam:111111111111:root", "not an arn", "arn:aws:lambda:us-east-1:111111111111:",
    "elasticmapreduce.amazonaws.com.cn",
]


@pytest.mark.parametrize("value", ARNS)
def test_arns_are_parsed_as_policyuniverse_parses_them(value: str) -> None:
    theirs = ARN(value)
    ours = reading.parse_arn(value)
    assert (ours is None) == bool(theirs.error)
    if ours is not None:
        assert (ours.account or None, ours.root, ours.is_service_principal) == (
            theirs.account_number or None, theirs.root, bool(theirs.service))
        assert ours.service == theirs.tech
