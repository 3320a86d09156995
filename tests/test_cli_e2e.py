"""The CLI as a separate process against a moto server on 127.0.0.1 (endpoint_url)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.helpers import assert_clean, git, moto_server, subjects


@pytest.fixture(scope="module")
def moto_endpoint():
    with moto_server() as endpoint:
        yield endpoint


def _client(service: str, endpoint: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=endpoint)


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GITMONKEY_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "gitmonkey", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_sync_status_history_through_the_cli(tmp_path, moto_endpoint):
    requests_reset = _client("s3", moto_endpoint)
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    requests_reset.create_bucket(Bucket="cli-bucket")
    iam = _client("iam", moto_endpoint)
    iam.create_user(UserName="cli-user")
    ec2 = _client("ec2", moto_endpoint)
    sg = ec2.create_security_group(GroupName="cli-web", Description="x")["GroupId"]
    config = tmp_path / "gitmonkey.yaml"
    config.write_text(
        "repos_dir: repos\n"
        "max_attempts: 1\n"
        "accounts:\n"
        "  - name: lab\n    id: '123456789012'\n    regions: [us-east-1]\n"
        f"    endpoint_url: {moto_endpoint}\n"
    )

    first = run_cli("sync", "--format", "json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["exit_code"] == 0
    assert summary["accounts"][0]["items"] >= 3
    assert summary["accounts"][0]["api_calls"] > 0
    repo = tmp_path / "repos" / "lab"
    assert subjects(repo)[0].startswith("baseline")
    assert_clean(repo)

    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    second = run_cli("sync", "--config", str(config), cwd=Path("/"))
    assert second.returncode == 0, second.stderr
    assert "1 modified" in second.stdout
    assert subjects(repo)[0] == f"ec2.security_group us-east-1 {sg} (cli-web): modified"

    status = run_cli("status", "--format", "json", cwd=tmp_path, env={"GITMONKEY_CONFIG": str(config)})
    assert status.returncode == 0, status.stderr
    entry = json.loads(status.stdout)[0]
    assert entry["account"] == "lab" and not entry["failing"]
    assert any(s["slice"] == "us-east-1/ec2.security_group" for s in entry["slices"])


def test_config_error_exits_2_before_writing(tmp_path):
    config = tmp_path / "gitmonkey.yaml"
    config.write_text("accounts:\n  - name: lab\n    id: '12ab'\n")
    result = run_cli("sync", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    assert "accounts[0].id" in result.stderr
    assert not (tmp_path / "accounts").exists()


def test_an_account_behind_a_dead_endpoint_exits_3(tmp_path):
    config = tmp_path / "gitmonkey.yaml"
    config.write_text(
        "max_attempts: 1\naccounts:\n"
        "  - name: down\n    id: '123456789012'\n    regions: [us-east-1]\n    endpoint_url: http://127.0.0.1:9\n"
    )
    result = run_cli("sync", "--config", str(config), "--format", "json", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    slices = json.loads(result.stdout)["accounts"][0]["slices"]
    assert slices and not any(s["ok"] for s in slices)
    assert git(tmp_path / "accounts" / "down", "status", "--porcelain") == ""


def _git_that_kills_its_caller_at(tmp_path: Path, subcommand: str) -> Path:
    """A `git` on PATH that SIGKILLs the gitmonkey process when asked to run ``subcommand``."""
    import shutil

    bin_dir = tmp_path / "killer-bin"
    bin_dir.mkdir()
    script = bin_dir / "git"
    script.write_text(
        "#!/bin/sh\n"
        f'for arg in "$@"; do if [ "$arg" = "{subcommand}" ]; then kill -9 "$PPID"; exit 1; fi; done\n'
        f'exec {shutil.which("git")} "$@"\n'
    )
    script.chmod(0o755)
    return bin_dir


def test_a_sync_killed_after_moving_the_branch_is_repaired_by_the_next(tmp_path, moto_endpoint):
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    ec2 = _client("ec2", moto_endpoint)
    sg = ec2.create_security_group(GroupName="killed-web", Description="x")["GroupId"]
    config = tmp_path / "gitmonkey.yaml"
    config.write_text(
        "max_attempts: 1\ntechnologies: [ec2.security_group]\naccounts:\n"
        "  - name: lab\n    id: '123456789012'\n    regions: [us-east-1]\n"
        f"    endpoint_url: {moto_endpoint}\n"
    )
    assert run_cli("sync", "--config", str(config), cwd=tmp_path).returncode == 0
    repo = tmp_path / "accounts" / "lab"
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    killer = _git_that_kills_its_caller_at(tmp_path, "read-tree")
    killed = run_cli(
        "sync", "--config", str(config), cwd=tmp_path, env={"PATH": f"{killer}:{os.environ['PATH']}"}
    )
    assert killed.returncode == -9
    assert subjects(repo)[0] == f"ec2.security_group us-east-1 {sg} (killed-web): modified", (
        "the branch moved"
    )
    assert git(repo, "status", "--porcelain") != "", "the working tree was left behind"

    again = run_cli("sync", "--config", str(config), "--format", "json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["accounts"][0]["commits"] == 0, "nothing is recorded twice"
    assert_clean(repo)
    assert git(repo, "fsck", "--strict").strip() == ""
    issue_file = repo / "issues/us-east-1/ec2/security_group" / f"{sg}.yaml"
    assert "tcp 22 from 0.0.0.0/0" in issue_file.read_text(), "the missed audit was caught up"
