"""Route 53 watchers against moto (and botocore Stubber for paging, failures and what moto does
not return): record sets of public and private zones (no collision across zones, escaped names,
values sorted), registered domains (contacts hashed, locks, renewal), races, cost, and the rules."""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import AuditContext, RuleSet
from gitmonkey.config import AccountConfig
from gitmonkey.model import GLOBAL_REGION
from gitmonkey.normalize import REDACTED_PREFIX
from gitmonkey.normalize.paths import item_path, parse_item_path
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.sync import run_sync
from gitmonkey.watchers import always_returned, route53, route53domains
from tests.helpers import git, make_config, normalized, slice_context

ACCOUNT = "123456789012"
REGION = "us-east-1"
ELB_ZONE = "Z35SXDOTRQ7X7K"
(RECORDS,) = route53.TECHNOLOGIES
(DOMAINS,) = route53domains.TECHNOLOGIES


def make_ctx() -> SliceContext:
    return slice_context(GLOBAL_REGION)



def rules_and_audit() -> tuple[RuleSet, AuditContext]:
    rules = RuleSet.load({}, base_dir=Path.cwd())
    return rules, AuditContext(ACCOUNT, "test", {}, (), datetime.datetime(2024, 6, 1, tzinfo=datetime.UTC))


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("route53", region_name=REGION)


def test_a_first_page_without_marker_is_readable_and_one_without_is_truncated_is_not(aws):
    """Route 53 (and moto) leave Marker out of a first ListHostedZones page although botocore's model
    marks it required; IsTruncated is declared always returned: a page without it would read as the
    last one."""
    _zone(aws)
    session = AccountSession(AccountConfig(name="test", id=ACCOUNT), max_attempts=1,
                             always_returned=always_returned())
    ctx = SliceContext(session, GLOBAL_REGION)
    assert len(route53.list_record_sets(ctx)) == 2  # the zone's NS and SOA

    def drop_is_truncated(response_dict: dict[str, Any], **_: Any) -> None:
        response_dict["body"] = re.sub(rb"<IsTruncated>\w+</IsTruncated>", b"", response_dict["body"])

    events = ctx.client("route53").meta.events
    events.register("before-parse.route53.ListResourceRecordSets", drop_is_truncated)
    with pytest.raises(UnreadableResponseError, match="IsTruncated"):
        route53.list_record_sets(ctx)


def _zone(client, name: str = "example.com", private: bool = False) -> str:
    extra: dict[str, Any] = {}
    if private:
        vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        extra = {"HostedZoneConfig": {"PrivateZone": True, "Comment": "inside"},
                 "VPC": {"VPCRegion": REGION, "VPCId": vpc}}
    zone = client.create_hosted_zone(Name=name, CallerReference=f"{name}-{private}", **extra)
    return route53.zone_id(zone["HostedZone"]["Id"])


def _upsert(client, zone: str, *records: dict[str, Any]) -> None:
    client.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record} for record in records]},
    )


