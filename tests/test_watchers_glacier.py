"""glacier.vault watcher: ListVaults on moto, with the per-vault calls moto 5.2 does not implement
(GetVaultAccessPolicy, GetVaultLock, ListTagsForVault: "404 Not yet implemented") answered by a
stand-in that knows the vaults moto holds; and a botocore Stubber for paging, failures and odd
answers. Also the resource-policy rules (Security Monkey's glacier checks) on the watcher's output.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.audit import python_rules
from gitmonkey.audit.context import AuditContext
from gitmonkey.read.aws import SliceContext
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers import get_technology, glacier
from tests.helpers import inject, normalized, slice_context

ACCOUNT = "123456789012"
STRANGER = "999999999999"
REGION = "us-east-1"
TECH = get_technology("glacier.vault")


def make_ctx(region: str = REGION) -> SliceContext:
    return slice_context(region)



def _policy(principal: Any, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": "read",
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["glacier:InitiateJob", "glacier:GetJobOutput"],
        "Resource": f"arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/archive",
    }
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


LOCK_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "no-early-delete",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "glacier:DeleteArchive",
        "Resource": f"arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/archive",
        "Condition": {"NumericLessThanEquals": {"glacier:ArchiveAgeinDays": "365"}},
    }],
}


# --- moto, with a stand-in for the calls moto lacks ---------------------------------------------


class VaultParts:
    """What GetVaultAccessPolicy, GetVaultLock and ListTagsForVault answer, per vault name. A vault
    that moto no longer holds gets ResourceNotFoundException from all three, as from AWS."""

    def __init__(self) -> None:
        self.policy: dict[str, dict[str, Any]] = {}
        self.lock: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self._moto = boto3.client("glacier", region_name=REGION)

    def _exists(self, name: str) -> bool:
        try:
            self._moto.describe_vault(vaultName=name)
        except ClientError:
            return False
        return True

    def answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict] | None:
        if model.name not in ("GetVaultAccessPolicy", "GetVaultLock", "ListTagsForVault"):
            return None  # moto answers
        name = urllib.parse.unquote(params["url_path"].split("/")[3])
        if not self._exists(name):
            return _not_found(f"Vault not found for ARN: arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/{name}")
        if model.name == "ListTagsForVault":
            return _ok({"Tags": dict(self.tags.get(name, {}))})
        if model.name == "GetVaultAccessPolicy":
            if name not in self.policy:
                return _not_found(f"No vault access policy is set for: {name}")
            return _ok({"policy": {"Policy": json.dumps(self.policy[name])}})
        if name not in self.lock:
            return _not_found(f"No vault lock policy is set for: {name}")
        return _ok(dict(self.lock[name]))


def _ok(parsed: dict[str, Any]) -> tuple[AWSResponse, dict]:
    return AWSResponse("https://glacier.invalid", 200, {}, None), parsed


def _not_found(message: str) -> tuple[AWSResponse, dict]:
    parsed = {"Error": {"Code": "ResourceNotFoundException", "Message": message}, "ResponseMetadata": {}}
    return AWSResponse("https://glacier.invalid", 404, {}, None), parsed


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("glacier", region_name=REGION)


@pytest.fixture
def parts(aws, monkeypatch) -> Iterator[VaultParts]:
    stand_in = VaultParts()
    with inject(monkeypatch, "before-call.glacier", stand_in.answer):
        yield stand_in


def _locked_vault(aws, parts: VaultParts, name: str = "archive") -> None:
    aws.create_vault(vaultName=name)
    aws.upload_archive(vaultName=name, body=b"ledger 2023")
    parts.policy[name] = _policy({"AWS": f"arn:aws:iam::{ACCOUNT}:role/restore"})
    parts.lock[name] = {
        "Policy": json.dumps(LOCK_POLICY),
        "State": "Locked",
        "CreationDate": "2024-01-01T00:00:00.000Z",
    }
    parts.tags[name] = {"Name": "ledger", "retention": "7y"}


def test_vault_with_policy_lock_and_tags(aws, parts):
    _locked_vault(aws, parts)
    ctx = make_ctx()

    (item,) = glacier.list_vaults(ctx)

    assert (item.technology, item.region, item.id, item.name) == (
        "glacier.vault", REGION, "archive", "archive",
    )
    assert item.arn == f"arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/archive"
    config = item.configuration
    assert set(config) == {
        "VaultName", "CreationDate", "LastInventoryDate", "NumberOfArchives", "SizeInBytes",
        "Policy", "VaultLock", "Tags",
    }
    assert config["Policy"] == parts.policy["archive"]
    assert config["VaultLock"] == {
        "Policy": LOCK_POLICY, "State": "Locked", "CreationDate": "2024-01-01T00:00:00.000Z",
    }
    assert config["Tags"] == {"Name": "ledger", "retention": "7y"}
    assert (config["NumberOfArchives"], config["SizeInBytes"]) == (1, 11)
    assert dict(ctx.calls) == {
        "glacier:ListVaults": 1,
        "glacier:GetVaultAccessPolicy": 1,
        "glacier:GetVaultLock": 1,
        "glacier:ListTagsForVault": 1,
    }


def test_vault_without_policy_lock_or_tags(aws, parts):
    aws.create_vault(vaultName="plain")

    (item,) = glacier.list_vaults(make_ctx())

    assert (item.configuration["Policy"], item.configuration["VaultLock"], item.configuration["Tags"]) == (
        None, None, {},
    )


def test_counters_and_inventory_date_are_ephemeral(aws, parts):
    _locked_vault(aws, parts)
    first = normalized(glacier.list_vaults(make_ctx())[0])
    again = normalized(glacier.list_vaults(make_ctx())[0])
    aws.upload_archive(vaultName="archive", body=b"ledger 2024, longer")
    grown = normalized(glacier.list_vaults(make_ctx())[0])

    config = first.document["configuration"]
    assert {"LastInventoryDate", "NumberOfArchives", "SizeInBytes"}.isdisjoint(config)
    assert first.ephemeral["configuration.NumberOfArchives"] == 1
    assert grown.ephemeral["configuration.NumberOfArchives"] == 2
    assert again.content == first.content == grown.content


def test_a_policy_change_is_a_change(aws, parts):
    _locked_vault(aws, parts)
    before = normalized(glacier.list_vaults(make_ctx())[0])
    parts.policy["archive"] = _policy("*")

    after = normalized(glacier.list_vaults(make_ctx())[0])

    assert after.content != before.content
    assert after.document["configuration"]["Policy"]["Statement"][0]["Principal"] == "*"


def test_cost_per_vault_and_regions_apart(aws, parts):
    for n in range(3):
        aws.create_vault(vaultName=f"vault-{n}")
    ctx = make_ctx()

    assert sorted(item.id for item in glacier.list_vaults(ctx)) == ["vault-0", "vault-1", "vault-2"]
    assert dict(ctx.calls) == {
        "glacier:ListVaults": 1,
        "glacier:GetVaultAccessPolicy": 3,
        "glacier:GetVaultLock": 3,
        "glacier:ListTagsForVault": 3,
    }
    empty = make_ctx("eu-west-1")
    assert glacier.list_vaults(empty) == []
    assert dict(empty.calls) == {"glacier:ListVaults": 1}


def test_vault_deleted_after_the_listing_is_left_out(aws, parts):
    _locked_vault(aws, parts, "kept")
    _locked_vault(aws, parts, "doomed")
    ctx = make_ctx()
    other = boto3.client("glacier", region_name=REGION)
    ctx.client("glacier").meta.events.register(
        "after-call.glacier.ListVaults", lambda **_: other.delete_vault(vaultName="doomed")
    )

    assert [item.id for item in glacier.list_vaults(ctx)] == ["kept"]


def test_moto_itself_lacks_the_per_vault_calls(aws):
    """Why the stand-in: if moto ever implements these calls, the stand-in can go."""
    aws.create_vault(vaultName="v")
    with pytest.raises(ClientError) as info:
        glacier.list_vaults(make_ctx())
    assert info.value.response["Error"]["Code"] == "404"


# --- the resource-policy rules on the watcher's output ------------------------------------------


SUFFIXES = ("internet", "unknown-account", "friendly-account", "thirdparty-account", "cross-account-root",
            "invalid-arn")


def _policy_findings(monkeypatch, document: dict[str, Any]) -> set[tuple[str, str]]:
    """Security Monkey's resource-policy checks as gitmonkey's built-in factory makes them for
    glacier.vault."""
    audit = AuditContext(
        ACCOUNT, "test", {"111111111111": {"name": "partner", "type": "friendly"}}, (),
        datetime(2030, 1, 1, tzinfo=UTC),
    )
    found = set()
    for suffix in SUFFIXES:
        check = python_rules._resource_policy_check("glacier.vault", suffix)
        found |= {(suffix, hit.key) for hit in check(document, None, audit)}
    return found


@pytest.mark.parametrize(
    ("principal", "condition", "expected"),
    [
        ("*", {}, {("internet", "*")}),
        ({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}, set()),
        ({"AWS": f"arn:aws:iam::{STRANGER}:root"}, {}, {
            ("unknown-account", f"arn:aws:iam::{STRANGER}:root"),
            ("cross-account-root", f"arn:aws:iam::{STRANGER}:root"),
        }),
        ({"AWS": "arn:aws:iam::111111111111:role/restore"}, {},
         {("friendly-account", "arn:aws:iam::111111111111:role/restore")}),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:role/restore"}, {}, set()),
    ],
    ids=["internet", "internet-limited", "unknown-root", "friendly", "same-account"],
)
def test_resource_policy_rules_on_watcher_output(aws, parts, monkeypatch, principal, condition, expected):
    aws.create_vault(vaultName="archive")
    parts.policy["archive"] = _policy(principal, **condition)
    (item,) = glacier.list_vaults(make_ctx())

    assert _policy_findings(monkeypatch, normalized(item).document) == expected


def test_vault_without_policy_has_no_policy_finding(aws, parts, monkeypatch):
    aws.create_vault(vaultName="archive")
    (item,) = glacier.list_vaults(make_ctx())
    assert _policy_findings(monkeypatch, normalized(item).document) == set()


# --- Stubber -------------------------------------------------------------------------------------


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    """The slice's own (counted) glacier client, answering from a Stubber: the session makes one
    client per service and region, so the worker threads' ``ctx.client("glacier")`` is this one.
    One worker, so that the per-vault answers are taken in order."""
    ctx = make_ctx()
    monkeypatch.setattr(glacier, "VAULT_WORKERS", 1)
    return ctx, Stubber(ctx.client("glacier"))


def _vault(name: str) -> dict[str, Any]:
    return {
        "VaultARN": f"arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/{name}",
        "VaultName": name,
        "CreationDate": "2020-01-01T00:00:00.000Z",
        "LastInventoryDate": "2024-05-31T03:00:00.000Z",
        "NumberOfArchives": 10,
        "SizeInBytes": 4096,
    }


def _per_vault(stub: Stubber, name: str, *, policy: dict | None = None, lock: dict | None = None,
               tags: dict | None = None) -> None:
    params = {"accountId": "-", "vaultName": name}
    if policy is None:
        stub.add_client_error("get_vault_access_policy", "ResourceNotFoundException", http_status_code=404,
                              expected_params=params)
    else:
        stub.add_response("get_vault_access_policy", {"policy": {"Policy": json.dumps(policy)}}, params)
    if lock is None:
        stub.add_client_error("get_vault_lock", "ResourceNotFoundException", http_status_code=404,
                              expected_params=params)
    else:
        stub.add_response("get_vault_lock", lock, params)
    stub.add_response("list_tags_for_vault", {"Tags": tags or {}}, params)


def test_listing_pages_are_followed(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    first = {"accountId": "-", "limit": "1000"}
    stub.add_response("list_vaults", {"VaultList": [_vault("a")], "Marker": "m1"}, first)
    stub.add_response("list_vaults", {"VaultList": [_vault("b")]}, dict(first, marker="m1"))
    _per_vault(stub, "a")
    _per_vault(stub, "b", policy=_policy("*"))
    with stub:
        items = glacier.list_vaults(ctx)
        stub.assert_no_pending_responses()

    assert [item.id for item in items] == ["a", "b"]
    assert items[1].configuration["Policy"] == _policy("*")
    assert dict(ctx.calls) == {
        "glacier:ListVaults": 2,
        "glacier:GetVaultAccessPolicy": 2,
        "glacier:GetVaultLock": 2,
        "glacier:ListTagsForVault": 2,
    }


def test_lock_in_progress_then_locked_is_a_change(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    lock = {"Policy": json.dumps(LOCK_POLICY), "State": "InProgress",
            "CreationDate": "2024-05-01T00:00:00.000Z", "ExpirationDate": "2024-05-02T00:00:00.000Z"}
    for state in ("InProgress", "Locked"):
        stub.add_response("list_vaults", {"VaultList": [_vault("a")]})
        _per_vault(stub, "a", lock=dict(lock, State=state))
    with stub:
        (testing,) = glacier.list_vaults(ctx)
        (locked,) = glacier.list_vaults(ctx)

    assert testing.configuration["VaultLock"]["Policy"] == LOCK_POLICY
    assert testing.configuration["VaultLock"]["ExpirationDate"] == "2024-05-02T00:00:00.000Z"
    assert normalized(locked).content != normalized(testing).content


def test_policy_answer_without_its_text_is_unreadable(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_vaults", {"VaultList": [_vault("a")]})
    stub.add_response("get_vault_access_policy", {"policy": {}})
    with stub, pytest.raises(UnreadableResponseError, match="GetVaultAccessPolicy"):
        glacier.list_vaults(ctx)


@pytest.mark.parametrize(
    ("failing", "code"),
    [
        ("list_vaults", "AccessDeniedException"),
        ("get_vault_access_policy", "AccessDeniedException"),
        ("get_vault_lock", "ThrottlingException"),
        ("list_tags_for_vault", "ThrottlingException"),
    ],
)
def test_any_failed_call_fails_the_whole_listing(monkeypatch, failing, code):
    ctx, stub = _stubbed(monkeypatch)
    steps = [
        ("list_vaults", {"VaultList": [_vault("a")]}),
        ("get_vault_access_policy", {"policy": {"Policy": json.dumps(_policy("*"))}}),
        ("get_vault_lock", {"Policy": json.dumps(LOCK_POLICY), "State": "Locked"}),
        ("list_tags_for_vault", {"Tags": {}}),
    ]
    for method, response in steps:
        if method == failing:
            stub.add_client_error(method, service_error_code=code, http_status_code=400)
            break
        stub.add_response(method, response)
    with stub, pytest.raises(ClientError, match=code):
        glacier.list_vaults(ctx)


def test_failed_later_listing_page_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_vaults", {"VaultList": [_vault("a")], "Marker": "m1"})
    stub.add_client_error("list_vaults", service_error_code="ThrottlingException", http_status_code=400)
    with stub, pytest.raises(ClientError, match="ThrottlingException"):
        glacier.list_vaults(ctx)


def test_arn_is_built_when_absent(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    vault = {k: v for k, v in _vault("a").items() if k != "VaultARN"}
    stub.add_response("list_vaults", {"VaultList": [vault]})
    _per_vault(stub, "a")
    with stub:
        (item,) = glacier.list_vaults(ctx)
    assert item.arn == f"arn:aws:glacier:{REGION}:{ACCOUNT}:vaults/a"


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.ephemeral_paths == ("LastInventoryDate", "NumberOfArchives", "SizeInBytes")
    assert not TECH.secret_paths
    assert TECH.iam_actions == (
        "glacier:ListVaults",
        "glacier:GetVaultAccessPolicy",
        "glacier:GetVaultLock",
        "glacier:ListTagsForVault",
    )


# --- the garbled-answer test's seeding -----------------------------------------------------------

# No entry: a read of a vault on moto cannot complete (GetVaultAccessPolicy, GetVaultLock and
# ListTagsForVault answer "404 Not yet implemented"), so there is no clean read to garble.
GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {}
