"""`gitmonkey listen` end to end on moto: EventBridge -> SQS -> re-read -> commit by the principal."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from gitmonkey.listen.health import health_lines, listen_health
from gitmonkey.store import AccountRepository
from tests.helpers import ACCOUNT_ID, assert_clean, inject, subjects
from tests.helpers import git as run_git
from tests.listen_world import BOB, REGION, ListenWorld, cloudtrail_record, minutes_ago

EC2 = "ec2.amazonaws.com"


def git(repo: Path, *args: str) -> str:
    return run_git(repo, *args).strip()

OPEN_22 = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def world(aws: None, tmp_path: Path) -> ListenWorld:
    world = ListenWorld(tmp_path, ["ec2.security_group", "ec2.instance", "ec2.network_interface"])
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    world.group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    world.ec2 = ec2
    world.vpc = vpc
    world.sync()
    return world


def open_port(world: ListenWorld, **record: Any) -> dict[str, Any]:
    world.ec2.authorize_security_group_ingress(GroupId=world.group, IpPermissions=OPEN_22)
    return cloudtrail_record(
        EC2, "AuthorizeSecurityGroupIngress",
        {"groupId": world.group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22,
                                                               "toPort": 22}]}},
        {"_return": True}, **record,
    )


def item_file(world: ListenWorld, group: str | None = None) -> str:
    return f"items/{REGION}/ec2/security_group/{group or world.group}.json"


def test_an_opened_port_is_one_commit_authored_by_who_opened_it(world: ListenWorld) -> None:
    when = minutes_ago(3)
    event = open_port(world, when=when)
    world.publish(event)

    report = world.listen()

    assert (report.received, report.recorded, report.commits) == (1, 1, 1)
    author = git(world.repo, "log", "-1", "--format=%an|%ae|%aI|%cn", "--", item_file(world))
    assert author == (f"Admin/alice@example.com|Admin-alice-example.com@assumedrole.aws|"
                      f"{when.strftime('%Y-%m-%dT%H:%M:%S')}+00:00|gitmonkey")
    message = git(world.repo, "log", "-1", "--format=%B", "--", item_file(world))
    assert f"ec2.security_group {REGION} {world.group} (web): modified" in message
    assert "IpPermissions" in message
    assert f"Gitmonkey-Actor: arn:aws:sts::{ACCOUNT_ID}:assumed-role/Admin/alice@example.com" in message
    assert "Gitmonkey-Event: AuthorizeSecurityGroupIngress" in message
    assert f"Gitmonkey-Event-Id: {event['eventID']}" in message
    assert "Gitmonkey-Source-Ip: 203.0.113.7" in message
    assert "Gitmonkey-User-Agent: aws-cli/2.15.0" in message
    assert "Gitmonkey-Listen: " in message
    stored = json.loads((world.repo / item_file(world)).read_text())
    assert stored["configuration"]["IpPermissions"][0]["FromPort"] == 22
    # git blame and shortlog answer "who opened port 22"
    blame = git(world.repo, "blame", "--line-porcelain", item_file(world))
    assert "author Admin/alice@example.com" in blame
    assert world.depth() == 0, "the message is deleted once its commit exists"
    assert_clean(world.repo)
    # the post-store audit ran: the world-open SSH port is an issue, in an audit commit
    assert (world.repo / f"issues/{REGION}/ec2/security_group/{world.group}.yaml").exists()


def test_duplicates_replays_and_out_of_order_events_make_no_extra_commit(world: ListenWorld) -> None:
    opened = open_port(world, when=minutes_ago(5))
    world.ec2.revoke_security_group_ingress(GroupId=world.group, IpPermissions=OPEN_22)
    revoked = cloudtrail_record(EC2, "RevokeSecurityGroupIngress", {"groupId": world.group},
                                identity=BOB, when=minutes_ago(4))
    before = git(world.repo, "rev-list", "--count", "HEAD")
    # delivered newest first, the first one twice: the current state (port closed) equals HEAD
    world.send(revoked, opened, opened)

    report = world.listen()

    assert report.received == 3 and report.recorded == 3
    assert report.commits == 0
    assert git(world.repo, "rev-list", "--count", "HEAD") == before
    assert world.depth() == 0


def test_several_events_for_one_item_in_a_batch_are_one_read_crediting_the_latest(
    world: ListenWorld,
) -> None:
    first = open_port(world, when=minutes_ago(10))
    world.ec2.create_tags(Resources=[world.group], Tags=[{"Key": "owner", "Value": "bob"}])
    latest = cloudtrail_record(EC2, "CreateTags", {"resourcesSet": {"items": [{"resourceId": world.group}]},
                                                   "tagSet": {"items": [{"key": "owner", "value": "bob"}]}},
                               identity=BOB, when=minutes_ago(9))
    world.send(latest, first)

    report = world.listen()

    assert report.reads == 1 and report.commits == 1
    assert git(world.repo, "log", "-1", "--format=%an", "--", item_file(world)) == "bob"
    message = git(world.repo, "log", "-1", "--format=%B", "--", item_file(world))
    assert "Gitmonkey-Event: CreateTags" in message


def test_a_create_and_a_delete_are_recorded(world: ListenWorld) -> None:
    created = world.ec2.create_security_group(GroupName="db", Description="db", VpcId=world.vpc)["GroupId"]
    world.publish(cloudtrail_record(EC2, "CreateSecurityGroup",
                                    {"groupName": "db", "groupDescription": "db", "vpcId": world.vpc},
                                    {"_return": True, "groupId": created}))
    assert world.listen().commits == 1
    assert (world.repo / item_file(world, created)).exists()
    assert f"{created} (db): added" in subjects(world.repo)[-1] or any(
        f"{created} (db): added" in s for s in subjects(world.repo))

    world.ec2.delete_security_group(GroupId=created)
    world.publish(cloudtrail_record(EC2, "DeleteSecurityGroup", {"groupId": created}, {"_return": True},
                                    identity=BOB))
    assert world.listen().commits == 1
    assert not (world.repo / item_file(world, created)).exists()
    last = git(world.repo, "log", "-1", "--format=%an %s", "--", item_file(world, created))
    assert last == f"bob ec2.security_group {REGION} {created} (db): deleted"


def test_a_batch_call_records_every_item_it_names(world: ListenWorld) -> None:
    subnet = world.ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    started = world.ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2, SubnetId=subnet,
                                      SecurityGroupIds=[world.group])["Instances"]
    ids = [i["InstanceId"] for i in started]
    interfaces = [i["NetworkInterfaces"][0]["NetworkInterfaceId"] for i in started]
    world.publish(cloudtrail_record(
        EC2, "RunInstances", {"instancesSet": {"items": [{"imageId": "ami-12c6146b", "minCount": 2}]}},
        {"instancesSet": {"items": [
            {"instanceId": i, "networkInterfaceSet": {"items": [{"networkInterfaceId": eni}]}}
            for i, eni in zip(ids, interfaces, strict=True)
        ]}, "requestId": "r-1"},
    ))

    report = world.listen()

    assert report.commits == 4
    for path in [f"items/{REGION}/ec2/instance/{i}.json" for i in ids] + [
        f"items/{REGION}/ec2/network_interface/{eni}.json" for eni in interfaces
    ]:
        assert git(world.repo, "log", "-1", "--format=%an", "--", path) == "Admin/alice@example.com"

    # TerminateInstances names the instances, not the interfaces it deletes: that slice is re-read.
    # (moto keeps a terminated instance's interfaces; AWS deletes those created with it.)
    world.ec2.terminate_instances(InstanceIds=ids)
    for eni in interfaces:
        world.ec2.delete_network_interface(NetworkInterfaceId=eni)
    world.publish(cloudtrail_record(
        EC2, "TerminateInstances", {"instancesSet": {"items": [{"instanceId": i} for i in ids]}},
        identity=BOB,
    ))
    report = world.listen()
    assert git(world.repo, "ls-files", f"items/{REGION}/ec2/network_interface/") == ""
    message = git(world.repo, "log", "-1", "--format=%an%n%B", "--", f"items/{REGION}/ec2/network_interface/")
    assert message.startswith("bob\n") and "Gitmonkey-Read: slice" in message


def test_events_of_unconfigured_accounts_regions_and_failed_calls_are_dropped(world: ListenWorld) -> None:
    head = git(world.repo, "rev-parse", "HEAD")
    open_port(world)
    world.send(
        cloudtrail_record(EC2, "AuthorizeSecurityGroupIngress", {"groupId": world.group},
                          account="999999999999"),
        cloudtrail_record(EC2, "AuthorizeSecurityGroupIngress", {"groupId": world.group},
                          region="ap-south-1"),
        cloudtrail_record(EC2, "AuthorizeSecurityGroupIngress", {"groupId": world.group},
                          errorCode="Client.UnauthorizedOperation", errorMessage="denied"),
    )

    report = world.listen()

    assert report.received == 3 and report.commits == 0
    assert report.skipped == {"not configured": 2, "the call failed": 1}
    assert git(world.repo, "rev-parse", "HEAD") == head
    assert world.depth() == 0


def test_a_poison_message_goes_to_the_dead_letter_queue_and_status_says_so(aws: None, tmp_path: Path) -> None:
    world = ListenWorld(tmp_path, ["ec2.security_group"], visibility=0, max_receive_count=2)
    world.sync()
    world.send("not json {", json.dumps({"detail-type": "something else", "detail": {}}))

    poison = 0
    for _ in range(3):
        listener = world.listener()
        report = listener.run(once=True)
        poison += report.poison
        assert report.commits == 0
        world.after_retry_delay()

    assert poison == 2, "read once, back for a 2nd delivery, then moved to the dead-letter queue"
    assert world.depth() == 0
    assert world.depth(world.dead_url) == 2
    health = listen_health(world.config, queue=listener.queue)
    assert health["dead_letter"]["messages"] == 2
    lines = "\n".join(health_lines(health))
    assert "DEAD-LETTER 2 messages" in lines
    assert "last listen" in lines


def test_a_failed_re_read_keeps_the_message_and_the_history(
    world: ListenWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.publish(open_port(world))
    before = (world.repo / item_file(world)).read_text()
    with inject(monkeypatch, "before-call.ec2.DescribeSecurityGroups",
                lambda **_: _denied()):
        report = world.listen()
    assert report.retried == 1 and report.commits == 0
    assert (world.repo / item_file(world)).read_text() == before
    assert world.depth() == 1, "the message stays for a retry"

    world.after_retry_delay()
    report = world.listen()
    assert report.commits == 1 and world.depth() == 0


def _denied() -> Any:
    from tests.helpers import error_response

    return error_response(403, "UnauthorizedOperation", "You are not authorized")


def test_a_listener_killed_between_commit_and_delete_makes_no_second_commit(
    world: ListenWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.sqs.set_queue_attributes(QueueUrl=world.queue_url, Attributes={"VisibilityTimeout": "1"})
    world.publish(open_port(world))
    listener = world.listener()

    def killed(_messages: Any) -> list[str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(listener.queue, "delete", killed)
    with pytest.raises(KeyboardInterrupt):
        listener.run(once=True)
    commits = git(world.repo, "rev-list", "--count", "HEAD")
    message = git(world.repo, "log", "-1", "--format=%B", "--", item_file(world))
    assert "AuthorizeSecurityGroupIngress" in message
    monkeypatch.undo()
    assert world.depth() == 1, "killed before the delete: the message comes back"
    time.sleep(1.2)

    report = world.listen()
    assert report.received == 1 and report.recorded == 1 and report.commits == 0
    assert git(world.repo, "rev-list", "--count", "HEAD") == commits
    assert world.depth() == 0


def test_a_running_sync_makes_the_listener_retry_later(world: ListenWorld) -> None:
    world.publish(open_port(world))
    repo = AccountRepository.open(world.repo, create=False)
    with repo.lock():
        report = world.listen()
    assert report.retried == 1 and report.commits == 0
    assert world.depth() == 1
    world.after_retry_delay()
    assert world.listen().commits == 1


def test_a_slice_no_sync_has_read_is_left_to_the_first_sync(aws: None, tmp_path: Path) -> None:
    world = ListenWorld(tmp_path, ["ec2.security_group", "sqs.queue"])
    world.sync()
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.create_queue(QueueName="orders")
    watched = ("ec2.security_group", "sqs.queue", "sns.topic")
    world.config = dataclasses.replace(world.config, technologies=watched)
    boto3.client("sns", region_name=REGION).create_topic(Name="alerts")
    world.publish(
        cloudtrail_record("sqs.amazonaws.com", "CreateQueue", {"queueName": "orders"},
                          {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/orders"}),
        cloudtrail_record("sns.amazonaws.com", "CreateTopic", {"name": "alerts"},
                          {"topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alerts"}),
    )
    report = world.listen()
    assert report.recorded == 2 and report.commits == 1
    assert (world.repo / f"items/{REGION}/sqs/queue/orders.json").exists()
    assert not (world.repo / f"items/{REGION}/sns").exists()


def test_a_create_not_readable_yet_is_retried_then_given_up(world: ListenWorld) -> None:
    world.send(cloudtrail_record(EC2, "CreateSecurityGroup", {"groupName": "ghost", "vpcId": world.vpc},
                                 {"_return": True, "groupId": "sg-0123456789abcdef0"}))
    listener = world.listener()
    listener.create_retries = 1
    first = listener.run(once=True)
    assert first.retried == 1 and world.depth() == 1
    world.after_retry_delay()
    second = world.listener()
    second.create_retries = 1
    report = second.run(once=True)
    assert report.recorded == 1 and report.commits == 0
    assert world.depth() == 0


def test_a_long_running_listener_reads_shared_state_afresh_each_round(aws: None, tmp_path: Path) -> None:
    """cloudtrail.status reads each trail's status once per session (``ctx.shared``): a listener
    that kept its first round's answer would record StopLogging as nothing."""
    world = ListenWorld(tmp_path, ["cloudtrail.trail", "cloudtrail.status"])
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="trail-logs")
    cloudtrail = boto3.client("cloudtrail", region_name=REGION)
    cloudtrail.create_trail(Name="main", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name="main")
    world.sync()
    status = "items/global/cloudtrail/status/account.json"
    listener = world.listener()
    source = "cloudtrail.amazonaws.com"

    cloudtrail.put_event_selectors(TrailName="main", EventSelectors=[
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    world.send(cloudtrail_record(source, "PutEventSelectors", {"trailName": "main"}))
    listener.run(once=True)
    assert '"IsLogging": true' in (world.repo / status).read_text()

    cloudtrail.stop_logging(Name="main")
    world.send(cloudtrail_record(source, "StopLogging", {"name": "main"}, identity=BOB))
    listener.run(once=True)
    assert '"IsLogging": true' not in (world.repo / status).read_text()
    assert git(world.repo, "log", "-1", "--format=%an", "--", status) == "bob"


def test_a_long_running_listener_takes_in_accounts_a_later_discovery_found(aws: None, tmp_path: Path) -> None:
    """With ``organization:``, a local listener re-reads the accounts the last sync discovered
    (``<repos_dir>/.gitmonkey-organization.json``) instead of keeping those it started with."""
    from gitmonkey.config import AccountConfig, load_config, save_known_accounts

    world = ListenWorld(tmp_path, ["iam.user"])
    raw = {"repos_dir": "accounts", "technologies": ["iam.user"], "max_attempts": 1,
           "organization": {"management": {"id": "999999999999"}}, "events": world.config.events}
    path = tmp_path / "org.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")
    config = load_config(path)
    listener = world.listener()
    listener.config = config
    listener._accounts_due = 0.0
    event = cloudtrail_record("iam.amazonaws.com", "CreateUser", {"userName": "bob"})
    world.publish(event)
    first = listener.run(once=True)
    assert first.skipped == {"not configured": 1} and first.errors == []

    save_known_accounts(config, (AccountConfig("prod", ACCOUNT_ID, ("us-east-1",)),))
    listener._accounts_due = 0.0  # as ACCOUNTS_REFRESH_SECONDS later
    world.publish(cloudtrail_record("iam.amazonaws.com", "CreateUser", {"userName": "carol"}))
    second = listener.run(once=True)  # the report adds up over the listener's runs
    assert second.skipped == {"not configured": 1} and second.recorded == 1, "carol's event is taken"
    assert [a.id for a in listener.config.accounts] == [ACCOUNT_ID]
