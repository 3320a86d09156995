"""Justification entries, `gitmonkey justify`, `gitmonkey check` and the CI workflows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gitmonkey.audit import issues as iss
from gitmonkey.audit.check import GITHUB_WORKFLOW, GITLAB_CI, check_repository, write_ci_workflows
from gitmonkey.audit.justify import JustificationError, Justifications, parse_file, write_justification
from gitmonkey.cli import cli
from tests.helpers import git
from tests.test_audit_issues import PUBLIC, Account, bucket
from tests.test_hooks import write_config

NOW = datetime(2024, 6, 1, tzinfo=UTC)
ITEM = iss.ItemRef("s3.bucket", "us-east-1", "logs-eu", "logs-eu", "items/us-east-1/s3/bucket/logs-eu.json")
ISSUE = iss.Issue("0123456789abcdef", "s3.bucket.policy-internet", 10, "t", "d", "p", "*", "c", "2024")
BASE = b"reason: ok\nby: alice\ndate: 2024-05-01\n"


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """People's commits need an identity; the test machine has no global one."""
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Alice")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "alice@example.com")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"fingerprint: 0123456789abcdef\nby: a\ndate: 2024-01-01\n", "'reason' is required"),
        (b"fingerprint: XYZ\n" + BASE, "16 lowercase hex"),
        (b"rule: r\nfingerprint: 0123456789abcdef\n" + BASE, "not both"),
        (BASE, "needs 'fingerprint'"),
        (b"rule: r\nwho: bob\n" + BASE, "unknown key"),
        (b"rule: r\nexpires: next week\n" + BASE, "expected a date"),
        (b"- rule: r\n  reason: x\n", r"entry 1: 'by' is required"),
        (b"rule: [\n", "not valid YAML"),
    ],
)
def test_bad_entries_name_the_file_and_the_problem(content: bytes, message: str) -> None:
    with pytest.raises(JustificationError, match=message) as raised:
        parse_file("justifications/bad.yaml", content)
    assert str(raised.value).startswith("justifications/bad.yaml")


def test_fingerprint_entry_wins_and_active_wins_over_expired() -> None:
    files = {
        "justifications/a-glob.yaml": b"rule: s3.bucket.policy-internet\nitem: logs-*\n" + BASE,
        "justifications/b-fp-expired.yaml": b"fingerprint: 0123456789abcdef\nexpires: 2024-05-31\n" + BASE,
        "justifications/notes.txt": b"ignored",
    }
    found = Justifications.from_files(files)
    assert found.errors == [] and len(found.entries) == 2
    match = found.lookup(ISSUE, ITEM, NOW)
    assert match is not None and not match.expired
    assert match.entry["source"] == "justifications/a-glob.yaml"
    files["justifications/c-fp.yaml"] = b"fingerprint: 0123456789abcdef\n" + BASE
    match = Justifications.from_files(files).lookup(ISSUE, ITEM, NOW)
    assert match is not None and match.entry["source"] == "justifications/c-fp.yaml"


def test_glob_and_expiry_boundaries() -> None:
    text = b"rule: s3.bucket.policy-internet\nitem: logs-*\nexpires: 2024-06-01\n" + BASE
    entry = parse_file("j.yaml", text)[0]
    assert entry.matches(ISSUE, ITEM)
    other = iss.ItemRef("s3.bucket", "us-east-1", "web", "web", "p")
    assert not entry.matches(ISSUE, other)
    assert not entry.expired(datetime(2024, 6, 1, 23, 59, tzinfo=UTC))
    assert entry.expired(datetime(2024, 6, 2, tzinfo=UTC))


def test_justify_on_main_commits_and_hook_marks_it(tmp_path: Path, identity: None) -> None:
    from gitmonkey import hooks

    config_path = write_config(tmp_path)
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    hooks.install_hooks(acct.path, config_path)
    fp = acct.fingerprints("web")[0]
    result = CliRunner().invoke(cli, ["justify", fp, "--reason", "public website", "--expires", "2099-12-31",
                                      "--repo", str(acct.path)])
    assert result.exit_code == 0, result.output
    assert f"justified {fp} in justifications/{fp}.yaml" in result.output
    entry = yaml.safe_load((acct.path / "justifications" / f"{fp}.yaml").read_text())
    assert entry["by"] == "Alice" and entry["expires"] == date(2099, 12, 31)
    assert git(acct.path, "log", "-2", "--format=%an|%s").splitlines() == [
        "gitmonkey|audit: 0 new, 0 fixed, 1 justified", f"Alice|justify {fp}: public website"]
    issue = next(i for i in acct.issue_file("web")["issues"] if i["fingerprint"] == fp)
    assert issue["justified"] and issue["justification"]["expires"] == "2099-12-31"


