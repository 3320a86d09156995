"""`gitmonkey report --framework ...` on account repositories built by a real sync on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws

from gitmonkey.cli import cli
from gitmonkey.compliance import report as compliance
from gitmonkey.config import Config
from gitmonkey.sync import run_sync
from tests.helpers import error_response, inject, make_config

ACCOUNT = {"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}
ALICE = "items/global/iam/user/alice.json"


@pytest.fixture
def aws():
    with mock_aws():
        yield


def _policy() -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture
def iam_account(tmp_path: Path, aws: None) -> Config:
    """alice: two active keys and an inline policy; bob: one key, permissions through a group."""
    iam = boto3.client("iam")
    iam.create_user(UserName="alice")
    iam.create_access_key(UserName="alice")
    iam.create_access_key(UserName="alice")
    iam.put_user_policy(UserName="alice", PolicyName="own", PolicyDocument=_policy())
    iam.create_user(UserName="bob")
    iam.create_access_key(UserName="bob")
    iam.create_group(GroupName="readers")
    iam.put_group_policy(GroupName="readers", PolicyName="read", PolicyDocument=_policy())
    iam.add_user_to_group(GroupName="readers", UserName="bob")
    config = make_config(tmp_path, accounts=[ACCOUNT],
                         technologies=["iam.*", "cloudtrail.*", "config.status"])
    assert run_sync(config).exit_code == 0
    return config


def _controls(report: compliance.ComplianceReport, account: int = 0) -> dict[str, compliance.ControlResult]:
    return {c.control.id: c for c in report.accounts[account].controls}


def test_cis_report_of_a_synced_account(iam_account: Config) -> None:
    report = compliance.build_report(iam_account, "cis-aws-3.0")
    [account] = report.accounts
    assert (account.account, account.account_id) == ("prod", "123456789012")
    controls = _controls(report)
    assert len(controls) == 62 and sum(account.totals().values()) == 62

    # 1.13 and 1.15 fail on alice only, with the rule, its score, the item and the details.
    [keys] = controls["1.13"].failures
    assert controls["1.13"].status == compliance.FAIL
    assert (keys.rule, keys.score, keys.item_path, keys.details) == (
        "iam.user.multiple-active-access-keys", 5, ALICE, "2 active access keys")
    [direct] = controls["1.15"].failures
    assert (direct.rule, direct.item_id, direct.score) == ("iam.user.policies-attached-directly", "alice", 2)
    # AWS's defaults of a new account (moto's too): no password policy, a root user without MFA,
    # no trail, no Config recorder.
    assert [f.rule for f in controls["1.8"].failures] == ["iam.password_policy.missing"]
    assert [f.rule for f in controls["1.5"].failures] == ["iam.root.no-mfa"]
    assert [f.rule for f in controls["3.1"].failures] == ["cloudtrail.status.no-multi-region-logging-trail"]
    assert [f.item_id for f in controls["3.3"].failures] == ["us-east-1"]

    # Implemented, all the slices read, no issue: pass.
    for passing in ("1.4", "1.10", "1.14", "1.19", "3.2", "3.5"):
        assert controls[passing].status == compliance.PASS, (passing, controls[passing].reasons)
        assert controls[passing].rules and not controls[passing].failures
    # Not evaluated, with the reason.
    assert controls["1.1"].reasons == [compliance.MANUAL]
    unimplemented = [c for c in controls.values() if not c.rules and not c.control.manual]
    assert unimplemented and all(c.reasons == [compliance.NO_RULE] for c in unimplemented)
    assert controls["4.16"].reasons == [
        "rule securityhub.status.not-enabled: technology securityhub.status not enabled"]
    assert not controls["4.16"].missing_data
    assert report.exit_code == compliance.EXIT_FAIL


def test_a_justified_issue_is_an_accepted_exception_of_a_passing_control(
    iam_account: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitmonkey.audit.justify import write_justification

    for who in ("AUTHOR", "COMMITTER"):  # a person's commit, with a person's identity
        monkeypatch.setenv(f"GIT_{who}_NAME", "Alice Reviewer")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "alice@example.com")

    [direct] = _controls(compliance.build_report(iam_account, "cis-aws-3.0"))["1.15"].failures
    repo = iam_account.repo_path(iam_account.accounts[0])
    write_justification(repo, direct.fingerprint, "break-glass user, reviewed")
    control = _controls(compliance.build_report(iam_account, "cis-aws-3.0"))["1.15"]
    assert control.status == compliance.PASS and control.failures == []
    [accepted] = control.exceptions
    assert (accepted.item_path, accepted.justification) == (ALICE, "break-glass user, reviewed")


def _trail_only(tmp_path: Path, **overrides: Any) -> Config:
    return make_config(tmp_path, **{"accounts": [ACCOUNT], "technologies": ["cloudtrail.trail"], **overrides})


def test_all_evaluated_controls_pass_exit_0_then_a_failing_slice_exits_3(
    tmp_path: Path, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _trail_only(tmp_path)
    run_sync(config)
    report = compliance.build_report(config, "cis-aws-3.0")
    controls = _controls(report)
    assert controls["3.2"].status == controls["3.5"].status == compliance.PASS
    assert controls["3.1"].status == compliance.NOT_EVALUATED  # cloudtrail.status is not enabled
    assert report.exit_code == compliance.EXIT_OK

    handler = lambda **_: error_response(400, "AccessDeniedException")  # noqa: E731
    with inject(monkeypatch, "before-send.cloudtrail.DescribeTrails", handler) as fired:
        assert run_sync(config).exit_code == 3
    assert fired
    report = compliance.build_report(config, "cis-aws-3.0")
    control = _controls(report)["3.2"]
    assert control.status == compliance.NOT_EVALUATED and control.missing_data
    [reason] = control.reasons
    assert reason.startswith("rule cloudtrail.trail.log-file-validation-disabled: "
                             "us-east-1/cloudtrail.trail: failing (")
    assert report.exit_code == compliance.EXIT_INCOMPLETE


def test_a_trail_without_validation_fails_on_real_moto_output(tmp_path: Path, aws: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="trail-logs")
    boto3.client("cloudtrail", region_name="us-east-1").create_trail(Name="main", S3BucketName="trail-logs")
    config = _trail_only(tmp_path)
    run_sync(config)
    report = compliance.build_report(config, "fsbp")
    controls = _controls(report)
    for control_id, rule in (("CloudTrail.4", "cloudtrail.trail.log-file-validation-disabled"),
                             ("CloudTrail.2", "cloudtrail.trail.not-encrypted-with-kms"),
                             ("CloudTrail.5", "cloudtrail.trail.no-cloudwatch-logs")):
        [failure] = controls[control_id].failures
        assert (failure.rule, failure.item_name) == (rule, "main")
    unimplemented = [c for c in controls.values() if not c.rules]
    assert unimplemented and all(c.reasons == [compliance.NO_RULE] for c in unimplemented)
    assert report.exit_code == compliance.EXIT_FAIL


def test_stale_data_disabled_rules_pending_audits_and_unsynced_accounts(tmp_path: Path, aws: None) -> None:
    from gitmonkey import hooks

    config = _trail_only(
        tmp_path,
        accounts=[ACCOUNT, {"name": "dev", "id": "210987654321", "regions": ["us-east-1"]}],
        audit={"overrides": [{"rule": "cloudtrail.trail.not-encrypted-with-kms", "disabled": True,
                              "accounts": ["prod"]}]},
    )
    run_sync(config, accounts=["prod"])
    now = datetime.now(UTC)
    prod, dev = compliance.build_report(config, "cis-aws-3.0", now=now).accounts
    assert _controls_of(prod)["3.5"].reasons == ["rule cloudtrail.trail.not-encrypted-with-kms disabled"]
    assert not _controls_of(prod)["3.5"].missing_data
    assert _controls_of(prod)["3.2"].status == compliance.PASS
    assert _controls_of(dev)["3.2"].reasons == ["account never synced"]
    assert _controls_of(dev)["1.1"].reasons == [compliance.MANUAL]

    later = compliance.build_report(config, "cis-aws-3.0", accounts=["prod"], now=now + timedelta(days=2))
    [reason] = _controls(later)["3.2"].reasons
    assert "us-east-1/cloudtrail.trail: stale (last read " in reason
    assert later.exit_code == compliance.EXIT_INCOMPLETE

    repo = config.repo_path(config.accounts[0])
    hooks.record_pending(repo / ".git" / "gitmonkey", None, "HEAD", "test")
    pending = compliance.build_report(config, "cis-aws-3.0", accounts=["prod"], now=now)
    assert _controls(pending)["3.2"].reasons == ["audit pending"]
    assert any("not audited" in e for e in pending.accounts[0].errors)
    assert pending.exit_code == compliance.EXIT_INCOMPLETE


def _controls_of(account: compliance.AccountReport) -> dict[str, compliance.ControlResult]:
    return {c.control.id: c for c in account.controls}


def test_the_report_command(iam_account: Config) -> None:
    runner = CliRunner()
    base = ["report", "--config", str(iam_account.path)]
    as_json = runner.invoke(cli, [*base, "--framework", "cis-aws-3.0", "--format", "json"])
    assert as_json.exit_code == 1, as_json.output
    data = json.loads(as_json.output)
    assert data == json.loads(compliance.render_json(compliance.build_report(iam_account, "cis-aws-3.0")))
    [account] = data["accounts"]
    failing = {c["id"]: c for c in account["controls"] if c["status"] == "fail"}
    assert failing["1.13"]["failures"][0]["item_path"] == ALICE
    assert account["totals"]["fail"] == len(failing)

    text = runner.invoke(cli, [*base, "--framework", "cis-aws-3.0", "--account", "prod"])
    assert text.exit_code == 1
    lines = text.output.splitlines()
    assert lines[0] == "prod (123456789012): CIS Amazon Web Services Foundations Benchmark v3.0.0"
    assert any(line.split()[:2] == ["FAIL", "1.13"] for line in lines)
    assert f"        iam.user.multiple-active-access-keys (5) {ALICE}: 2 active access keys" in lines
    assert any(line.split()[:2] == ["N/E", "1.1"] for line in lines)

    markdown = runner.invoke(cli, [*base, "--framework", "fsbp", "--format", "markdown"])
    assert markdown.exit_code == 1
    assert markdown.output.startswith("# AWS Foundational Security Best Practices v1.0.0\n")
    assert "| fail | IAM.2 | IAM users should not have IAM policies attached |" in markdown.output

    unknown = runner.invoke(cli, [*base, "--framework", "fsbp", "--account", "nope"])
    assert unknown.exit_code == 2 and "no account named 'nope'" in unknown.output
    bad = runner.invoke(cli, [*base, "--framework", "pci"])
    assert bad.exit_code == 2


def test_configuration_yaml_round_trip_of_report(iam_account: Config) -> None:
    """The JSON report is plain data (no datetimes or objects): a CI step can keep it as YAML too."""
    data = json.loads(compliance.render_json(compliance.build_report(iam_account, "fsbp")))
    assert yaml.safe_load(yaml.safe_dump(data)) == data
    guardduty = next(c for c in data["accounts"][0]["controls"] if c["id"] == "GuardDuty.1")
    assert guardduty["status"] == "not evaluated"
    assert guardduty["reasons"] == [
        "rule guardduty.status.not-enabled: technology guardduty.status not enabled"]


def test_a_rule_that_crashed_on_an_item_decides_nothing(tmp_path: Path, aws: None) -> None:
    from gitmonkey.audit.rule_model import Rule
    from gitmonkey.audit.rules import RuleSet
    from gitmonkey.audit.run import audit_all
    from gitmonkey.store import AccountRepository

    def crash(document: dict, previous: dict | None, ctx: object) -> list[object]:
        raise RuntimeError("boom")

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="trail-logs")
    boto3.client("cloudtrail", region_name="us-east-1").create_trail(Name="main", S3BucketName="trail-logs")
    config = _trail_only(tmp_path)
    run_sync(config)
    builtin = RuleSet.load({}, base_dir=tmp_path)
    crashing = Rule(id="test.trail-bucket-logging", technology="cloudtrail.trail", score=1, title="t",
                    description="d", remediation="r", source="test", check=crash,
                    compliance={"cis-aws-3.0": ("3.4",)})
    ruleset = RuleSet([*builtin.rules, crashing])
    repo = AccountRepository.open(config.repo_path(config.accounts[0]), create=False)
    audit_all(repo, config, config.accounts[0], ruleset=ruleset)
    control = _controls(compliance.build_report(config, "cis-aws-3.0", ruleset=ruleset))["3.4"]
    assert control.status == compliance.NOT_EVALUATED and control.missing_data
    assert control.reasons == [
        "rule test.trail-bucket-logging failed on items/us-east-1/cloudtrail/trail/main.json"]


def test_report_without_framework_is_still_the_audit_report(iam_account: Config) -> None:
    runner = CliRunner()
    base = ["report", "--config", str(iam_account.path)]
    audit_report = runner.invoke(cli, base)
    assert audit_report.exit_code == 0, audit_report.output
    assert "AUDIT REPORT - [prod]" in audit_report.output
    assert runner.invoke(cli, [*base, "--format", "markdown"]).exit_code == 2
    mixed = runner.invoke(cli, [*base, "--framework", "fsbp", "--send"])
    assert mixed.exit_code == 2 and "--send" in mixed.output
