"""iam.instance_profile on moto and Stubber: fields, roles, paging, failures, API cost, resync,
deletion and the no-role rule.

moto's ListInstanceProfiles ignores ``MaxItems`` (one page, no ``IsTruncated``) and allows one
role per profile (as AWS does), so paging and a profile listing two roles are Stubber answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.sync import run_sync
from gitmonkey.watchers import get_technology
from gitmonkey.watchers._common import TruncatedListError
from gitmonkey.watchers._iam_instance_profiles import list_instance_profiles
from tests.helpers import _Raw, builtin_findings, git, inject, make_config, normalized

ACCOUNT = "123456789012"
REGION = "us-east-1"
TECH = "iam.instance_profile"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}
CREATED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def new_ctx(session: AccountSession | None = None) -> SliceContext:
    return SliceContext(session or AccountSession(AccountConfig(name="test", id=ACCOUNT)), "global")


@pytest.fixture
def iam() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("iam", region_name=REGION)


def stubbed(monkeypatch: pytest.MonkeyPatch) -> tuple[SliceContext, Stubber]:
    ctx = new_ctx()
    client = boto3.client("iam", region_name=REGION, aws_access_key_id="a", aws_secret_access_key="b")
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def stub_role(name: str, path: str = "/") -> dict[str, Any]:
    """A role as ListInstanceProfiles returns it: with its trust policy and creation date."""
    return {
        "Path": path,
        "RoleName": name,
        "RoleId": f"AROA{name.upper():0<17}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
        "CreateDate": CREATED,
        "AssumeRolePolicyDocument": json.dumps(TRUST),
    }


def stub_profile(name: str, *roles: dict[str, Any]) -> dict[str, Any]:
    return {
        "Path": "/",
        "InstanceProfileName": name,
        "InstanceProfileId": f"AIPA{name.upper():0<17}",
        "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}",
        "CreateDate": CREATED,
        "Roles": list(roles),
    }


def _web_and_orphan(iam: Any) -> dict[str, str]:
    """A profile ``web`` (path /app/) holding role ``web-role`` (path /svc/), and a profile
    ``orphan`` without a role; returns the ids AWS gave."""
    role = iam.create_role(RoleName="web-role", Path="/svc/", AssumeRolePolicyDocument=json.dumps(TRUST),
                           Description="web servers")["Role"]
    iam.put_role_policy(RoleName="web-role", PolicyName="read", PolicyDocument=json.dumps(READ))
    web = iam.create_instance_profile(InstanceProfileName="web", Path="/app/",
                                      Tags=[{"Key": "team", "Value": "web"}])["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="web-role")
    orphan = iam.create_instance_profile(InstanceProfileName="orphan")["InstanceProfile"]
    return {"role": role["RoleId"], "web": web["InstanceProfileId"], "orphan": orphan["InstanceProfileId"]}


# --- fields -------------------------------------------------------------------------------------------


def test_a_profile_with_a_role_and_one_without(iam: Any) -> None:
    ids = _web_and_orphan(iam)
    ctx = new_ctx()

    items = {item.id: item for item in list_instance_profiles(ctx)}

    assert sorted(items) == ["orphan", "web"]
    web = items["web"]
    assert (web.technology, web.region, web.id, web.name, web.arn) == (
        TECH, "global", "web", "web", f"arn:aws:iam::{ACCOUNT}:instance-profile/app/web"
    )
    created = web.configuration.pop("CreateDate")
    assert isinstance(created, datetime)
    # Of the role, its identity only: no trust policy, dates or policies (iam.role has them).
    # No Tags: AWS's ListInstanceProfiles does not return them (moto does).
    assert web.configuration == {
        "InstanceProfileName": "web",
        "InstanceProfileId": ids["web"],
        "Path": "/app/",
        "Arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/app/web",
        "Roles": [
            {
                "RoleName": "web-role",
                "RoleId": ids["role"],
                "Arn": f"arn:aws:iam::{ACCOUNT}:role/svc/web-role",
                "Path": "/svc/",
            }
        ],
    }
    orphan = items["orphan"]
    assert orphan.arn == f"arn:aws:iam::{ACCOUNT}:instance-profile/orphan"
    assert orphan.configuration["Path"] == "/"
    assert orphan.configuration["InstanceProfileId"] == ids["orphan"]
    assert orphan.configuration["Roles"] == []
    assert ctx.calls == {"iam:ListInstanceProfiles": 1}


def test_the_stored_document(iam: Any) -> None:
    _web_and_orphan(iam)
    (web,) = (item for item in list_instance_profiles(new_ctx()) if item.id == "web")

    stored = normalized(web)

    assert stored.ephemeral == {}
    assert stored.document["configuration"]["CreateDate"].endswith("Z")
    assert stored.document["technology"] == TECH and stored.document["region"] == "global"


def test_no_profiles_is_one_call_and_no_item(iam: Any) -> None:
    ctx = new_ctx()
    assert list_instance_profiles(ctx) == []
    assert ctx.calls == {"iam:ListInstanceProfiles": 1}


def test_calls_do_not_grow_with_profiles(iam: Any) -> None:
    """One page (up to 100 profiles by default) is one call, however many profiles it holds."""
    for number in range(12):
        iam.create_instance_profile(InstanceProfileName=f"p{number:02}")
    ctx = new_ctx()
    assert len(list_instance_profiles(ctx)) == 12
    assert ctx.api_calls == ctx.calls["iam:ListInstanceProfiles"] == 1


def test_roles_are_recorded_as_listed_sorted_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS holds one role per profile but answers with a list: every role is kept, sorted."""
    ctx, stub = stubbed(monkeypatch)
    stub.add_response("list_instance_profiles", {
        "InstanceProfiles": [stub_profile("two", stub_role("zeta"), stub_role("alpha", "/x/"))],
        "IsTruncated": False,
    })
    with stub:
        (item,) = list_instance_profiles(ctx)

    assert [role["RoleName"] for role in item.configuration["Roles"]] == ["alpha", "zeta"]
    assert all(set(role) == {"RoleName", "RoleId", "Arn", "Path"} for role in item.configuration["Roles"])
    assert item.configuration["Roles"][0]["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/x/alpha"


def test_listing_order_does_not_change_the_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    contents = []
    for roles in ((stub_role("a"), stub_role("b")), (stub_role("b"), stub_role("a"))):
        ctx, stub = stubbed(monkeypatch)
        stub.add_response("list_instance_profiles", {"InstanceProfiles": [stub_profile("p", *roles)]})
        with stub:
            (item,) = list_instance_profiles(ctx)
        contents.append(normalized(item).content)
    assert contents[0] == contents[1]


# --- paging and failures ------------------------------------------------------------------------------


def test_every_page_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch)
    stub.add_response(
        "list_instance_profiles",
        {"InstanceProfiles": [stub_profile("a", stub_role("r"))], "IsTruncated": True, "Marker": "m1"},
        {},
    )
    stub.add_response(
        "list_instance_profiles",
        {"InstanceProfiles": [stub_profile("b")], "IsTruncated": False},
        {"Marker": "m1"},
    )
    with stub:
        items = list_instance_profiles(ctx)
        stub.assert_no_pending_responses()

    assert [item.id for item in items] == ["a", "b"]
    assert [len(item.configuration["Roles"]) for item in items] == [1, 0]


