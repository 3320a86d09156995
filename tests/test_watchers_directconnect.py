"""directconnect.connection watcher against moto (and a botocore Stubber for paging, failures,
states and fields moto does not make): the fields recorded, tags, operational state kept out,
deleted connections left out, one call per region, and the MACsec rule on real output.

There is no per-connection call, so no connection can vanish between a listing and a describe."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.read.aws import SliceContext
from gitmonkey.watchers import directconnect, get_technology
from gitmonkey.watchers._common import TruncatedListError
from tests.helpers import normalized, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
TECH = get_technology("directconnect.connection")
RULE = "directconnect.connection.macsec-not-enforced"


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



def findings(item) -> set[tuple[str, str]]:
    rules = RuleSet.load({}, base_dir=Path.cwd())
    audit = AuditContext.from_config(
        {}, account_id=ACCOUNT, account_name="t", now=datetime(2030, 1, 1, tzinfo=UTC)
    )
    return {(f.rule_id, f.key) for f in rules.evaluate(normalized(item).document, None, audit)}


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("directconnect", region_name=REGION)


def aws_shaped(account: str, region: str, ident: str) -> None:
    """moto 5.2 answers ``hasLogicalRedundancy`` as a JSON boolean where AWS (and botocore's model)
    has a string (``yes`` / ``no`` / ``unknown``); the response checks let a scalar of another
    type through, but the document would then hold a value AWS never sends. This gives the
    connection moto stores the value AWS would hold.
    moto's server runs in this process, so this works for the garbled-answer test's server too."""
    from moto.directconnect.models import directconnect_backends

    directconnect_backends[account][region].connections[ident].has_logical_redundancy = "no"


def _dedicated(client, name: str = "core-dx", macsec: bool = True) -> str:
    ident = client.create_connection(
        location="EqDC2",
        bandwidth="10Gbps",
        connectionName=name,
        tags=[{"key": "Name", "value": f"{name}-tag"}, {"key": "team", "value": "network"}],
        requestMACSec=macsec,
    )["connectionId"]
    aws_shaped(ACCOUNT, client.meta.region_name, ident)
    return ident


# --- moto ---------------------------------------------------------------------------------------


def test_connection_fields(aws):
    ident = _dedicated(aws)
    ctx = make_ctx()

    (item,) = directconnect.list_connections(ctx)

    assert (item.technology, item.region, item.id, item.name) == (
        "directconnect.connection", REGION, ident, "core-dx",
    )
    assert item.arn == f"arn:aws:directconnect:{REGION}:{ACCOUNT}:dxcon/{ident}"
    config = item.configuration
    assert {k: config[k] for k in (
        "connectionId", "connectionName", "location", "bandwidth", "vlan", "partnerName",
        "macSecCapable", "encryptionMode", "jumboFrameCapable", "region",
    )} == {
        "connectionId": ident,
        "connectionName": "core-dx",
        "location": "EqDC2",
        "bandwidth": "10Gbps",
        "vlan": 0,
        "partnerName": "mock_partner",
        "macSecCapable": True,
        "encryptionMode": "must_encrypt",
        "jumboFrameCapable": False,
        "region": REGION,
    }
    assert [(k["secretARN"], k["ckn"]) for k in config["macSecKeys"]] == [("mock_secret_arn", "mock_ckn")]
    assert config["Tags"] == {"Name": "core-dx-tag", "team": "network"}
    assert "tags" not in config
    assert "ownerAccount" not in config  # moto omits it; the ARN then takes the slice's account
    assert dict(ctx.calls) == {"directconnect:DescribeConnections": 1}


def test_operational_fields_are_ephemeral_and_a_resync_is_identical(aws):
    _dedicated(aws)
    first = normalized(directconnect.list_connections(make_ctx())[0])
    again = normalized(directconnect.list_connections(make_ctx())[0])

    config = first.document["configuration"]
    for gone in ("connectionState", "loaIssueTime", "portEncryptionStatus"):
        assert gone not in config
    assert "state" not in config["macSecKeys"][0]
    assert first.ephemeral["configuration.connectionState"] == "available"
    assert first.ephemeral["configuration.portEncryptionStatus"] == "Encryption Down"
    assert first.ephemeral["configuration.macSecKeys.0.state"] == "associated"
    assert again.content == first.content


def test_encryption_mode_change_is_a_change(aws):
    ident = _dedicated(aws)
    before = normalized(directconnect.list_connections(make_ctx())[0])
    aws.update_connection(connectionId=ident, encryptionMode="should_encrypt")

    after = normalized(directconnect.list_connections(make_ctx())[0])

    assert after.content != before.content
    assert after.document["configuration"]["encryptionMode"] == "should_encrypt"


def test_deleted_connections_are_not_recorded(aws):
    kept = _dedicated(aws, "kept")
    doomed = _dedicated(aws, "doomed", macsec=False)
    aws.delete_connection(connectionId=doomed)
    assert {c["connectionId"]: c["connectionState"] for c in aws.describe_connections()["connections"]} == {
        kept: "available", doomed: "deleted",
    }

    assert [item.id for item in directconnect.list_connections(make_ctx())] == [kept]


def test_regions_are_apart_and_an_empty_region_costs_one_call(aws):
    _dedicated(aws)
    ctx = make_ctx("eu-west-1")
    assert directconnect.list_connections(ctx) == []
    assert dict(ctx.calls) == {"directconnect:DescribeConnections": 1}


def test_macsec_rule_on_moto_output(aws):
    enforced = _dedicated(aws, "enforced")
    relaxed = _dedicated(aws, "relaxed")
    aws.update_connection(connectionId=relaxed, encryptionMode="no_encrypt")
    plain = _dedicated(aws, "plain", macsec=False)  # not MACsec-capable: not reported

    items = {item.id: item for item in directconnect.list_connections(make_ctx())}

    assert findings(items[relaxed]) == {(RULE, "macsec-not-enforced")}
    assert findings(items[enforced]) == set()
    assert findings(items[plain]) == set()


# --- Stubber -------------------------------------------------------------------------------------


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = ctx.client("directconnect")
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def _connection(ident: str, **extra: Any) -> dict[str, Any]:
    return {
        "ownerAccount": ACCOUNT,
        "connectionId": ident,
        "connectionName": f"name-{ident}",
        "connectionState": "available",
        "region": REGION,
        "location": "EqDC2",
        "bandwidth": "100Gbps",
        "vlan": 0,
        "loaIssueTime": datetime(2024, 1, 1, tzinfo=UTC),
        "awsDeviceV2": "EqDC2-2abc3def4ghi",
        "awsLogicalDeviceId": "EqDC2-2abc3def4ghi",
        "hasLogicalRedundancy": "unknown",
        "jumboFrameCapable": True,
        "macSecCapable": True,
        "portEncryptionStatus": "Encryption Up",
        "encryptionMode": "must_encrypt",
        "macSecKeys": [
            {"secretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dx-b", "ckn": "bb",
             "state": "associated", "startOn": "2024-03-01T00:00:00Z"},
            {"secretARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:dx-a", "ckn": "aa",
             "state": "associating", "startOn": "2024-03-02T00:00:00Z"},
        ],
        "rateLimiterStatus": {"maxAllowed": 50, "inUse": 3, "remaining": 47, "totalBandwidth": "30Gbps"},
        "prefixPoolSizeIpv4": 1000,
        "prefixPoolUnallocatedCountIpv4": 900,
        "billingMode": "PayAsYouGo",
        "tags": [{"key": "env", "value": "prod"}],
        **extra,
    }


def test_pages_are_followed(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    first = {"connections": [_connection("dxcon-a")], "nextToken": "t1"}
    stub.add_response("describe_connections", first, {})
    stub.add_response("describe_connections", {"connections": [_connection("dxcon-b")]}, {"nextToken": "t1"})
    with stub:
        items = directconnect.list_connections(ctx)
        stub.assert_no_pending_responses()
    assert [item.id for item in items] == ["dxcon-a", "dxcon-b"]
    assert dict(ctx.calls) == {"directconnect:DescribeConnections": 2}


def test_a_repeated_page_token_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_connections", {"connections": [_connection("dxcon-a")], "nextToken": "t1"})
    stub.add_response("describe_connections", {"connections": [_connection("dxcon-b")], "nextToken": "t1"})
    with stub, pytest.raises(TruncatedListError):
        directconnect.list_connections(ctx)


@pytest.mark.parametrize("later_page", [False, True])
def test_a_failed_call_raises(monkeypatch, later_page):
    ctx, stub = _stubbed(monkeypatch)
    if later_page:
        first = {"connections": [_connection("dxcon-a")], "nextToken": "t1"}
        stub.add_response("describe_connections", first)
    stub.add_client_error("describe_connections", service_error_code="DirectConnectClientException",
                          service_message="Rate exceeded", http_status_code=400)
    with stub, pytest.raises(ClientError, match="Rate exceeded"):
        directconnect.list_connections(ctx)


def test_operational_changes_make_no_new_content(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    down = _connection(
        "dxcon-a",
        connectionState="down",
        loaIssueTime=datetime(2025, 6, 1, tzinfo=UTC),
        portEncryptionStatus="Encryption Down",
        rateLimiterStatus={"maxAllowed": 50, "inUse": 5, "remaining": 45, "totalBandwidth": "50Gbps"},
        prefixPoolUnallocatedCountIpv4=850,
    )
    down["macSecKeys"] = [dict(key, state="associated") for key in reversed(down["macSecKeys"])]
    stub.add_response("describe_connections", {"connections": [_connection("dxcon-a")]})
    stub.add_response("describe_connections", {"connections": [down]})
    with stub:
        (up,) = directconnect.list_connections(ctx)
        (moved,) = directconnect.list_connections(ctx)

    assert normalized(moved).content == normalized(up).content
    config = normalized(up).document["configuration"]
    assert config["rateLimiterStatus"] == {"maxAllowed": 50}
    assert [key["ckn"] for key in config["macSecKeys"]] == ["aa", "bb"]
    assert config["prefixPoolSizeIpv4"] == 1000 and "prefixPoolUnallocatedCountIpv4" not in config
    assert config["Tags"] == {"env": "prod"}


def test_rejected_connections_and_absent_tags(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    untagged = {k: v for k, v in _connection("dxcon-a").items() if k not in ("tags", "connectionName")}
    declined = _connection("dxcon-b", connectionState="rejected")
    stub.add_response("describe_connections", {"connections": [untagged, declined]})
    with stub:
        (item,) = directconnect.list_connections(ctx)
    assert (item.id, item.name) == ("dxcon-a", "dxcon-a")
    assert item.configuration["Tags"] == {}


def test_pending_states_are_recorded(monkeypatch):
    """A connection ordered but not yet up exists: it is recorded (its state is not)."""
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_connections", {"connections": [
        _connection(f"dxcon-{state}", connectionState=state)
        for state in ("ordering", "requested", "pending", "down", "deleting", "unknown")
    ]})
    with stub:
        items = directconnect.list_connections(ctx)
    assert len(items) == 6


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.iam_actions == ("directconnect:DescribeConnections",)
    assert not TECH.secret_paths
    assert dict(TECH.always_returned) == {"directconnect:DescribeConnections": ("connections",)}
    assert "connectionState" in TECH.ephemeral_paths and "encryptionMode" not in TECH.ephemeral_paths


def test_rule_reads_the_stubbed_shape_too(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    relaxed = _connection("dxcon-a", encryptionMode="should_encrypt")
    stub.add_response("describe_connections", {"connections": [relaxed]})
    with stub:
        (item,) = directconnect.list_connections(ctx)
    assert findings(item) == {(RULE, "macsec-not-enforced")}
    assert findings(dataclasses.replace(
        item, configuration=dict(item.configuration, encryptionMode="must_encrypt")
    )) == set()


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_connection(client: Callable[..., Any]) -> None:
    ident = client("directconnect").create_connection(
        location="EqDC2", bandwidth="10Gbps", connectionName="seed-dx",
        tags=[{"key": "team", "value": "network"}],
    )["connectionId"]
    aws_shaped(client("sts").get_caller_identity()["Account"], REGION, ident)


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "directconnect.connection": _seed_connection,
}


def test_garble_seed_makes_an_item(aws):
    _seed_connection(lambda service, region_name=REGION: boto3.client(service, region_name=region_name))
    assert [item.name for item in directconnect.list_connections(make_ctx())] == ["seed-dx"]
