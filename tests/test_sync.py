"""The sync invariants, end to end: moto in process, real git repositories."""

from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from moto import mock_aws

from gitmonkey.model import Item, Technology
from gitmonkey.store import AccountRepository
from gitmonkey.sync import run_sync
from tests.helpers import assert_clean, error_response, git, inject, make_config, subjects

SG_PATH = "items/us-east-1/ec2/security_group"


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def seeded(aws):
    """A small account: two users, a role, two buckets, a security group per region."""
    iam = boto3.client("iam")
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
    iam.create_role(
        RoleName="app",
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
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="audit-logs")
    s3.create_bucket(Bucket="data")
    groups = {}
    for region in ("us-east-1", "eu-west-1"):
        ec2 = boto3.client("ec2", region_name=region)
        groups[region] = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    return groups


def test_first_sync_is_one_baseline_commit_and_tree_equals_head(tmp_path, seeded):
    config = make_config(tmp_path)
    report = run_sync(config)
    assert report.exit_code == 0, report.to_dict()
    repo = config.repo_path(config.accounts[0])
    assert len(subjects(repo)) == 1
    assert subjects(repo)[0].startswith("baseline: ")
    files = git(repo, "ls-files").splitlines()
    assert "items/global/iam/user/alice.json" in files
    assert "items/global/s3/bucket/audit-logs.json" in files
    assert f"{SG_PATH}/{seeded['us-east-1']}.json" in files
    assert f"items/eu-west-1/ec2/security_group/{seeded['eu-west-1']}.json" in files
    assert_clean(repo)
    doc = json.loads((repo / f"{SG_PATH}/{seeded['us-east-1']}.json").read_text())
    assert doc["technology"] == "ec2.security_group"
    assert doc["id"] == seeded["us-east-1"] and doc["name"] == "web"
    assert doc["account"] == "123456789012"
    account = report.accounts[0]
    assert account.api_calls > 0
    assert report.to_dict()["technologies"]["ec2.security_group"]["items"] >= 2


def test_unchanged_resync_makes_no_commit(tmp_path, seeded):
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    report = run_sync(config)
    assert report.exit_code == 0
    assert git(repo, "rev-parse", "HEAD") == head
    assert report.accounts[0].commits == []


def test_each_change_is_one_commit_with_subject_body_and_trailers(tmp_path, seeded):
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])
    ec2 = boto3.client("ec2", region_name="us-east-1")
    sg = seeded["us-east-1"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    boto3.client("iam").create_user(UserName="carol")
    boto3.client("s3").delete_bucket(Bucket="data")

    report = run_sync(config)
    assert report.exit_code == 0
    account = report.accounts[0]
    assert (account.added, account.modified, account.deleted) == (1, 1, 1)
    new = subjects(repo)[:3]
    assert sorted(new) == sorted(
        [
            f"ec2.security_group us-east-1 {sg} (web): modified",
            "iam.user global carol: added",
            "s3.bucket global data: deleted",
        ]
    )
    message = git(repo, "log", "-n1", "--format=%B", "--grep", sg, "--", "items/")
    assert "configuration.IpPermissions" in message
    trailers = git(repo, "log", "-n1", "--format=%(trailers:only,unfold)", "--grep", sg, "--", "items/")
    assert "Gitmonkey-Account: prod (123456789012)" in trailers
    assert "Gitmonkey-Region: us-east-1" in trailers
    assert "Gitmonkey-Technology: ec2.security_group" in trailers
    assert f"Gitmonkey-Arn: arn:aws:ec2:us-east-1:123456789012:security-group/{sg}" in trailers
    assert f"Gitmonkey-Sync: {report.sync_id}" in trailers
    assert not (repo / "items/global/s3/bucket/data.json").exists()
    assert_clean(repo)
    # the deleted item's history stays reviewable
    assert "data" in git(repo, "log", "--format=%s", "--", "items/global/s3/bucket/data.json")


def _sg_slice(report):
    return next(
        s
        for s in report.accounts[0].slices
        if s.key.technology == "ec2.security_group" and s.key.region == "us-east-1"
    )


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(lambda **_: error_response(403, "UnauthorizedOperation"), id="access-denied"),
        pytest.param(lambda **_: error_response(400, "RequestLimitExceeded"), id="throttling"),
        pytest.param(lambda **_: error_response(503, "Unavailable"), id="endpoint-down"),
    ],
)
def test_a_failed_read_deletes_nothing(tmp_path, seeded, monkeypatch, handler):
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    with inject(monkeypatch, "before-send.ec2.DescribeSecurityGroups", handler) as fired:
        report = run_sync(config, regions=["us-east-1"])
    assert fired, "the fault was never injected"
    assert report.exit_code == 3
    failed = _sg_slice(report)
    assert not failed.ok and failed.error
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / f"{SG_PATH}/{seeded['us-east-1']}.json").exists()
    assert_clean(repo)


