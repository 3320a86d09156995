"""Issue files and their life: new, fixed, regressed, justified, expired; idempotence of --all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gitmonkey import events as ev
from gitmonkey.audit import issues as iss
from gitmonkey.audit.run import audit_all, audit_ranges
from gitmonkey.cli import cli
from gitmonkey.config import Config
from gitmonkey.normalize import canonical_json
from gitmonkey.normalize.paths import item_path
from gitmonkey.store import AccountRepository, FileChange, PlannedCommit
from tests.helpers import ACCOUNT_ID, git, make_config

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
PUBLIC = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{name}/*"}
STRANGER = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::{name}/*"}


# The tests follow two policy rules, whatever else the catalogue grows.
ONLY_POLICY_RULES = {"overrides": [{"rule": "*", "disabled": True},
                                   {"rule": "s3.bucket.policy-internet", "disabled": False},
                                   {"rule": "s3.bucket.policy-unknown-account", "disabled": False}]}


def bucket(name: str, *statements: dict[str, Any]) -> bytes:
    """An s3.bucket item document; ``statements`` make its bucket policy."""
    configuration: dict[str, Any] = {"Region": "us-east-1"}
    if statements:
        configuration["Policy"] = {
            "Version": "2012-10-17",
            "Statement": [{**s, "Resource": s["Resource"].format(name=name)} for s in statements],
        }
    document = {"account": ACCOUNT_ID, "arn": f"arn:aws:s3:::{name}", "configuration": configuration,
                "id": name, "name": name, "region": "us-east-1", "technology": "s3.bucket"}
    return canonical_json(document).encode("utf-8")


def bucket_path(name: str) -> str:
    return item_path("us-east-1", "s3.bucket", name)


class Account:
    """An account repository with its config, driven like a sync would drive it."""

    def __init__(self, tmp_path: Path, **config: Any) -> None:
        config.setdefault("audit", ONLY_POLICY_RULES)
        self.config: Config = make_config(tmp_path, **config)
        self.account = self.config.accounts[0]
        self.path = self.config.repo_path(self.account)
        self.repo = AccountRepository.open(self.path, committer_name=self.config.committer_name,
                                           committer_email=self.config.committer_email)

    def put(self, **buckets: bytes | None) -> tuple[str | None, str]:
        """Commit bucket documents (None deletes) the way a sync does; returns (old, new) heads."""
        old = self.repo.head()
        self.repo.commit([PlannedCommit(f"sync {sorted(buckets)}", tuple(
            FileChange(bucket_path(name), content) for name, content in sorted(buckets.items())))])
        return old, self.repo.head()

    def sync(self, now: datetime = NOW, **buckets: bytes | None) -> Any:
        old, new = self.put(**buckets)
        return audit_ranges(self.repo, self.config, self.account, [(old, new)], now=now)

    def issue_file(self, name: str) -> dict[str, Any] | None:
        content = self.repo.read_file(iss.issue_path_for(bucket_path(name)))
        return None if content is None else yaml.safe_load(content)

    def fingerprints(self, name: str) -> list[str]:
        data = self.issue_file(name)
        return [] if data is None else [i["fingerprint"] for i in data["issues"]]

    def justify(self, fp: str, *, expires: str | None = None) -> None:
        entry = {"fingerprint": fp, "reason": "public website", "by": "alice", "date": "2024-05-01"}
        if expires:
            entry["expires"] = expires
        self.repo.commit([PlannedCommit(f"justify {fp}", (FileChange(
            f"justifications/{fp}.yaml", yaml.safe_dump(entry).encode()),))])


@pytest.fixture
def acct(tmp_path: Path) -> Account:
    return Account(tmp_path)


def kinds(result: Any) -> list[str]:
    return sorted(e.kind for e in result.events)


def test_fingerprint_is_stable_and_specific() -> None:
    a = iss.fingerprint("r", "s3.bucket", "us-east-1", "web", "*")
    assert a == iss.fingerprint("r", "s3.bucket", "us-east-1", "web", "*")
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != iss.fingerprint("r", "s3.bucket", "us-east-1", "web", "999999999999")
    assert a != iss.fingerprint("r", "s3.bucket", "us-east-1", "web2", "*")


def test_new_issue_writes_file_and_commit_with_trailers(acct: Account) -> None:
    result = acct.sync(web=bucket("web", PUBLIC), quiet=bucket("quiet"))
    data = acct.issue_file("web")
    assert data is not None and acct.issue_file("quiet") is None
    assert data["item"] == {"technology": "s3.bucket", "region": "us-east-1", "id": "web", "name": "web",
                            "path": bucket_path("web")}
    [issue] = [i for i in data["issues"] if i["rule"] == "s3.bucket.policy-internet"]
    assert issue["fingerprint"] == iss.fingerprint("s3.bucket.policy-internet", "s3.bucket", "us-east-1",
                                                   "web", issue["key"])
    assert issue["score"] == 10 and issue["justified"] is False
    assert issue["path"].startswith("configuration.Policy")
    assert issue["first_seen"]["commit"] == result.head
    assert data["score"] == sum(i["score"] for i in data["issues"])
    message = git(acct.path, "log", "-1", "--format=%B")
    assert message.startswith(f"audit: {len(data['issues'])} new, 0 fixed\n")
    trailers = git(acct.path, "log", "-1", "--format=%(trailers:key=Gitmonkey-Audit-New,valueonly)")
    assert set(trailers.split()) == set(acct.fingerprints("web"))
    assert result.commit == acct.repo.head()
    assert ev.ISSUE_NEW in kinds(result)
    assert all(e.commit == result.commit and e.account == "prod" for e in result.events)


def test_fixed_then_regressed(acct: Account) -> None:
    acct.sync(web=bucket("web", PUBLIC))
    fps = acct.fingerprints("web")
    fixed = acct.sync(web=bucket("web"))
    assert acct.issue_file("web") is None
    assert kinds(fixed) == [ev.ISSUE_FIXED] * len(fps)
    assert git(acct.path, "log", "-1", "--format=%s").startswith(f"audit: 0 new, {len(fps)} fixed")
    back = acct.sync(web=bucket("web", PUBLIC))
    assert kinds(back) == [ev.ISSUE_REGRESSED] * len(fps)
    assert acct.fingerprints("web") == fps
    assert all(i["regressed"] for i in acct.issue_file("web")["issues"])
    trailers = git(acct.path, "log", "-1", "--format=%(trailers:key=Gitmonkey-Audit-Regressed,valueonly)")
    assert set(trailers.split()) == set(fps)


def test_unchanged_issue_keeps_first_seen_and_makes_no_commit(acct: Account) -> None:
    first = acct.sync(web=bucket("web", PUBLIC))
    before = {i["fingerprint"]: i["first_seen"] for i in acct.issue_file("web")["issues"]}
    second = acct.sync(web=bucket("web", PUBLIC, STRANGER))
    after = {i["fingerprint"]: i["first_seen"] for i in acct.issue_file("web")["issues"]}
    assert all(after[fp] == seen for fp, seen in before.items())
    added = set(after) - set(before)
    assert added and all(after[fp]["commit"] == second.head for fp in added)
    assert second.commit is not None and kinds(second) == [ev.ISSUE_NEW] * len(added)
    head = acct.repo.head()
    again = audit_ranges(acct.repo, acct.config, acct.account, [(first.head, second.head)], now=NOW)
    assert again.commit is None and again.events == [] and acct.repo.head() == head


def test_deleted_item_fixes_its_issues(acct: Account) -> None:
    acct.sync(web=bucket("web", PUBLIC))
    result = acct.sync(web=None)
    assert acct.issue_file("web") is None
    assert {e.kind for e in result.events} == {ev.ISSUE_FIXED}


def test_justified_issue_stays_marked_and_does_not_count(acct: Account) -> None:
    acct.sync(web=bucket("web", PUBLIC))
    fp = acct.fingerprints("web")[0]
    old = acct.repo.head()
    acct.justify(fp)
    result = audit_ranges(acct.repo, acct.config, acct.account, [(old, acct.repo.head())], now=NOW)
    data = acct.issue_file("web")
    issue = next(i for i in data["issues"] if i["fingerprint"] == fp)
    assert issue["justified"] is True
    assert issue["justification"]["reason"] == "public website"
    assert issue["justification"]["source"] == f"justifications/{fp}.yaml"
    assert data["score"] == sum(i["score"] for i in data["issues"] if not i["justified"])
    assert data["justified_score"] == issue["score"]
    assert kinds(result) == [ev.ISSUE_JUSTIFIED]
    assert git(acct.path, "log", "-1", "--format=%s").strip() == "audit: 0 new, 0 fixed, 1 justified"


def test_justified_before_it_appears_gives_no_new_event(acct: Account) -> None:
    fp = iss.fingerprint("s3.bucket.policy-internet", "s3.bucket", "us-east-1", "web", "*")
    acct.justify(fp)
    result = acct.sync(web=bucket("web", PUBLIC))
    internet = [e for e in result.events if e.details["fingerprint"] == fp]
    assert [e.kind for e in internet] == [ev.ISSUE_JUSTIFIED]


def test_expired_justification_reopens(acct: Account) -> None:
    acct.sync(web=bucket("web", PUBLIC))
    fp = acct.fingerprints("web")[0]
    old = acct.repo.head()
    acct.justify(fp, expires="2024-06-30")
    audit_ranges(acct.repo, acct.config, acct.account, [(old, acct.repo.head())], now=NOW)
    later = datetime(2024, 7, 1, tzinfo=UTC)
    result = audit_all(acct.repo, acct.config, acct.account, now=later)
    issue = next(i for i in acct.issue_file("web")["issues"] if i["fingerprint"] == fp)
    assert issue["justified"] is False and issue["justification"]["expired"] is True
    assert kinds(result) == [ev.JUSTIFICATION_EXPIRED]


def test_audit_all_converges(acct: Account) -> None:
    acct.put(web=bucket("web", PUBLIC), other=bucket("other", STRANGER), quiet=bucket("quiet"))
    first = audit_all(acct.repo, acct.config, acct.account, now=NOW)
    assert first.commit is not None and first.audited == 3
    head = acct.repo.head()
    tree = git(acct.path, "rev-parse", "HEAD^{tree}")
    second = audit_all(acct.repo, acct.config, acct.account, now=NOW)
    assert second.commit is None and second.events == []
    assert acct.repo.head() == head and git(acct.path, "rev-parse", "HEAD^{tree}") == tree


def test_audit_all_agrees_with_incremental_audits(tmp_path: Path) -> None:
    incremental = Account(tmp_path / "a")
    incremental.sync(web=bucket("web", PUBLIC), other=bucket("other"))
    incremental.sync(other=bucket("other", STRANGER))
    incremental.sync(web=bucket("web"))
    files = incremental.repo.list_blobs("issues/")
    assert audit_all(incremental.repo, incremental.config, incremental.account, now=NOW).commit is None
    assert incremental.repo.list_blobs("issues/") == files


def test_stale_issue_file_without_item_is_removed_by_all(acct: Account) -> None:
    acct.sync(web=bucket("web", PUBLIC))
    acct.repo.commit([PlannedCommit("drop item only", (FileChange(bucket_path("web"), None),))])
    result = audit_all(acct.repo, acct.config, acct.account, now=NOW)
    assert acct.issue_file("web") is None and {e.kind for e in result.events} == {ev.ISSUE_FIXED}


def test_issue_file_is_deterministic_yaml(acct: Account) -> None:
    acct.sync(web=bucket("web", PUBLIC, STRANGER))
    content = acct.repo.read_file(iss.issue_path_for(bucket_path("web")))
    loaded = iss.IssueFile.load(content, "x.yaml")
    assert loaded.dump() == content
    assert list(yaml.safe_load(content)) == ["item", "score", "justified_score", "issues"]


def test_bad_issue_file_is_reported_by_name() -> None:
    with pytest.raises(iss.IssueFileError, match=r"issues/x\.yaml"):
        iss.IssueFile.load(b"item: [unclosed", "issues/x.yaml")


def test_untrusted_item_id_cannot_forge_trailers() -> None:
    item = iss.ItemRef("s3.bucket", "us-east-1", "evil\n\nGitmonkey-Audit-Fixed: 0000000000000000", "", "p")
    issue = iss.Issue("1234567890abcdef", "r", 1, "t", "d", "p", "k", "c", "d")
    message = iss.audit_message([iss.Transition(iss.NEW, issue, item)], 1)
    assert "\nGitmonkey-Audit-Fixed" not in message
    assert message.rstrip().splitlines()[-1] == "Gitmonkey-Audit-New: 1234567890abcdef"


def test_audit_cli_all_then_nothing(acct: Account, tmp_path: Path) -> None:
    acct.put(web=bucket("web", PUBLIC))
    config_file = tmp_path / "gitmonkey.yaml"
    config_file.write_text(yaml.safe_dump({"repos_dir": "accounts", "audit": ONLY_POLICY_RULES,
                                           "accounts": [{"name": "prod", "id": ACCOUNT_ID}]}))
    runner = CliRunner()
    first = runner.invoke(cli, ["audit", "--all", "--config", str(config_file)])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("prod: 1 items audited, ")
    again = runner.invoke(cli, ["audit", "--all", "--config", str(config_file), "--format", "json"])
    assert again.exit_code == 0, again.output
    assert '"commit": null' in again.output
    pending = runner.invoke(cli, ["audit", "--config", str(config_file)])
    assert pending.exit_code == 0 and pending.output == "prod: nothing to audit\n"