def test_a_truncated_page_without_marker_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch)
    page = {"InstanceProfiles": [stub_profile("a")], "IsTruncated": True}
    stub.add_response("list_instance_profiles", page)
    with stub, pytest.raises(TruncatedListError, match="list_instance_profiles"):
        list_instance_profiles(ctx)


@pytest.mark.parametrize("code", ["AccessDenied", "Throttling"])
def test_a_failure_raises(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    ctx, stub = stubbed(monkeypatch)
    stub.add_client_error("list_instance_profiles", service_error_code=code, http_status_code=400)
    with stub, pytest.raises(ClientError, match=code):
        list_instance_profiles(ctx)


def test_a_failed_second_page_raises_instead_of_returning_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, stub = stubbed(monkeypatch)
    page = {"InstanceProfiles": [stub_profile("a")], "IsTruncated": True, "Marker": "m1"}
    stub.add_response("list_instance_profiles", page)
    stub.add_client_error("list_instance_profiles", service_error_code="Throttling", http_status_code=400)
    with stub, pytest.raises(ClientError, match="Throttling"):
        list_instance_profiles(ctx)


def _answer(result: str) -> AWSResponse:
    body = (
        '<ListInstanceProfilesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        f"<ListInstanceProfilesResult>{result}</ListInstanceProfilesResult>"
        "<ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></ListInstanceProfilesResponse>"
    ).encode()
    return AWSResponse("https://example.invalid", 200, {}, _Raw(body))


def _strict_ctx() -> SliceContext:
    session = AccountSession(AccountConfig(name="test", id=ACCOUNT), max_attempts=1,
                             always_returned=get_technology(TECH).always_returned)
    return SliceContext(session, "global")


def test_an_answer_without_the_profile_list_is_unreadable_not_empty(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read as "no profiles", it would record every profile as deleted."""
    iam.create_instance_profile(InstanceProfileName="kept")
    with (
        inject(monkeypatch, "before-send.iam.ListInstanceProfiles", lambda **_: _answer("")) as fired,
        pytest.raises(UnreadableResponseError, match="ListInstanceProfiles"),
    ):
        list_instance_profiles(_strict_ctx())
    assert fired


def test_a_profile_without_its_roles_is_unreadable_not_roleless(
    iam: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS always sends ``Roles`` (empty for no role); without it the profile would read as
    having no role, a false change and a false no-role issue."""
    profile = (
        "<IsTruncated>false</IsTruncated><InstanceProfiles><member>"
        "<InstanceProfileId>AIPAEXAMPLE</InstanceProfileId><Path>/</Path>"
        "<InstanceProfileName>p</InstanceProfileName>"
        f"<Arn>arn:aws:iam::{ACCOUNT}:instance-profile/p</Arn>"
        "<CreateDate>2024-01-01T00:00:00Z</CreateDate>"
        "</member></InstanceProfiles>"
    )
    with (
        inject(monkeypatch, "before-send.iam.ListInstanceProfiles", lambda **_: _answer(profile)),
        pytest.raises(UnreadableResponseError, match="'p' has no Roles"),
    ):
        list_instance_profiles(_strict_ctx())


# --- resync, deletion, rules --------------------------------------------------------------------------


def test_an_unchanged_resync_gives_identical_documents(iam: Any) -> None:
    _web_and_orphan(iam)
    first = {item.id: normalized(item).content for item in list_instance_profiles(new_ctx())}
    second = {item.id: normalized(item).content for item in list_instance_profiles(new_ctx())}
    assert first == second and len(first) == 2


def test_sync_resync_role_change_and_deletion(tmp_path: Any, iam: Any) -> None:
    """End to end: the baseline, a resync without a commit, a role removed (one commit), and a
    profile deleted (its file leaves the repository)."""
    _web_and_orphan(iam)
    config = make_config(tmp_path, technologies=[TECH])
    repo = config.repo_path(config.accounts[0])
    web = repo / "items/global/iam/instance_profile/web.json"
    orphan = repo / "items/global/iam/instance_profile/orphan.json"

    assert run_sync(config).exit_code == 0
    assert web.is_file() and orphan.is_file()
    head = git(repo, "rev-parse", "HEAD")
    again = run_sync(config)
    assert again.exit_code == 0 and again.accounts[0].commits == []
    assert git(repo, "rev-parse", "HEAD") == head

    iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="web-role")
    assert run_sync(config).exit_code == 0
    assert json.loads(web.read_text())["configuration"]["Roles"] == []

    iam.delete_instance_profile(InstanceProfileName="orphan")
    assert run_sync(config).exit_code == 0
    assert web.is_file() and not orphan.exists()


def test_no_role_rule_on_moto_output(iam: Any) -> None:
    _web_and_orphan(iam)
    items = {item.id: item for item in list_instance_profiles(new_ctx())}
    assert builtin_findings(items["orphan"]) == [
        ("iam.instance_profile.no-role", "instance profile orphan has no role")
    ]
    assert builtin_findings(items["web"]) == []


def test_declaration() -> None:
    tech = get_technology(TECH)
    assert tech.is_global
    assert tech.list_items is list_instance_profiles
    assert tech.iam_actions == ("iam:ListInstanceProfiles", "iam:GetInstanceProfile")
    assert tech.unordered_paths == ("Roles",)
    assert tech.ephemeral_paths == () and tech.secret_paths == ()
    assert tech.always_returned == {"iam:ListInstanceProfiles": ("InstanceProfiles",)}
    assert "tags" in tech.description.lower()