def test_justify_on_a_branch_leaves_main_alone(tmp_path: Path, identity: None) -> None:
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    fp = acct.fingerprints("web")[0]
    main = acct.repo.head()
    result = write_justification(acct.path, fp, "public website", by="bob", branch=True,
                                 today=date(2024, 5, 1))
    assert result.branch == f"justify/{fp}"
    assert acct.repo.head() == main
    assert git(acct.path, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert not (acct.path / "justifications").exists()
    subject = git(acct.path, "log", "-1", "--format=%s", result.branch).strip()
    assert subject == f"justify {fp}: public website"
    shown = git(acct.path, "show", f"{result.branch}:justifications/{fp}.yaml")
    assert yaml.safe_load(shown)["by"] == "bob"


def test_justify_refuses_bad_input(tmp_path: Path, identity: None) -> None:
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    args = ["justify", "0123456789abcdef", "--reason", "x", "--repo", str(acct.path)]
    unknown = CliRunner().invoke(cli, args)
    assert unknown.exit_code == 1 and "no issue" in unknown.output
    with pytest.raises(JustificationError, match="in the past"):
        write_justification(acct.path, acct.fingerprints("web")[0], "x", expires=date(2000, 1, 1))
    with pytest.raises(JustificationError, match="16 lowercase hex"):
        write_justification(acct.path, "../../etc/passwd", "x")
    assert git(acct.path, "status", "--porcelain") == ""


def _checked(acct: Account, *files: tuple[str, str]) -> list[str]:
    for name, text in files:
        path = acct.path / "justifications" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    return [str(p) for p in check_repository(acct.path, now=NOW)]


def test_check_finds_unknown_expired_and_malformed(tmp_path: Path) -> None:
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    fp = acct.fingerprints("web")[0]
    assert _checked(acct, (f"{fp}.yaml", f"fingerprint: {fp}\n" + BASE.decode())) == []
    problems = _checked(
        acct,
        ("gone.yaml", "fingerprint: ffffffffffffffff\n" + BASE.decode()),
        ("old.yaml", f"fingerprint: {fp}\nexpires: 2024-05-31\n" + BASE.decode()),
        ("broken.yaml", "fingerprint: [\n"),
        ("norule.yaml", "rule: no.such.rule\n" + BASE.decode()),
    )
    assert any("gone.yaml: fingerprint ffffffffffffffff names no issue" in p for p in problems)
    assert any(p.startswith("error: justifications/old.yaml") and "expired on 2024-05-31" in p
               for p in problems)
    assert any("broken.yaml: not valid YAML" in p for p in problems)
    assert any(p.startswith("warning: justifications/norule.yaml") for p in problems)


def test_check_cli_exit_codes(tmp_path: Path) -> None:
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC))
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", "--repo", str(acct.path)])
    assert ok.exit_code == 0 and ok.output.endswith("ok\n")
    (acct.path / "justifications").mkdir()
    (acct.path / "justifications" / "x.yaml").write_text("fingerprint: ffffffffffffffff\n" + BASE.decode())
    bad = runner.invoke(cli, ["check", "--repo", str(acct.path), "--format", "json"])
    assert bad.exit_code == 1 and "names no issue" in bad.output
    rules_dir = tmp_path / "myrules"
    rules_dir.mkdir()
    (rules_dir / "broken.yaml").write_text("rules: [{id: x}]\n")
    config_path = write_config(tmp_path, audit={"rule_dirs": ["myrules"]})
    broken_rules = runner.invoke(cli, ["check", "--config", str(config_path), "--account", "prod"])
    assert broken_rules.exit_code == 1 and "broken.yaml" in broken_rules.output
    config_path.write_text("accounts: {}\nbogus: 1\n")
    bad_config = runner.invoke(cli, ["check", "--config", str(config_path), "--repo", str(acct.path)])
    assert bad_config.exit_code == 2 and "config error" in bad_config.output


def test_ci_workflows_run_check(tmp_path: Path) -> None:
    written = write_ci_workflows(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [GITHUB_WORKFLOW, GITLAB_CI]
    github = yaml.safe_load((tmp_path / GITHUB_WORKFLOW).read_text())
    assert any(step.get("run") == "gitmonkey check --repo ." for step in github["jobs"]["check"]["steps"])
    gitlab = yaml.safe_load((tmp_path / GITLAB_CI).read_text())
    assert gitlab["gitmonkey-check"]["script"] == ["gitmonkey check --repo ."]
    assert write_ci_workflows(tmp_path) == written
    (tmp_path / GITLAB_CI).write_text("other: {}\n")
    with pytest.raises(FileExistsError, match=r"gitlab-ci\.yml exists"):
        write_ci_workflows(tmp_path)
    assert (tmp_path / GITLAB_CI).read_text() == "other: {}\n"
    write_ci_workflows(tmp_path, force=True)
    assert "gitmonkey-check" in (tmp_path / GITLAB_CI).read_text()


def test_check_outside_a_repository_is_an_error_not_a_pass(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gitmonkey.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITMONKEY_CONFIG", raising=False)
    here = CliRunner().invoke(cli, ["check"])
    assert here.exit_code == 1 and "not a git repository" in here.output
    missing = CliRunner().invoke(cli, ["check", "--repo", str(tmp_path / "nope")])
    assert missing.exit_code == 2
