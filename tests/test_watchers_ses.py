"""SES watcher against moto (SES v2 API; botocore Stubber for paging, failures and verification
states moto cannot produce): identities with their policies, DKIM and tags, check noise kept out,
races, cost, and the rules."""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import ses
from gitmonkey.watchers._common import TruncatedListError
from tests.helpers import normalized, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTNER = "arn:aws:iam::111111111111:root"
SENDING_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "PartnerSends",
        "Effect": "Allow",
        "Principal": {"AWS": PARTNER},
        "Action": ["ses:SendEmail", "ses:SendRawEmail"],
        "Resource": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com",
    }],
}
(TECH,) = ses.TECHNOLOGIES


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("sesv2", region_name=REGION)


def _domain(client, name: str = "example.com") -> None:
    client.create_email_identity(EmailIdentity=name, Tags=[{"Key": "team", "Value": "mail"}])
    client.create_email_identity_policy(
        EmailIdentity=name, PolicyName="partner-sends", Policy=json.dumps(SENDING_POLICY)
    )


def test_identities_with_policies_tags_and_dkim(aws):
    _domain(aws)
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress="alerts@example.org")

    items = {item.id: item for item in ses.list_identities(make_ctx())}

    domain = items["example.com"]
    assert (domain.technology, domain.region, domain.name) == ("ses.identity", REGION, "example.com")
    assert domain.arn == f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/example.com"
    config = domain.configuration
    assert (config["IdentityType"], config["VerificationStatus"], config["SendingEnabled"]) == (
        "DOMAIN", "SUCCESS", True)
    assert config["Policies"] == {"partner-sends": SENDING_POLICY}
    assert config["Tags"] == {"team": "mail"}
    assert config["DkimAttributes"]["SigningAttributesOrigin"] == "AWS_SES"
    address = items["alerts@example.org"].configuration  # made with the v1 API: the same identities
    assert (address["IdentityType"], address["Policies"], address["Tags"]) == ("EMAIL_ADDRESS", {}, {})
    assert items["alerts@example.org"].arn.endswith(":identity/alerts@example.org")


def test_resync_is_identical(aws):
    _domain(aws)

    first = normalized(ses.list_identities(make_ctx())[0])
    again = normalized(ses.list_identities(make_ctx())[0])

    assert again.content == first.content
    policy = first.document["configuration"]["Policies"]["partner-sends"]
    assert policy["Statement"][0]["Sid"] == "PartnerSends"


def test_one_listing_call_and_one_call_per_identity(aws):
    for name in ("a.example", "b.example", "c.example"):
        aws.create_email_identity(EmailIdentity=name)
    ctx = make_ctx()

    assert sorted(item.id for item in ses.list_identities(ctx)) == ["a.example", "b.example", "c.example"]
    assert dict(ctx.calls) == {"sesv2:ListEmailIdentities": 1, "sesv2:GetEmailIdentity": 3}
    assert ses.list_identities(make_ctx("eu-west-1")) == []


def test_listing_follows_next_token_on_moto(aws, monkeypatch):
    for name in ("a.example", "b.example", "c.example"):
        aws.create_email_identity(EmailIdentity=name)
    monkeypatch.setattr(ses, "PAGE_SIZE", 2)
    ctx = make_ctx()

    assert sorted(item.id for item in ses.list_identities(ctx)) == ["a.example", "b.example", "c.example"]
    assert ctx.calls["sesv2:ListEmailIdentities"] == 2


def test_identity_deleted_between_listing_and_describe_is_skipped(aws, monkeypatch):
    aws.create_email_identity(EmailIdentity="keeper.example")
    aws.create_email_identity(EmailIdentity="doomed.example")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.sesv2.ListEmailIdentities",
            lambda **_: aws.delete_email_identity(EmailIdentity="doomed.example"),
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [item.id for item in ses.list_identities(ctx)] == ["keeper.example"]