def _a(name: str, *values: str, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": v} for v in values], **extra}


def _by_id(items) -> dict[str, Any]:
    return {item.id: item for item in items}


# --- route53.record_set ---


def test_same_name_in_a_public_and_a_private_zone_are_two_items(aws):
    public = _zone(aws)
    private = _zone(aws, private=True)
    _upsert(aws, public, _a("www.example.com", "203.0.113.10", "198.51.100.7"))
    _upsert(aws, private, _a("www.example.com", "10.0.0.10"))

    items = _by_id(route53.list_record_sets(make_ctx()))

    outside, inside = items[f"{public}/www.example.com./A"], items[f"{private}/www.example.com./A"]
    assert (outside.technology, outside.region, outside.name) == ("route53.record_set", "global",
                                                                  "www.example.com. A")
    assert outside.arn == f"arn:aws:route53:::hostedzone/{public}"
    assert inside.arn == f"arn:aws:route53:::hostedzone/{private}"
    assert outside.configuration == {
        "HostedZoneId": public,
        "HostedZoneName": "example.com.",
        "PrivateZone": False,
        "Name": "www.example.com.",
        "Type": "A",
        "TTL": 300,
        "ResourceRecords": [{"Value": "203.0.113.10"}, {"Value": "198.51.100.7"}],
    }
    assert inside.configuration["PrivateZone"] is True
    assert inside.configuration["ResourceRecords"] == [{"Value": "10.0.0.10"}]
    # the zones' own NS and SOA records are items too
    own = {f"{public}/example.com./NS", f"{public}/example.com./SOA", f"{private}/example.com./NS"}
    assert own <= set(items)
    assert item_path("global", "route53.record_set", outside.id) != item_path("global", "route53.record_set",
                                                                                inside.id)


def test_routing_policies_alias_and_wildcards(aws):
    zone = _zone(aws)
    _upsert(
        aws, zone,
        _a("api.example.com", "192.0.2.1", SetIdentifier="blue", Weight=90),
        _a("api.example.com", "192.0.2.2", SetIdentifier="green", Weight=10),
        {"Name": "*.example.com", "Type": "CNAME", "TTL": 60,
         "ResourceRecords": [{"Value": "www.example.com"}]},
        {"Name": "lb.example.com", "Type": "A", "AliasTarget": {
            "HostedZoneId": ELB_ZONE, "DNSName": "web-123.us-east-1.elb.amazonaws.com",
            "EvaluateTargetHealth": True}},
    )

    items = _by_id(route53.list_record_sets(make_ctx()))

    blue = items[f"{zone}/api.example.com./A/blue"]
    assert blue.name == "api.example.com. A [blue]"
    assert (blue.configuration["SetIdentifier"], blue.configuration["Weight"]) == ("blue", 90)
    assert items[f"{zone}/api.example.com./A/green"].configuration["Weight"] == 10
    wildcard = items[f"{zone}/*.example.com./CNAME"]
    assert wildcard.name == "*.example.com. CNAME"
    alias = items[f"{zone}/lb.example.com./A"].configuration
    assert alias["AliasTarget"]["DNSName"].startswith("web-123")
    assert "ResourceRecords" not in alias and "TTL" not in alias
    for item in items.values():
        location = parse_item_path(item_path(item.region, item.technology, item.id))
        assert location.id == item.id  # the store's escaping round-trips "/" and "*"


def test_document_sorts_values_and_resync_is_identical(aws):
    zone = _zone(aws)
    _upsert(aws, zone, _a("www.example.com", "203.0.113.10", "198.51.100.7", "192.0.2.44"))
    key = f"{zone}/www.example.com./A"

    first = normalized(_by_id(route53.list_record_sets(make_ctx()))[key])
    again = normalized(_by_id(route53.list_record_sets(make_ctx()))[key])
    _upsert(aws, zone, _a("www.example.com", "192.0.2.44", "203.0.113.10", "198.51.100.7"))
    reordered = normalized(_by_id(route53.list_record_sets(make_ctx()))[key])

    assert first.document["configuration"]["ResourceRecords"] == [
        {"Value": "192.0.2.44"}, {"Value": "198.51.100.7"}, {"Value": "203.0.113.10"}]
    assert first.ephemeral == {}
    assert again.content == first.content
    assert reordered.content == first.content


def test_one_listing_call_and_one_records_call_per_zone(aws):
    for n in range(3):
        _upsert(aws, _zone(aws, f"zone{n}.example"), _a(f"www.zone{n}.example", "192.0.2.1"))
    ctx = make_ctx()

    items = route53.list_record_sets(ctx)

    assert len(items) == 3 * 3  # NS, SOA and one A record per zone
    assert dict(ctx.calls) == {"route53:ListHostedZones": 1, "route53:ListResourceRecordSets": 3}


def test_no_zone_is_an_empty_list(aws):
    assert route53.list_record_sets(make_ctx()) == []


def test_zone_deleted_between_listing_and_its_records_is_skipped(aws, monkeypatch):
    keeper = _zone(aws, "keeper.example")
    doomed = _zone(aws, "doomed.example")
    ctx = make_ctx()
    make_client = ctx.client

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register(
            "after-call.route53.ListHostedZones", lambda **_: aws.delete_hosted_zone(Id=doomed)
        )
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert {item.configuration["HostedZoneId"] for item in route53.list_record_sets(ctx)} == {keeper}


def _stubbed(monkeypatch, service: str) -> tuple[SliceContext, Stubber]:
    ctx = make_ctx()
    client = boto3.client(service, region_name=REGION)
    stub = Stubber(client)
    monkeypatch.setattr(ctx, "client", lambda name, region=None: client)
    return ctx, stub


def _hosted_zone(ident: str, name: str = "example.com.", private: bool = False) -> dict[str, Any]:
    return {"Id": f"/hostedzone/{ident}", "Name": name, "CallerReference": ident,
            "Config": {"PrivateZone": private}, "ResourceRecordSetCount": 3}


def _zones_page(*zones: dict[str, Any], next_marker: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"HostedZones": list(zones), "IsTruncated": next_marker is not None,
                            "Marker": "", "MaxItems": "100"}
    if next_marker:
        page["NextMarker"] = next_marker
    return page


def test_both_listings_follow_their_markers(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, "route53")
    stub.add_response("list_hosted_zones", _zones_page(_hosted_zone("ZONEA"), next_marker="ZONEB"))
    stub.add_response(
        "list_hosted_zones", _zones_page(_hosted_zone("ZONEB", "example.org.")), {"Marker": "ZONEB"}
    )
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": [_a("a.example.com.", "192.0.2.1")], "IsTruncated": True, "MaxItems": "1",
         "NextRecordName": "b.example.com.", "NextRecordType": "A", "NextRecordIdentifier": "west"},
        {"HostedZoneId": "/hostedzone/ZONEA"},
    )
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": [_a("b.example.com.", "192.0.2.2", SetIdentifier="west", Region="us-west-2")],
         "IsTruncated": False, "MaxItems": "1"},
        {"HostedZoneId": "/hostedzone/ZONEA", "StartRecordName": "b.example.com.", "StartRecordType": "A",
         "StartRecordIdentifier": "west"},
    )
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": [_a("c.example.org.", "192.0.2.3")], "IsTruncated": False, "MaxItems": "300"},
        {"HostedZoneId": "/hostedzone/ZONEB"},
    )
    stub.activate()

    items = route53.list_record_sets(ctx)

    stub.assert_no_pending_responses()
    assert [item.id for item in items] == [
        "ZONEA/a.example.com./A", "ZONEA/b.example.com./A/west", "ZONEB/c.example.org./A"]


