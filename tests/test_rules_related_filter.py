"""The ``related`` filter keyword: compile errors, both directions, chains, bindings, ``missing``,
items judged alone, the rule schema, and a real account repository where a role's change re-audits
the instances that run as it.

Real parts in the last test: ``run_sync`` against moto (an instance launched with an instance
profile whose role gets AWS's AdministratorAccess), the repository, the audit and its issue files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import yaml
from moto import mock_aws

from gitmonkey.audit.context import AuditContext
from gitmonkey.audit.filters import FilterError, Match, compile_filter, evaluate
from gitmonkey.audit.related import NoRelatedItems, StaticItems
from gitmonkey.audit.rules import Rule, RuleSet, load_rule_file
from gitmonkey.audit.schemas import load_schema
from gitmonkey.normalize.paths import item_path
from tests.helpers import ACCOUNT_ID, SyncedAccount

CTX = AuditContext(account_id=ACCOUNT_ID, account_name="prod", known_accounts={}, trusted_cidrs=(),
                   now=datetime(2024, 6, 1, tzinfo=UTC))
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
REGION = "us-east-1"


def instance(profile: str | None = "web", instance_id: str = "i-1") -> dict[str, Any]:
    configuration: dict[str, Any] = {"InstanceId": instance_id, "SecurityGroups": [{"GroupId": "sg-1"}],
                                     "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1",
                                                            "Groups": [{"GroupId": "sg-1"}]}]}
    if profile is not None:
        configuration["IamInstanceProfile"] = {
            "Arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{profile}", "Id": "AIPA1"}
    return {"technology": "ec2.instance", "id": instance_id, "region": REGION, "name": instance_id,
            "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:instance/{instance_id}", "account": ACCOUNT_ID,
            "configuration": configuration}


def profile(name: str = "web", *roles: str) -> dict[str, Any]:
    return {"technology": "iam.instance_profile", "id": name, "region": "global", "name": name,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{name}",
            "configuration": {"InstanceProfileName": name, "InstanceProfileId": f"AIPA{name}", "Path": "/",
                              "Arn": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{name}",
                              "CreateDate": "2024-01-01T00:00:00+00:00",
                              "Roles": [{"RoleName": r, "RoleId": f"AROA{r}", "Path": "/",
                                         "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{r}"} for r in roles]}}


def role(name: str, *policy_arns: str) -> dict[str, Any]:
    attached = [{"PolicyArn": arn, "PolicyName": arn.rsplit("/", 1)[-1]} for arn in policy_arns]
    return {"technology": "iam.role", "id": name, "region": "global", "name": name,
            "arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}",
            "configuration": {"RoleName": name, "Path": "/", "RolePolicyList": [],
                              "AttachedManagedPolicies": attached}}


def interface(interface_id: str, *groups: str, region: str = REGION) -> dict[str, Any]:
    return {"technology": "ec2.network_interface", "id": interface_id, "region": region, "name": interface_id,
            "configuration": {"NetworkInterfaceId": interface_id, "SubnetId": "subnet-1", "VpcId": "vpc-1",
                              "Groups": [{"GroupId": g, "GroupName": g} for g in groups]}}


def group(group_id: str = "sg-1", name: str = "web") -> dict[str, Any]:
    return {"technology": "ec2.security_group", "id": group_id, "region": REGION, "name": name,
            "configuration": {"GroupId": group_id, "GroupName": name, "VpcId": "vpc-1",
                              "IpPermissions": [], "IpPermissionsEgress": []}}


def run(spec: Any, document: Mapping[str, Any], *related: Mapping[str, Any],
        ctx: AuditContext | None = None) -> list[Match]:
    ctx = ctx or replace(CTX, related=StaticItems(related))
    return evaluate(compile_filter(spec), document, None, ctx)


ADMIN_CHAIN: dict[str, Any] = {"related": {
    "technology": "iam.instance_profile", "as": "profile",
    "where": {"related": {
        "technology": "iam.role", "as": "role",
        "where": {"list-item": {"key": "AttachedManagedPolicies", "as": "policy",
                                "where": {"key": "PolicyArn", "op": "glob",
                                          "value": "arn:*:iam::aws:policy/AdministratorAccess"}}}}}}}


# --- compiling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"related": "iam.role"}, "filter.related: related needs a mapping with at least 'technology'"),
        ({"related": {"technology": "iam.role", "colour": 1}},
         "filter.related: unknown field 'colour' in related; expected ['as', 'direction', 'missing', "
         "'technology', 'where']"),
        ({"related": {"as": "x"}}, "filter.related: related needs a 'technology'"),
        ({"related": {"technology": "iam"}},
         "filter.related.technology: expected a technology '<service>.<type>' such as iam.role, got 'iam'"),
        ({"related": {"technology": "iam.*"}}, "filter.related.technology: expected a technology"),
        ({"related": {"technology": "iam.role", "direction": "sideways"}},
         "filter.related.direction: expected 'referenced' (items this item names) or 'referring' "
         "(items that name this item), got 'sideways'"),
        ({"related": {"technology": "s3.bucket"}},
         "filter.related.technology: no declared reference names s3.bucket items "
         "(see gitmonkey/audit/references.py)"),
        ({"related": {"technology": "s3.bucket", "direction": "referring"}},
         "filter.related.technology: s3.bucket items name no other items"),
        ({"related": {"technology": "ec2.instance", "direction": "referring", "missing": True}},
         "filter.related.missing: 'missing' is only for direction 'referenced'"),
        ({"related": {"technology": "iam.role", "missing": "yes"}},
         "filter.related.missing: expected true or false, got 'yes'"),
        ({"related": {"technology": "iam.role", "as": "my role"}},
         "filter.related.as: 'as' must be an identifier, got 'my role'"),
        ({"related": {"technology": "iam.role", "as": "document"}},
         "filter.related.as: 'document' is a reserved name"),
        ({"related": {"technology": "iam.role", "where": {"key": "X", "op": "is", "value": 1}}},
         "filter.related.where.op: unknown op 'is'"),
        ({"related": {"technology": "iam.role", "where": {"changed": "RoleName"}}},
         "filter.related.where.changed: 'changed' compares with the previous version and is only "
         "allowed at the top of a rule's filter (not inside list-item, related, changed or previous)"),
        ({"previous": {"related": {"technology": "iam.role"}}},
         "filter.previous.related: 'related' reads the related items of the audited commit only, so it "
         "is not allowed inside changed, previous, added-item or removed-item"),
        ({"changed": {"key": "A", "to": {"not": {"related": {"technology": "iam.role"}}}}},
         "filter.changed.to.not.related: 'related' reads"),
        ({"added-item": {"key": "A", "where": {"list-item": {"key": "B", "where": {
            "related": {"technology": "iam.role"}}}}}},
         "filter.added-item.where.list-item.where.related: 'related' reads"),
        ({"related": {"technology": "iam.instance_profile", "where": {
            "related": {"technology": "iam.role", "direction": "up"}}}},
         "filter.related.where.related.direction: expected 'referenced'"),
    ],
)
def test_compile_errors_name_the_path(spec: Any, message: str) -> None:
    with pytest.raises(FilterError) as raised:
        compile_filter(spec)
    assert str(raised.value).startswith(message), str(raised.value)


def test_related_is_allowed_at_the_top_in_logic_in_list_items_and_in_related_where() -> None:
    for spec in (
        {"related": {"technology": "iam.role"}},
        {"and": [{"or": [{"not": {"related": {"technology": "iam.role", "direction": "referring"}}}]}]},
        [{"list-item": {"key": "X", "where": {"related": {"technology": "iam.role", "missing": False}}}}],
        ADMIN_CHAIN,
    ):
        compile_filter(spec)


# --- direction: referenced ---------------------------------------------------------------------


def test_referenced_matches_at_the_reference_with_the_document_bound() -> None:
    web = profile("web", "app")
    [match] = run({"related": {"technology": "iam.instance_profile"}}, instance(), web)
    assert match.path == "configuration.IamInstanceProfile.Arn"
    assert match.specific
    assert match.bindings["related"] == web
    # ``where`` reads the related item's configuration.
    where = {"related": {"technology": "iam.instance_profile",
                         "where": {"key": "Roles[0].RoleName", "value": "app"}}}
    assert [m.path for m in run(where, instance(), web)] == ["configuration.IamInstanceProfile.Arn"]
    where["related"]["where"]["value"] = "other"
    assert run(where, instance(), web) == []


def test_referenced_one_match_per_related_item() -> None:
    one, two = group("sg-1"), group("sg-2", "db")
    document = instance()
    document["configuration"]["NetworkInterfaces"][0]["Groups"].append({"GroupId": "sg-2"})
    found = run({"related": {"technology": "ec2.security_group", "as": "sg"}}, document, one, two)
    assert [(m.path, m.bindings["sg"]["id"]) for m in found] == [
        ("configuration.SecurityGroups[0].GroupId", "sg-1"),
        ("configuration.NetworkInterfaces[0].Groups[1].GroupId", "sg-2"),
    ]
    only_db = {"related": {"technology": "ec2.security_group", "as": "sg",
                           "where": {"key": "GroupName", "value": "db"}}}
    assert [m.bindings["sg"]["id"] for m in run(only_db, document, one, two)] == ["sg-2"]


def test_not_related_matches_when_no_related_item_satisfies_where() -> None:
    spec = {"not": {"related": {"technology": "iam.instance_profile",
                                "where": {"not-empty": "Roles"}}}}
    assert [m.path for m in run(spec, instance(), profile("web"))] == ["configuration"]
    assert run(spec, instance(), profile("web", "app")) == []
    assert [m.path for m in run(spec, instance(profile=None))] == ["configuration"]


def test_missing_references_match_only_with_missing_true() -> None:
    plain = {"related": {"technology": "iam.instance_profile", "where": {"not-empty": "Roles"}}}
    assert run(plain, instance()) == []
    spec = {"related": {"technology": "iam.instance_profile", "missing": True, "as": "p",
                        "where": {"not-empty": "Roles"}}}
    [match] = run(spec, instance())
    assert match.path == "configuration.IamInstanceProfile.Arn"
    assert match.bindings["p"] == {
        "technology": "iam.instance_profile", "id": "web", "region": "global", "name": None, "arn": None,
        "configuration": None, "missing": True,
        "reference": f"arn:aws:iam::{ACCOUNT_ID}:instance-profile/web"}
    # A held item is still judged by ``where``; only the reference without an item matches as-is.
    assert run(spec, instance(), profile("web")) == []
    dangling = {"related": {"technology": "iam.instance_profile", "missing": True,
                            "where": {"absent": "@"}}}
    assert run(dangling, instance(), profile("web", "app")) == []
    assert len(run(dangling, instance())) == 1


def test_items_judged_alone_have_no_related_items() -> None:
    alone = replace(CTX, related=NoRelatedItems())
    assert run({"related": {"technology": "iam.instance_profile"}}, instance(), ctx=alone) == []
    assert run({"related": {"technology": "ec2.network_interface", "direction": "referring"}},
               group(), ctx=alone) == []
    # Nothing can be said either way: "no such related item" does not match either.
    assert run({"not": {"related": {"technology": "iam.instance_profile"}}}, instance(), ctx=alone) == []
    # The default context of AuditContext is the same.
    assert run(ADMIN_CHAIN, instance(), ctx=CTX) == []


# --- direction: referring ----------------------------------------------------------------------


def test_referring_matches_at_the_scope_once_per_referring_item() -> None:
    spec = {"related": {"technology": "ec2.network_interface", "direction": "referring", "as": "eni"}}
    used = [interface("eni-1", "sg-1"), interface("eni-2", "sg-2", "sg-1"), interface("eni-3", "sg-2"),
            interface("eni-4", "sg-1", region="eu-west-1")]
    found = run(spec, group("sg-1"), *used)
    assert [(m.path, m.bindings["eni"]["id"], m.specific) for m in found] == [
        ("configuration", "eni-1", True), ("configuration", "eni-2", True)]
    unused = {"not": spec}
    assert run(unused, group("sg-1"), *used) == []
    assert [m.path for m in run(unused, group("sg-9"), *used)] == ["configuration"]


def test_referring_from_a_global_item_looks_in_every_region() -> None:
    spec = {"related": {"technology": "iam.instance_profile", "direction": "referring", "as": "p"}}
    found = run(spec, role("app"), profile("web", "app"), profile("batch", "other"), profile("api", "app"))
    assert sorted(m.bindings["p"]["id"] for m in found) == ["api", "web"]


# --- chains, list items, bindings ----------------------------------------------------------------


def test_a_chain_follows_the_related_items_references() -> None:
    items = [profile("web", "app"), role("app", "arn:aws:iam::aws:policy/ReadOnlyAccess", ADMIN_ARN)]
    [match] = run(ADMIN_CHAIN, instance(), *items)
    assert match.path == "configuration.IamInstanceProfile.Arn"
    assert match.bindings["profile"]["id"] == "web"
    assert match.bindings["role"]["id"] == "app"
    assert match.bindings["policy"] == {"PolicyArn": ADMIN_ARN, "PolicyName": "AdministratorAccess"}
    assert run(ADMIN_CHAIN, instance(), profile("web", "app"), role("app", "arn:aws:iam::aws:policy/X")) == []
    assert run(ADMIN_CHAIN, instance(), profile("web", "app")) == []  # the role is not held
    assert run(ADMIN_CHAIN, instance(), profile("other", "app"), items[1]) == []


def test_related_inside_list_item_reads_the_item_being_audited() -> None:
    spec = {"list-item": {"key": "NetworkInterfaces", "as": "eni",
                          "where": {"related": {"technology": "iam.instance_profile", "as": "p"}}}}
    [match] = run(spec, instance(), profile("web"))
    assert match.path == "configuration.IamInstanceProfile.Arn"
    assert match.bindings["eni"]["NetworkInterfaceId"] == "eni-1"
    assert match.bindings["p"]["id"] == "web"


def write_rule(tmp_path: Path, filter_spec: Any, finding: dict[str, str] | None = None) -> Rule:
    spec: dict[str, Any] = {"id": "test.related", "technology": "ec2.instance", "score": 5, "title": "T",
                            "description": "D", "remediation": "R", "filter": filter_spec}
    if finding is not None:
        spec["finding"] = finding
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": [spec]}))
    [loaded] = load_rule_file(path)
    return loaded


def findings(loaded: Rule, document: dict[str, Any],
             *related: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    ctx = replace(CTX, related=StaticItems(related))
    return [(f.details, f.key, f.path) for f in RuleSet([loaded]).run_rule(loaded, document, None, ctx)]


def test_templates_read_the_bound_documents(tmp_path: Path) -> None:
    loaded = write_rule(tmp_path, ADMIN_CHAIN, {
        "details": "{profile.id} ({profile.arn}) runs as {profile.configuration.Roles[0].RoleName}: "
                   "{role.configuration.RoleName} has {policy.PolicyName}, instance {document.id}",
        "key": "{profile.id}/{role.id}"})
    items = [profile("web", "app"), role("app", ADMIN_ARN)]
    assert findings(loaded, instance(), *items) == [
        (f"web (arn:aws:iam::{ACCOUNT_ID}:instance-profile/web) runs as app: app has AdministratorAccess, "
         "instance i-1", "web/app", "configuration.IamInstanceProfile.Arn")]


def test_without_a_key_template_the_key_is_the_related_item_and_stays_stable(tmp_path: Path) -> None:
    loaded = write_rule(tmp_path, {"related": {"technology": "iam.instance_profile"}})
    [(details, key, path)] = findings(loaded, instance(), profile("web", "app"))
    assert key == details == '"iam.instance_profile:global:web"'
    assert path == "configuration.IamInstanceProfile.Arn"
    assert findings(loaded, instance(), profile("web", "other")) == [(details, key, path)]
    # In a chain, the key names every related item on the way and the innermost element (here
    # long enough for the loader to digest it): it does not move when the role changes otherwise.
    chain = write_rule(tmp_path, ADMIN_CHAIN)
    items = [profile("web", "app"), role("app", ADMIN_ARN)]
    [(_, key, _)] = findings(chain, instance(), *items)
    assert len(key) == 16
    items[1]["configuration"]["RolePolicyList"] = [{"PolicyName": "extra"}]
    assert [k for _, k, _ in findings(chain, instance(), *items)] == [key]
    [match] = run(ADMIN_CHAIN, instance(), *items)
    assert match.bindings["@related"] == (
        'iam.instance_profile:global:web > iam.role:global:app > '
        f'{{"PolicyArn":"{ADMIN_ARN}","PolicyName":"AdministratorAccess"}}')
    # Two referring items are two findings, each with its own key.
    referring = write_rule(tmp_path, {"related": {"technology": "ec2.network_interface",
                                                  "direction": "referring"}})
    keys = [k for _, k, _ in findings(referring, group("sg-1"), interface("eni-1", "sg-1"),
                                      interface("eni-2", "sg-1"))]
    assert keys == ['"ec2.network_interface:us-east-1:eni-1"', '"ec2.network_interface:us-east-1:eni-2"']


# --- the rule schema -----------------------------------------------------------------------------


def schema_errors(filter_spec: Any) -> list[str]:
    rule = {"id": "x.y", "technology": "ec2.instance", "score": 1, "title": "t", "description": "d",
            "remediation": "r", "filter": filter_spec}
    validator = jsonschema.Draft202012Validator(load_schema("rule.schema.json"))
    error = jsonschema.exceptions.best_match(validator.iter_errors({"rules": [rule]}))
    return [] if error is None else [".".join(str(p) for p in list(error.absolute_path)[3:]), error.message]


def test_the_schema_accepts_related_and_the_built_in_rules() -> None:
    assert schema_errors(ADMIN_CHAIN) == []
    assert schema_errors([{"not": {"related": {"technology": "ec2.network_interface",
                                               "direction": "referring"}}}]) == []
    missing = {"related": {"technology": "iam.instance_profile", "missing": True, "as": "p"}}
    assert schema_errors(missing) == []
    data = yaml.safe_load((Path(__file__).parents[1] / "rules" / "relations.yaml").read_text())
    validator = jsonschema.Draft202012Validator(load_schema("rule.schema.json"))
    assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(
    ("spec", "where", "message"),
    [
        ({"related": {"technology": "iam.role", "colour": 1}}, "related",
         "Additional properties are not allowed ('colour' was unexpected)"),
        ({"related": {"as": "x"}}, "related", "'technology' is a required property"),
        ({"related": {"technology": "iam"}}, "related.technology", "'iam' does not match"),
        ({"related": {"technology": "iam.role", "direction": "up"}}, "related.direction",
         "'up' is not one of ['referenced', 'referring']"),
        ({"related": {"technology": "iam.role", "direction": "referring", "missing": True}},
         "related.direction", "'referenced' was expected"),
        ({"related": {"technology": "iam.role", "as": "a b"}}, "related.as", "'a b' does not match"),
        ({"related": {"technology": "iam.role", "as": "old"}}, "related.as", "'old' should not be valid"),
        ({"related": {"technology": "iam.role", "where": {"related": {"technology": "iam.role",
                                                                      "missing": 1}}}},
         "related.where.related.missing", "1 is not of type 'boolean'"),
    ],
)
def test_the_schema_rejects_bad_related_with_a_clear_message(spec: Any, where: str, message: str) -> None:
    path, text = schema_errors(spec)
    assert path == where
    assert text.startswith(message), text


# --- end to end ----------------------------------------------------------------------------------

RULE = "ec2.instance.role-admin-policy"
TECHNOLOGIES = ["ec2.instance", "iam.instance_profile", "iam.role"]


@pytest.fixture
def aws() -> Iterator[None]:
    """moto with AWS's managed policies loaded (about a second), so AdministratorAccess attaches."""
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        yield


