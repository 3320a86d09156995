"""Effective permissions: IAM rules judge a user by its own, attached and group policies, read from
the repository, and re-judge it when a group or managed policy changes, in the same run.

Real parts: ``run_sync`` against moto (IAM users, groups, customer managed policies and their
versions), the installed post-commit hook on a person's commit, ``audit_all``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitmonkey import hooks
from gitmonkey.audit.related import StaticItems, referring_paths
from gitmonkey.audit.run import audit_all
from gitmonkey.normalize.paths import item_path
from gitmonkey.store import AccountRepository
from gitmonkey.watchers import all_technologies
from tests.helpers import ACCOUNT_ID, SyncedAccount, slice_context
from tests.test_hooks import person

ADMIN = "iam.user.policy-admin"
ESCALATION = "iam.user.privilege-escalation"
IAM = ["iam.user", "iam.group", "iam.policy", "iam.role"]
ALICE = item_path("global", "iam.user", "alice")
BOB = item_path("global", "iam.user", "bob")
ADMINS = item_path("global", "iam.group", "admins")


def policy_document(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


class World(SyncedAccount):
    def __init__(self, tmp_path: Path, *rule_ids: str) -> None:
        super().__init__(tmp_path, rule_ids, IAM)
        self.iam = boto3.client("iam", region_name="us-east-1")


def test_admin_through_a_group_and_a_customer_managed_policy_is_found_on_the_user(
    tmp_path: Path, aws: None
) -> None:
    world = World(tmp_path, ADMIN)
    arn = world.iam.create_policy(PolicyName="AdminAll", Path="/ops/",
                                  PolicyDocument=policy_document("*"))["Policy"]["Arn"]
    world.iam.create_group(GroupName="admins")
    world.iam.attach_group_policy(GroupName="admins", PolicyArn=arn)
    for user in ("alice", "bob"):
        world.iam.create_user(UserName=user)
    world.iam.add_user_to_group(GroupName="admins", UserName="alice")
    world.sync()

    [issue] = world.issues(ALICE)
    assert issue["rule"] == ADMIN
    assert issue["details"] == "via group admins, attached policy AdminAll statement 0 allows * on *"
    assert issue["path"] == "configuration.GroupList[0]"
    assert issue["key"] == "group:admins/managed:AdminAll/AdminAll/0"
    assert world.issues(BOB) == []
    assert world.issues(ADMINS) == []  # iam.group.policy-admin is off in this test

    # The policy gets a new default version: only the iam.policy item changes, and the user's
    # issue is fixed by the same sync's audit.
    alice_before = (world.path / ALICE).read_bytes()
    world.iam.create_policy_version(PolicyArn=arn, PolicyDocument=policy_document("s3:GetObject"),
                                    SetAsDefault=True)
    world.sync()
    assert (world.path / ALICE).read_bytes() == alice_before
    assert world.issues(ALICE) == []
    assert world.subject() == "audit: 0 new, 1 fixed"

    # And back: the user is an administrator again, through the same path.
    world.iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    world.sync()
    assert [i["key"] for i in world.issues(ALICE)] == ["group:admins/managed:AdminAll/AdminAll/0"]
    repo = AccountRepository.open(world.path)
    assert audit_all(repo, world.config, world.config.accounts[0]).commit is None


def test_escalation_through_a_group_inline_policy(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path, ESCALATION)
    world.iam.create_group(GroupName="deployers")
    world.iam.put_group_policy(GroupName="deployers", PolicyName="deploy",
                               PolicyDocument=policy_document("iam:PassRole", "ec2:RunInstances"))
    world.iam.create_user(UserName="alice")
    world.iam.add_user_to_group(GroupName="deployers", UserName="alice")
    world.sync()
    [issue] = world.issues(ALICE)
    assert issue["key"] == "passrole-ec2"
    assert "iam:PassRole (via group deployers, policy deploy statement 0 on *)" in issue["details"]

    # Taking the user out of the group changes the user item, and fixes the issue.
    world.iam.remove_user_from_group(GroupName="deployers", UserName="alice")
    world.sync()
    assert world.issues(ALICE) == []


def test_a_persons_commit_to_a_group_reaudits_its_members_in_the_hook(tmp_path: Path, aws: None) -> None:
    world = World(tmp_path, ADMIN)
    world.iam.create_group(GroupName="admins")
    world.iam.create_user(UserName="alice")
    world.iam.add_user_to_group(GroupName="admins", UserName="alice")
    world.sync()
    assert world.issues(ALICE) == []
    hooks.install_hooks(world.path, tmp_path / "gitmonkey.yaml")

    group_file = world.path / ADMINS
    group = json.loads(group_file.read_text())
    group["configuration"]["GroupPolicyList"] = [
        {"PolicyName": "all",
         "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}
    ]
    group_file.write_text(json.dumps(group, indent=2, sort_keys=True) + "\n")
    person(world.path, "commit", "-q", "-am", "grant admins everything")
    assert world.subject().startswith("audit: ")
    [issue] = world.issues(ALICE)
    assert issue["details"] == "via group admins, policy all statement 0 allows * on *"


def test_referring_paths_reads_only_the_slices_that_can_refer() -> None:
    user = {"technology": "iam.user",
            "configuration": {"GroupList": ["admins"], "AttachedManagedPolicies": []}}
    role = {"technology": "iam.role", "configuration": {
        "AttachedManagedPolicies": [{"PolicyArn": f"arn:aws:iam::{ACCOUNT_ID}:policy/p/AdminAll"}]}}
    bucket = {"technology": "s3.bucket", "configuration": {"GroupList": ["admins"]}}
    blobs = {ALICE: "a" * 40, item_path("global", "iam.role", "r"): "b" * 40,
             item_path("global", "s3.bucket", "x"): "c" * 40}
    contents = {"a" * 40: json.dumps(user).encode(), "b" * 40: json.dumps(role).encode(),
                "c" * 40: json.dumps(bucket).encode()}
    read: list[set[str]] = []

    def reader(shas: Any) -> dict[str, bytes]:
        read.append(set(shas))
        return {s: contents[s] for s in shas}

    assert referring_paths([ADMINS], blobs, reader) == {ALICE}
    assert read == [{"a" * 40}]
    assert referring_paths([item_path("global", "iam.policy", "AdminAll")], blobs, reader) == {
        item_path("global", "iam.role", "r")}
    assert referring_paths([item_path("us-east-1", "ec2.vpc", "vpc-1")], blobs, reader) == set()


def test_static_items_answer_references() -> None:
    related = StaticItems([{"technology": "iam.group", "id": "admins", "region": "global",
                            "configuration": {"GroupName": "admins"}}])
    user = {"technology": "iam.user", "configuration": {"GroupList": ["admins", "gone"]}}
    found = related.referenced(user, "iam.group")
    assert [(r.item_id, r.path, d is not None) for r, d in found] == [
        ("admins", "configuration.GroupList[0]", True), ("gone", "configuration.GroupList[1]", False)]


def test_aws_managed_policies_attached_are_recorded_with_their_documents() -> None:
    with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="ops", AssumeRolePolicyDocument=json.dumps({"Statement": []}))
        iam.attach_role_policy(RoleName="ops", PolicyArn="arn:aws:iam::aws:policy/PowerUserAccess")
        technology = all_technologies()["iam.aws_policy"]
        items = technology.list_items(slice_context("global"))
    [item] = items
    assert item.id == "PowerUserAccess" and item.arn == "arn:aws:iam::aws:policy/PowerUserAccess"
    statements = item.configuration["Document"]["Statement"]
    assert any(s.get("NotAction") for s in statements)
    assert item.configuration["DefaultVersionId"].startswith("v")