def test_octal_escaped_names_keep_their_id_and_read_well(monkeypatch):
    """AWS (unlike moto) returns a wildcard as \\052 and other special characters as octal escapes."""
    ctx, stub = _stubbed(monkeypatch, "route53")
    stub.add_response("list_hosted_zones", _zones_page(_hosted_zone("ZONEA")))
    weird = {"Name": "\\052.svc\\057a.example.com.", "Type": "TXT", "TTL": 60,
             "ResourceRecords": [{"Value": '"v=spf1 -all"'}], "SetIdentifier": "eu/1 ü"}
    stub.add_response("list_resource_record_sets",
                      {"ResourceRecordSets": [weird], "IsTruncated": False, "MaxItems": "300"})
    stub.activate()

    (item,) = route53.list_record_sets(ctx)

    assert item.id == "ZONEA/\\052.svc\\057a.example.com./TXT/eu/1 ü"
    assert item.name == "*.svc/a.example.com. TXT [eu/1 ü]"
    path = item_path(item.region, item.technology, item.id)
    assert path.count("/") == 4 and path.isascii()
    assert parse_item_path(path).id == item.id


@pytest.mark.parametrize(
    ("spelled", "shown"),
    [
        ("\\052.example.com.", "*.example.com."),
        ("ex\\344mple.com.", "exämple.com."),  # Route 53's own example: one escape per Latin-1 byte
        ("ex\\303\\244mple.com.", "exämple.com."),  # UTF-8 bytes
        ("xn--exmple-cua.com.", "xn--exmple-cua.com."),  # punycode stays punycode
        ("a\\000b.example.com.", "a\\000b.example.com."),  # never a control character in a name
    ],
)
def test_display_name(spelled, shown):
    assert route53.display_name(spelled) == shown


