"""`gitmonkey site`: the static site built from real account repositories, incrementally.

Real parts: moto accounts synced into real repositories (post-commit audit included), a person's
commit, a hostile item written through the store, the CLI, and the Pages CI script run by bash.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws

from gitmonkey.cli import cli
from gitmonkey.normalize import canonical_json
from gitmonkey.normalize.paths import item_path
from gitmonkey.notify.links import commit_url, file_url, repository_url, web_base
from gitmonkey.site.build import MANIFEST, SiteError, build_site
from gitmonkey.site.ci import github_pages
from gitmonkey.site.data import AccountSource
from gitmonkey.site.model import item_page
from gitmonkey.store import AccountRepository, FileChange, PlannedCommit
from tests.helpers import ACCOUNT_ID, SyncedAccount, git

REGION = "us-east-1"
HOSTILE = "<script>alert(1)</script>\"'&é"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def estate(tmp_path: Path, aws: None) -> SyncedAccount:
    """An account with an open security group, a bucket, and a hostile item."""
    world = SyncedAccount(
        tmp_path,
        ["ec2.security_group.ingress-internet", "s3.bucket.policy-internet"],
        ["ec2.security_group", "s3.bucket"],
    )
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="site-data")
    world.sync()
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    world.sync()
    world.group = group  # type: ignore[attr-defined]
    return world


def hostile_commit(world: SyncedAccount) -> str:
    """A tagged item whose name is hostile HTML, as a person (or AWS) could name it."""
    repo = AccountRepository.open(world.path, create=False)
    document = {
        "account": ACCOUNT_ID,
        "arn": "arn:aws:ec2:us-east-1:123456789012:key-pair/x",
        "configuration": {"KeyName": HOSTILE, "Tags": {"Name": HOSTILE}},
        "id": HOSTILE,
        "name": HOSTILE,
        "region": REGION,
        "technology": "ec2.key_pair",
    }
    path = item_path(REGION, "ec2.key_pair", HOSTILE)
    repo.commit(
        [
            PlannedCommit(
                "ec2.key_pair us-east-1 hostile: added",
                (FileChange(path, canonical_json(document).encode()),),
            )
        ]
    )
    return path


def test_a_site_of_the_account_with_every_page_and_item(estate: SyncedAccount, tmp_path: Path) -> None:
    hostile_commit(estate)
    out = tmp_path / "site"
    report = build_site(estate.config, out)

    source = AccountSource(estate.config, estate.config.accounts[0])
    assert report.errors == []
    for page in ("index.html", "issues.html", "changes.html", "assets/site.css", "assets/site.js"):
        assert (out / page).is_file(), page
    for path in source.items:
        data = json.loads(git(estate.path, "show", f"HEAD:{path}"))
        page = out / item_page("prod", data["region"], data["technology"], data["id"])
        assert page.is_file(), path
    group_page = (out / item_page("prod", REGION, "ec2.security_group", estate.group)).read_text()
    assert "ec2.security_group.ingress-internet" in group_page
    assert "0.0.0.0/0" in group_page
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["pages"]) >= {"index.html", "issues.html", "changes.html"}
    assert report.pages == len(manifest["pages"])


def test_hostile_names_stay_inside_the_site_and_are_text(estate: SyncedAccount, tmp_path: Path) -> None:
    hostile_commit(estate)
    out = tmp_path / "site"
    build_site(estate.config, out)
    [page] = [p for p in out.rglob("*.html") if "key_pair" in p.as_posix()]
    assert page.resolve().is_relative_to(out.resolve())
    text = page.read_text()
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    changes = (out / "changes.html").read_text()
    assert "<script>alert" not in changes


def test_a_rebuild_writes_only_what_changed(estate: SyncedAccount, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = build_site(estate.config, out)
    assert len(first.written) == first.pages

    again = build_site(estate.config, out)
    assert again.written == [] and again.removed == []

    ec2 = boto3.client("ec2", region_name=REGION)
    ec2.revoke_security_group_ingress(
        GroupId=estate.group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    estate.sync()
    after = build_site(estate.config, out)
    group_page = item_page("prod", REGION, "ec2.security_group", estate.group)
    assert group_page in after.written
    assert not [p for p in after.written if p.startswith("items/") and p != group_page]
    assert "ec2.security_group.ingress-internet" not in (out / group_page).read_text()

    boto3.client("s3", region_name=REGION).delete_bucket(Bucket="site-data")
    estate.sync()
    bucket_page = item_page("prod", "global", "s3.bucket", "site-data")
    gone = build_site(estate.config, out)
    assert gone.removed == [bucket_page]
    assert not (out / bucket_page).exists()


def test_the_item_history_shows_each_change_and_its_author(estate: SyncedAccount, tmp_path: Path) -> None:
    source = AccountSource(estate.config, estate.config.accounts[0])
    path = item_path(REGION, "ec2.security_group", estate.group)
    [history] = source.histories(source.item_changes(), [path]).values()
    assert [r.kind for r in history] == ["modified", "added"]
    assert "+" in history[0].diff and "0.0.0.0/0" in history[0].diff
    assert history[1].diff == ""
    assert history[0].author == "gitmonkey <gitmonkey@localhost>"


def test_open_issues_over_time_follow_the_audits(estate: SyncedAccount) -> None:
    source = AccountSource(estate.config, estate.config.accounts[0])
    [(day, count)] = source.issues_over_time(None)
    assert day == datetime.now(UTC).date().isoformat()
    assert count == 1  # the group's internet ingress (nothing else is enabled and fires)


def test_an_unrelated_directory_is_refused(estate: SyncedAccount, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep")
    with pytest.raises(SiteError, match="holds no gitmonkey site"):
        build_site(estate.config, precious)
    assert (precious / "notes.txt").read_text() == "keep"


def test_the_command(estate: SyncedAccount, tmp_path: Path) -> None:
    out = tmp_path / "public"
    result = CliRunner().invoke(
        cli, ["site", str(out), "--config", str(estate.config.path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["pages"] > 3
    text = CliRunner().invoke(cli, ["site", str(out), "--config", str(estate.config.path)])
    assert "0 written" in text.output and "index.html" in text.output


@pytest.mark.parametrize(
    ("remote", "web"),
    [
        ("git@github.com:example-org/aws-prod.git", "https://github.com/example-org/aws-prod"),
        ("https://user:token@github.com/example-org/aws-prod.git", "https://github.com/example-org/aws-prod"),
        ("ssh://git@gitlab.example.com:2222/sec/aws-prod.git", "https://gitlab.example.com/sec/aws-prod"),
        ("/srv/git/aws-prod.git", ""),
        (None, ""),
    ],
)
def test_web_urls_of_remotes(remote: str | None, web: str) -> None:
    assert (repository_url(remote) or "") == web


def test_commit_and_file_urls() -> None:
    sha = "0e538a1d1e8cf5f7ddf0f264ce827597758db10c"
    github, gitlab = "git@github.com:o/r.git", "https://gitlab.com/o/r.git"
    assert commit_url(web_base(github), sha) == f"https://github.com/o/r/commit/{sha}"
    assert commit_url(web_base(gitlab), sha) == f"https://gitlab.com/o/r/-/commit/{sha}"
    assert (
        file_url(repository_url(gitlab), "main", "items/x.json")
        == "https://gitlab.com/o/r/-/blob/main/items/x.json"
    )
    assert (
        file_url(repository_url(github), "main", "items/x.json")
        == "https://github.com/o/r/blob/main/items/x.json"
    )
    assert commit_url(web_base("/srv/git/r.git"), sha) is None
    assert file_url(repository_url(None), "main", "items/x.json") is None


def test_the_pages_job_builds_the_site_from_a_clone(estate: SyncedAccount, tmp_path: Path) -> None:
    """The GitHub Pages workflow's script, run by bash in a full clone as actions/checkout makes it."""
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(estate.path), str(clone)], check=True)
    workflow = yaml.safe_load(github_pages("prod", ACCOUNT_ID))
    [script] = [s["run"] for s in workflow["jobs"]["build"]["steps"] if s.get("name") == "gitmonkey site"]
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    env = {
        **os.environ,
        "RUNNER_TEMP": str(runner_temp),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    assert shutil.which("gitmonkey", path=env["PATH"])
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=clone, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    public = runner_temp / "public"
    assert (public / "index.html").is_file()
    assert (public / item_page("prod", REGION, "ec2.security_group", estate.group)).is_file()


def test_init_commits_the_pages_jobs(estate: SyncedAccount) -> None:
    from gitmonkey.init import setup_repositories

    [setup] = setup_repositories(estate.config, ci=["github", "gitlab"], pages=True)
    files = git(estate.path, "show", "--name-only", "--format=%s", "HEAD").split()
    assert ".github/workflows/gitmonkey-pages.yml" in files and ".gitlab-ci.yml" in files
    gitlab = yaml.safe_load((estate.path / ".gitlab-ci.yml").read_text())
    assert gitlab["pages"]["pages"] == {"publish": "public"} and "gitmonkey-check" in gitlab
    assert setup.commit is not None