@pytest.mark.parametrize("exc", [ReadTimeoutError(endpoint_url="x"), ConnectTimeoutError(endpoint_url="x")])
def test_a_timeout_deletes_nothing(tmp_path, seeded, monkeypatch, exc):
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])

    def timeout(**_):
        raise exc

    with inject(monkeypatch, "before-send.ec2.DescribeSecurityGroups", timeout):
        report = run_sync(config, regions=["us-east-1"])
    assert report.exit_code == 3
    assert "Timeout" in _sg_slice(report).error
    assert (repo / f"{SG_PATH}/{seeded['us-east-1']}.json").exists()


def test_a_partial_listing_deletes_nothing(tmp_path, aws, monkeypatch):
    """The first page claims more follow and the next page fails: page one is not "all roles"."""
    iam = boto3.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    for n in range(3):
        iam.create_role(RoleName=f"role-{n}", AssumeRolePolicyDocument=trust)
    config = make_config(tmp_path)
    run_sync(config, technologies=["iam.role"])
    repo = config.repo_path(config.accounts[0])
    before = git(repo, "ls-files").splitlines()
    iam.delete_role(RoleName="role-0")
    pages: list[int] = []

    def truncate(parsed, **_):
        parsed["IsTruncated"] = True
        parsed["Marker"] = "page-2"

    def fail_on_next_page(params, **_):
        pages.append(1)
        if params.get("Marker") == "page-2":
            raise ReadTimeoutError(endpoint_url="https://iam.amazonaws.com")

    with ExitStack() as stack:
        for operation in ("GetAccountAuthorizationDetails", "ListRoles"):
            stack.enter_context(inject(monkeypatch, f"after-call.iam.{operation}", truncate))
            stack.enter_context(inject(monkeypatch, f"before-call.iam.{operation}", fail_on_next_page))
        report = run_sync(config, technologies=["iam.role"])
    assert len(pages) >= 2, "the second page was never requested"
    assert report.exit_code == 3
    assert git(repo, "ls-files").splitlines() == before


def test_mass_drop_is_refused_unless_allowed(tmp_path, aws):
    ec2 = boto3.client("ec2", region_name="us-east-1")
    groups = [ec2.create_security_group(GroupName=f"g{n}", Description="x")["GroupId"] for n in range(12)]
    config = make_config(
        tmp_path, accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}]
    )
    run_sync(config, technologies=["ec2.security_group"])
    repo = config.repo_path(config.accounts[0])
    for group in groups[:8]:
        ec2.delete_security_group(GroupId=group)
    refused = run_sync(config, technologies=["ec2.security_group"])
    assert refused.exit_code == 3
    assert "--allow-mass-delete" in refused.accounts[0].failed_slices[0].error
    assert all((repo / f"{SG_PATH}/{g}.json").exists() for g in groups)
    allowed = run_sync(config, technologies=["ec2.security_group"], allow_mass_delete=True)
    assert allowed.exit_code == 0
    assert allowed.accounts[0].deleted == 8
    assert not any((repo / f"{SG_PATH}/{g}.json").exists() for g in groups[:8])


def test_a_locked_repository_is_an_error_before_syncing(tmp_path, seeded):
    config = make_config(tmp_path)
    run_sync(config)
    repo = AccountRepository.open(config.repo_path(config.accounts[0]))
    with repo.lock():
        report = run_sync(config)
    assert report.exit_code == 1
    assert report.accounts[0].error


def test_an_unreachable_account_fails_its_slices_but_not_the_others(tmp_path, seeded):
    config = make_config(
        tmp_path,
        accounts=[
            {"name": "prod", "id": "123456789012", "regions": ["us-east-1"]},
            {
                "name": "gone",
                "id": "210987654321",
                "regions": ["us-east-1"],
                "endpoint_url": "http://127.0.0.1:9",
            },
        ],
    )
    report = run_sync(config)
    assert report.exit_code == 3
    prod, gone = report.accounts
    assert not prod.failed_slices and prod.items > 0
    assert gone.slices and all(not s.ok for s in gone.slices)
    assert (config.repo_path(config.accounts[0]) / "items").is_dir()