@pytest.mark.parametrize(
    ("failing", "code"),
    [("list_hosted_zones", "AccessDenied"), ("list_resource_record_sets", "Throttling"),
     ("list_resource_record_sets", "AccessDenied")],
)
def test_any_other_failure_raises(monkeypatch, failing, code):
    ctx, stub = _stubbed(monkeypatch, "route53")
    if failing == "list_resource_record_sets":
        stub.add_response("list_hosted_zones", _zones_page(_hosted_zone("ZONEA")))
    stub.add_client_error(failing, service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        route53.list_record_sets(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_record_set_technology_metadata():
    assert RECORDS.is_global
    assert set(RECORDS.iam_actions) == {"route53:ListHostedZones", "route53:ListResourceRecordSets"}
    assert RECORDS.unordered_paths == ("ResourceRecords",)
    assert not RECORDS.ephemeral_paths and not RECORDS.secret_paths


def test_private_address_rule_on_moto_records(aws):
    public = _zone(aws)
    private = _zone(aws, private=True)
    _upsert(
        aws, public,
        _a("db.example.com", "10.1.2.3", "203.0.113.5"),
        {"Name": "app.example.com", "Type": "CNAME", "TTL": 60,
         "ResourceRecords": [{"Value": "internal-app-1234.us-east-1.elb.amazonaws.com"}]},
        {"Name": "api.example.com", "Type": "A", "AliasTarget": {
            "HostedZoneId": ELB_ZONE, "DNSName": "dualstack.internal-api-99.us-east-1.elb.amazonaws.com",
            "EvaluateTargetHealth": False}},
        _a("www.example.com", "203.0.113.10"),
        {"Name": "v6.example.com", "Type": "AAAA", "TTL": 60, "ResourceRecords": [{"Value": "fd12:3456::1"}]},
    )
    _upsert(aws, private, _a("db.example.com", "10.1.2.3"))
    rules, audit = rules_and_audit()

    found = {}
    for item in route53.list_record_sets(make_ctx()):
        document = normalized(item).document
        found[item.id] = {(f.rule_id, f.key) for f in rules.evaluate(document, None, audit)}

    rule = "route53.record_set.private-address-in-public-zone"
    assert found[f"{public}/db.example.com./A"] == {(rule, "10.1.2.3")}
    assert found[f"{public}/app.example.com./CNAME"] == {
        (rule, "internal-app-1234.us-east-1.elb.amazonaws.com")}
    assert found[f"{public}/api.example.com./A"] == {
        (rule, "dualstack.internal-api-99.us-east-1.elb.amazonaws.com")}
    assert found[f"{public}/v6.example.com./AAAA"] == {(rule, "fd12:3456::1")}
    assert found[f"{public}/www.example.com./A"] == set()
    assert found[f"{private}/db.example.com./A"] == set()
    assert not any(found[key] for key in found if key.endswith(("/NS", "/SOA")))


# --- route53domains.domain ---

PERSON = {
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "ContactType": "PERSON",
    "AddressLine1": "12 St James's Square",
    "City": "London",
    "CountryCode": "GB",
    "ZipCode": "SW1Y 4JH",
    "PhoneNumber": "+44.2071234567",
    "Email": "ada.lovelace@example.net",
}
PERSONAL_VALUES = ("Ada", "Lovelace", "St James", "London", "SW1Y", "2071234567", "ada.lovelace")


@pytest.fixture
def domains():
    with mock_aws():
        yield boto3.client("route53domains", region_name=REGION)


def _register(client, name: str = "example.com", **extra: Any) -> None:
    params: dict[str, Any] = {
        "DomainName": name,
        "DurationInYears": 2,  # moto refuses 1 year (its expiry check is off by a day)
        "AutoRenew": True,
        "AdminContact": PERSON,
        "RegistrantContact": PERSON,
        "TechContact": PERSON,
        "PrivacyProtectAdminContact": True,
        "PrivacyProtectRegistrantContact": True,
        "PrivacyProtectTechContact": True,
    }
    params.update(extra)
    client.register_domain(**params)


def test_domain_fields_and_contacts_hashed(domains):
    _register(domains, AutoRenew=False, PrivacyProtectRegistrantContact=False)

    (item,) = route53domains.list_domains(make_ctx())
    document = normalized(item)

    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        "route53domains.domain", "global", "example.com", "example.com", "")
    config = document.document["configuration"]
    assert (config["AutoRenew"], config["TransferLock"]) == (False, True)
    assert (config["AdminPrivacy"], config["RegistrantPrivacy"], config["TechPrivacy"]) == (True, False, True)
    assert isinstance(item.configuration["ExpirationDate"], datetime.datetime)
    assert config["ExpirationDate"].endswith("Z")
    assert config["RegistrarName"] and len(config["Nameservers"]) == 4
    assert config["Nameservers"] == sorted(config["Nameservers"], key=lambda ns: ns["Name"])
    for contact in ("AdminContact", "RegistrantContact", "TechContact", "BillingContact"):
        assert config[contact]["ContactType"] == "PERSON"
        assert config[contact]["CountryCode"] == "GB"
        for field in ("FirstName", "LastName", "AddressLine1", "City", "ZipCode", "PhoneNumber", "Email"):
            assert config[contact][field].startswith(REDACTED_PREFIX), (contact, field)
    for value in PERSONAL_VALUES:
        assert value.encode() not in document.content
    assert "StatusList" not in config
    assert "configuration.StatusList" in document.ephemeral


def test_domain_resync_is_identical_and_a_new_registrant_email_is_a_change(domains):
    _register(domains)
    first = normalized(route53domains.list_domains(make_ctx())[0])
    again = normalized(route53domains.list_domains(make_ctx())[0])
    (item,) = route53domains.list_domains(make_ctx())
    hijacked = dataclasses.replace(item, configuration={
        **item.configuration, "RegistrantContact": {**item.configuration["RegistrantContact"],
                                                    "Email": "new-owner@example.org"}})

    changed = normalized(hijacked)

    assert again.content == first.content
    assert changed.content != first.content
    assert (changed.document["configuration"]["RegistrantContact"]["Email"]
            != first.document["configuration"]["RegistrantContact"]["Email"])
    assert b"new-owner" not in changed.content


def test_domain_calls(domains):
    for name in ("example.com", "example.net", "example.org"):
        _register(domains, name)
    ctx = make_ctx()

    names = [item.id for item in route53domains.list_domains(ctx)]
    assert names == ["example.com", "example.net", "example.org"]
    assert dict(ctx.calls) == {"route53domains:ListDomains": 1, "route53domains:GetDomainDetail": 3}


def test_no_domain_is_an_empty_list(domains):
    assert route53domains.list_domains(make_ctx()) == []


def test_domain_gone_between_listing_and_detail_is_skipped_after_a_second_listing(domains, monkeypatch):
    _register(domains, "keeper.com")
    _register(domains, "doomed.com")
    monkeypatch.setattr(route53domains, "DETAIL_WORKERS", 1)
    ctx = make_ctx()
    make_client = ctx.client
    deleted: list[bool] = []

    def delete_once(**_: Any) -> None:
        if not deleted:
            deleted.append(True)
            domains.delete_domain(DomainName="doomed.com")

    def client_that_races_a_deletion(service, region=None):
        client = make_client(service, region)
        client.meta.events.register("after-call.route53domains.ListDomains", delete_once)
        return client

    monkeypatch.setattr(ctx, "client", client_that_races_a_deletion)

    assert [item.id for item in route53domains.list_domains(ctx)] == ["keeper.com"]
    assert dict(ctx.calls) == {"route53domains:ListDomains": 2, "route53domains:GetDomainDetail": 2}


def test_sync_keeps_personal_data_out_of_git_and_resync_makes_no_commit(domains, tmp_path):
    _register(domains, AutoRenew=False)  # moto makes the domain's hosted zone too
    config = make_config(tmp_path, accounts=[{"name": "prod", "id": ACCOUNT, "regions": [REGION]}])
    technologies = ["route53domains.domain", "route53.record_set"]

    first = run_sync(config, technologies=technologies)
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    again = run_sync(config, technologies=technologies)

    assert (first.exit_code, again.exit_code) == (0, 0), again.to_dict()
    assert git(repo, "rev-parse", "HEAD") == head
    everything = git(repo, "log", "-p", "--all")
    files = git(repo, "ls-files")
    assert "items/global/route53domains/domain/example.com.json" in files
    assert "items/global/route53/record_set/" in files
    assert "auto-renew" in everything  # the issue file
    for value in PERSONAL_VALUES:
        assert value not in everything


def _summary(name: str, **extra: Any) -> dict[str, Any]:
    return {"DomainName": name, "AutoRenew": True, "TransferLock": True, **extra}


def _detail(name: str, **extra: Any) -> dict[str, Any]:
    contact = {"ContactType": "COMPANY", "OrganizationName": "Example Ltd", "CountryCode": "GB",
               "Email": "hostmaster@example.com",
               "ExtraParams": [{"Name": "VAT_NUMBER", "Value": "GB123456789"}]}
    return {
        "DomainName": name,
        "Nameservers": [{"Name": "ns-2.awsdns-02.net"}, {"Name": "ns-1.awsdns-01.org", "GlueIps": []}],
        "AutoRenew": True,
        "AdminContact": contact, "RegistrantContact": contact, "TechContact": contact,
        "AdminPrivacy": True, "RegistrantPrivacy": True, "TechPrivacy": True,
        "ExpirationDate": datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC),
        "UpdatedDate": datetime.datetime(2024, 3, 1, tzinfo=datetime.UTC),
        "StatusList": ["clientTransferProhibited", "autoRenewPeriod", "clientDeleteProhibited"],
        **extra,
    }