# --- Stubber: verification states, check noise, paging, failures ---


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client("sesv2", region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(ses, "IDENTITY_WORKERS", 1)  # the stub answers in order
    return ctx, stub


def _entry(name: str, **extra: Any) -> dict[str, Any]:
    kind = "EMAIL_ADDRESS" if "@" in name else "DOMAIN"
    return {"IdentityType": kind, "IdentityName": name, "SendingEnabled": True,
            "VerificationStatus": "SUCCESS", **extra}


def _detail(**extra: Any) -> dict[str, Any]:
    checked = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    return {
        "IdentityType": "DOMAIN",
        "FeedbackForwardingStatus": True,
        "VerifiedForSendingStatus": True,
        "DkimAttributes": {
            "SigningEnabled": True, "Status": "SUCCESS", "Tokens": ["zzz111", "aaa222", "mmm333"],
            "SigningAttributesOrigin": "AWS_SES", "NextSigningKeyLength": "RSA_2048_BIT",
            "CurrentSigningKeyLength": "RSA_2048_BIT", "LastKeyGenerationTimestamp": checked,
        },
        "MailFromAttributes": {"MailFromDomain": "bounce.example.com", "MailFromDomainStatus": "SUCCESS",
                               "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
        "Policies": {},
        "VerificationStatus": "SUCCESS",
        "VerificationInfo": {"LastCheckedTimestamp": checked, "LastSuccessTimestamp": checked,
                             "SOARecord": {"PrimaryNameServer": "ns-1.awsdns-01.org",
                                           "AdminEmail": "awsdns-hostmaster.amazon.com", "SerialNumber": 7}},
        **extra,
    }


def test_dns_checks_and_key_rotation_are_ephemeral(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response(
        "list_email_identities", {"EmailIdentities": [_entry("example.com")]}, {"PageSize": 1000}
    )
    stub.add_response("get_email_identity", _detail(), {"EmailIdentity": "example.com"})
    stub.activate()

    (item,) = ses.list_identities(ctx)
    document = normalized(item)

    config = document.document["configuration"]
    assert "VerificationInfo" not in config
    assert "LastKeyGenerationTimestamp" not in config["DkimAttributes"]
    assert config["DkimAttributes"]["Tokens"] == ["aaa222", "mmm333", "zzz111"]
    assert config["MailFromAttributes"]["MailFromDomain"] == "bounce.example.com"
    assert document.ephemeral["configuration.VerificationInfo"]["SOARecord"]["SerialNumber"] == 7
    later = datetime.datetime(2024, 5, 2, tzinfo=datetime.UTC)
    rechecked = dataclasses.replace(item, configuration={
        **item.configuration,
        "VerificationInfo": {"LastCheckedTimestamp": later, "LastSuccessTimestamp": later,
                             "SOARecord": {"SerialNumber": 8}},
        "DkimAttributes": {**item.configuration["DkimAttributes"], "LastKeyGenerationTimestamp": later,
                           "Tokens": ["mmm333", "zzz111", "aaa222"]},
    })
    assert normalized(rechecked).content == document.content


def test_stubbed_listing_follows_every_token(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_email_identities", {"EmailIdentities": [_entry("a.example")], "NextToken": "t1"},
                      {"PageSize": 1000})
    stub.add_response("list_email_identities", {"EmailIdentities": [_entry("b@example.org")]},
                      {"PageSize": 1000, "NextToken": "t1"})
    stub.add_response("get_email_identity", _detail(), {"EmailIdentity": "a.example"})
    stub.add_response(
        "get_email_identity", _detail(IdentityType="EMAIL_ADDRESS"), {"EmailIdentity": "b@example.org"}
    )
    stub.activate()

    assert [item.id for item in ses.list_identities(ctx)] == ["a.example", "b@example.org"]
    stub.assert_no_pending_responses()


def test_a_token_that_repeats_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_email_identities", {"EmailIdentities": [_entry("a.example")], "NextToken": "t1"})
    stub.add_response("list_email_identities", {"EmailIdentities": [_entry("b.example")], "NextToken": "t1"})
    stub.activate()

    with pytest.raises(TruncatedListError):
        ses.list_identities(ctx)


@pytest.mark.parametrize(
    ("failing", "code"),
    [("list_email_identities", "AccessDeniedException"), ("get_email_identity", "TooManyRequestsException"),
     ("get_email_identity", "AccessDeniedException")],
)
def test_any_other_failure_raises(monkeypatch, failing, code):
    ctx, stub = _stubbed(monkeypatch)
    if failing == "get_email_identity":
        stub.add_response("list_email_identities", {"EmailIdentities": [_entry("a.example")]})
    stub.add_client_error(failing, service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        ses.list_identities(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_technology_metadata():
    assert not TECH.is_global
    assert set(TECH.iam_actions) == {"ses:ListEmailIdentities", "ses:GetEmailIdentity"}
    assert set(TECH.ephemeral_paths) == {"VerificationInfo", "DkimAttributes.LastKeyGenerationTimestamp"}
    assert "VerificationStatus" not in TECH.ephemeral_paths
    assert not TECH.secret_paths


# --- the rules on watcher output ---


def _findings(items) -> dict[str, set[tuple[str, str]]]:
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))
    return {item.id: {(f.rule_id, f.key) for f in rules.evaluate(normalized(item).document, None, audit)}
            for item in items}


def test_sending_policies_of_moto_identities_are_audited(aws):
    """moto verifies every identity at once, so only the sending policy, which lets an account
    the audit does not know send as the domain, is an issue (Security Monkey's resource-policy
    checks: unknown account 10, cross-account root 6)."""
    _domain(aws)
    aws.create_email_identity(EmailIdentity="ops@example.com")

    stranger = "arn:aws:iam::111111111111:root"
    assert _findings(ses.list_identities(make_ctx())) == {
        "example.com": {("ses.identity.policy-unknown-account", stranger),
                        ("ses.identity.policy-cross-account-root", stranger)},
        "ops@example.com": set(),
    }


def test_unverified_identities_fire_the_rule(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    entries = [_entry("pending.example", VerificationStatus="PENDING"),
               _entry("lost.example", VerificationStatus="FAILED"), _entry("fine.example")]
    stub.add_response("list_email_identities", {"EmailIdentities": entries})
    for entry, status in zip(entries, ("PENDING", "FAILED", "SUCCESS"), strict=True):
        stub.add_response("get_email_identity", _detail(VerificationStatus=status),
                          {"EmailIdentity": entry["IdentityName"]})
    stub.activate()

    found = _findings(ses.list_identities(ctx))

    assert found == {
        "pending.example": {("ses.identity.not-verified", "not-verified")},
        "lost.example": {("ses.identity.not-verified", "not-verified")},
        "fine.example": set(),
    }


# --- for the lead's garbled-answer test: one domain identity with a policy, in us-east-1 ---


def _seed_identity(client: Callable[..., Any]) -> None:
    sesv2 = client("sesv2")
    sesv2.create_email_identity(EmailIdentity="seed.example", Tags=[{"Key": "team", "Value": "mail"}])
    statement = {"Effect": "Allow", "Principal": "*", "Action": "ses:SendEmail", "Resource": "*"}
    sesv2.create_email_identity_policy(
        EmailIdentity="seed.example", PolicyName="anyone",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "ses.identity": _seed_identity,
}


def test_garble_seed_creates_an_identity(aws):
    def client(service: str, region_name: str = REGION) -> Any:
        return boto3.client(service, region_name=region_name)

    GARBLE_SEEDS["ses.identity"](client)
    (item,) = ses.list_identities(make_ctx())
    assert (item.id, list(item.configuration["Policies"])) == ("seed.example", ["anyone"])
