"""AWS Organizations watchers (organizations.account, .unit, .policy) against moto's Organizations
and botocore Stubbers: the tree with nested OUs, where each account sits, the policies with their
content and targets, only in the management account, every failure raising."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.config import AccountConfig
from gitmonkey.model import GLOBAL_REGION
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import get_technology
from gitmonkey.watchers import organizations as watcher
from tests.helpers import ACCOUNT_ID, builtin_findings, normalized, slice_context

TECHNOLOGIES = ("organizations.account", "organizations.unit", "organizations.policy")
READ = {
    "organizations.account": watcher.list_accounts,
    "organizations.unit": watcher.list_units,
    "organizations.policy": watcher.list_policies,
}
DENY_LEAVING = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoLeaving", "Effect": "Deny", "Action": "organizations:LeaveOrganization",
                   "Resource": "*"}],
}
TAG_POLICY = {"tags": {"env": {"tag_key": {"@@assign": "env"}, "tag_value": {"@@assign": ["prod", "dev"]}}}}


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("organizations", region_name="us-east-1")


@dataclass
class World:
    """An organization on moto: Root > Prod > Web > Api, Root > Sandbox; accounts in each level."""

    root: str
    prod: str
    web: str
    api: str
    sandbox: str
    accounts: dict[str, str]  # name -> id
    deny_leaving: str
    tag_policy: str


def _account(client: Any, name: str, parent: str, root: str, tags: dict[str, str] | None = None) -> str:
    created = client.create_account(
        AccountName=name, Email=f"aws+{name}@example.com",
        Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    )
    account_id = created["CreateAccountStatus"]["AccountId"]
    if parent != root:
        client.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
    return account_id


def build_world(client: Any) -> World:
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    client.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    client.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")

    def unit(parent: str, name: str, tags: dict[str, str] | None = None) -> str:
        made = client.create_organizational_unit(
            ParentId=parent, Name=name, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
        return made["OrganizationalUnit"]["Id"]

    prod = unit(root, "Prod", {"tier": "prod"})
    web = unit(prod, "Web")
    api = unit(web, "Api")
    sandbox = unit(root, "Sandbox")
    accounts = {
        "api-prod": _account(client, "api-prod", api, root, {"env": "prod", "team": "api"}),
        "web-prod": _account(client, "web-prod", web, root, {"env": "prod"}),
        "sandbox-alice": _account(client, "sandbox-alice", sandbox, root),
        "new-workload": _account(client, "new-workload", root, root),
    }
    client.close_account(AccountId=accounts["sandbox-alice"])
    deny_leaving = client.create_policy(
        Name="deny-leaving", Description="no account leaves", Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(DENY_LEAVING), Tags=[{"Key": "owner", "Value": "security"}],
    )["Policy"]["PolicySummary"]["Id"]
    client.attach_policy(PolicyId=deny_leaving, TargetId=prod)
    client.attach_policy(PolicyId=deny_leaving, TargetId=accounts["new-workload"])
    tag_policy = client.create_policy(
        Name="env-tags", Description="env values", Type="TAG_POLICY", Content=json.dumps(TAG_POLICY),
    )["Policy"]["PolicySummary"]["Id"]
    client.attach_policy(PolicyId=tag_policy, TargetId=root)
    # A resource control policy type that is not enabled: its policies (RCPFullAWSAccess) are not read.
    return World(root, prod, web, api, sandbox, accounts, deny_leaving, tag_policy)


def _read(technology: str, ctx: SliceContext | None = None) -> dict[str, Any]:
    return {item.id: item for item in READ[technology](ctx or slice_context(GLOBAL_REGION))}


# --- outside the management account: nothing ---------------------------------------------------


def test_an_account_in_no_organization_has_no_items_and_pays_one_call(aws):
    ctx = slice_context(GLOBAL_REGION)
    for technology in TECHNOLOGIES:
        assert READ[technology](ctx) == []
    assert ctx.calls == {"organizations:DescribeOrganization": 1}


def test_a_member_account_records_nothing(aws):
    world = build_world(aws)
    member = world.accounts["web-prod"]
    role = f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"
    session = AccountSession(AccountConfig(name="web-prod", id=member, role_arn=role))
    ctx = SliceContext(session, GLOBAL_REGION)
    # The member sees the organization (moto maps the assumed role's credentials to the member)...
    assert ctx.client("sts").get_caller_identity()["Account"] == member
    organization = ctx.client("organizations").describe_organization()["Organization"]
    assert organization["MasterAccountId"] == ACCOUNT_ID
    # ...and records none of it: the organization's history is the management account's.
    for technology in TECHNOLOGIES:
        assert READ[technology](ctx) == []


# --- the management account ----------------------------------------------------------------------


def test_every_account_with_where_it_sits_its_state_and_tags(aws):
    world = build_world(aws)

    accounts = _read("organizations.account")

    assert set(accounts) == {ACCOUNT_ID, *world.accounts.values()}
    api = accounts[world.accounts["api-prod"]]
    assert (api.technology, api.region, api.name) == ("organizations.account", "global", "api-prod")
    assert api.arn.startswith(f"arn:aws:organizations::{ACCOUNT_ID}:account/o-")
    config = api.configuration
    assert config["OrganizationalUnitPath"] == "/Root/Prod/Web/Api"
    assert config["OrganizationalUnitIdPath"] == f"/{world.root}/{world.prod}/{world.web}/{world.api}"
    assert config["ParentId"] == world.api
    assert (config["Email"], config["State"], config["JoinedMethod"]) == (
        "aws+api-prod@example.com", "ACTIVE", "CREATED")
    assert config["JoinedTimestamp"] is not None
    assert config["Tags"] == {"env": "prod", "team": "api"}
    assert config["Management"] is False
    assert accounts[world.accounts["sandbox-alice"]].configuration["State"] == "SUSPENDED"
    assert accounts[world.accounts["new-workload"]].configuration["OrganizationalUnitPath"] == "/Root"
    management = accounts[ACCOUNT_ID].configuration
    assert management["Management"] is True and management["ParentId"] == world.root


def test_the_tree_of_roots_and_units(aws):
    world = build_world(aws)

    units = _read("organizations.unit")

    assert set(units) == {world.root, world.prod, world.web, world.api, world.sandbox}
    root = units[world.root]
    assert (root.name, root.configuration["Type"], root.configuration["ParentId"]) == ("/Root", "ROOT", None)
    assert sorted(t["Type"] for t in root.configuration["PolicyTypes"]) == ["SERVICE_CONTROL_POLICY",
                                                                         "TAG_POLICY"]
    api = units[world.api]
    assert api.name == "/Root/Prod/Web/Api"
    assert api.configuration == {
        "Id": world.api, "Arn": api.arn, "Name": "Api", "Type": "ORGANIZATIONAL_UNIT", "ParentId": world.web,
        "Path": "/Root/Prod/Web/Api", "IdPath": f"/{world.root}/{world.prod}/{world.web}/{world.api}",
        "PolicyTypes": None, "Tags": {},
    }
    assert units[world.prod].configuration["Tags"] == {"tier": "prod"}


def test_policies_of_the_enabled_types_with_content_and_targets(aws):
    world = build_world(aws)

    policies = _read("organizations.policy")

    # SCPs and the enabled tag policies; RCPFullAWSAccess is not read (RCPs are not enabled).
    assert set(policies) == {"p-FullAWSAccess", world.deny_leaving, world.tag_policy}
    deny = policies[world.deny_leaving]
    assert deny.name == "deny-leaving"
    assert deny.configuration["Content"] == DENY_LEAVING
    assert deny.configuration["Type"] == "SERVICE_CONTROL_POLICY"
    assert deny.configuration["AwsManaged"] is False
    assert deny.configuration["Description"] == "no account leaves"
    assert deny.configuration["Tags"] == {"owner": "security"}
    targets = {(t["TargetId"], t["Type"], t["Name"]) for t in deny.configuration["Targets"]}
    assert targets == {(world.prod, "ORGANIZATIONAL_UNIT", "Prod"),
                       (world.accounts["new-workload"], "ACCOUNT", "new-workload")}
    full = policies["p-FullAWSAccess"].configuration
    assert full["AwsManaged"] is True and full["Tags"] == {}
    assert full["Content"]["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    assert {t["Type"] for t in full["Targets"]} == {"ROOT", "ORGANIZATIONAL_UNIT", "ACCOUNT"}
    assert policies[world.tag_policy].configuration["Content"] == TAG_POLICY


def test_a_consolidated_billing_organization_has_no_policies(aws):
    aws.create_organization(FeatureSet="CONSOLIDATED_BILLING")
    ctx = slice_context(GLOBAL_REGION)

    assert watcher.list_policies(ctx) == []
    assert ctx.calls == {"organizations:DescribeOrganization": 1, "organizations:ListRoots": 1}
    assert set(_read("organizations.account")) == {ACCOUNT_ID}


def test_api_calls_the_tree_walk_is_shared(aws):
    build_world(aws)
    ctx = slice_context(GLOBAL_REGION)

    accounts = watcher.list_accounts(ctx)
    units = watcher.list_units(ctx)
    policies = watcher.list_policies(ctx)

    parents = len(units)  # the root and every OU: one ListOrganizationalUnitsForParent and one
    assert ctx.calls == {  # ListAccountsForParent each, shared by the three technologies
        "organizations:DescribeOrganization": 1,
        "organizations:ListRoots": 1,
        "organizations:ListOrganizationalUnitsForParent": parents,
        "organizations:ListAccountsForParent": parents,
        "organizations:ListTagsForResource": len(accounts) + len(units) + 2,  # + 2 customer policies
        "organizations:ListPolicies": 2,  # SCP, TAG_POLICY
        "organizations:DescribePolicy": len(policies),
        "organizations:ListTargetsForPolicy": len(policies),
    }


def test_a_resync_is_the_same_document_and_lists_are_sorted(aws):
    build_world(aws)
    first = {t: {i: normalized(item).content for i, item in _read(t).items()} for t in TECHNOLOGIES}
    again = {t: {i: normalized(item).content for i, item in _read(t).items()} for t in TECHNOLOGIES}
    assert first == again
    full = json.loads(first["organizations.policy"]["p-FullAWSAccess"])["configuration"]
    assert full["Targets"] == sorted(full["Targets"], key=lambda t: json.dumps(t, sort_keys=True,
                                                                                  separators=(",", ":")))


def test_moving_an_account_changes_its_path(aws):
    world = build_world(aws)
    member = world.accounts["new-workload"]
    aws.move_account(AccountId=member, SourceParentId=world.root, DestinationParentId=world.sandbox)

    moved = _read("organizations.account")[member].configuration

    assert (moved["ParentId"], moved["OrganizationalUnitPath"]) == (world.sandbox, "/Root/Sandbox")


def test_the_rules_on_the_watchers_documents(aws):
    world = build_world(aws)
    accounts = _read("organizations.account")
    policies = _read("organizations.policy")

    assert builtin_findings(accounts[world.accounts["new-workload"]]) == [
        ("organizations.account.outside-ou",
         f"account new-workload ({world.accounts['new-workload']}) is directly under the root {world.root}, "
         "in no OU"),
    ]
    assert builtin_findings(accounts[ACCOUNT_ID]) == []
    assert builtin_findings(accounts[world.accounts["api-prod"]]) == []
    assert builtin_findings(policies["p-FullAWSAccess"]) == [
        ("organizations.policy.allow-all-on-root",
         f"FullAWSAccess allows every action on every resource and is attached to the root {world.root}"),
    ]
    assert builtin_findings(policies[world.deny_leaving]) == []


# --- failures raise, pages are followed (botocore Stubber) --------------------------------------

ORG = {"Id": "o-exampleorgid", "Arn": f"arn:aws:organizations::{ACCOUNT_ID}:organization/o-exampleorgid",
       "FeatureSet": "ALL", "MasterAccountId": ACCOUNT_ID, "MasterAccountEmail": "root@example.com",
       "MasterAccountArn": f"arn:aws:organizations::{ACCOUNT_ID}:account/o-exampleorgid/{ACCOUNT_ID}"}
ROOT = {"Id": "r-ab12", "Arn": f"arn:aws:organizations::{ACCOUNT_ID}:root/o-exampleorgid/r-ab12",
        "Name": "Root", "PolicyTypes": []}


def _account_answer(account_id: str, name: str) -> dict[str, Any]:
    arn = f"arn:aws:organizations::{ACCOUNT_ID}:account/o-exampleorgid/{account_id}"
    return {"Id": account_id, "Arn": arn, "Name": name, "Email": f"{name}@example.com", "State": "ACTIVE",
            "JoinedMethod": "INVITED"}


def _stubbed(monkeypatch: pytest.MonkeyPatch) -> tuple[SliceContext, Stubber]:
    ctx = slice_context(GLOBAL_REGION)
    client = boto3.client("organizations", region_name="us-east-1")
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    monkeypatch.setattr(watcher, "WORKERS", 1)  # the stub answers in order
    return ctx, Stubber(client)


def test_the_tree_walk_follows_every_page(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_organization", {"Organization": ORG})
    stub.add_response("list_roots", {"Roots": [ROOT], "NextToken": "r2"}, {})
    stub.add_response("list_roots", {"Roots": []}, {"NextToken": "r2"})
    ou = {"Id": "ou-ab12-11111111", "Arn": "arn:ou", "Name": "Prod"}
    stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": [], "NextToken": "o2"},
                      {"ParentId": "r-ab12"})
    stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": [ou]},
                      {"ParentId": "r-ab12", "NextToken": "o2"})
    stub.add_response("list_accounts_for_parent",
                      {"Accounts": [_account_answer(ACCOUNT_ID, "management")], "NextToken": "a2"},
                      {"ParentId": "r-ab12"})
    stub.add_response("list_accounts_for_parent", {"Accounts": []}, {"ParentId": "r-ab12", "NextToken": "a2"})
    stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []},
                      {"ParentId": "ou-ab12-11111111"})
    stub.add_response("list_accounts_for_parent", {"Accounts": [_account_answer("222222222222", "web")]},
                      {"ParentId": "ou-ab12-11111111"})
    for account_id in (ACCOUNT_ID, "222222222222"):
        stub.add_response("list_tags_for_resource", {"Tags": [], "NextToken": "t2"},
                          {"ResourceId": account_id})
        stub.add_response("list_tags_for_resource", {"Tags": [{"Key": "k", "Value": "v"}]},
                          {"ResourceId": account_id, "NextToken": "t2"})
    with stub:
        items = watcher.list_accounts(ctx)
    stub.assert_no_pending_responses()
    assert [(i.id, i.configuration["OrganizationalUnitPath"], i.configuration["Tags"]) for i in items] == [
        (ACCOUNT_ID, "/Root", {"k": "v"}), ("222222222222", "/Root/Prod", {"k": "v"})]


def test_an_answer_without_state_is_read_through_the_deprecated_status(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_organization", {"Organization": ORG})
    stub.add_response("list_roots", {"Roots": [ROOT]})
    stub.add_response("list_organizational_units_for_parent", {"OrganizationalUnits": []})
    old = {key: value for key, value in _account_answer(ACCOUNT_ID, "m").items() if key != "State"}
    stub.add_response("list_accounts_for_parent", {"Accounts": [{**old, "Status": "PENDING_CLOSURE"}]})
    stub.add_response("list_tags_for_resource", {"Tags": []})
    with stub:
        (item,) = watcher.list_accounts(ctx)
    assert item.configuration["State"] == "PENDING_CLOSURE"


@pytest.mark.parametrize("failing", ["describe_organization", "list_roots",
                                     "list_organizational_units_for_parent", "list_accounts_for_parent",
                                     "list_tags_for_resource"])
def test_any_failed_call_fails_the_whole_listing(monkeypatch, failing):
    """AccessDenied (a member account of an organization whose SCPs deny it, or a role without the
    actions) is a failed read, never an empty organization."""
    ctx, stub = _stubbed(monkeypatch)
    answers: list[tuple[str, dict[str, Any]]] = [
        ("describe_organization", {"Organization": ORG}),
        ("list_roots", {"Roots": [ROOT]}),
        ("list_organizational_units_for_parent", {"OrganizationalUnits": []}),
        ("list_accounts_for_parent", {"Accounts": [_account_answer(ACCOUNT_ID, "m")]}),
        ("list_tags_for_resource", {"Tags": []}),
    ]
    for operation, answer in answers:
        if operation == failing:
            stub.add_client_error(operation, service_error_code="AccessDeniedException", http_status_code=400)
            break
        stub.add_response(operation, answer)
    with stub, pytest.raises(ClientError, match="AccessDeniedException"):
        watcher.list_accounts(ctx)


def test_a_failed_policy_read_fails_the_whole_listing(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_organization", {"Organization": ORG})
    stub.add_response("list_roots", {"Roots": [ROOT]})
    stub.add_response("list_policies", {"Policies": [{"Id": "p-12345678", "Name": "x", "Type":
                                                      "SERVICE_CONTROL_POLICY", "AwsManaged": False}]},
                      {"Filter": "SERVICE_CONTROL_POLICY"})
    stub.add_client_error("describe_policy", service_error_code="TooManyRequestsException",
                          http_status_code=400)
    with stub, pytest.raises(ClientError, match="TooManyRequestsException"):
        watcher.list_policies(ctx)


def test_a_policy_deleted_since_the_listing_is_left_out(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("describe_organization", {"Organization": ORG})
    stub.add_response("list_roots", {"Roots": [ROOT]})
    stub.add_response("list_policies", {"Policies": [{"Id": "p-12345678", "Name": "x", "Type":
                                                      "SERVICE_CONTROL_POLICY", "AwsManaged": False}]})
    stub.add_client_error("describe_policy", service_error_code="PolicyNotFoundException",
                          http_status_code=400)
    with stub:
        assert watcher.list_policies(ctx) == []


def test_technology_metadata():
    for name in TECHNOLOGIES:
        tech = get_technology(name)
        assert tech.is_global and tech.service == "organizations"
        assert "organizations:DescribeOrganization" in tech.iam_actions
        assert tech.always_returned["organizations:DescribeOrganization"] == ("Organization",)
    assert "organizations:ListTargetsForPolicy" in get_technology("organizations.policy").iam_actions
    assert "organizations:ListAccountsForParent" in get_technology("organizations.account").iam_actions


# --- the garbled-answer test's seeding ------------------------------------------------------------


def _seed_organization(client: Callable[..., Any]) -> dict[str, str]:
    """An organization whose management is the seeding account: an OU with a tagged account, a
    customer SCP attached to the OU. Returns the seeded ids by technology."""
    org = client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    unit = org.create_organizational_unit(ParentId=root, Name="Seed", Tags=[{"Key": "k", "Value": "v"}])
    ou = unit["OrganizationalUnit"]["Id"]
    member = _account(org, "seed-member", ou, root, {"env": "seed"})
    policy = org.create_policy(Name="seed-scp", Description="seed", Type="SERVICE_CONTROL_POLICY",
                               Content=json.dumps(DENY_LEAVING), Tags=[{"Key": "k", "Value": "v"}])
    policy_id = policy["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy_id, TargetId=ou)
    return {"organizations.account": member, "organizations.unit": ou, "organizations.policy": policy_id}


def _garble_seed(technology: str) -> Callable[[Callable[..., Any]], str]:
    return lambda client: _seed_organization(client)[technology]


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], str]] = {t: _garble_seed(t) for t in TECHNOLOGIES}
# The calls whose 2xx answers a clean read of the seeded organization gets (for SEEDS).
GARBLE_OPERATIONS: dict[str, tuple[str, ...]] = {
    "organizations.account": tuple(watcher._TREE_ACTIONS),
    "organizations.unit": tuple(watcher._TREE_ACTIONS),
    "organizations.policy": (
        "organizations:DescribeOrganization", "organizations:ListRoots", "organizations:ListPolicies",
        "organizations:DescribePolicy", "organizations:ListTargetsForPolicy",
        "organizations:ListTagsForResource",
    ),
}


@pytest.mark.parametrize("technology", TECHNOLOGIES)
def test_garble_seeds_create_items(aws, technology):
    seeded = GARBLE_SEEDS[technology](lambda service, region_name="us-east-1": boto3.client(
        service, region_name=region_name))
    ctx = slice_context(GLOBAL_REGION)
    assert seeded in {item.id for item in READ[technology](ctx)}
    assert set(ctx.calls) == {operation for operation in GARBLE_OPERATIONS[technology]}