def test_domain_listing_follows_markers_and_ephemeral_statuses(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, "route53domains")
    monkeypatch.setattr(route53domains, "DETAIL_WORKERS", 1)
    stub.add_response("list_domains", {"Domains": [_summary("a.com")], "NextPageMarker": "p2"},
                      {"MaxItems": 100})
    stub.add_response("list_domains", {"Domains": [_summary("b.com", TransferLock=False)]},
                      {"Marker": "p2", "MaxItems": 100})
    stub.add_response("get_domain_detail", _detail("a.com"), {"DomainName": "a.com"})
    stub.add_response("get_domain_detail", _detail("b.com", StatusList=["ok"]), {"DomainName": "b.com"})
    stub.activate()

    first, second = route53domains.list_domains(ctx)

    stub.assert_no_pending_responses()
    document = normalized(first)
    config = document.document["configuration"]
    assert config["TransferLock"] is True
    assert config["LockStatuses"] == ["clientDeleteProhibited", "clientTransferProhibited"]
    assert "UpdatedDate" not in config and "StatusList" not in config
    assert config["ExpirationDate"] == "2025-03-01T00:00:00Z"
    assert config["AdminContact"]["OrganizationName"] == "Example Ltd"
    assert config["AdminContact"]["ExtraParams"][0]["Name"] == "VAT_NUMBER"
    assert config["AdminContact"]["ExtraParams"][0]["Value"].startswith(REDACTED_PREFIX)
    assert b"GB123456789" not in document.content and b"hostmaster" not in document.content
    assert [ns["Name"] for ns in config["Nameservers"]] == ["ns-1.awsdns-01.org", "ns-2.awsdns-02.net"]
    assert (second.configuration["TransferLock"], second.configuration["LockStatuses"]) == (False, [])
    # the grace period ending is no change
    later = dataclasses.replace(first, configuration={
        **first.configuration, "StatusList": ["clientDeleteProhibited", "clientTransferProhibited"],
        "UpdatedDate": datetime.datetime(2024, 4, 15, tzinfo=datetime.UTC)})
    assert normalized(later).content == document.content


