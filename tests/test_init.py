"""gitmonkey init: the example config documents every key, validates, and is never clobbered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitmonkey.cli import cli
from gitmonkey.config import load_config
from gitmonkey.init import InitError, example_config, write_example_config

SCHEMA_KEYS = ("repos_dir", "accounts", "name", "id", "regions", "profile", "role_arn", "external_id",
               "endpoint_url", "remote", "technologies", "ignore", "technology", "pattern", "region",
               "account", "tag", "concurrency", "max_attempts", "stale_after_hours", "committer", "email",
               "audit", "notifications")


def test_example_validates_as_written(tmp_path: Path) -> None:
    path = write_example_config(tmp_path / "gitmonkey.yaml")
    config = load_config(path)
    assert [a.name for a in config.accounts] == ["example"]
    assert config.repos_dir == (tmp_path / "accounts").resolve()
    assert config.technologies is None and config.ignore == ()


def test_example_validates_with_every_optional_setting_switched_on(tmp_path: Path) -> None:
    text = re.sub(r"^(\s*)#: ", r"\1", example_config(), flags=re.MULTILINE)
    path = tmp_path / "gitmonkey.yaml"
    path.write_text(text)
    config = load_config(path)
    account = config.accounts[0]
    assert account.role_arn and account.external_id and account.endpoint_url and account.remote
    assert config.technologies == ("iam.*", "s3.bucket", "ec2.security_group")
    assert len(config.ignore) == 2


def test_example_documents_every_key() -> None:
    text = example_config()
    missing = [key for key in SCHEMA_KEYS if not re.search(rf"\b{key}\b", text)]
    assert missing == []


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "gitmonkey.yaml"
    path.write_text("mine\n")
    with pytest.raises(InitError, match="already exists; use --force"):
        write_example_config(path)
    assert path.read_text() == "mine\n"
    write_example_config(path, force=True)
    assert path.read_text() == example_config()
    assert [p.name for p in tmp_path.iterdir()] == ["gitmonkey.yaml"]


def test_cli_init_creates_directory_and_refuses_second_time(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir"
    runner = CliRunner()
    first = runner.invoke(cli, ["init", str(target)])
    assert first.exit_code == 0 and f"wrote {target / 'gitmonkey.yaml'}" in first.output
    second = runner.invoke(cli, ["init", str(target)])
    assert second.exit_code == 2 and "already exists; use --force" in second.stderr
    forced = runner.invoke(cli, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    check = runner.invoke(cli, ["config", "validate", "--config", str(target / "gitmonkey.yaml")])
    assert (check.exit_code, check.output) == (0, "ok\n")


def test_cli_init_defaults_to_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0
    assert (tmp_path / "gitmonkey.yaml").read_text() == example_config()


def test_help_has_examples() -> None:
    for args in (["init", "--help"], ["config", "validate", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Example:" in result.output


def test_init_repos_creates_repositories_with_hooks_and_commits_ci_jobs(tmp_path):
    import subprocess

    from click.testing import CliRunner

    from gitmonkey.cli import cli

    (tmp_path / "gitmonkey.yaml").write_text(
        "accounts:\n  - {name: prod, id: '123456789012'}\n  - {name: lab, id: '210987654321'}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(tmp_path), "--repos", "--ci", "github", "--ci", "gitlab"])
    assert result.exit_code == 0, result.output
    for name in ("prod", "lab"):
        repo = tmp_path / "accounts" / name
        hooks = repo / ".git" / "hooks"
        assert "gitmonkey" in (hooks / "post-commit").read_text()
        assert "gitmonkey" in (hooks / "post-merge").read_text()
        tracked = subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True,
                                 check=True).stdout.split()
        assert ".github/workflows/gitmonkey-check.yml" in tracked and ".gitlab-ci.yml" in tracked
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True,
                                text=True, check=True).stdout
        assert status == ""
    again = runner.invoke(cli, ["init", str(tmp_path), "--repos", "--ci", "github"])
    assert again.exit_code == 0, again.output
    log = subprocess.run(["git", "-C", str(tmp_path / "accounts" / "prod"), "log", "--oneline"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(log) == 1, "re-running init --repos must not commit again"


def test_init_ci_without_repos_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from gitmonkey.cli import cli

    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--ci", "github"])
    assert result.exit_code == 2
