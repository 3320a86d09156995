"""Who hears about what: filters, event kinds, justified issues, subjects, links, config errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gitmonkey import events as ev
from gitmonkey.config import AccountConfig, ConfigError
from gitmonkey.notify import enqueue
from gitmonkey.notify.links import web_base
from gitmonkey.notify.render import subject_for
from gitmonkey.notify.subscriptions import load
from tests.test_notify_channels import ACCOUNT, NOW, new_issue

EVENTS_BY_KIND: dict[str, ev.Event] = {
    ev.ITEM_ADDED: ev.Event(
        ev.ITEM_ADDED,
        "prod",
        ACCOUNT.id,
        "s3.bucket logs added",
        "s3.bucket",
        "eu-west-1",
        "logs",
        "logs",
        commit="b" * 40,
        details={"diff": "+x\n"},
    ),
    ev.ITEM_MODIFIED: ev.Event(
        ev.ITEM_MODIFIED,
        "prod",
        ACCOUNT.id,
        "sg web modified",
        "ec2.security_group",
        "us-east-1",
        "sg-1",
        "web",
        commit="c" * 40,
        details={"diff": "-a\n+b\n"},
    ),
    ev.ITEM_DELETED: ev.Event(
        ev.ITEM_DELETED,
        "prod",
        ACCOUNT.id,
        "iam.role admin deleted",
        "iam.role",
        "global",
        "admin",
        "admin",
        details={"diff": "-y\n"},
    ),
    ev.ISSUE_NEW: new_issue(),
    ev.ISSUE_FIXED: new_issue(kind=ev.ISSUE_FIXED, score=5),
    ev.ISSUE_REGRESSED: new_issue(kind=ev.ISSUE_REGRESSED),
    ev.ISSUE_JUSTIFIED: new_issue(kind=ev.ISSUE_JUSTIFIED, details={"justification": {"reason": "ok"}}),
    ev.JUSTIFICATION_EXPIRED: new_issue(
        kind=ev.JUSTIFICATION_EXPIRED, details={"justification": {"reason": "ok", "expired": True}}
    ),
    ev.SLICE_FAILED: ev.Event(
        ev.SLICE_FAILED,
        "prod",
        ACCOUNT.id,
        "reading iam.user in global failed",
        "iam.user",
        "global",
        details={"error": "AccessDenied"},
    ),
    ev.SLICE_STALE: ev.Event(
        ev.SLICE_STALE, "prod", ACCOUNT.id, "kms.key in us-east-1 not read for 30 h", "kms.key", "us-east-1"
    ),
    ev.SYNC_SUMMARY: ev.Event(
        ev.SYNC_SUMMARY,
        "prod",
        ACCOUNT.id,
        "sync of prod: 1 added",
        details={"added": 1, "modified": 0, "deleted": 0, "failed_slices": []},
    ),
}

SUBJECTS = {
    ev.ITEM_ADDED: "[prod] changes in s3.bucket",
    ev.ITEM_MODIFIED: "[prod] changes in ec2.security_group",
    ev.ITEM_DELETED: "[prod] changes in iam.role",
    ev.ISSUE_NEW: "NEW ISSUE - [prod] issues in ec2.security_group",
    ev.ISSUE_FIXED: "[prod] 1 fixed issue in ec2.security_group",
    ev.ISSUE_REGRESSED: "REGRESSED ISSUE - [prod] issues in ec2.security_group",
    ev.ISSUE_JUSTIFIED: "[prod] issues in ec2.security_group",
    ev.JUSTIFICATION_EXPIRED: "JUSTIFICATION EXPIRED - [prod] issues in ec2.security_group",
    ev.SLICE_FAILED: "SYNC PROBLEM - [prod] 1 slice failing or stale",
    ev.SLICE_STALE: "SYNC PROBLEM - [prod] 1 slice failing or stale",
    ev.SYNC_SUMMARY: "[prod] sync of prod: 1 added",
}


def conf(**recipient: Any) -> dict[str, Any]:
    return {
        "channels": {"out": {"type": "stdout"}},
        "recipients": [{"name": "r", "channel": "out", **recipient}],
    }


def sent(state: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((state / "outbox").glob("*.json"))]


def delivered_titles(state: Path, to_send: list[ev.Event], **recipient: Any) -> list[str]:
    enqueue(state, ACCOUNT, to_send, conf(**recipient), now=NOW)
    return sorted(e["title"] for m in sent(state) for e in m["payload"]["events"])


@pytest.mark.parametrize("kind", ev.EVENT_KINDS)
def test_every_event_kind_renders_and_is_delivered_by_default_except_justified(
    kind: str, tmp_path: Path
) -> None:
    event = EVENTS_BY_KIND[kind]
    written = enqueue(tmp_path, ACCOUNT, [event], conf(), now=NOW)
    if kind == ev.ISSUE_JUSTIFIED:
        assert written == 0
        written = enqueue(tmp_path, ACCOUNT, [event], conf(events=["issue.justified"]), now=NOW)
    assert written == 1
    [message] = sent(tmp_path)
    assert message["subject"] == SUBJECTS[kind]
    assert event.title in message["text"] and message["payload"]["events"][0]["kind"] == kind


def test_one_digest_per_recipient_with_the_most_important_first(tmp_path: Path) -> None:
    config = conf()
    config["recipients"].append({"name": "other", "channel": "out", "events": ["item.*"]})
    assert enqueue(tmp_path, ACCOUNT, list(EVENTS_BY_KIND.values()), config, now=NOW) == 2
    by_recipient = {m["recipient"]: m for m in sent(tmp_path)}
    everything = by_recipient["r"]
    assert everything["subject"] == "NEW ISSUE - [prod] changes in ec2.security_group, iam.role, s3.bucket"
    text = everything["text"]
    assert (
        text.index("New issues")
        < text.index("Sync problems")
        < text.index("Added items")
        < text.index("Summary")
    )
    assert "Justified issues" not in text
    assert by_recipient["other"]["subject"] == "[prod] changes in ec2.security_group, iam.role, s3.bucket"
    assert len(by_recipient["other"]["payload"]["events"]) == 3


def test_justified_issue_does_not_notify(tmp_path: Path) -> None:
    justified = new_issue(details={"fingerprint": "fp", "justification": {"reason": "approved", "by": "ann"}})
    flagged = new_issue(kind=ev.ISSUE_REGRESSED, details={"fingerprint": "fp2", "justified": True})
    assert enqueue(tmp_path, ACCOUNT, [justified, flagged], conf(), now=NOW) == 0
    lapsed = new_issue(details={"fingerprint": "fp", "justification": {"reason": "x", "expired": True}})
    assert enqueue(tmp_path, ACCOUNT, [lapsed], conf(), now=NOW) == 1


def test_filter_accounts_by_name_or_id(tmp_path: Path) -> None:
    assert enqueue(tmp_path, ACCOUNT, [new_issue()], conf(accounts=["staging"]), now=NOW) == 0
    assert enqueue(tmp_path, ACCOUNT, [new_issue()], conf(accounts=[ACCOUNT.id]), now=NOW) == 1
    other = AccountConfig(name="staging", id="210987654321")
    assert (
        enqueue(tmp_path / "s", other, [new_issue(account="staging")], conf(accounts=["prod"]), now=NOW) == 0
    )


def test_filter_technologies_by_glob(tmp_path: Path) -> None:
    events = [
        EVENTS_BY_KIND[ev.ITEM_ADDED],
        EVENTS_BY_KIND[ev.ITEM_MODIFIED],
        EVENTS_BY_KIND[ev.SYNC_SUMMARY],
    ]
    titles = delivered_titles(tmp_path, events, technologies=["ec2.*"])
    assert titles == ["sg web modified", "sync of prod: 1 added"]


def test_filter_regions(tmp_path: Path) -> None:
    events = [EVENTS_BY_KIND[ev.ITEM_ADDED], EVENTS_BY_KIND[ev.ITEM_MODIFIED]]
    assert delivered_titles(tmp_path, events, regions=["eu-*"]) == ["s3.bucket logs added"]


def test_filter_items_by_id_or_name(tmp_path: Path) -> None:
    events = [
        EVENTS_BY_KIND[ev.ITEM_ADDED],
        EVENTS_BY_KIND[ev.ITEM_MODIFIED],
        EVENTS_BY_KIND[ev.ITEM_DELETED],
    ]
    assert delivered_titles(tmp_path, events, items=["web", "adm*"]) == [
        "iam.role admin deleted",
        "sg web modified",
    ]


def test_filter_min_score_applies_to_issues_only(tmp_path: Path) -> None:
    events = [
        new_issue(score=3, title="low"),
        new_issue(score=8, title="high", details={"fingerprint": "f"}),
        EVENTS_BY_KIND[ev.ITEM_MODIFIED],
    ]
    assert delivered_titles(tmp_path, events, min_score=5) == ["high", "sg web modified"]


def test_filter_event_kinds(tmp_path: Path) -> None:
    titles = delivered_titles(tmp_path, list(EVENTS_BY_KIND.values()), events=["issue.new", "slice.*"])
    assert titles == [
        "kms.key in us-east-1 not read for 30 h",
        "reading iam.user in global failed",
        "sg open to 0.0.0.0/0",
    ]


def test_a_quiet_sync_summary_alone_sends_nothing(tmp_path: Path) -> None:
    quiet = ev.Event(
        ev.SYNC_SUMMARY,
        "prod",
        ACCOUNT.id,
        "sync of prod: nothing",
        details={"added": 0, "modified": 0, "deleted": 0, "failed_slices": []},
    )
    assert enqueue(tmp_path, ACCOUNT, [quiet], conf(), now=NOW) == 0


def test_subject_strips_control_characters_from_untrusted_names() -> None:
    event = ev.Event(ev.ITEM_ADDED, "prod", ACCOUNT.id, "x", "s3.bucket\r\nBcc: evil@example.com")
    assert "\n" not in subject_for("prod", [event]) and "\r" not in subject_for("prod", [event])


@pytest.mark.parametrize(
    ("remote", "base"),
    [
        ("git@github.com:acme/prod.git", "https://github.com/acme/prod/commit/"),
        ("ssh://git@github.com:22/acme/prod.git", "https://github.com/acme/prod/commit/"),
        ("https://user:token@github.com/acme/prod", "https://github.com/acme/prod/commit/"),
        ("https://gitlab.com/group/sub/prod.git", "https://gitlab.com/group/sub/prod/-/commit/"),
        ("git@gitlab.example.com:sec/prod.git", "https://gitlab.example.com/sec/prod/-/commit/"),
        ("https://bitbucket.org/acme/prod.git", None),
        ("/srv/git/prod.git", None),
        ("file:///srv/git/prod.git", None),
        (None, None),
    ],
)
def test_commit_links_from_remote_urls(remote: str | None, base: str | None) -> None:
    assert web_base(remote) == base


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"channels": {"m": {"type": "email", "host": "h"}}},
            "notifications.channels.m: 'from' is a required",
        ),
        (
            {"channels": {"m": {"type": "email", "host": "h", "from": "a@b", "port": "x"}}},
            "notifications.channels.m.port: 'x' is not of type 'integer'",
        ),
        (
            {"channels": {"m": {"type": "email", "host": "h", "from": "a@b", "password": "inline"}}},
            "notifications.channels.m: Additional properties are not allowed ('password'",
        ),
        ({"channels": {"s": {"type": "slack"}}}, "notifications.channels.s: a Slack webhook URL is a secret"),
        ({"channels": {"s": {"type": "pager"}}}, "notifications.channels.s.type: 'pager' is not one of"),
        (
            {"recipients": [{"name": "r", "channel": "nope"}]},
            "notifications.recipients[0].channel: no channel named 'nope'",
        ),
        (
            {
                "channels": {"o": {"type": "stdout"}},
                "recipients": [{"name": "r", "channel": "o", "events": ["isue.*"]}],
            },
            "notifications.recipients[0].events[0]: 'isue.*' matches no event kind",
        ),
        (
            {
                "channels": {"o": {"type": "stdout"}},
                "recipients": [{"name": "r", "channel": "o"}],
                "subscriptions": [{"name": "r", "channel": "o"}],
            },
            "notifications.subscriptions[0].name: recipient 'r' is defined twice",
        ),
        (
            {
                "channels": {"m": {"type": "email", "host": "h", "from": "a@b"}},
                "recipients": [{"name": "r", "channel": "m"}],
            },
            "notifications.recipients[0].address: an email recipient needs an address",
        ),
        (
            {"delivery": {"max_age_hours": -1}},
            "notifications.delivery.max_age_hours: -1 is less than or equal",
        ),
    ],
)
def test_bad_config_names_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(section)
    assert str(error.value).startswith(message), str(error.value)