def test_transfer_lock_falls_back_to_the_status_list(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, "route53domains")
    stub.add_response("list_domains", {"Domains": [{"DomainName": "a.com"}]})
    stub.add_response("get_domain_detail", _detail("a.com"), {"DomainName": "a.com"})
    stub.activate()

    (item,) = route53domains.list_domains(ctx)

    assert item.configuration["TransferLock"] is True


def test_invalid_input_for_a_still_listed_domain_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch, "route53domains")
    stub.add_response("list_domains", {"Domains": [_summary("a.com")]})
    stub.add_client_error("get_domain_detail", service_error_code="InvalidInput", http_status_code=400)
    stub.add_response("list_domains", {"Domains": [_summary("a.com")]})
    stub.activate()

    with pytest.raises(ClientError, match="InvalidInput"):
        route53domains.list_domains(ctx)
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("failing", "code"),
    [("list_domains", "AccessDeniedException"), ("get_domain_detail", "ThrottlingException"),
     ("get_domain_detail", "UnsupportedTLD")],
)
def test_domain_failures_raise(monkeypatch, failing, code):
    ctx, stub = _stubbed(monkeypatch, "route53domains")
    if failing == "get_domain_detail":
        stub.add_response("list_domains", {"Domains": [_summary("a.com")]})
    stub.add_client_error(failing, service_error_code=code, http_status_code=400)
    stub.activate()

    with pytest.raises(ClientError) as info:
        route53domains.list_domains(ctx)
    assert info.value.response["Error"]["Code"] == code


