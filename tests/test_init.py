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
