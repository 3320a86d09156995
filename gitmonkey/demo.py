"""`gitmonkey demo`: the whole loop against an in-process moto account, no AWS credentials.

It creates a small account (IAM users, groups, roles and a policy, S3 buckets, security groups in
two regions), syncs it (the baseline commit), makes a few risky changes (port 22 opened to the
world, a bucket policy made public, a user deleted), syncs again, then has "alice" close the port
and delivers the CloudTrail event through EventBridge and SQS to `gitmonkey listen`, which commits
the change authored by her; and shows what to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitmonkey.config import Config

ACCOUNT_ID = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
DEMO_MARKER = "# gitmonkey demo configuration"

CONFIG_TEMPLATE = f"""{DEMO_MARKER} (written by `gitmonkey demo`; safe to delete)
repos_dir: accounts
accounts:
  - name: demo
    id: "{ACCOUNT_ID}"
    regions: [{", ".join(REGIONS)}]
"""
DEMO_PRINCIPAL = {
    "type": "AssumedRole",
    "principalId": "AROADEMOEXAMPLE:alice@example.com",
    "arn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/Admin/alice@example.com",
    "accountId": ACCOUNT_ID,
}

Echo = Callable[[str], None]


def simulated_environment() -> None:
    """Fake credentials and a lean moto, set before boto3 or moto build anything."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_SESSION_TOKEN": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)


def prepare_directory(directory: Path) -> Path:
    """Create or reset the demo directory; refuse to touch a directory that is not a demo's."""
    config_path = directory / "gitmonkey.yaml"
    if directory.exists() and any(directory.iterdir()):
        if not config_path.is_file() or not config_path.read_text(encoding="utf-8").startswith(DEMO_MARKER):
            raise SystemExit(f"gitmonkey demo: {directory} exists and is not a gitmonkey demo directory")
        shutil.rmtree(directory / "accounts", ignore_errors=True)
        shutil.rmtree(directory / "site", ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    config_path.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    return config_path


def create_account() -> dict[str, str]:
    """Populate the simulated account; returns ids the demo refers to later."""
    import boto3

    iam = boto3.client("iam")
    iam.create_group(GroupName="developers")
    iam.put_group_policy(
        GroupName="developers",
        PolicyName="read-code",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["codecommit:Get*", "codecommit:List*"], "Resource": "*"}
                ],
            }
        ),
    )
    policy_arn = iam.create_policy(
        PolicyName="s3-read-logs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::demo-logs/*"}
                ],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="developers", PolicyArn=policy_arn)
    for user in ("alice", "bob", "ci-deploy"):
        iam.create_user(UserName=user, Tags=[{"Key": "team", "Value": "platform"}])
    iam.add_user_to_group(GroupName="developers", UserName="alice")
    iam.add_user_to_group(GroupName="developers", UserName="bob")
    iam.create_login_profile(UserName="alice", Password="Demo-Passw0rd!")  # noqa: S106 (simulated account)
    iam.create_access_key(UserName="ci-deploy")
    iam.create_access_key(UserName="bob")
    iam.create_role(
        RoleName="app-server",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.attach_role_policy(RoleName="app-server", PolicyArn=policy_arn)
    iam.create_role(
        RoleName="break-glass",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    iam.put_role_policy(
        RoleName="break-glass",
        PolicyName="admin",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )

    s3 = boto3.client("s3")
    for bucket in ("demo-logs", "demo-data", "demo-website"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket="demo-logs", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket="demo-logs",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket="demo-data",
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    s3.put_bucket_website(
        Bucket="demo-website", WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
    )

    ids: dict[str, str] = {}
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        vpc_id = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        if region == "us-east-1":
            web = ec2.create_security_group(GroupName="web", Description="public web tier", VpcId=vpc_id)[
                "GroupId"
            ]
            ec2.authorize_security_group_ingress(
                GroupId=web,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "internet"}],
                    }
                    for port in (80, 443)
                ],
            )
            db = ec2.create_security_group(GroupName="db", Description="database tier", VpcId=vpc_id)[
                "GroupId"
            ]
            ec2.authorize_security_group_ingress(
                GroupId=db,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 5432,
                        "ToPort": 5432,
                        "UserIdGroupPairs": [{"GroupId": web}],
                    }
                ],
            )
            ec2.create_tags(Resources=[web, db], Tags=[{"Key": "env", "Value": "demo"}])
            ids["web"] = web
            ids["instance"] = _create_web_server(ec2, vpc_id, web)
        else:
            bastion = ec2.create_security_group(
                GroupName="bastion", Description="ssh from the office", VpcId=vpc_id
            )["GroupId"]
            ec2.authorize_security_group_ingress(
                GroupId=bastion,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "10.20.0.0/16"}],
                    }
                ],
            )
    _create_serverless(ids)
    return ids


