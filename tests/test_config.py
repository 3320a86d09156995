"""gitmonkey.yaml validation: every problem named by key path and expectation, defaults, discovery."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitmonkey.cli import cli
from gitmonkey.config import CONFIG_ENV, AccountConfig, ConfigError, IgnoreRule, find_config_path, load_config
from gitmonkey.model import Item

MINIMAL = "accounts:\n  - name: prod\n    id: '123456789012'\n"


def write(tmp_path: Path, text: str, name: str = "gitmonkey.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value.errors


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.repos_dir == (tmp_path / "accounts").resolve()
    assert config.accounts == (AccountConfig(name="prod", id="123456789012"),)
    assert (config.technologies, config.ignore) == (None, ())
    assert (config.concurrency, config.max_attempts, config.stale_after_hours) == (8, 5, 24.0)
    assert (config.connect_timeout, config.read_timeout) == (5.0, 20.0)
    assert (config.committer_name, config.committer_email) == ("gitmonkey", "gitmonkey@localhost")
    assert (config.audit, config.notifications) == ({}, {})
    assert config.repo_path(config.account("123456789012")) == config.repos_dir / "prod"
    assert config.technology_enabled("iam.role")


def test_every_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, """\
        repos_dir: ../data/repos
        accounts:
          - name: prod.main
            id: "012345678901"
            regions: [us-east-1, us-gov-west-1]
            role_arn: arn:aws:iam::012345678901:role/gitmonkey
            external_id: ext-123
            endpoint_url: http://127.0.0.1:5000
            remote: git@github.com:org/prod.git
          - {name: dev, id: "123456789012", profile: dev}
        technologies: [iam.*, s3.bucket]
        ignore:
          - technology: iam.role
            pattern: "AWSServiceRoleFor*"
            account: "prod*"
            region: "*"
            tag: env=dev*
        concurrency: 2
        max_attempts: 3
        stale_after_hours: 1.5
        committer: {name: Bot, email: bot@example.com}
        notifications: {channels: {ops: {type: slack, url_env: SLACK_URL}}}
        """))
    assert config.repos_dir == (tmp_path.parent / "data" / "repos").resolve()
    prod = config.account("prod.main")
    assert prod.id == "012345678901" and prod.regions == ("us-east-1", "us-gov-west-1")
    assert (prod.external_id, prod.remote) == ("ext-123", "git@github.com:org/prod.git")
    assert config.account("dev").profile == "dev"
    assert config.technologies == ("iam.*", "s3.bucket")
    assert config.technology_enabled("iam.user") and not config.technology_enabled("ec2.security_group")
    assert config.ignore[0] == IgnoreRule("iam.role", "AWSServiceRoleFor*", "*", "prod*", "env=dev*")
    assert (config.concurrency, config.max_attempts, config.stale_after_hours) == (2, 3, 1.5)
    assert (config.committer_name, config.committer_email) == ("Bot", "bot@example.com")
    assert config.notifications["channels"]["ops"]["url_env"] == "SLACK_URL"


@pytest.mark.parametrize(("snippet", "expected"), [
    ("accounts:\n  - {name: prod, id: '12ab'}\n",
     "accounts[0].id: '12ab' is not a 12-digit AWS account id"),
    ("accounts:\n  - {name: prod, id: '123456789012', regoins: [us-east-1]}\n",
     "accounts[0]: unknown key 'regoins' (did you mean 'regions'?)"),
    (MINIMAL + "concurrency: x\n", "concurrency: expected an integer >= 1, got 'x'"),
    (MINIMAL + "concurrency: 0\n", "concurrency: expected an integer >= 1, got 0"),
    (MINIMAL + "stale_after_hours: -1\n", "stale_after_hours: expected a number of hours > 0, got -1"),
    ("accounts:\n  - {name: ../evil, id: '123456789012'}\n",
     "accounts[0].name: '../evil' is not a safe folder name (letters, digits, '.', '_', '-'; "
     "not starting with '.', '_' or '-')"),
    ("accounts:\n  - {name: p, id: '123456789012', regions: [us-east-1, mars-1]}\n",
     "accounts[0].regions[1]: 'mars-1' is not an AWS region name like us-east-1"),
    ("accounts:\n  - {name: p, id: '123456789012', external_id: abc}\n",
     "accounts[0]: 'external_id' requires 'role_arn' (set role_arn too, or remove external_id)"),
    ("accounts:\n  - {name: p, id: '123456789012', role_arn: 'arn:aws:iam::1:user/x'}\n",
     "accounts[0].role_arn: 'arn:aws:iam::1:user/x' is not an IAM role ARN like "
     "arn:aws:iam::123456789012:role/gitmonkey"),
    ("accounts:\n  - {name: p, id: '123456789012', endpoint_url: 'file:///etc'}\n",
     "accounts[0].endpoint_url: 'file:///etc' is not an http(s) URL like http://127.0.0.1:5000"),
    ("accounts:\n  - {name: p, id: '123456789012', remote: '--upload-pack=evil'}\n",
     "accounts[0].remote: '--upload-pack=evil' is not a git URL or path (not starting with '-', "
     "no ext:: or fd:: transport)"),
    ("accounts:\n  - {name: p}\n", "accounts[0]: missing required key 'id'"),
    ("repos_dir: x\n", "(top level): missing required key 'accounts'"),
    ("accounts: []\n", "accounts: expected a non-empty list of accounts, got an empty list"),
    (MINIMAL + "acounts: []\n", "(top level): unknown key 'acounts' (did you mean 'accounts'?)"),
    (MINIMAL + "committer: {name: bot}\n", "committer: missing required key 'email'"),
    (MINIMAL + "ignore:\n  - {technology: iam.role}\n", "ignore[0]: missing required key 'pattern'"),
    (MINIMAL + "ignore:\n  - {technology: iam.role, pattern: x, tag: novalue}\n",
     "ignore[0].tag: 'novalue' is not Key=ValueGlob, e.g. env=dev*"),
    (MINIMAL + "ignore:\n  - {technology: iam.role, pattern: x, account: staging}\n",
     "ignore[0].account: 'staging' matches no account (accounts: prod)"),
    (MINIMAL + "technologies: [iam.rol]\n",
     "technologies[0]: 'iam.rol' matches no known technology (did you mean 'iam.role'?)"),
    (MINIMAL + "audit: [rules]\n", "audit: expected a mapping (see the audit documentation), got a list"),
    ("- just a list\n", "(top level): expected a mapping of keys (repos_dir, accounts, ...), got a list"),
])
def test_error_names_path_and_expectation(tmp_path: Path, snippet: str, expected: str) -> None:
    assert expected in errors_of(tmp_path, snippet)


def test_unquoted_account_id_is_refused_with_how_to_quote_it(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, "accounts:\n  - {name: prod, id: 123456789012}\n")
    assert error.startswith("accounts[0].id: got the number 123456789012; write the account id as a quoted")
    assert 'id: "123456789012"' in error


def test_all_errors_reported_sorted_by_path(tmp_path: Path) -> None:
    config = write(tmp_path, """\
        concurrency: x
        accounts:
          - {name: a, id: '1'}
          - {name: b, id: '123456789012'}
          - {name: A, id: '123456789012'}
        """)
    errors = [
        "accounts[0].id: '1' is not a 12-digit AWS account id",
        "accounts[2].id: '123456789012' is already used by accounts[1]; each account needs its own id",
        "accounts[2].name: 'A' is already used by accounts[0] (ignoring letter case: folders would collide);"
        " each account needs its own name",
        "concurrency: expected an integer >= 1, got 'x'",
    ]
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert info.value.errors == errors
    assert str(info.value) == f"{config.resolve()}: 4 problems\n" + "\n".join(f"  {e}" for e in errors)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, "accounts:\n  - name: prod\n    id: [unclosed\n")
    assert ", line 4, column 1: YAML syntax error:" in error


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    [error] = errors_of(tmp_path, MINIMAL + "concurrency: 2\nconcurrency: 4\n")
    assert error.endswith("line 5: duplicate key 'concurrency' (first set on line 4); remove one of them")


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no configuration file at .*gitmonkey init"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize("key", ["password", "api_token", "Secret", "apikey"])
def test_inline_secret_in_notifications_refused(tmp_path: Path, key: str) -> None:
    channel = f"{{type: webhook, {key}: s3cr3t}}"
    errors = errors_of(tmp_path, MINIMAL + f"notifications:\n  channels:\n    ops: {channel}\n")
    expected = (f"notifications.channels.ops.{key}: secrets must not be written in the config file "
                f"(it may be committed or shared); use '{key}_env: VARIABLE' to read it from the "
                f"environment or '{key}_file: /path/to/file' to read it from a file")
    assert expected in errors


def test_secret_references_are_fine(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + textwrap.dedent("""\
        notifications:
          channels:
            mail: {type: email, host: smtp.example.com, from: a@example.com, password_env: SMTP_PASSWORD}
            hook: {type: webhook, url: 'https://example.com/h', secret_file: /run/secrets/hook}
        """)))
    assert config.notifications["channels"]["mail"]["password_env"] == "SMTP_PASSWORD"


def test_notifications_errors_are_prefixed(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, MINIMAL + "notifications:\n  recipients:\n    - {name: ops}\n")
    assert "notifications.recipients[0]: missing required key 'channel'" in errors


def test_find_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert find_config_path() == tmp_path / "gitmonkey.yaml"
    monkeypatch.setenv(CONFIG_ENV, "/etc/gm.yaml")
    assert find_config_path() == Path("/etc/gm.yaml")
    assert find_config_path("explicit.yaml") == Path("explicit.yaml")


def test_ignore_rule_matches_globs_on_account_region_and_tag() -> None:
    account = AccountConfig(name="prod-eu", id="123456789012")
    item = Item("iam.role", "global", "AWSServiceRoleForX", "AWSServiceRoleForX",
                "arn:aws:iam::123456789012:role/AWSServiceRoleForX", {"Tags": {"env": "dev-1"}})
    assert IgnoreRule("iam.*", "AWSServiceRoleFor*", account="prod-*", tag="env=dev*").matches(item, account)
    assert IgnoreRule("iam.role", "*", account="1234*").matches(item, account)
    assert not IgnoreRule("iam.role", "*", account="stage").matches(item, account)
    assert not IgnoreRule("iam.role", "*", tag="env=prod").matches(item, account)
    assert not IgnoreRule("iam.role", "*", region="us-*").matches(item, account)


# --- CLI ------------------------------------------------------------------------------------


def test_validate_ok_via_env_and_option(tmp_path: Path) -> None:
    good, bad = write(tmp_path, MINIMAL), write(tmp_path, "accounts: []\n", "bad.yaml")
    runner = CliRunner()
    result = runner.invoke(cli, ["config", "validate"], env={CONFIG_ENV: str(good)})
    assert (result.exit_code, result.output) == (0, "ok\n")
    result = runner.invoke(cli, ["config", "validate", "--config", str(good)], env={CONFIG_ENV: str(bad)})
    assert (result.exit_code, result.output) == (0, "ok\n")


def test_validate_reports_errors_and_exits_2(tmp_path: Path) -> None:
    bad = write(tmp_path, "accounts:\n  - {name: p, id: '1'}\nconcurrency: 0\n")
    result = CliRunner().invoke(cli, ["config", "validate", "--config", str(bad)])
    assert result.exit_code == 2
    assert "2 problems" in result.stderr
    assert "accounts[0].id: '1' is not a 12-digit AWS account id" in result.stderr
    result = CliRunner().invoke(cli, ["config", "validate", "--config", str(bad), "--format", "json"])
    assert result.exit_code == 2
    assert '"ok": false' in result.stdout and "concurrency: expected an integer >= 1, got 0" in result.stdout


def test_commands_needing_config_exit_2_on_bad_config(tmp_path: Path) -> None:
    bad = write(tmp_path, "accounts: 3\n")
    result = CliRunner().invoke(cli, ["history", "sg-1", "--config", str(bad)])
    assert result.exit_code == 2
    assert "accounts: expected a non-empty list of accounts, got 3" in result.stderr


def test_validation_cache_skips_jsonschema_only_for_the_config_that_validated(tmp_path):
    import subprocess
    import sys

    from gitmonkey.config import ConfigError, load_config

    config = tmp_path / "gitmonkey.yaml"
    cache = tmp_path / "state" / "validated.json"
    config.write_text("accounts:\n  - {name: prod, id: '123456789012'}\n")
    first = load_config(config, validation_cache=cache)
    assert cache.is_file()
    probe = (
        "import sys; from pathlib import Path; from gitmonkey.config import load_config; "
        f"c = load_config({str(config)!r}, validation_cache=Path({str(cache)!r})); "
        "print(c.accounts[0].id, 'jsonschema' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.split() == [first.accounts[0].id, "False"]
    config.write_text("accounts:\n  - {name: prod, id: '12ab'}\n")
    with pytest.raises(ConfigError, match="12-digit"):
        load_config(config, validation_cache=cache)


def test_a_value_that_may_hold_a_secret_is_named_but_never_repeated_in_an_error() -> None:
    from gitmonkey.config import config_problems

    channel = {"type": "webhook", "url": "hooks.slack.com/services/T0/B0/sekrit"}
    problems = config_problems({
        "accounts": [{"name": "prod", "id": "123456789012"}],
        "notifications": {"channels": {"x": channel}, "recipients": [{"name": "a", "channel": "x"}]},
    })
    assert problems == [
        "notifications.channels.x.url: expected an http(s) URL (a URL whose path holds a token belongs in "
        "url_env or url_file), got a value not shown here (it may hold a secret)"
    ]
