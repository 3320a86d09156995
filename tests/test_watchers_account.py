"""Alternate contacts posture watcher (account.alternate_contacts) against moto, a botocore
Stubber, and a real sync: one global item that always exists; a contact that is not set is null;
AccessDenied (a member account without trusted access) fails the slice and keeps the file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.normalize.paths import item_path
from gitmonkey.read.aws import SliceContext
from gitmonkey.sync import run_sync
from gitmonkey.watchers import account as account_watcher
from gitmonkey.watchers import get_technology
from tests.helpers import assert_clean, builtin_findings, git, inject, make_config, normalized, slice_context

TECH = get_technology("account.alternate_contacts")
RULE = "account.alternate_contacts.no-security-contact"
NOBODY = {"BILLING": None, "OPERATIONS": None, "SECURITY": None}


def _contact(kind: str, email: str | None = None) -> dict[str, str]:
    return {
        "AlternateContactType": kind,
        "Name": f"{kind.title()} Team",
        "Title": f"{kind.title()} on call",
        "EmailAddress": email or f"{kind.lower()}@example.com",
        "PhoneNumber": "+1 555 0100",
    }


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("account", region_name="us-east-1")


def _put(client: Any, kind: str, email: str | None = None) -> None:
    contact = _contact(kind, email)
    client.put_alternate_contact(
        AlternateContactType=kind,
        Name=contact["Name"],
        Title=contact["Title"],
        EmailAddress=contact["EmailAddress"],
        PhoneNumber=contact["PhoneNumber"],
    )


def _read() -> tuple[Any, SliceContext]:
    ctx = slice_context("global")
    (item,) = account_watcher.list_alternate_contacts(ctx)
    return item, ctx


def test_account_without_contacts_is_an_item_that_fires(aws):
    item, ctx = _read()
    assert (item.technology, item.region, item.id, item.name, item.arn) == (
        TECH.name, "global", "account", "account", "",
    )
    assert item.configuration == {"AlternateContacts": NOBODY}
    assert dict(ctx.calls) == {"account:GetAlternateContact": 3}
    assert builtin_findings(item) == [(RULE, "no security contact is registered for the account")]


def test_contacts_are_recorded_as_aws_returns_them_and_a_security_contact_passes(aws):
    for kind in ("BILLING", "SECURITY"):
        _put(aws, kind)
    item, _ = _read()
    contacts = {"BILLING": _contact("BILLING"), "OPERATIONS": None, "SECURITY": _contact("SECURITY")}
    assert item.configuration == {"AlternateContacts": contacts}
    assert builtin_findings(item) == []
    # personal data, not a secret: stored readable, so a reviewer sees where AWS now writes to
    stored = normalized(item)
    assert b"security@example.com" in stored.content and b"+1 555 0100" in stored.content
    assert not TECH.secret_paths


def test_only_a_billing_or_operations_contact_still_fires(aws):
    _put(aws, "BILLING")
    _put(aws, "OPERATIONS")
    item, _ = _read()
    assert [rule for rule, _ in builtin_findings(item)] == [RULE]


def test_resync_is_identical_and_a_redirected_security_contact_is_a_change(aws):
    _put(aws, "SECURITY")
    first, _ = _read()
    again, _ = _read()
    assert normalized(again).content == normalized(first).content
    _put(aws, "SECURITY", email="attacker@example.net")
    redirected, _ = _read()
    assert redirected.configuration["AlternateContacts"]["SECURITY"]["EmailAddress"] == "attacker@example.net"
    assert normalized(redirected).content != normalized(first).content
    aws.delete_alternate_contact(AlternateContactType="SECURITY")
    removed, _ = _read()
    assert removed.configuration == {"AlternateContacts": NOBODY}
    assert [rule for rule, _ in builtin_findings(removed)] == [RULE]


# --- Stubber: AWS's answers and errors -----------------------------------------------------------


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = slice_context("global")
    client = boto3.client(
        "account", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def test_a_contact_not_set_is_null_and_the_calls_are_one_per_type(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("get_alternate_contact", {"AlternateContact": _contact("BILLING")},
                      {"AlternateContactType": "BILLING"})
    stub.add_client_error("get_alternate_contact", "ResourceNotFoundException",
                          "No contact of the inputted alternate contact type found.", 404,
                          expected_params={"AlternateContactType": "OPERATIONS"})
    stub.add_response("get_alternate_contact", {"AlternateContact": _contact("SECURITY")},
                      {"AlternateContactType": "SECURITY"})
    with stub:
        (item,) = account_watcher.list_alternate_contacts(ctx)
    stub.assert_no_pending_responses()
    assert item.configuration["AlternateContacts"] == {
        "BILLING": _contact("BILLING"), "OPERATIONS": None, "SECURITY": _contact("SECURITY"),
    }


@pytest.mark.parametrize("failing", range(3))
@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 403), ("TooManyRequestsException", 429), ("InternalServerException", 500),
     ("ValidationException", 400)],
)
def test_any_other_error_raises(monkeypatch, failing, code, status):
    ctx, stub = _stubbed(monkeypatch)
    for kind in account_watcher.CONTACT_TYPES[:failing]:
        stub.add_response("get_alternate_contact", {"AlternateContact": _contact(kind)},
                          {"AlternateContactType": kind})
    stub.add_client_error("get_alternate_contact", code, "no", status)
    with stub, pytest.raises(ClientError):
        account_watcher.list_alternate_contacts(ctx)


# --- a real sync: AccessDenied in a member account keeps the item's history -----------------------


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _access_denied(**_: Any) -> AWSResponse:
    """What a member account without trusted access for AWS Account Management gets."""
    body = (b'{"message": "User is not authorized to perform: account:GetAlternateContact '
            b'(the management account has not enabled trusted access)"}')
    headers = {"x-amzn-ErrorType": "AccessDeniedException", "Content-Type": "application/json"}
    return AWSResponse("https://account.us-east-1.amazonaws.com", 403, headers, _Raw(body))


def test_access_denied_fails_the_slice_and_keeps_the_items_history(tmp_path, aws, monkeypatch):
    _put(aws, "SECURITY")
    config = make_config(tmp_path)
    first = run_sync(config, technologies=[TECH.name])
    assert first.exit_code == 0
    repo = config.repo_path(config.accounts[0])
    path = repo / item_path("global", TECH.name, "account")
    assert path.exists()
    before = path.read_text(encoding="utf-8")
    head = git(repo, "rev-parse", "HEAD")
    with inject(monkeypatch, "before-send.account.GetAlternateContact", _access_denied) as fired:
        report = run_sync(config, technologies=[TECH.name])
    assert fired, "the fault was never injected"
    assert report.exit_code == 3
    (failed,) = [s for s in report.accounts[0].slices if s.key.technology == TECH.name]
    assert not failed.ok and "AccessDenied" in (failed.error or "")
    assert git(repo, "rev-parse", "HEAD") == head, "no commit: not a deletion, not a change"
    assert path.read_text(encoding="utf-8") == before
    assert_clean(repo)


def test_technology_declaration():
    assert TECH.is_global is True
    assert TECH.iam_actions == ("account:GetAlternateContact",)
    assert not TECH.secret_paths and not TECH.ephemeral_paths
    assert dict(TECH.always_returned) == {"account:GetAlternateContact": ("AlternateContact",)}


# --- the garbled-answer test's seeding -----------------------------------------------------------


def _seed_alternate_contacts(client: Callable[..., Any]) -> None:
    """All three contacts, so that each of the three calls answers 2xx (an unset one answers 404)."""
    for kind in account_watcher.CONTACT_TYPES:
        _put(client("account"), kind)


GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {
    "account.alternate_contacts": _seed_alternate_contacts,
}


def test_garble_seed_makes_an_item(aws):
    def client(service: str, region_name: str = "us-east-1") -> Any:
        return boto3.client(service, region_name=region_name)

    _seed_alternate_contacts(client)
    item, _ = _read()
    assert all(item.configuration["AlternateContacts"][kind] for kind in account_watcher.CONTACT_TYPES)
