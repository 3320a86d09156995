"""IAM Access Analyzer posture watcher (accessanalyzer.status): one item per region that always
exists, recording every analyzer of the region.

moto 5.2 does not emulate Access Analyzer at all (in process every call answers 404 "Not yet
implemented"; its server answers HTTP 500): the reads are tested with a botocore Stubber, with
answers shaped as AWS documents ListAnalyzers, and moto only shows that the region is then
recorded as "unsupported" instead of failing the sync. Over HTTP, a proxy in front of moto's
server answers ListAnalyzers as AWS does. No GARBLE_SEEDS entry (moto cannot hold an analyzer);
GARBLE_STAND_INS holds the proxy's stand-in answer for the garbled-answer test instead.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession, SliceContext
from gitmonkey.watchers import accessanalyzer as accessanalyzer_watcher
from gitmonkey.watchers import always_returned, get_technology
from tests.broken_endpoint import broken_endpoint, moto_server
from tests.helpers import ACCOUNT_ID, builtin_findings, normalized, slice_context

REGION = "us-east-1"
TECH = get_technology("accessanalyzer.status")
RULE = "accessanalyzer.status.no-active-analyzer"
CREATED = datetime(2024, 5, 1, 12, tzinfo=UTC)


def _summary(name: str, kind: str = "ACCOUNT", status: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
    """An AnalyzerSummary as ListAnalyzers returns it."""
    summary: dict[str, Any] = {
        "arn": f"arn:aws:access-analyzer:{REGION}:{ACCOUNT_ID}:analyzer/{name}",
        "name": name,
        "type": kind,
        "createdAt": CREATED,
        "lastResourceAnalyzed": f"arn:aws:s3:::{name}-logs",
        "lastResourceAnalyzedAt": datetime(2024, 6, 1, tzinfo=UTC),
        "tags": {"owner": "security"},
        "status": status,
    }
    summary.update(extra)
    return summary


def _stubbed(monkeypatch) -> tuple[SliceContext, Stubber]:
    ctx = slice_context(REGION)
    client = boto3.client(
        "accessanalyzer", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )

    def count(model: Any, **_: Any) -> None:
        ctx.calls[f"accessanalyzer:{model.name}"] += 1

    client.meta.events.register("before-call.*.*", count)  # as AccountSession's clients do
    monkeypatch.setattr(ctx, "client", lambda service, region=None: client)
    return ctx, Stubber(client)


def _read(monkeypatch, *pages: list[dict[str, Any]]) -> tuple[Any, SliceContext]:
    """The item read from ``pages`` of ListAnalyzers answers (chained by nextToken)."""
    ctx, stub = _stubbed(monkeypatch)
    for number, analyzers in enumerate(pages):
        answer: dict[str, Any] = {"analyzers": analyzers}
        if number + 1 < len(pages):
            answer["nextToken"] = f"page-{number + 1}"
        stub.add_response("list_analyzers", answer, {"nextToken": f"page-{number}"} if number else {})
    with stub:
        (item,) = accessanalyzer_watcher.list_status(ctx)
    stub.assert_no_pending_responses()
    return item, ctx


def test_region_without_analyzer_is_an_item_that_fires(monkeypatch):
    item, ctx = _read(monkeypatch, [])
    assert (item.technology, item.region, item.id, item.name) == (TECH.name, REGION, REGION, REGION)
    assert item.arn == ""
    assert item.configuration == {"Analyzers": [], "Unsupported": []}
    assert dict(ctx.calls) == {"accessanalyzer:ListAnalyzers": 1}
    assert builtin_findings(item) == [(RULE, f"no active external access analyzer in {REGION}")]


def test_every_kind_of_analyzer_is_recorded_with_aws_field_names(monkeypatch):
    unused = _summary(
        "unused",
        "ACCOUNT_UNUSED_ACCESS",
        configuration={"unusedAccess": {"unusedAccessAge": 90, "analysisRule": {
            "exclusions": [{"accountIds": ["111111111111"]}]}}},
    )
    external = _summary("external")
    item, _ = _read(monkeypatch, [external, unused])
    recorded = {analyzer["name"]: analyzer for analyzer in item.configuration["Analyzers"]}
    assert recorded["external"] == {
        "arn": f"arn:aws:access-analyzer:{REGION}:{ACCOUNT_ID}:analyzer/external",
        "name": "external",
        "type": "ACCOUNT",
        "status": "ACTIVE",
        "statusReason": None,
        "createdAt": CREATED,
        "configuration": None,
        "managedBy": None,
        "tags": {"owner": "security"},
        "lastResourceAnalyzed": "arn:aws:s3:::external-logs",
        "lastResourceAnalyzedAt": datetime(2024, 6, 1, tzinfo=UTC),
    }
    assert recorded["unused"]["configuration"]["unusedAccess"]["unusedAccessAge"] == 90
    assert builtin_findings(item) == []


def test_paging_follows_next_token_and_calls_once_per_page(monkeypatch):
    pages = ([_summary("a", "ACCOUNT_UNUSED_ACCESS")], [_summary("b", "ORGANIZATION")])
    item, ctx = _read(monkeypatch, *pages)
    assert sorted(a["name"] for a in item.configuration["Analyzers"]) == ["a", "b"]
    assert dict(ctx.calls) == {"accessanalyzer:ListAnalyzers": 2}
    assert builtin_findings(item) == [], "an active organization analyzer covers the region"


@pytest.mark.parametrize(
    "analyzers",
    [
        [_summary("unused", "ACCOUNT_UNUSED_ACCESS"), _summary("internal", "ACCOUNT_INTERNAL_ACCESS")],
        [_summary("external", status="DISABLED", statusReason={"code": "AWS_SERVICE_ACCESS_DISABLED"})],
        [_summary("external", status="FAILED", statusReason={"code": "SERVICE_LINKED_ROLE_CREATION_FAILED"})],
        [_summary("external", status="CREATING")],
    ],
    ids=["only-unused-and-internal", "disabled", "failed", "creating"],
)
def test_no_active_external_analyzer_fires(monkeypatch, analyzers):
    item, _ = _read(monkeypatch, analyzers)
    assert [rule for rule, _ in builtin_findings(item)] == [RULE]


def test_last_analysed_resource_is_ephemeral_and_resync_is_identical(monkeypatch):
    first, _ = _read(monkeypatch, [_summary("external"), _summary("unused", "ACCOUNT_UNUSED_ACCESS")])
    doc = normalized(first)
    for analyzer in doc.document["configuration"]["Analyzers"]:
        assert "lastResourceAnalyzed" not in analyzer and "lastResourceAnalyzedAt" not in analyzer
    # another listing order, another last analysed resource: the same document
    later = [
        _summary("unused", "ACCOUNT_UNUSED_ACCESS", lastResourceAnalyzed="arn:aws:iam::123456789012:role/x"),
        _summary("external", lastResourceAnalyzedAt=datetime(2031, 1, 1, tzinfo=UTC)),
    ]
    second, _ = _read(monkeypatch, later)
    assert normalized(second).content == doc.content


def test_a_disabled_or_deleted_analyzer_is_a_change(monkeypatch):
    before, _ = _read(monkeypatch, [_summary("external")])
    disabled, _ = _read(monkeypatch, [_summary("external", status="DISABLED")])
    deleted, _ = _read(monkeypatch, [])
    recreated, _ = _read(monkeypatch, [_summary("external", createdAt=datetime(2025, 1, 1, tzinfo=UTC))])
    contents = {normalized(item).content for item in (before, disabled, deleted, recreated)}
    assert len(contents) == 4


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDeniedException", 403), ("ThrottlingException", 429), ("InternalServerException", 500),
     ("ValidationException", 400)],
)
def test_failures_raise(monkeypatch, code, status):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("list_analyzers", code, "no", status)
    with stub, pytest.raises(ClientError):
        accessanalyzer_watcher.list_status(ctx)


def test_a_failure_on_a_later_page_raises(monkeypatch):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_response("list_analyzers", {"analyzers": [_summary("a")], "nextToken": "t"}, {})
    stub.add_client_error("list_analyzers", "ThrottlingException", "slow down", 429)
    with stub, pytest.raises(ClientError):
        accessanalyzer_watcher.list_status(ctx)


@pytest.mark.parametrize(("code", "status"), [("UnknownOperationException", 400), ("InternalFailure", 501)])
def test_an_endpoint_without_access_analyzer_is_recorded_as_unsupported(monkeypatch, code, status):
    ctx, stub = _stubbed(monkeypatch)
    stub.add_client_error("list_analyzers", code, "not available", status)
    with stub:
        (item,) = accessanalyzer_watcher.list_status(ctx)
    assert item.configuration == {"Analyzers": None, "Unsupported": ["ListAnalyzers"]}
    assert builtin_findings(item) == []


def test_moto_which_lacks_the_service_gives_an_unsupported_item_not_a_failure():
    with mock_aws():
        ctx = slice_context(REGION)
        (item,) = accessanalyzer_watcher.list_status(ctx)
        again = accessanalyzer_watcher.list_status(slice_context(REGION))[0]
    assert item.configuration == {"Analyzers": None, "Unsupported": ["ListAnalyzers"]}
    assert dict(ctx.calls) == {"accessanalyzer:ListAnalyzers": 1}
    assert builtin_findings(item) == [], "an unsupported endpoint raises no issue"
    assert normalized(again).content == normalized(item).content


def test_unsupported_then_supported_is_one_change(monkeypatch):
    unsupported = dataclasses.replace(
        _read(monkeypatch, [])[0], configuration={"Analyzers": None, "Unsupported": ["ListAnalyzers"]}
    )
    supported, _ = _read(monkeypatch, [_summary("external")])
    assert normalized(unsupported).content != normalized(supported).content


def test_technology_declaration():
    assert TECH.is_global is False
    assert TECH.iam_actions == ("access-analyzer:ListAnalyzers",)
    assert not TECH.secret_paths
    assert TECH.ephemeral_paths == ("Analyzers.*.lastResourceAnalyzed", "Analyzers.*.lastResourceAnalyzedAt")
    assert dict(TECH.always_returned) == {"accessanalyzer:ListAnalyzers": ("analyzers",)}


# --- AWS's wire format over HTTP: a proxy in front of moto's server answers ListAnalyzers ----------

LIST_ANALYZERS_ANSWER = json.dumps({"analyzers": [{
    "arn": f"arn:aws:access-analyzer:{REGION}:{ACCOUNT_ID}:analyzer/seed-analyzer",
    "name": "seed-analyzer",
    "type": "ACCOUNT",
    "createdAt": "2026-01-01T00:00:00Z",
    "lastResourceAnalyzed": "arn:aws:s3:::seed-logs",
    "lastResourceAnalyzedAt": "2026-01-02T00:00:00Z",
    "status": "ACTIVE",
    "tags": {"owner": "security"},
}]}).encode()


def test_aws_wire_answer_and_moto_servers_own_answer_over_http():
    with moto_server() as server, broken_endpoint(server.url) as proxy:
        account = AccountConfig(name="lab", id=ACCOUNT_ID, regions=(REGION,), endpoint_url=proxy.url)
        session = AccountSession(account, max_attempts=1, always_returned=always_returned())
        (unsupported,) = accessanalyzer_watcher.list_status(SliceContext(session, REGION))
        proxy.answer("accessanalyzer:ListAnalyzers", LIST_ANALYZERS_ANSWER)
        ctx = SliceContext(session, REGION)
        (item,) = accessanalyzer_watcher.list_status(ctx)
        proxy.clear()
        proxy.answer("accessanalyzer:ListAnalyzers", b'{"message": "denied"}', status=403)
        with pytest.raises(ClientError):
            accessanalyzer_watcher.list_status(SliceContext(session, REGION))
    assert unsupported.configuration == {"Analyzers": None, "Unsupported": ["ListAnalyzers"]}
    (analyzer,) = item.configuration["Analyzers"]
    assert (analyzer["name"], analyzer["type"], analyzer["status"]) == ("seed-analyzer", "ACCOUNT", "ACTIVE")
    assert analyzer["createdAt"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert dict(ctx.calls) == {"accessanalyzer:ListAnalyzers": 1}
    assert builtin_findings(item) == []


# --- the garbled-answer test's seeding: none, moto cannot hold an analyzer; the proxy can answer
# ListAnalyzers itself (Seed.answers in tests/test_unreadable_responses.py) ---------------------

GARBLE_SEEDS: dict[str, Callable[[Callable[..., Any]], None]] = {}
GARBLE_STAND_INS: dict[str, dict[str, bytes]] = {
    "accessanalyzer.status": {"accessanalyzer:ListAnalyzers": LIST_ANALYZERS_ANSWER},
}