def _create_web_server(ec2: Any, vpc_id: str, group: str) -> str:
    """A web server in the default VPC, as AWS makes one: a public subnet routed to an internet
    gateway, a public address, the app-server role through an instance profile."""
    import boto3

    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
    [main] = ec2.describe_route_tables(Filters=filters)["RouteTables"]
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"][0]["SubnetId"]
    iam = boto3.client("iam")
    iam.create_instance_profile(InstanceProfileName="app-server")
    iam.add_role_to_instance_profile(InstanceProfileName="app-server", RoleName="app-server")
    answer = ec2.run_instances(
        ImageId="ami-12345678", MinCount=1, MaxCount=1, InstanceType="t3.micro",
        IamInstanceProfile={"Name": "app-server"},
        MetadataOptions={"HttpTokens": "required"},
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Groups": [group],
                            "AssociatePublicIpAddress": True}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web-1"}]}],
    )
    return answer["Instances"][0]["InstanceId"]


def _function_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return {'ok': True}\n")
    return buffer.getvalue()


def _create_serverless(ids: dict[str, str]) -> None:
    """A queue and a function whose environment holds a (fake) database password."""
    import boto3

    role = boto3.client("iam").get_role(RoleName="app-server")["Role"]["Arn"]
    boto3.client("sqs").create_queue(QueueName="orders", tags={"team": "checkout"})
    boto3.client("lambda").create_function(
        FunctionName="orders-api",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handle",
        Code={"ZipFile": _function_zip()},
        Environment={"Variables": {"DB_HOST": "orders.db.internal", "DB_PASSWORD": DEMO_DB_PASSWORD}},
    )
    ids["queue"] = "orders"


# A made-up value the demo shows never reaches git: the function's file holds a keyed hash instead.
DEMO_DB_PASSWORD = "demo-only-s3cr3t"  # noqa: S105 (a simulated account)