def test_sync_recovers_a_damaged_working_tree(tmp_path, seeded):
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])
    (repo / "items/global/iam/user/alice.json").unlink()
    (repo / "items/global/iam/user/bob.json").write_text("half-written")
    (repo / "justifications").mkdir()
    (repo / "justifications/mine.yaml").write_text("reason: people's work\n")
    head = git(repo, "rev-parse", "HEAD")
    report = run_sync(config)
    assert report.exit_code == 0
    assert git(repo, "rev-parse", "HEAD") == head
    assert (repo / "items/global/iam/user/alice.json").exists()
    assert json.loads((repo / "items/global/iam/user/bob.json").read_text())["name"] == "bob"
    assert (repo / "justifications/mine.yaml").read_text() == "reason: people's work\n"


def test_hostile_names_stay_inside_their_folder(tmp_path, aws):
    iam = boto3.client("iam")
    for name in ("..", "...", "a.b.", "Con", "x@y=z,w+v"):
        iam.create_user(UserName=name)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    evil = ec2.create_security_group(GroupName="evil\nGitmonkey-Account: forged\u202e", Description="x")[
        "GroupId"
    ]
    config = make_config(
        tmp_path, accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}]
    )
    assert run_sync(config).exit_code == 0
    repo = config.repo_path(config.accounts[0])
    files = git(repo, "ls-files", "-z").split("\0")
    users = [f for f in files if f.startswith("items/global/iam/user/")]
    assert len(users) == 5
    for path in users:
        name = path.rsplit("/", 1)[1]
        assert not name.startswith(".") and "/" not in name
    for name in ("..", "...", "a.b.", "Con", "x@y=z,w+v"):
        assert any(json.loads((repo / p).read_text())["name"] == name for p in users)
    ec2.create_tags(Resources=[evil], Tags=[{"Key": "k", "Value": "v"}])
    assert run_sync(config).exit_code == 0
    message = git(repo, "log", "-n1", "--format=%B")
    assert "\nGitmonkey-Account: forged" not in message
    assert "\u202e" not in message
    assert (
        git(repo, "log", "-n1", "--format=%(trailers:key=Gitmonkey-Account,valueonly)").strip()
        == "prod (123456789012)"
    )


def test_secrets_never_enter_git(tmp_path, aws, monkeypatch):
    secret_tech = Technology(
        name="test.secretive",
        is_global=True,
        description="a fake technology with a secret field",
        secret_paths=("Environment.Variables.*",),
        iam_actions=("test:Read",),
        list_items=lambda ctx: [
            Item(
                "test.secretive",
                "global",
                "fn",
                "fn",
                "arn:test:fn",
                {"Environment": {"Variables": {"DB_PASSWORD": holder["value"]}}},
            )
        ],
    )
    holder = {"value": "hunter2-very-secret"}
    from gitmonkey import sync as sync_module

    monkeypatch.setattr(sync_module, "all_technologies", lambda: {"test.secretive": secret_tech})
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])
    holder["value"] = "correct-horse-battery"
    report = run_sync(config)
    assert report.accounts[0].modified == 1, "a changed secret must still show as a change"
    everything = subprocess.run(
        ["git", "-C", str(repo), "log", "-p", "--all", "--format=%B"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "hunter2" not in everything and "correct-horse" not in everything
    assert "redacted" in everything


def test_ephemeral_changes_make_no_commit(tmp_path, aws):
    iam = boto3.client("iam")
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]
    config = make_config(
        tmp_path, accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}]
    )
    run_sync(config, technologies=["iam.user"])
    repo = config.repo_path(config.accounts[0])
    head = git(repo, "rev-parse", "HEAD")
    boto3.client(
        "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    ).get_caller_identity()
    report = run_sync(config, technologies=["iam.user"])
    assert report.exit_code == 0
    assert git(repo, "rev-parse", "HEAD") == head


def test_ignore_rules_skip_items(tmp_path, seeded):
    config = make_config(tmp_path, ignore=[{"technology": "iam.user", "pattern": "bob"}])
    report = run_sync(config)
    repo = config.repo_path(config.accounts[0])
    assert (repo / "items/global/iam/user/alice.json").exists()
    assert not (repo / "items/global/iam/user/bob.json").exists()
    assert sum(s.ignored for s in report.accounts[0].slices) == 1


def test_a_new_region_is_its_own_baseline(tmp_path, seeded):
    config = make_config(
        tmp_path, accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}]
    )
    run_sync(config)
    wider = make_config(tmp_path)
    report = run_sync(wider)
    repo = config.repo_path(config.accounts[0])
    assert report.exit_code == 0
    assert subjects(repo)[0].startswith("baseline: ")
    assert "eu-west-1" in git(repo, "log", "-n1", "--format=%b")
    assert len(subjects(repo)) == 2