def test_domain_technology_metadata():
    assert DOMAINS.is_global
    assert set(DOMAINS.iam_actions) == {"route53domains:ListDomains", "route53domains:GetDomainDetail"}
    assert set(DOMAINS.ephemeral_paths) == {"UpdatedDate", "StatusList"}
    assert "ExpirationDate" not in DOMAINS.ephemeral_paths
    assert "RegistrantContact.Email" in DOMAINS.secret_paths
    assert "BillingContact.ExtraParams.*.Value" in DOMAINS.secret_paths
    clear = ("ContactType", "CountryCode", "OrganizationName")
    assert not any(path.endswith(clear) for path in DOMAINS.secret_paths)


def test_domain_rules_on_moto_and_stubbed_domains(domains, monkeypatch):
    _register(domains, "careful.com")
    _register(domains, "sloppy.com", AutoRenew=False, PrivacyProtectTechContact=False)
    rules, audit = rules_and_audit()

    def findings(item) -> set[tuple[str, str]]:
        return {(f.rule_id, f.key) for f in rules.evaluate(normalized(item).document, None, audit)}

    found = {item.id: findings(item) for item in route53domains.list_domains(make_ctx())}

    assert found["careful.com"] == set()
    assert found["sloppy.com"] == {
        ("route53domains.domain.auto-renew-disabled", "auto-renew"),
        ("route53domains.domain.privacy-protection-disabled", "privacy-protection"),
    }
    # moto always reports the transfer lock on; AWS can say otherwise
    ctx, stub = _stubbed(monkeypatch, "route53domains")
    stub.add_response("list_domains", {"Domains": [_summary("open.com", TransferLock=False)]})
    stub.add_response("get_domain_detail", _detail("open.com", StatusList=["ok"]), {"DomainName": "open.com"})
    stub.activate()
    (item,) = route53domains.list_domains(ctx)
    assert findings(item) == {("route53domains.domain.transfer-lock-disabled", "transfer-lock")}


# --- for the lead's garbled-answer test ---


def _seed_record_set(client: Callable[..., Any]) -> None:
    """A public zone with an A record pointing to a private address (an issue, score 1)."""
    r53 = client("route53")
    zone = r53.create_hosted_zone(Name="seed.example", CallerReference="seed-zone")["HostedZone"]["Id"]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": _a("db.seed.example", "10.20.30.40")}]})


def _seed_domain(client: Callable[..., Any]) -> None:
    """A registered domain (moto also makes its hosted zone) with auto-renew off (an issue, score 1)."""
    client("route53domains").register_domain(
        DomainName="seed-domain.com", DurationInYears=2, AutoRenew=False, AdminContact=PERSON,
        RegistrantContact=PERSON, TechContact=PERSON, PrivacyProtectAdminContact=True,
        PrivacyProtectRegistrantContact=True, PrivacyProtectTechContact=True,
    )


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "route53.record_set": _seed_record_set,
    "route53domains.domain": _seed_domain,
}


def test_garble_seeds_create_items(aws):
    def client(service: str, region_name: str = REGION) -> Any:
        return boto3.client(service, region_name=region_name)

    for seed in GARBLE_SEEDS.values():
        seed(client)
    records = route53.list_record_sets(make_ctx())
    assert any(item.configuration["Name"] == "db.seed.example." for item in records)
    assert [item.id for item in route53domains.list_domains(make_ctx())] == ["seed-domain.com"]
