"""`gitmonkey accounts` and `gitmonkey sync` with `organization:`: in process on moto, and as separate
processes against moto's server, where the member accounts are synced through the role they are
discovered with (moto maps an assumed role's credentials to the member account)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws

from gitmonkey.cli import cli
from gitmonkey.model import GLOBAL_REGION
from gitmonkey.normalize.paths import item_path
from tests.helpers import assert_clean, git, moto_server, subjects

MANAGEMENT = "123456789012"
ROLE = "OrganizationAccountAccessRole"


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "gitmonkey.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _organization(client: Any) -> dict[str, str]:
    """Root > Prod > Web > Api and Root > Sandbox, an account in each leaf; ids by name."""
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]

    def unit(parent: str, name: str) -> str:
        return client.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]

    prod = unit(root, "Prod")
    web = unit(prod, "Web")
    places = {"web": web, "api": unit(web, "Api"), "sandbox": unit(root, "Sandbox")}
    ids = {"root": root}
    for name, parent in places.items():
        env = "dev" if name == "sandbox" else "prod"
        created = client.create_account(AccountName=name, Email=f"aws+{name}@example.com",
                                        Tags=[{"Key": "env", "Value": env}])
        ids[name] = created["CreateAccountStatus"]["AccountId"]
        client.move_account(AccountId=ids[name], SourceParentId=root, DestinationParentId=parent)
    return ids


# --- in process (CliRunner, moto in process) ---------------------------------------------------


@pytest.fixture
def organization() -> Iterator[dict[str, str]]:
    with mock_aws():
        yield _organization(boto3.client("organizations", region_name="us-east-1"))


def test_the_table_lists_synced_and_skipped_accounts_with_why(tmp_path, organization):
    config = _write(tmp_path, {
        "accounts": [{"name": "legacy", "id": "999999999999"}],
        "organization": {"management": {"id": MANAGEMENT}, "exclude": [{"ou": "/Root/Sandbox/**"}],
                         "regions": ["eu-west-1"], "remote": "git@example.com:acme/aws-{name}.git"},
    })

    result = CliRunner().invoke(cli, ["accounts", "--config", str(config)])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = ["NAME", "ID", "OU", "PATH", "STATE", "SYNC", "ROLE", "REGIONS", "REMOTE", "WHY"]
    assert lines[0].split() == header
    rows = {line.split()[0]: line for line in lines[1:-1]}
    assert set(rows) == {"api", "master", "sandbox", "web", "legacy"}
    web = rows["web"].split()
    assert web[:5] == ["web", organization["web"], "/Root/Prod/Web", "ACTIVE", "yes"]
    assert web[5:] == [f"arn:aws:iam::{organization['web']}:role/{ROLE}", "eu-west-1",
                       "git@example.com:acme/aws-web.git", "discovered"]
    assert rows["sandbox"].split()[4] == "no"
    assert rows["sandbox"].endswith("excluded by organization.exclude[0] (ou: /Root/Sandbox/**)")
    assert rows["master"].split()[5:7] == ["default", "credentials"]
    assert rows["legacy"].endswith("configured in accounts: (not in the organization)")
    assert lines[-1].startswith("organization o-")
    assert lines[-1].endswith(f"(management account {MANAGEMENT}): 4 accounts; 4 accounts synced, 1 skipped")


def test_json_output(tmp_path, organization):
    config = _write(tmp_path, {"organization": {"management": {"id": MANAGEMENT},
                                                "include": [{"tag": "env=prod"}]}})

    result = CliRunner().invoke(cli, ["accounts", "--config", str(config), "--format", "json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["organization"]["management_account_id"] == MANAGEMENT
    assert data["organization"]["api_calls"]["organizations:ListTagsForResource"] == 4
    rows = {row["name"]: row for row in data["accounts"]}
    assert rows["api"]["ou_path"] == "/Root/Prod/Web/Api" and rows["api"]["tags"] == {"env": "prod"}
    assert rows["sandbox"]["synced"] is False
    assert rows["sandbox"]["reason"] == "matches no organization.include filter"
    assert rows["master"]["synced"] is False  # no env tag
    assert (data["synced"], data["skipped"]) == (2, 2)


def test_without_an_organization_the_configured_accounts_are_listed_without_a_call(tmp_path):
    config = _write(tmp_path, {"accounts": [{"name": "prod", "id": MANAGEMENT, "profile": "prod"}]})

    result = CliRunner().invoke(cli, ["accounts", "--config", str(config), "--format", "json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["organization"] is None
    assert [(r["name"], r["profile"], r["reason"]) for r in data["accounts"]] == [
        ("prod", "prod", "configured in accounts:")]


def test_a_discovery_failure_exits_1_and_a_config_error_2(tmp_path):
    config = _write(tmp_path, {"organization": {"management": {"id": MANAGEMENT}}})
    with mock_aws():
        failed = CliRunner().invoke(cli, ["accounts", "--config", str(config)])
    assert failed.exit_code == 1
    assert f"management account {MANAGEMENT}" in failed.output
    assert "AWSOrganizationsNotInUseException" in failed.output

    bad = _write(tmp_path, {"organization": {"management": {"id": MANAGEMENT}, "account_name": "x"}})
    result = CliRunner().invoke(cli, ["accounts", "--config", str(bad)])
    assert result.exit_code == 2
    assert "organization.account_name: 'x' has no placeholder" in result.output


def test_sync_syncs_the_configured_accounts_when_the_organization_cannot_be_read(tmp_path):
    config = _write(tmp_path, {
        "max_attempts": 1, "technologies": ["sqs.queue"],
        "accounts": [{"name": "legacy", "id": MANAGEMENT, "regions": ["us-east-1"]}],
        "organization": {"management": {"id": MANAGEMENT}},
    })
    with mock_aws():
        boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="still-recorded")
        result = CliRunner().invoke(cli, ["sync", "--config", str(config), "--format", "json"])

    assert result.exit_code == 1, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["organization"]["error"].startswith("reading the organization with the credentials of the "
                                                    f"management account {MANAGEMENT} failed")
    (account,) = data["accounts"]
    assert (account["account"], account["items"], account["error"]) == ("legacy", 1, None)


# --- separate processes against moto's server ---------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITMONKEY_")}
    return subprocess.run([sys.executable, "-m", "gitmonkey", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _as_member(endpoint: str, account_id: str, service: str) -> Any:
    """A client with the credentials of the member's role, assumed as gitmonkey does."""
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint)
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}",
                                  RoleSessionName="seed")["Credentials"]
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def test_accounts_then_sync_the_discovered_members_through_their_role(tmp_path, moto_endpoint):
    _reset(moto_endpoint)
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=moto_endpoint)
    ids = _organization(org)
    _as_member(moto_endpoint, ids["web"], "s3").create_bucket(Bucket="web-assets")
    _as_member(moto_endpoint, ids["api"], "s3").create_bucket(Bucket="api-artifacts")
    assert _as_member(moto_endpoint, ids["web"], "sts").get_caller_identity()["Account"] == ids["web"]
    management_s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)
    management_s3.create_bucket(Bucket="org-billing")
    remotes = tmp_path / "remotes"
    _write(tmp_path, {
        "repos_dir": "repos",
        "max_attempts": 1,
        "technologies": ["s3.bucket", "organizations.*"],
        "organization": {
            "management": {"id": MANAGEMENT},
            "endpoint_url": moto_endpoint,
            "regions": ["us-east-1"],
            "exclude": [{"ou": "/Root/Sandbox/**"}],
            "account_name": "aws-{name}",
            "remote": f"{remotes}/{{name}}-{{id}}.git",
        },
    })

    listed = run_cli("accounts", "--format", "json", cwd=tmp_path)

    assert listed.returncode == 0, listed.stderr
    rows = {row["aws_name"]: row for row in json.loads(listed.stdout)["accounts"]}
    assert {name: row["synced"] for name, row in rows.items()} == {
        "master": True, "web": True, "api": True, "sandbox": False}
    web = rows["web"]
    assert (web["name"], web["ou_path"], web["endpoint_url"]) == ("aws-web", "/Root/Prod/Web", moto_endpoint)
    assert web["role_arn"] == f"arn:aws:iam::{ids['web']}:role/{ROLE}"
    assert web["remote"] == f"{remotes}/aws-web-{ids['web']}.git"
    assert rows["master"]["role_arn"] is None and rows["master"]["endpoint_url"] == moto_endpoint
    for row in rows.values():
        if row["synced"]:
            git(tmp_path, "init", "--bare", "-b", "main", row["remote"])

    synced = run_cli("sync", "--format", "json", cwd=tmp_path)

    assert synced.returncode == 0, synced.stderr + synced.stdout
    report = json.loads(synced.stdout)
    assert sorted(a["account"] for a in report["accounts"]) == ["aws-api", "aws-master", "aws-web"]
    assert [(s["name"], s["reason"]) for s in report["organization"]["skipped"]] == [
        ("aws-sandbox", "excluded by organization.exclude[0] (ou: /Root/Sandbox/**)")]
    repos = tmp_path / "repos"
    assert sorted(p.name for p in repos.iterdir() if p.is_dir()) == ["aws-api", "aws-master", "aws-web"]
    bucket = item_path(GLOBAL_REGION, "s3.bucket", "web-assets")
    billing = item_path(GLOBAL_REGION, "s3.bucket", "org-billing")
    # The member's bucket is in the member's repository, read with the role's credentials...
    assert (repos / "aws-web" / bucket).is_file()
    assert not (repos / "aws-web" / billing).exists()
    assert not (repos / "aws-master" / bucket).exists()
    assert (repos / "aws-api" / item_path(GLOBAL_REGION, "s3.bucket", "api-artifacts")).is_file()
    assert (repos / "aws-master" / billing).is_file()
    # ...and the organization in the management account's only.
    for account_id in (MANAGEMENT, ids["web"], ids["api"], ids["sandbox"]):
        recorded = item_path(GLOBAL_REGION, "organizations.account", account_id)
        assert (repos / "aws-master" / recorded).is_file()
    assert not (repos / "aws-web" / "items" / "global" / "organizations").exists()
    unit = item_path(GLOBAL_REGION, "organizations.unit", ids["root"])
    assert json.loads((repos / "aws-master" / unit).read_text())["configuration"]["Path"] == "/Root"
    for name in ("aws-api", "aws-master", "aws-web"):
        assert_clean(repos / name)
        # The remote template was filled in and pushed to.
        remote = f"{remotes}/{name}-{rows[name.removeprefix('aws-')]['id']}.git"
        assert git(Path(remote), "rev-parse", "main") == git(repos / name, "rev-parse", "HEAD")

    # Commands that must not call AWS see the accounts the last discovery found: a person's commit
    # in a member's repository is audited by its hook, status and issues know the account.
    (repos / "aws-web" / "NOTES.md").write_text("reviewed\n")
    git(repos / "aws-web", "add", "NOTES.md")
    committed = subprocess.run(
        ["git", "-C", str(repos / "aws-web"), "-c", "user.name=Ann", "-c", "user.email=ann@example.com",
         "commit", "-q", "-m", "notes"], capture_output=True, text=True,
    )
    assert committed.returncode == 0 and "Traceback" not in committed.stderr, committed.stderr
    assert git(repos / "aws-web", "status", "--porcelain", "--untracked-files=no") == ""
    assert "audit-pending.json" not in {p.name for p in (repos / "aws-web" / ".git" / "gitmonkey").iterdir()}
    status = run_cli("status", "--format", "json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert {"aws-api", "aws-master", "aws-web"} <= {entry["account"] for entry in json.loads(status.stdout)}
    issues = run_cli("issues", "--account", "aws-web", "--format", "json", cwd=tmp_path)
    assert issues.returncode == 0, issues.stderr

    # The api account is closed: it is reported, not synced, and its history stays as it was.
    head = git(repos / "aws-api", "rev-parse", "HEAD")
    org.close_account(AccountId=ids["api"])
    again = run_cli("sync", cwd=tmp_path)

    assert again.returncode == 0, again.stderr + again.stdout
    assert f"skipped aws-api ({ids['api']}): state SUSPENDED (organization.statuses: ACTIVE)" in again.stdout
    assert git(repos / "aws-api", "rev-parse", "HEAD") == head
    assert subjects(repos / "aws-master")[0] == f"organizations.account global {ids['api']} (api): modified"


def test_the_cli_exits_1_when_the_management_account_is_in_no_organization(tmp_path, moto_endpoint):
    _reset(moto_endpoint)
    outsider = "999999999999"  # its role's credentials are that account's, which is in no organization
    _write(tmp_path, {"organization": {
        "management": {"id": outsider, "role_arn": f"arn:aws:iam::{outsider}:role/reader"},
        "endpoint_url": moto_endpoint}})

    result = run_cli("accounts", cwd=tmp_path)

    assert result.returncode == 1
    assert f"management account {outsider}" in result.stderr
    assert "organizations:DescribeOrganization" in result.stderr