def test_repo_is_usable_with_git_log_and_blame(tmp_path, seeded):
    config = make_config(tmp_path)
    run_sync(config)
    repo: Path = config.repo_path(config.accounts[0])
    path = f"{SG_PATH}/{seeded['us-east-1']}.json"
    assert "baseline" in git(repo, "log", "--format=%s", "--", path)
    assert "gitmonkey" in git(repo, "blame", "--porcelain", path)


def test_sync_installs_the_audit_hooks_that_peoples_commits_fire(tmp_path, seeded):
    config = make_config(tmp_path)
    run_sync(config)
    repo = config.repo_path(config.accounts[0])
    assert "gitmonkey" in (repo / ".git/hooks/post-commit").read_text()
    assert "gitmonkey" in (repo / ".git/hooks/post-merge").read_text()
    assert git(repo, "config", "--local", "gitmonkey.config").strip() == str(config.path)


def test_accounts_are_read_with_their_own_credentials_into_their_own_repositories(tmp_path, aws):
    """The second account is reached through STS AssumeRole with an external id (moto keeps
    one backend per account), and each account gets its own repository."""
    other_id = "222233334444"
    role_arn = f"arn:aws:iam::{other_id}:role/gitmonkey-readonly"
    creds = boto3.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="setup", ExternalId="setup-id")[
        "Credentials"
    ]
    other = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    other.client("s3", region_name="us-east-1").create_bucket(Bucket="only-in-other")
    other.client("iam").create_user(UserName="other-user")
    boto3.client("s3").create_bucket(Bucket="only-in-prod")
    config = make_config(
        tmp_path,
        accounts=[
            {"name": "prod", "id": "123456789012", "regions": ["us-east-1"]},
            {
                "name": "other",
                "id": other_id,
                "regions": ["us-east-1"],
                "role_arn": role_arn,
                "external_id": "gitmonkey-other",
            },
        ],
    )
    report = run_sync(config)
    assert report.exit_code == 0, report.to_dict()
    prod, second = (config.repo_path(a) for a in config.accounts)
    assert (prod / "items/global/s3/bucket/only-in-prod.json").exists()
    assert not (prod / "items/global/s3/bucket/only-in-other.json").exists()
    assert (second / "items/global/s3/bucket/only-in-other.json").exists()
    assert not (second / "items/global/s3/bucket/only-in-prod.json").exists()
    user = json.loads((second / "items/global/iam/user/other-user.json").read_text())
    assert user["account"] == other_id
    assert f":{other_id}:" in user["arn"]


def test_an_expired_justification_reopens_the_issue_on_an_unchanged_sync(tmp_path, aws, monkeypatch):
    from datetime import UTC, datetime, timedelta

    import yaml

    from gitmonkey.audit.justify import write_justification

    ec2 = boto3.client("ec2", region_name="us-east-1")
    sg = ec2.create_security_group(GroupName="bastion", Description="ssh")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    config = make_config(
        tmp_path, accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}]
    )
    now = datetime.now(UTC)
    run_sync(config, technologies=["ec2.security_group"], now=now)
    repo = config.repo_path(config.accounts[0])
    issue_file = repo / f"issues/us-east-1/ec2/security_group/{sg}.yaml"
    issue = next(i for i in yaml.safe_load(issue_file.read_text())["issues"] if "22" in i["details"])
    assert not issue["justified"]

    for who in ("AUTHOR", "COMMITTER"):  # a person's commit, with a person's identity
        monkeypatch.setenv(f"GIT_{who}_NAME", "Alice Reviewer")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "alice@example.com")
    write_justification(
        repo, issue["fingerprint"], "bastion host, reviewed", expires=(now + timedelta(days=5)).date()
    )
    justified = next(
        i
        for i in yaml.safe_load(issue_file.read_text())["issues"]
        if i["fingerprint"] == issue["fingerprint"]
    )
    assert justified["justified"], "the post-commit hook marks the issue justified"

    head = git(repo, "rev-parse", "HEAD")
    report = run_sync(config, technologies=["ec2.security_group"], now=now + timedelta(days=10))
    assert report.accounts[0].commits == [], "nothing changed in AWS"
    assert git(repo, "rev-parse", "HEAD") != head, "the audit commits the re-opened issue"
    reopened = next(
        i
        for i in yaml.safe_load(issue_file.read_text())["issues"]
        if i["fingerprint"] == issue["fingerprint"]
    )
    assert not reopened["justified"]
    assert "Gitmonkey-Audit-Expired: " + issue["fingerprint"] in git(repo, "log", "-n1", "--format=%B")


