"""Security Hub posture watcher (securityhub.status) against moto, and a botocore Stubber for
failures: one item per region that always exists, "not subscribed" read as ``Enabled: false``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import get_technology
from gitmonkey.watchers import securityhub as securityhub_watcher
from tests.helpers import builtin_findings, normalized, slice_context

REGION = "us-east-1"
TECH = get_technology("securityhub.status")


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("securityhub", region_name=REGION)


def _read(region: str = REGION) -> tuple[Any, SliceContext]:
    ctx = slice_context(region)
    (item,) = securityhub_watcher.list_status(ctx)
    return item, ctx


def test_not_subscribed_is_an_item_that_fires(aws):
    item, ctx = _read()
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        TECH.name,
        REGION,
        REGION,
        REGION,
        "",
    )
    assert item.configuration == {"Enabled": False}
    assert dict(ctx.calls) == {"securityhub:DescribeHub": 1}
    expected = [("securityhub.status.not-enabled", f"Security Hub is not enabled in {REGION}")]
    assert builtin_findings(item) == expected


def test_subscribed_hub_is_recorded_and_passes(aws):
    aws.enable_security_hub(EnableDefaultStandards=False)
    item, ctx = _read()
    hub_arn = f"arn:aws:securityhub:{REGION}:123456789012:hub/default"
    assert item.arn == hub_arn
    config = item.configuration
    assert set(config) == {
        "Enabled",
        "HubArn",
        "SubscribedAt",
        "AutoEnableControls",
        "ControlFindingGenerator",
    }
    assert config["Enabled"] is True
    assert config["HubArn"] == hub_arn
    assert config["SubscribedAt"]
    assert config["AutoEnableControls"] is True
    assert config["ControlFindingGenerator"] == "SECURITY_CONTROL"
    assert dict(ctx.calls) == {"securityhub:DescribeHub": 1}
    assert builtin_findings(item) == []
    again, _ = _read()
    assert normalized(again).content == normalized(item).content


def test_disabling_is_a_change(aws):
    aws.enable_security_hub()
    before, _ = _read()
    aws.disable_security_hub()
    after, _ = _read()
    assert after.configuration == {"Enabled": False}
    assert normalized(after).content != normalized(before).content


def test_other_regions_are_their_own_items(aws):
    aws.enable_security_hub()
    item, _ = _read("eu-west-1")
    assert (item.id, item.configuration) == ("eu-west-1", {"Enabled": False})


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = slice_context(REGION)
    client = boto3.client("securityhub", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


def test_real_aws_not_subscribed_message(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error(
        "describe_hub",
        "InvalidAccessException",
        "Account 123456789012 is not subscribed to AWS Security Hub",
        401,
    )
    with stub:
        (item,) = securityhub_watcher.list_status(ctx)
    assert item.configuration == {"Enabled": False}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "User is not authorized to perform: securityhub:DescribeHub"),
        ("InvalidAccessException", "The request was rejected for another reason"),
        ("ThrottlingException", "Rate exceeded"),
        ("InternalException", "oops"),
    ],
)
def test_failures_raise(monkeypatch, code, message):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("describe_hub", code, message, 400)
    with stub, pytest.raises(ClientError):
        securityhub_watcher.list_status(ctx)


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.iam_actions == ("securityhub:DescribeHub",)
    assert not TECH.secret_paths and not TECH.ephemeral_paths


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_securityhub(client: Callable[..., Any]) -> None:
    client("securityhub").enable_security_hub(EnableDefaultStandards=False)


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"securityhub.status": _seed_securityhub}


def test_garble_seed_makes_an_item(aws):
    _seed_securityhub(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    item, _ = _read()
    assert item.configuration["Enabled"] is True
