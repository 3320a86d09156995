"""Attribution of changes to CloudTrail events.

moto does not implement LookupEvents, so these tests stub real botocore clients with
``botocore.stub.Stubber``: the session's own counted client where possible, an injected one
where retries must be off. The pacing clock and sleep are fakes, so nothing waits.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from gitmonkey.attribution import Attribution, Attributor, events_region, parse_event
from gitmonkey.config import AccountConfig
from gitmonkey.read.aws import AccountSession

ACCOUNT = "123456789012"
UNTIL = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SINCE = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
SG_ARN = f"arn:aws:ec2:eu-west-1:{ACCOUNT}:security-group/sg-0abc"


@pytest.fixture
def session() -> AccountSession:
    return AccountSession(AccountConfig(name="test", id=ACCOUNT))


@pytest.fixture
def sleeps() -> list[float]:
    return []


def attributor(session: AccountSession, sleeps: list[float], **kwargs) -> Attributor:
    return Attributor(session, clock=lambda: 100.0, sleep=sleeps.append, **kwargs)


def stub(session: AccountSession, region: str) -> Stubber:
    stubber = Stubber(session.client("cloudtrail", region))
    stubber.activate()
    return stubber


def event(
    name: str,
    when: datetime,
    *,
    read_only: bool = False,
    actor: str = ALICE,
    identity: dict | None = None,
    error_code: str | None = None,
    source_ip: str = "203.0.113.7",
    user_agent: str = "aws-cli/2.15.0",
    raw: str | None = None,
    username: str = "alice",
) -> dict:
    event_id = f"{name}-{when:%H%M}"
    detail = {
        "eventVersion": "1.08",
        "userIdentity": identity or {"type": "IAMUser", "arn": actor, "principalId": "AIDAEXAMPLE"},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventName": name,
        "readOnly": read_only,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
        "eventID": event_id,
    }
    if error_code:
        detail["errorCode"] = error_code
    return {
        "EventId": event_id,
        "EventName": name,
        "ReadOnly": "true" if read_only else "false",
        "EventTime": when,
        "EventSource": "ec2.amazonaws.com",
        "Username": username,
        "Resources": [{"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": "sg-0abc"}],
        "CloudTrailEvent": raw if raw is not None else json.dumps(detail),
    }


def params(value: str, start: datetime = SINCE, end: datetime = UNTIL, token: str | None = None) -> dict:
    expected = {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": value}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": 50,
    }
    if token:
        expected["NextToken"] = token
    return expected


def attribute_sg(attr: Attributor, since: datetime | None = SINCE, until: datetime = UNTIL):
    return attr.attribute("eu-west-1", "ec2.security_group", "sg-0abc", "web", SG_ARN, since, until)


def test_the_latest_successful_write_is_chosen_over_later_reads_and_failed_calls(session, sleeps):
    events = [
        event("DescribeSecurityGroups", UNTIL - timedelta(minutes=5), read_only=True),
        event(
            "RevokeSecurityGroupIngress", UNTIL - timedelta(minutes=10), error_code="UnauthorizedOperation"
        ),
        event("AuthorizeSecurityGroupIngress", UNTIL - timedelta(minutes=20)),
        event("CreateSecurityGroup", UNTIL - timedelta(minutes=50), actor=f"arn:aws:iam::{ACCOUNT}:user/bob"),
    ]
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", {"Events": events}, params("sg-0abc"))
        attr = attributor(session, sleeps)
        found = attribute_sg(attr)
        stubber.assert_no_pending_responses()

    assert found == Attribution(
        actor=ALICE,
        event_name="AuthorizeSecurityGroupIngress",
        event_time=UNTIL - timedelta(minutes=20),
        source_ip="203.0.113.7",
        user_agent="aws-cli/2.15.0",
        event_id="AuthorizeSecurityGroupIngress-1140",
    )
    assert found.trailers() == [
        ("Gitmonkey-Actor", ALICE),
        ("Gitmonkey-Event", "AuthorizeSecurityGroupIngress"),
        ("Gitmonkey-Event-Time", "2024-05-01T11:40:00Z"),
        ("Gitmonkey-Source-Ip", "203.0.113.7"),
    ]
    assert attr.calls == {"cloudtrail:LookupEvents": 1}
    assert (attr.lookups, attr.skipped, attr.errors) == (1, 0, 0)


def test_an_event_read_only_only_in_its_json_is_not_a_write(session, sleeps):
    sneaky = event("GetSecurityGroupsForVpc", UNTIL - timedelta(minutes=1), read_only=True)
    sneaky["ReadOnly"] = "false"
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", {"Events": [sneaky]}, params("sg-0abc"))
        for value in ("web", SG_ARN):
            stubber.add_response("lookup_events", {"Events": []}, params(value))
        assert attribute_sg(attributor(session, sleeps)) is None
        stubber.assert_no_pending_responses()


def test_the_name_is_looked_up_when_the_id_finds_nothing_then_the_arn(session, sleeps):
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", {"Events": []}, params("sg-0abc"))
        stubber.add_response(
            "lookup_events",
            {"Events": [event("ModifySecurityGroupRules", SINCE + timedelta(minutes=3))]},
            params("web"),
        )
        by_name = attribute_sg(attributor(session, sleeps))
        stubber.assert_no_pending_responses()
    assert by_name is not None and by_name.event_name == "ModifySecurityGroupRules"

    with stub(session, "eu-west-1") as stubber:
        read = event("DescribeSecurityGroups", SINCE + timedelta(minutes=1), read_only=True)
        stubber.add_response("lookup_events", {"Events": []}, params("sg-0abc"))
        stubber.add_response("lookup_events", {"Events": [read]}, params("web"))
        stubber.add_response(
            "lookup_events",
            {"Events": [event("UpdateSecurityGroupRuleDescriptionsIngress", SINCE)]},
            params(SG_ARN),
        )
        by_arn = attribute_sg(attributor(session, sleeps))
        stubber.assert_no_pending_responses()
    assert by_arn is not None and by_arn.event_name == "UpdateSecurityGroupRuleDescriptionsIngress"


def test_an_iam_item_whose_name_is_its_id_is_looked_up_once_per_value_in_us_east_1(session, sleeps):
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/deploy"
    with stub(session, "us-east-1") as stubber:
        stubber.add_response("lookup_events", {"Events": []}, params("deploy"))
        stubber.add_response(
            "lookup_events", {"Events": [event("UpdateAssumeRolePolicy", SINCE)]}, params(role_arn)
        )
        attr = attributor(session, sleeps)
        found = attr.attribute("global", "iam.role", "deploy", "deploy", role_arn, SINCE, UNTIL)
        stubber.assert_no_pending_responses()
    assert found is not None and found.event_name == "UpdateAssumeRolePolicy"
    assert attr.lookups == 2


def test_the_window_runs_from_since_or_until_minus_lookback_to_until(session, sleeps):
    attr = attributor(session, sleeps, lookback=timedelta(hours=6))
    with stub(session, "eu-west-1") as stubber:
        write = [event("AuthorizeSecurityGroupEgress", UNTIL - timedelta(hours=2))]
        stubber.add_response(
            "lookup_events", {"Events": write}, params("sg-0abc", start=UNTIL - timedelta(hours=6))
        )
        stubber.add_response("lookup_events", {"Events": write}, params("sg-0abc", start=SINCE))
        assert attribute_sg(attr, since=None) is not None
        assert attribute_sg(attr, since=SINCE) is not None
        assert attribute_sg(attr, since=UNTIL) is None  # an empty window needs no request
        stubber.assert_no_pending_responses()
    assert attr.lookups == 2


def test_naive_datetimes_are_a_caller_error(session, sleeps):
    with pytest.raises(ValueError, match="until must be timezone-aware"):
        attribute_sg(attributor(session, sleeps), since=None, until=datetime(2024, 5, 1, 12, 0))


def test_pages_are_followed_until_a_write_is_found_within_max_pages(session, sleeps):
    reads = {"Events": [event("DescribeSecurityGroups", UNTIL, read_only=True)], "NextToken": "page-2"}
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", reads, params("sg-0abc"))
        stubber.add_response(
            "lookup_events",
            {"Events": [event("CreateSecurityGroup", SINCE)]},
            params("sg-0abc", token="page-2"),
        )
        found = attribute_sg(attributor(session, sleeps))
        stubber.assert_no_pending_responses()
    assert found is not None and found.event_name == "CreateSecurityGroup"

    with stub(session, "eu-west-1") as stubber:
        for value in ("sg-0abc", "web", SG_ARN):
            stubber.add_response("lookup_events", reads, params(value))
        assert attribute_sg(attributor(session, sleeps, max_pages=1)) is None
        stubber.assert_no_pending_responses()


def test_past_max_lookups_attribution_returns_none_and_counts_what_was_skipped(session, sleeps):
    attr = attributor(session, sleeps, max_lookups=2)
    with stub(session, "eu-west-1") as stubber:
        for _ in range(2):
            stubber.add_response(
                "lookup_events", {"Events": [event("CreateSecurityGroup", SINCE)]}, params("sg-0abc")
            )
        assert attribute_sg(attr) is not None
        assert attribute_sg(attr) is not None
        assert attribute_sg(attr) is None
        assert attribute_sg(attr) is None
        stubber.assert_no_pending_responses()
    assert (attr.lookups, attr.skipped, attr.errors) == (2, 2, 0)
    assert attr.calls == {"cloudtrail:LookupEvents": 2}

    spent_midway = attributor(session, sleeps, max_lookups=1)
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", {"Events": []}, params("sg-0abc"))
        assert attribute_sg(spent_midway) is None
        stubber.assert_no_pending_responses()
    assert (spent_midway.lookups, spent_midway.skipped) == (1, 1)


def test_access_denied_disables_the_region_and_only_that_region(session, sleeps):
    attr = attributor(session, sleeps)
    with stub(session, "eu-west-1") as denied, stub(session, "us-east-1") as allowed:
        denied.add_client_error(
            "lookup_events", "AccessDeniedException", "not authorized", 400, expected_params=params("sg-0abc")
        )
        assert attribute_sg(attr) is None
        assert attribute_sg(attr) is None  # no request: a stubbed one would be missing and fail
        allowed.add_response("lookup_events", {"Events": [event("PutRolePolicy", SINCE)]}, params("deploy"))
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/deploy"
        assert attr.attribute("global", "iam.role", "deploy", "deploy", role_arn, SINCE, UNTIL) is not None
        denied.assert_no_pending_responses()
        allowed.assert_no_pending_responses()
    assert attr.disabled_regions == {"eu-west-1"}
    assert (attr.errors, attr.error_codes, attr.skipped_disabled) == (1, {"AccessDeniedException": 1}, 1)


def test_throttling_and_connection_failures_return_none_without_disabling(session, sleeps):
    client = boto3.client(
        "cloudtrail",
        region_name="eu-west-1",
        config=BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    failures = iter([EndpointConnectionError(endpoint_url="https://cloudtrail.eu-west-1.amazonaws.com")])

    def factory(region: str):
        assert region == "eu-west-1"
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return client

    attr = attributor(session, sleeps, client_factory=factory)
    with Stubber(client) as stubber:
        stubber.add_client_error("lookup_events", "ThrottlingException", "Rate exceeded", 400)
        stubber.add_response(
            "lookup_events", {"Events": [event("CreateSecurityGroup", SINCE)]}, params("sg-0abc")
        )
        assert attribute_sg(attr) is None
        assert attribute_sg(attr) is None
        assert attribute_sg(attr) is not None
        stubber.assert_no_pending_responses()
    assert attr.errors == 2
    assert attr.error_codes == {"EndpointConnectionError": 1, "ThrottlingException": 1}
    assert attr.disabled_regions == frozenset()


def test_malformed_cloudtrail_event_json_falls_back_to_the_listed_fields(session, sleeps):
    events = [
        event("PutBucketPolicy", UNTIL - timedelta(minutes=5), raw="{not json", username="carol"),
        event("PutBucketAcl", UNTIL - timedelta(minutes=10), raw="[1, 2]"),
    ]
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", {"Events": events}, params("sg-0abc"))
        found = attribute_sg(attributor(session, sleeps))
    assert found == Attribution(
        actor="carol",
        event_name="PutBucketPolicy",
        event_time=UNTIL - timedelta(minutes=5),
        source_ip=None,
        user_agent=None,
        event_id="PutBucketPolicy-1155",
    )
    assert found.trailers()[-1] == ("Gitmonkey-Event-Time", "2024-05-01T11:55:00Z")


@pytest.mark.parametrize(
    "entry",
    [
        "not an event",
        {"EventName": "PutBucketPolicy", "CloudTrailEvent": "null"},  # no time, no actor
        {"EventName": "PutBucketPolicy", "Username": "x", "CloudTrailEvent": '{"eventTime": "yesterday"}'},
        {"EventTime": UNTIL, "Username": "x", "CloudTrailEvent": '{"eventName": 7}'},
        {"EventTime": UNTIL, "EventName": "X", "CloudTrailEvent": '{"userIdentity": "root"}'},
    ],
)
def test_entries_without_a_time_name_or_actor_are_ignored(entry):
    assert parse_event(entry) is None


def test_service_and_cross_account_actors():
    service = event(
        "CreateNetworkInterface", SINCE, identity={"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    )
    account = event("PutBucketPolicy", SINCE, identity={"type": "AWSAccount", "principalId": "AIDAOTHER:dev"})
    from_json_time = event("PutKeyPolicy", SINCE)
    del from_json_time["EventTime"]
    assert parse_event(service).actor == "ec2.amazonaws.com"
    assert parse_event(account).actor == "AIDAOTHER:dev"
    assert parse_event(from_json_time).event_time == SINCE


def test_control_and_bidi_characters_are_stripped_from_untrusted_fields(session, sleeps):
    hostile = event(
        "Authorize\x1b[31mSecurityGroupIngress",
        SINCE,
        actor=f"arn:aws:iam::{ACCOUNT}:user/eve\nGitmonkey-Actor: {ALICE}\x00\u202e",
        source_ip="198.51.100.9\r\n",
        user_agent="curl/8\u2028\x7f" + "A" * 2000,
    )
    with stub(session, "eu-west-1") as stubber:
        stubber.add_response("lookup_events", {"Events": [hostile]}, params("sg-0abc"))
        found = attribute_sg(attributor(session, sleeps))
    assert found is not None
    assert found.actor == f"arn:aws:iam::{ACCOUNT}:user/eveGitmonkey-Actor: {ALICE}"
    assert found.event_name == "Authorize[31mSecurityGroupIngress"
    assert found.source_ip == "198.51.100.9"
    assert found.user_agent is not None and found.user_agent.startswith("curl/8AAA")
    assert len(found.user_agent) == 512
    for key, value in found.trailers():
        assert value.isprintable(), (key, value)


def test_requests_to_one_region_are_spaced_by_min_interval(session, sleeps):
    attr = attributor(session, sleeps, min_interval=0.5)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/deploy"
    write = {"Events": [event("CreateSecurityGroup", SINCE)]}
    with stub(session, "eu-west-1") as eu, stub(session, "us-east-1") as us:
        eu.add_response("lookup_events", write, params("sg-0abc"))
        us.add_response("lookup_events", write, params("deploy"))
        eu.add_response("lookup_events", write, params("sg-0abc"))
        attribute_sg(attr)
        attr.attribute("global", "iam.role", "deploy", "deploy", role_arn, SINCE, UNTIL)
        attribute_sg(attr)
    assert sleeps == [0.5]


@pytest.mark.parametrize(
    ("region", "technology", "expected"),
    [
        ("global", "iam.user", "us-east-1"),
        ("global", "s3.bucket", "us-east-1"),
        ("eu-west-1", "s3.bucket", "eu-west-1"),
        ("eu-west-1", "iam.role", "us-east-1"),
        ("ap-southeast-2", "ec2.security_group", "ap-southeast-2"),
    ],
)
def test_events_region(region, technology, expected):
    assert events_region(region, technology) == expected


def test_bad_settings_are_refused(session):
    with pytest.raises(ValueError, match="max_lookups"):
        Attributor(session, max_lookups=-1)
    with pytest.raises(ValueError, match="lookback"):
        Attributor(session, lookback=timedelta(0))