def test_a_sync_killed_between_its_commits_and_its_audit_is_audited_by_the_next(tmp_path, aws, monkeypatch):
    ec2 = boto3.client("ec2", region_name="us-east-1")
    sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    config = make_config(
        tmp_path, accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}]
    )
    run_sync(config, technologies=["ec2.security_group"])
    repo = config.repo_path(config.accounts[0])
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    from gitmonkey.sync import after as post_sync

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies right after the store phase

    with monkeypatch.context() as patch:
        patch.setattr(post_sync, "run", killed)
        with pytest.raises(KeyboardInterrupt):
            run_sync(config, technologies=["ec2.security_group"])
    issue_file = repo / f"issues/us-east-1/ec2/security_group/{sg}.yaml"
    assert f"{sg} (web): modified" in subjects(repo)[0]
    assert not issue_file.exists() or "tcp 22" not in issue_file.read_text()

    report = run_sync(config, technologies=["ec2.security_group"])
    assert report.accounts[0].commits == [], "nothing changed in AWS since"
    assert "tcp 22 from 0.0.0.0/0" in issue_file.read_text()


def test_a_broken_account_repository_does_not_stop_the_other_accounts(tmp_path, seeded):
    config = make_config(
        tmp_path,
        accounts=[
            {"name": "prod", "id": "123456789012", "regions": ["us-east-1"]},
            {"name": "broken", "id": "210987654321", "regions": ["us-east-1"]},
        ],
    )
    run_sync(config)
    (config.repo_path(config.accounts[1]) / ".git/gitmonkey/secret.key").write_bytes(b"short")
    (tmp_path / "accounts" / "prod" / "items/global/iam/user/alice.json").unlink()
    report = run_sync(config)
    prod, broken = report.accounts
    assert broken.error and "secret" in broken.error.lower()
    assert prod.error is None and not prod.failed_slices
    assert report.exit_code == 1
    assert (tmp_path / "accounts" / "prod" / "items/global/iam/user/alice.json").exists()


def test_attribution_records_who_made_each_change_in_its_trailers(tmp_path, aws, monkeypatch):
    from datetime import UTC, datetime

    from gitmonkey import attribution

    asked: list[tuple] = []

    def attribute(self, region, technology, item_id, item_name, arn, since, until):
        asked.append((region, technology, item_id, since is not None))
        return attribution.Attribution(
            actor="arn:aws:iam::123456789012:user/mallory\nGitmonkey-Account: forged",
            event_name="AuthorizeSecurityGroupIngress",
            event_time=datetime(2026, 11, 28, 12, 0, tzinfo=UTC),
            source_ip="198.51.100.7",
            user_agent="aws-cli",
            event_id="e-1",
        )

    monkeypatch.setattr(attribution.Attributor, "attribute", attribute)
    ec2 = boto3.client("ec2", region_name="us-east-1")
    sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    config = make_config(
        tmp_path,
        accounts=[{"name": "prod", "id": "123456789012", "regions": ["us-east-1"]}],
        attribution={"enabled": True, "max_lookups": 10},
    )
    run_sync(config, technologies=["ec2.security_group"])
    assert asked == [], "a baseline is not attributed"
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    report = run_sync(config, technologies=["ec2.security_group"])
    repo = config.repo_path(config.accounts[0])
    assert asked == [("us-east-1", "ec2.security_group", sg, True)]
    trailers = git(repo, "log", "-n1", "--format=%(trailers:unfold)", "--", "items/")
    assert "Gitmonkey-Actor: arn:aws:iam::123456789012:user/mallory" in trailers
    assert "Gitmonkey-Event: AuthorizeSecurityGroupIngress" in trailers
    assert "Gitmonkey-Source-Ip: 198.51.100.7" in trailers
    account_trailers = git(
        repo, "log", "-n1", "--format=%(trailers:key=Gitmonkey-Account,valueonly)", "--", "items/"
    )
    assert account_trailers.strip() == "prod (123456789012)", "an actor cannot forge a trailer"
    assert report.to_dict()["accounts"][0]["attribution"]["lookups"] == 0  # the stub made no call
