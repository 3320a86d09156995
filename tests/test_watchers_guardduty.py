"""GuardDuty posture watcher (guardduty.status) against moto, and a botocore Stubber for paging,
a detector deleted between the calls and failures: one item per region that always exists."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import get_technology
from gitmonkey.watchers import guardduty as guardduty_watcher
from tests.helpers import builtin_findings, normalized, slice_context

REGION = "us-east-1"
TECH = get_technology("guardduty.status")


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("guardduty", region_name=REGION)


def _read(region: str = REGION) -> tuple[Any, SliceContext]:
    ctx = slice_context(region)
    (item,) = guardduty_watcher.list_status(ctx)
    return item, ctx


def test_region_without_detector_is_an_item_that_fires(aws):
    item, ctx = _read()
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        TECH.name,
        REGION,
        REGION,
        REGION,
        "",
    )
    assert item.configuration == {"Detectors": []}
    assert dict(ctx.calls) == {"guardduty:ListDetectors": 1}
    expected = [("guardduty.status.not-enabled", f"no enabled GuardDuty detector in {REGION}")]
    assert builtin_findings(item) == expected


def test_enabled_detector_is_recorded_and_passes(aws):
    detector_id = aws.create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", Tags={"owner": "sec"}
    )["DetectorId"]
    item, ctx = _read()
    (detector,) = item.configuration["Detectors"]
    assert detector["DetectorId"] == detector_id
    assert detector["Status"] == "ENABLED"
    assert detector["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert detector["Tags"] == {"owner": "sec"}
    assert detector["ServiceRole"].endswith("AWSServiceRoleForAmazonGuardDuty")
    assert "CloudTrail" in detector["DataSources"]
    assert dict(ctx.calls) == {"guardduty:ListDetectors": 1, "guardduty:GetDetector": 1}
    assert builtin_findings(item) == []


def test_timestamps_are_ephemeral_and_resync_is_identical(aws):
    aws.create_detector(Enable=True)
    first, _ = _read()
    doc = normalized(first)
    (recorded,) = doc.document["configuration"]["Detectors"]
    assert "CreatedAt" not in recorded and "UpdatedAt" not in recorded
    assert "configuration.Detectors.0.UpdatedAt" in doc.ephemeral
    second, _ = _read()
    assert normalized(second).content == doc.content
    (detector,) = first.configuration["Detectors"]
    later = dict(detector, UpdatedAt=datetime(2031, 1, 1, tzinfo=UTC))
    moved = dataclasses.replace(first, configuration={"Detectors": [later]})
    assert normalized(moved).content == doc.content


def test_suspended_detector_is_a_change_and_fires(aws):
    detector_id = aws.create_detector(Enable=True)["DetectorId"]
    before, _ = _read()
    aws.update_detector(DetectorId=detector_id, Enable=False)
    after, _ = _read()
    assert after.configuration["Detectors"][0]["Status"] == "DISABLED"
    assert normalized(after).content != normalized(before).content
    assert [rule for rule, _ in builtin_findings(after)] == ["guardduty.status.not-enabled"]


def test_other_regions_are_their_own_items(aws):
    aws.create_detector(Enable=True)
    item, _ = _read("eu-west-1")
    assert (item.id, item.configuration) == ("eu-west-1", {"Detectors": []})


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = slice_context(REGION)
    client = boto3.client("guardduty", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, stub


def _detector_answer(status: str = "ENABLED") -> dict[str, Any]:
    return {"ServiceRole": "arn:aws:iam::123456789012:role/gd", "Status": status, "Tags": {}}


def test_paging_and_a_detector_gone_between_the_calls(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_detectors", {"DetectorIds": ["a" * 32], "NextToken": "t"}, {})
    stub.add_response("list_detectors", {"DetectorIds": ["b" * 32]}, {"NextToken": "t"})
    stub.add_response("get_detector", _detector_answer(), {"DetectorId": "a" * 32})
    stub.add_client_error(
        "get_detector",
        "BadRequestException",
        "The request is rejected because the input detectorId is not owned by the current account.",
        400,
    )
    with stub:
        (item,) = guardduty_watcher.list_status(ctx)
    stub.assert_no_pending_responses()
    assert [d["DetectorId"] for d in item.configuration["Detectors"]] == ["a" * 32]


@pytest.mark.parametrize(
    ("operation", "code", "message"),
    [
        ("list_detectors", "AccessDeniedException", "denied"),
        ("list_detectors", "ThrottlingException", "slow down"),
        ("get_detector", "AccessDeniedException", "denied"),
        (
            "get_detector",
            "BadRequestException",
            "The request is rejected because an invalid parameter was given.",
        ),
    ],
)
def test_failures_raise(monkeypatch, operation, code, message):
    ctx, stub = _stubbed(monkeypatch)
    if operation == "get_detector":
        stub.add_response("list_detectors", {"DetectorIds": ["a" * 32]}, {})
    stub.add_client_error(operation, code, message, 400)
    with stub, pytest.raises(ClientError):
        guardduty_watcher.list_status(ctx)


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.iam_actions == ("guardduty:ListDetectors", "guardduty:GetDetector")
    assert not TECH.secret_paths
    assert dict(TECH.always_returned) == {"guardduty:ListDetectors": ("DetectorIds",)}


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_guardduty(client: Callable[..., Any]) -> None:
    client("guardduty").create_detector(Enable=True, Tags={"owner": "sec"})


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {"guardduty.status": _seed_guardduty}


def test_garble_seed_makes_an_item(aws):
    _seed_guardduty(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    item, _ = _read()
    assert len(item.configuration["Detectors"]) == 1