def make_risky_changes(ids: dict[str, str]) -> None:
    import boto3

    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AnyoneCanSend",
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "sqs:SendMessage",
                            "Resource": queue_arn,
                        }
                    ],
                }
            )
        },
    )
    boto3.client("lambda").update_function_configuration(
        FunctionName="orders-api",
        Environment={
            "Variables": {"DB_HOST": "orders.db.internal", "DB_PASSWORD": DEMO_DB_PASSWORD + "-rotated"}
        },
    )

    boto3.client("ec2", region_name="us-east-1").authorize_security_group_ingress(
        GroupId=ids["web"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "temporary debugging"}],
            }
        ],
    )
    boto3.client("s3").put_bucket_policy(
        Bucket="demo-data",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "PublicRead",
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::demo-data/*",
                    }
                ],
            }
        ),
    )
    iam = boto3.client("iam")
    for key in iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="bob", AccessKeyId=key["AccessKeyId"])
    iam.remove_user_from_group(GroupName="developers", UserName="bob")
    iam.delete_user(UserName="bob")


def close_port_with_an_event(config: Config, group: str) -> Any:
    """Set up the events queue as `gitmonkey events template` does, have alice close port 22, deliver
    the CloudTrail event moto does not emit through EventBridge, and let the listener record it."""
    import dataclasses
    from datetime import UTC, datetime

    import boto3

    from gitmonkey.listen.run import Listener
    from gitmonkey.listen.templates import central_template

    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="gitmonkey-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bridge = boto3.client("events", region_name="us-east-1")
    bridge.create_event_bus(Name="gitmonkey")
    pattern = central_template()["Resources"]["EventsToQueueRule"]["Properties"]["EventPattern"]
    bridge.put_rule(Name="to-gitmonkey", EventBusName="gitmonkey", EventPattern=json.dumps(pattern))
    bridge.put_targets(Rule="to-gitmonkey", EventBusName="gitmonkey", Targets=[{"Id": "q", "Arn": queue_arn}])

    permission = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                  "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "temporary debugging"}]}
    boto3.client("ec2", region_name="us-east-1").revoke_security_group_ingress(
        GroupId=group, IpPermissions=[permission]
    )
    record = {
        "eventVersion": "1.09", "userIdentity": DEMO_PRINCIPAL,
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ec2.amazonaws.com", "eventName": "RevokeSecurityGroupIngress",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"groupId": group}, "responseElements": {"_return": True},
        "eventID": "0d1e2f30-4a5b-4c6d-8e9f-a0b1c2d3e4f5", "readOnly": False,
        "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": ACCOUNT_ID,
    }
    bridge.put_events(Entries=[{"Source": "aws.ec2", "DetailType": "AWS API Call via CloudTrail",
                                "Detail": json.dumps(record), "EventBusName": "gitmonkey"}])
    # the queue exists only in this process's moto: it is not written into the demo's config file
    listening = dataclasses.replace(config, events={"queue_url": queue_url, "wait_seconds": 1})
    return Listener(listening).run(once=True)


def _git(repo: Path, *args: str) -> str:
    from gitmonkey.gitcmd import run_git

    return run_git(repo, "-c", "color.ui=never", *args)


def _issues_table(repo: Path, config: Config) -> str:
    from gitmonkey.audit import output
    from gitmonkey.store import AccountRepository

    account = config.accounts[0]
    errors: list[str] = []
    store = AccountRepository.open(repo, create=False)
    rows = output.read_issue_rows(store, account.name, account.id, errors)
    return output.render_table(output.sort_rows(output.filter_rows(rows, min_score=5)))


def run_demo(directory: Path, echo: Echo = print) -> Path:
    simulated_environment()
    from moto import mock_aws

    from gitmonkey.config import load_config
    from gitmonkey.sync import render_summary, run_sync

    directory = directory.resolve()
    config_path = prepare_directory(directory)
    config = load_config(config_path)
    repo = config.repo_path(config.accounts[0])
    with mock_aws():
        ids = create_account()
        echo(f"== 1. First sync of the simulated account {ACCOUNT_ID} (the baseline)")
        echo(render_summary(run_sync(config)))
        echo(
            "\n== 2. Risky changes: port 22 opened to the world, a bucket and a queue made public,"
            " a user deleted, a database password rotated"
        )
        make_risky_changes(ids)
        second = run_sync(config)
        echo(render_summary(second))
        echo(f"\n== 3. The history, one commit per change:  git -C {repo} log --stat\n")
        echo(_git(repo, "log", "--stat", "--format=%h %s", "-n", "8"))
        web = ids["web"]
        echo(f"== 4. What changed in the web security group:  gitmonkey diff {web} --config {config_path}\n")
        sg_commit = _git(repo, "log", "-n1", "--format=%H", "--grep", web, "--", "items/").strip()
        echo(_git(repo, "show", "--format=%s%n%n%b", sg_commit))
        echo("== 5. The rotated password, as git saw it: a keyed hash, never the value\n")
        fn_commit = _git(repo, "log", "-n1", "--format=%H", "--", "items/us-east-1/lambda/function/").strip()
        echo(_git(repo, "show", "--format=%s", fn_commit))
        echo(f"== 6. Audit issues found by the post-commit audit:  gitmonkey issues --config {config_path}\n")
        echo(_issues_table(repo, config))
        echo(_git(repo, "log", "-n2", "--format=%h %s", "--", "issues/"))
        listened = close_port_with_an_event(config, web)
        echo(f"== 7. Seconds later, no sync: alice closes port 22; CloudTrail -> EventBridge -> SQS -> "
             f"gitmonkey listen ({listened.commits} commit, {listened.api_calls} API call)\n")
        sg_path = f"items/us-east-1/ec2/security_group/{web}.json"
        echo(_git(repo, "log", "-n1", "--format=author    %an <%ae>%ncommitter %cn%n%n%B", "--", sg_path))
        echo(f"  git -C {repo} log --format='%an %s' -- {sg_path}\n")
        echo(_git(repo, "log", "--format=%an  %s", "--", sg_path))
    from gitmonkey.site.build import build_site

    site = build_site(config, directory / "site")
    echo(f"== 8. The estate as a static site ({site.pages} pages):  gitmonkey site {directory / 'site'} "
         f"--config {config_path}\n")
    echo(f"  open {(directory / 'site' / 'index.html').as_uri()}\n")
    echo("Look further:")
    echo(f"  cd {repo}")
    echo("  git log --stat")
    echo("  git log -p -- items/us-east-1/ec2/security_group/")
    echo("  git log -S '0.0.0.0/0' --oneline")
    echo(f"  gitmonkey history {ids['web']} --config {config_path}")
    echo(f"  gitmonkey status --config {config_path}")
    echo(f"  git -C {repo} shortlog -sn -- items/")
    echo(f"  gitmonkey issues --config {config_path} --format sarif")
    echo(f"  gitmonkey justify FINGERPRINT --reason '...' --branch --config {config_path}")
    return repo