@pytest.fixture
def plain_aws() -> Iterator[None]:
    with mock_aws():
        yield


class World(SyncedAccount):
    """One account repository, synced from moto with only ``rule`` enabled."""

    def __init__(self, tmp_path: Path, rule: str = RULE, technologies: list[str] = TECHNOLOGIES) -> None:
        super().__init__(tmp_path, [rule], technologies, REGION)
        self.iam = boto3.client("iam", region_name=REGION)
        self.ec2 = boto3.client("ec2", region_name=REGION)


def test_a_role_change_reaudits_the_instances_running_as_it(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    world.iam.create_role(RoleName="web-role", AssumeRolePolicyDocument=json.dumps(trust))
    world.iam.create_instance_profile(InstanceProfileName="web")
    world.iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    [launched] = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                         IamInstanceProfile={"Name": "web"})["Instances"]
    instance_file = item_path(REGION, "ec2.instance", launched["InstanceId"])
    world.sync()
    assert (world.path / instance_file).is_file()
    assert world.issues(instance_file) == []

    # Only the role changes; the same sync audits the instance again through its profile.
    before = (world.path / instance_file).read_bytes()
    world.iam.attach_role_policy(RoleName="web-role", PolicyArn=ADMIN_ARN)
    world.sync()
    assert (world.path / instance_file).read_bytes() == before
    [issue] = world.issues(instance_file)
    assert issue["rule"] == RULE and issue["score"] == 8
    assert issue["path"] == "configuration.IamInstanceProfile.Arn"
    assert issue["key"] == "web/web-role"
    assert issue["details"] == (
        f"instance profile web holds role web-role, which has AdministratorAccess ({ADMIN_ARN}) attached")
    assert world.subject() == "audit: 1 new, 0 fixed"

    world.iam.detach_role_policy(RoleName="web-role", PolicyArn=ADMIN_ARN)
    world.sync()
    assert world.issues(instance_file) == []
    assert world.subject() == "audit: 0 new, 1 fixed"


def test_a_security_group_is_unused_until_an_interface_uses_it_and_again_after(
    tmp_path: Path, plain_aws: None
) -> None:
    world = World(tmp_path, "ec2.security_group.unused", ["ec2.security_group", "ec2.network_interface"])
    vpc = world.ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet = world.ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    group_id = world.ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    group_file = item_path(REGION, "ec2.security_group", group_id)
    world.sync()
    [issue] = world.issues(group_file)
    assert (issue["rule"], issue["score"], issue["key"], issue["path"]) == (
        "ec2.security_group.unused", 0, "unused", "configuration")
    defaults = [g["GroupId"] for g in world.ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]]
    assert defaults and all(world.issues(item_path(REGION, "ec2.security_group", g)) == [] for g in defaults)

    # A new interface (only that item changes) re-audits the group it uses in the same sync.
    before = (world.path / group_file).read_bytes()
    eni = world.ec2.create_network_interface(SubnetId=subnet, Groups=[group_id])["NetworkInterface"]
    world.sync()
    assert (world.path / group_file).read_bytes() == before
    assert world.issues(group_file) == []

    # Deleting it: the group it used is audited again, through the interface's previous version.
    world.ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    world.sync()
    assert [i["key"] for i in world.issues(group_file)] == ["unused"]
