"""Every rule (built-in YAML and Python) must have a case file whose items fire it and items that don't."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitmonkey.audit import RuleSet, policy

CASES = Path(__file__).parent / "rule_cases"
RULESET = RuleSet.load({}, base_dir=Path.cwd())


@pytest.mark.parametrize("rule_id", [r.id for r in RULESET.rules])
def test_rule_cases(rule_id: str) -> None:
    path = CASES / f"{rule_id}.yaml"
    assert path.is_file(), f"rule {rule_id} has no case file {path}"
    assert RULESET.test_file(path) == []


def test_no_orphan_case_files() -> None:
    ids = {r.id for r in RULESET.rules}
    orphans = sorted(p.stem for p in CASES.glob("*.yaml") if p.stem not in ids)
    assert orphans == []


def test_catalogue_covers_security_monkey_scores() -> None:
    scores = {r.id: r.score for r in RULESET.rules}
    assert scores["s3.bucket.policy-internet"] == scores["iam.role.trust-internet"] == 10
    assert scores["s3.bucket.policy-unknown-account"] == 10
    assert scores["s3.bucket.policy-friendly-account"] == scores["s3.bucket.policy-thirdparty-account"] == 0
    assert scores["iam.role.trust-cross-account-root"] == 6
    assert scores["s3.bucket.acl-internet"] == scores["ec2.security_group.ingress-internet"] == 10
    for tech in ("iam.user", "iam.role", "iam.group", "iam.policy"):
        for check in ("admin", "iam-star", "notaction", "notresource", "permissions", "passrole"):
            assert scores[f"{tech}.policy-{check}"] == 10
    for check in (
        "active-access-key",
        "access-key-rotation",
        "access-key-unused",
        "console-without-mfa",
        "console-plus-keys",
    ):
        assert scores[f"iam.user.{check}"] == 1
    assert scores["iam.user.inactive-access-key"] == 0
    for tech in ("iam.user", "iam.role", "iam.group", "iam.policy"):
        assert scores[f"{tech}.policy-security-group-permissions"] == 7
        assert scores[f"{tech}.policy-mutating-services"] == 1
        assert scores[f"{tech}.policy-invalid-arn"] == 3
    assert scores["s3.bucket.policy-invalid-arn"] == scores["iam.role.trust-invalid-arn"] == 3
    assert scores["s3.bucket.acl-log-delivery"] == scores["s3.bucket.no-policy"] == 0
    for direction in ("ingress", "egress"):
        assert scores[f"ec2.security_group.{direction}-unknown-account"] == 10
        assert scores[f"ec2.security_group.{direction}-friendly-account"] == 0
        assert scores[f"ec2.security_group.{direction}-thirdparty-account"] == 0


def test_mutating_services_limited_to_chosen_services() -> None:
    ref = policy.StatementRef(
        "p",
        0,
        {"Effect": "Allow", "Action": ["s3:Put*", "sqs:SendMessage", "ec2:Describe*"], "Resource": "*"},
        "",
    )
    assert policy.mutating_services(ref) == ["s3", "sqs"]
    assert policy.mutating_services(ref, {"S3", "iam"}) == ["s3"]
    assert policy.mutating_services(ref, ()) == []


def test_failing_case_is_reported(tmp_path: Path) -> None:
    case = tmp_path / "s3.bucket.no-default-encryption.yaml"
    case.write_text(
        "fires:\n  - configuration: {ServerSideEncryptionConfiguration: {Rules: [{}]}}\n"
        "passes:\n  - configuration: {}\n"
    )
    failures = RULESET.test_file(case)
    assert len(failures) == 2
    assert "fires[0]: expected a finding, got none" in failures[0]
    assert "passes[0]: expected no finding" in failures[1]


def test_case_file_naming_unknown_rule(tmp_path: Path) -> None:
    case = tmp_path / "nope.yaml"
    case.write_text("fires: []\npasses: []\n")
    assert RULESET.test_file(case) == [f"{case}: no rule 'nope'"]


def test_sensitive_services_narrow_the_mutating_services_rule():
    from datetime import UTC, datetime

    from gitmonkey.audit.context import AuditContext
    from gitmonkey.audit.rules import RuleSet

    document = {
        "account": "123456789012",
        "arn": "arn:aws:iam::123456789012:user/app",
        "id": "app",
        "name": "app",
        "region": "global",
        "technology": "iam.user",
        "configuration": {
            "UserName": "app",
            "AttachedManagedPolicies": [],
            "UserPolicyList": [
                {
                    "PolicyName": "p1",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "Data",
                                "Effect": "Allow",
                                "Action": ["s3:PutObject", "sqs:SendMessage"],
                                "Resource": "*",
                            },
                        ],
                    },
                }
            ],
        },
    }

    def details(sensitive: list[str] | None) -> list[str]:
        audit = {"sensitive_services": sensitive} if sensitive else {}
        ruleset = RuleSet.load(audit, base_dir=Path("."))
        ctx = AuditContext.from_config(
            audit, account_id="123456789012", account_name="prod", now=datetime(2026, 1, 1, tzinfo=UTC)
        )
        return [
            f.details
            for f in ruleset.evaluate(document, None, ctx)
            if f.rule_id == "iam.user.policy-mutating-services"
        ]

    assert details(None) == ["policy p1 statement Data allows Write actions of s3, sqs"]
    assert details(["sqs"]) == ["policy p1 statement Data allows Write actions of sqs"]
    assert details(["kms"]) == []
