"""Issues of change rules (``added-item``, ``changed``, ``previous``...): they stay open while the
change they report still holds against the version it was first measured against, until they are
justified or the change is undone; sync, the post-commit hook and ``audit --all`` agree.

Real git repositories, real audit runs: the sync path (``hooks.run_after_sync`` over the range of
new commits, and one ``run_sync`` against moto), the installed post-commit hook on people's
commits, and ``audit_all``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from gitmonkey import events as ev
from gitmonkey import gitcmd, hooks
from gitmonkey.audit import issues as iss
from gitmonkey.audit.loading import load_rule_file
from gitmonkey.audit.rules import Hit, RuleSet, rule
from gitmonkey.audit.run import audit_all, audit_ranges
from gitmonkey.normalize import canonical_json
from gitmonkey.normalize.paths import item_path
from gitmonkey.store import FileChange, PlannedCommit
from gitmonkey.sync import run_sync
from tests.helpers import ACCOUNT_ID, git, make_config
from tests.test_audit_issues import NOW, Account
from tests.test_hooks import person

INGRESS_ADDED = "ec2.security_group.ingress-internet-added"
TRUST_CHANGED = "iam.role.trust-principals-changed"
PAB_WEAKENED = "s3.bucket.public-access-block-weakened"

SG_ID = "sg-0abc"
SG = item_path("us-east-1", "ec2.security_group", SG_ID)
ROLE = item_path("global", "iam.role", "app")
BUCKET = item_path("global", "s3.bucket", "data")


def only(*rule_ids: str) -> dict[str, Any]:
    """An ``audit:`` section with every rule off except ``rule_ids``."""
    return {"overrides": [{"rule": "*", "disabled": True},
                          *({"rule": r, "disabled": False} for r in rule_ids)]}


def document(technology: str, region: str, item_id: str, configuration: dict[str, Any]) -> bytes:
    doc = {"account": ACCOUNT_ID, "arn": f"arn:aws:test:::{item_id}", "configuration": configuration,
           "id": item_id, "name": item_id, "region": region, "technology": technology}
    return canonical_json(doc).encode("utf-8")


def security_group(ssh_from: str | None = None, tags: dict[str, str] | None = None) -> bytes:
    """The group admits tcp/443 from 10.0.0.0/8, and tcp/22 from ``ssh_from`` when given."""
    def permission(port: int, cidr: str) -> dict[str, Any]:
        return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": cidr}],
                "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}

    permissions = [permission(443, "10.0.0.0/8")]
    if ssh_from:
        permissions.append(permission(22, ssh_from))
    return document("ec2.security_group", "us-east-1", SG_ID, {
        "GroupId": SG_ID, "GroupName": "web", "Description": "web", "VpcId": "vpc-1", "OwnerId": ACCOUNT_ID,
        "IpPermissions": permissions, "IpPermissionsEgress": [], "Tags": tags or {}})


def role(*principals: dict[str, str], tags: dict[str, str] | None = None) -> bytes:
    statements = [{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"} for p in principals]
    trust = {"Version": "2012-10-17", "Statement": statements}
    return document("iam.role", "global", "app", {
        "RoleName": "app", "Path": "/", "AssumeRolePolicyDocument": trust,
        "RolePolicyList": [], "AttachedManagedPolicies": [], "Tags": tags or {}})


def bucket(block: bool, tags: dict[str, str] | None = None) -> bytes:
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return document("s3.bucket", "global", "data", {
        "Name": "data", "PublicAccessBlockConfiguration": {flag: block or flag != "BlockPublicAcls"
                                                            for flag in flags},
        "Tags": tags or {}})


EC2 = {"Service": "ec2.amazonaws.com"}
STRANGER = {"AWS": "arn:aws:iam::999999999999:root"}
TEAM = {"team": "web"}

# (rule, item, v1, v2 = the change, v3 = an unrelated change, v4 = the change undone)
SEQUENCES = {
    INGRESS_ADDED: (SG, security_group(), security_group("0.0.0.0/0"), security_group("0.0.0.0/0", TEAM),
                    security_group("10.0.0.0/8", TEAM)),
    TRUST_CHANGED: (ROLE, role(EC2), role(EC2, STRANGER), role(EC2, STRANGER, tags=TEAM),
                    role(EC2, tags=TEAM)),
    PAB_WEAKENED: (BUCKET, bucket(True), bucket(False), bucket(False, TEAM), bucket(True, TEAM)),
}


class World:
    """An account repository (``tests.test_audit_issues.Account``) fed with any items."""

    def __init__(self, tmp_path: Path, *rule_ids: str) -> None:
        self.acct = Account(tmp_path, audit=only(*rule_ids))
        self.repo = self.acct.repo
        self.path = self.acct.path

    def commit(self, message: str, changes: dict[str, bytes | None]) -> str:
        """A bot commit of item (or other) files, as a sync writes them; no audit."""
        files = tuple(FileChange(p, c) for p, c in sorted(changes.items()))
        self.repo.commit([PlannedCommit(message, files)])
        return self.head()

    def sync(self, message: str, changes: dict[str, bytes | None]) -> dict[str, Any]:
        """Commit and audit the new range as a sync does (``hooks.run_after_sync``)."""
        old = self.repo.head()
        new = self.commit(message, changes)
        with self.repo.lock():
            return hooks.run_after_sync(self.path, self.acct.config, self.acct.account, old, new, now=NOW)

    def audit(self, message: str, changes: dict[str, bytes | None], **kwargs: Any) -> Any:
        """Commit and audit just that commit (``audit_ranges``), returning the AuditResult."""
        old = self.repo.head()
        new = self.commit(message, changes)
        return audit_ranges(self.repo, self.acct.config, self.acct.account, [(old, new)], now=NOW, **kwargs)

    def audit_all(self, **kwargs: Any) -> Any:
        return audit_all(self.repo, self.acct.config, self.acct.account, now=NOW, **kwargs)

    def head(self) -> str:
        head = self.repo.head()
        assert head is not None
        return head

    def subject(self, rev: str = "HEAD") -> str:
        return git(self.path, "log", "-1", "--format=%s", rev).strip()

    def issue_bytes(self, item: str) -> bytes | None:
        return self.repo.read_file(iss.issue_path_for(item))

    def issues(self, item: str) -> list[dict[str, Any]]:
        content = self.issue_bytes(item)
        return [] if content is None else yaml.safe_load(content)["issues"]

    def trailer(self, key: str, rev: str = "HEAD") -> list[str]:
        return git(self.path, "log", "-1", f"--format=%(trailers:key={key},valueonly)", rev).split()

    def normalized(self) -> dict[str, Any]:
        """Every issue file, with commits replaced by what they stand for (the same in any clone
        that made the same item commits): first_seen by the subject of the commit, compared_with
        by the item's blob at that commit."""
        files = {}
        for path, blob in self.repo.list_blobs("issues/").items():
            data = yaml.safe_load(self.repo.read_blobs([blob])[blob])
            item = iss.item_path_for(path)
            for issue in data["issues"]:
                issue["first_seen"] = self.subject(issue["first_seen"]["commit"])
                if "compared_with" in issue:
                    rev = f"{issue['compared_with']}:{item}"
                    issue["compared_with"] = git(self.path, "rev-parse", rev).strip()
            files[path] = data
        return files


def fingerprint_of(rule_id: str, key: str) -> str:
    doc = json.loads(SEQUENCES[rule_id][1])
    return iss.fingerprint(rule_id, doc["technology"], doc["region"], doc["id"], key)


@pytest.mark.parametrize("rule_id", list(SEQUENCES))
def test_change_issue_stays_open_across_an_unrelated_change_and_is_fixed_when_undone(
    tmp_path: Path, rule_id: str
) -> None:
    path, v1, v2, v3, v4 = SEQUENCES[rule_id]
    world = World(tmp_path, rule_id)
    world.sync("v1", {path: v1})
    v1_commit = world.head()
    assert world.issues(path) == [] and world.subject() == "v1"

    opened = world.sync("v2", {path: v2})
    [issue] = world.issues(path)
    assert opened["counts"]["new"] == 1 and issue["rule"] == rule_id
    assert issue["compared_with"] == v1_commit
    assert world.subject(issue["first_seen"]["commit"]) == "v2"
    assert world.trailer(iss.TRAILER_NEW) == [issue["fingerprint"]]
    content = world.issue_bytes(path)

    unrelated = world.sync("v3", {path: v3})
    assert unrelated["commit"] is None and not any(unrelated["counts"].values())
    assert world.subject() == "v3"  # no audit commit
    assert world.issue_bytes(path) == content  # same fingerprint, first_seen, compared_with, details

    assert world.audit_all().commit is None
    assert world.issue_bytes(path) == content

    undone = world.sync("v4", {path: v4})
    assert undone["counts"]["fixed"] == 1 and undone["counts"]["new"] == 0
    assert world.issue_bytes(path) is None
    assert world.trailer(iss.TRAILER_FIXED) == [issue["fingerprint"]]
    assert world.audit_all().commit is None


def test_ingress_added_through_the_post_commit_hook_on_peoples_commits(tmp_path: Path) -> None:
    path, v1, v2, v3, v4 = SEQUENCES[INGRESS_ADDED]
    world = World(tmp_path, INGRESS_ADDED)
    hooks.install_hooks(world.path, tmp_path / "gitmonkey.yaml")
    fp = fingerprint_of(INGRESS_ADDED, "ingress:tcp:22:0.0.0.0/0")

    def commit(message: str, content: bytes) -> None:
        target = world.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        person(world.path, "add", "items")
        person(world.path, "commit", "-q", "-m", message)

    commit("v1", v1)
    v1_commit = world.head()
    commit("v2", v2)
    assert world.subject() == "audit: 1 new, 0 fixed"
    [issue] = world.issues(path)
    assert issue["fingerprint"] == fp and issue["compared_with"] == v1_commit
    assert issue["details"] == "added ingress tcp 22 from 0.0.0.0/0"
    assert world.subject(issue["first_seen"]["commit"]) == "v2"
    content = world.issue_bytes(path)

    commit("v3", v3)
    assert world.subject() == "v3" and world.issue_bytes(path) == content
    assert world.audit_all().commit is None and world.issue_bytes(path) == content

    commit("v4", v4)
    assert world.subject() == "audit: 0 new, 1 fixed"
    assert world.trailer(iss.TRAILER_FIXED) == [fp] and world.issue_bytes(path) is None
    assert git(world.path, "status", "--porcelain") == ""


def test_audit_all_after_every_step_gives_the_issue_files_of_the_incremental_audits(tmp_path: Path) -> None:
    path, *versions = SEQUENCES[INGRESS_ADDED]
    incremental = World(tmp_path / "incremental", INGRESS_ADDED)
    everything = World(tmp_path / "everything", INGRESS_ADDED)
    states = []
    for number, content in enumerate(versions, start=1):
        incremental.sync(f"v{number}", {path: content})
        head = incremental.head()
        assert incremental.audit_all().commit is None and incremental.head() == head
        everything.commit(f"v{number}", {path: content})
        everything.audit_all()
        assert everything.normalized() == incremental.normalized()
        states.append([i["first_seen"] for f in incremental.normalized().values() for i in f["issues"]])
    assert states == [[], ["v2"], ["v2"], []]  # it opened at v2 and lived until the undo


def test_trust_change_is_measured_against_the_version_before_it(tmp_path: Path) -> None:
    """v1 -> v2 adds a principal; v3 replaces it by another: still a change against v1, now
    described against v1; v4 goes back to v1's principals: the change is undone, although v4 is
    itself a change of the principals against v3."""
    world = World(tmp_path, TRUST_CHANGED)
    other = {"AWS": "arn:aws:iam::888888888888:root"}
    world.sync("v1", {ROLE: role(EC2)})
    world.sync("v2", {ROLE: role(EC2, STRANGER)})
    [opened] = world.issues(ROLE)
    assert "999999999999" in opened["details"]
    world.sync("v3", {ROLE: role(EC2, other)})
    [still] = world.issues(ROLE)
    assert still["fingerprint"] == opened["fingerprint"] and still["first_seen"] == opened["first_seen"]
    assert still["compared_with"] == opened["compared_with"]
    assert "888888888888" in still["details"] and "999999999999" not in still["details"]
    assert world.audit_all().commit is None
    v3_commit = world.head()
    undone = world.sync("v4", {ROLE: role(EC2)})
    assert undone["counts"]["fixed"] == 1 and world.issues(ROLE) == []
    # Auditing the undo again (a run that died before it recorded its range) does not reopen it.
    again = audit_ranges(world.repo, world.acct.config, world.acct.account,
                         [(v3_commit, world.head())], now=NOW)
    assert again.commit is None and again.transitions == []
    assert world.audit_all().commit is None and world.issues(ROLE) == []


def test_an_open_change_issue_costs_the_hook_no_extra_git_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, v1, v2, v3, _ = SEQUENCES[INGRESS_ADDED]
    other = item_path("us-east-1", "ec2.security_group", "sg-0other")
    quiet = json.loads(v1)
    quiet["id"] = quiet["configuration"]["GroupId"] = "sg-0other"
    world = World(tmp_path, INGRESS_ADDED)
    world.audit("v1", {path: v1, other: canonical_json(quiet).encode()})
    world.audit("v2", {path: v2})
    assert len(world.issues(path)) == 1 and world.issues(other) == []
    calls: list[str] = []
    real_run = gitcmd.subprocess.run

    def counting(args: Any, *rest: Any, **kwargs: Any) -> Any:
        if args[0] == "git":
            calls.append(args[1])
        return real_run(args, *rest, **kwargs)

    def audited(changes: dict[str, bytes]) -> list[str]:
        old = world.repo.head()
        new = world.commit("tags", changes)
        calls.clear()
        with monkeypatch.context() as patch:
            patch.setattr(gitcmd.subprocess, "run", counting)
            result = audit_ranges(world.repo, world.acct.config, world.acct.account, [(old, new)], now=NOW)
        assert result.commit is None and result.transitions == [] and result.audited == 1
        return list(calls)

    quiet["configuration"]["Tags"] = TEAM
    plain = audited({other: canonical_json(quiet).encode()})
    with_issue = audited({path: v3})  # its issue is not re-produced: checked against v1, in the same calls
    assert with_issue == plain, (plain, with_issue)
    assert len(world.issues(path)) == 1


def test_justified_change_issue_stays_justified_and_does_not_notify(tmp_path: Path) -> None:
    path, v1, v2, v3, v4 = SEQUENCES[INGRESS_ADDED]
    world = World(tmp_path, INGRESS_ADDED)
    world.audit("v1", {path: v1})
    opened = world.audit("v2", {path: v2})
    [issue] = world.issues(path)
    assert [e.kind for e in opened.events] == [ev.ISSUE_NEW]
    fp = issue["fingerprint"]
    world.acct.justify(fp)
    justified = audit_ranges(world.repo, world.acct.config, world.acct.account,
                             [(f"{world.head()}^", world.head())], now=NOW)
    assert [e.kind for e in justified.events] == [ev.ISSUE_JUSTIFIED]
    [issue] = world.issues(path)
    assert issue["justified"] is True and issue["justification"]["source"] == f"justifications/{fp}.yaml"

    unrelated = world.audit("v3", {path: v3})
    assert unrelated.events == [] and unrelated.commit is None
    data = yaml.safe_load(world.issue_bytes(path))
    assert data["score"] == 0 and data["justified_score"] == 1
    assert data["issues"][0]["justified"] is True and data["issues"][0]["fingerprint"] == fp

    undone = world.audit("v4", {path: v4})
    assert [e.kind for e in undone.events] == [ev.ISSUE_FIXED] and world.issues(path) == []


def test_justified_before_it_appears_gives_no_new_event(tmp_path: Path) -> None:
    path, v1, v2, v3, _ = SEQUENCES[PAB_WEAKENED]
    world = World(tmp_path, PAB_WEAKENED)
    world.audit("v1", {path: v1})
    fp = fingerprint_of(PAB_WEAKENED, "public-access-block")
    world.acct.justify(fp)
    opened = world.audit("v2", {path: v2})
    assert [e.kind for e in opened.events] == [ev.ISSUE_JUSTIFIED]
    assert world.audit("v3", {path: v3}).events == []
    [issue] = world.issues(path)
    assert issue["fingerprint"] == fp and issue["justified"] is True


def test_legacy_issue_without_compared_with_stays_open_and_gains_it(tmp_path: Path) -> None:
    path, v1, v2, v3, v4 = SEQUENCES[INGRESS_ADDED]
    world = World(tmp_path, INGRESS_ADDED)
    world.sync("v1", {path: v1})
    v1_commit = world.head()
    world.sync("v2", {path: v2})
    data = yaml.safe_load(world.issue_bytes(path))
    assert data["issues"][0].pop("compared_with") == v1_commit
    legacy = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    assert "compared_with" not in legacy
    loaded = iss.IssueFile.load(legacy.encode(), iss.issue_path_for(path))
    assert loaded.issues[0].compared_with is None and loaded.dump() == legacy.encode()
    world.commit("an issue file written before compared_with", {iss.issue_path_for(path): legacy.encode()})

    unrelated = world.sync("v3", {path: v3})
    assert unrelated["counts"] == {"new": 0, "fixed": 0, "regressed": 0, "justified": 0, "expired": 0}
    assert world.subject() == "audit: 0 new, 0 fixed, 1 updated"
    [issue] = world.issues(path)
    assert issue["fingerprint"] == data["issues"][0]["fingerprint"]
    assert issue["first_seen"] == data["issues"][0]["first_seen"]
    assert issue["compared_with"] == v1_commit
    assert world.audit_all().commit is None

    undone = world.sync("v4", {path: v4})
    assert undone["counts"]["fixed"] == 1 and world.issues(path) == []


def test_an_unreadable_anchor_is_reported_and_the_issue_evaluated_as_before(tmp_path: Path) -> None:
    path, v1, v2, v3, _ = SEQUENCES[INGRESS_ADDED]
    world = World(tmp_path, INGRESS_ADDED)
    world.audit("v1", {path: v1})
    world.audit("v2", {path: v2})
    content = world.issue_bytes(path)
    assert content is not None
    gone = "0" * 40
    rewritten = yaml.safe_load(content)
    rewritten["issues"][0]["compared_with"] = gone
    world.commit("history rewritten", {iss.issue_path_for(path): iss.IssueFile.load(
        yaml.safe_dump(rewritten).encode(), iss.issue_path_for(path)).dump()})
    result = world.audit("v3", {path: v3})
    assert any(gone in e and rewritten["issues"][0]["fingerprint"] in e for e in result.errors), result.errors
    assert [t.kind for t in result.transitions] == [iss.FIXED]
    assert world.issues(path) == []


def test_deleted_item_fixes_its_change_issues_also_in_audit_all(tmp_path: Path) -> None:
    path, v1, v2, *_ = SEQUENCES[INGRESS_ADDED]
    world = World(tmp_path, INGRESS_ADDED)
    world.sync("v1", {path: v1})
    world.sync("v2", {path: v2})
    assert len(world.issues(path)) == 1
    world.commit("delete the group, unaudited", {path: None})
    result = world.audit_all()
    assert [t.kind for t in result.transitions] == [iss.FIXED] and world.issue_bytes(path) is None


def test_builtin_change_rules_compare_versions_and_yaml_rules_are_detected(tmp_path: Path) -> None:
    rules = RuleSet.load({}, base_dir=tmp_path)
    changing = {r.id for r in rules.rules if r.compares_versions}
    assert {INGRESS_ADDED, TRUST_CHANGED, PAB_WEAKENED} <= changing
    assert "ec2.security_group.ingress-internet" not in changing
    assert "s3.bucket.policy-internet" not in changing
    base = {"technology": "ec2.security_group", "score": 1, "title": "t", "description": "d",
            "remediation": "r"}
    specs = [
        {**base, "id": "x.nested", "filter": {"or": [{"key": "A", "value": 1}, {"not": {"changed": "B"}}]}},
        {**base, "id": "x.list", "filter": [{"key": "A", "value": 1}, {"is-new": True}]},
        {**base, "id": "x.plain",
         "filter": {"list-item": {"key": "L", "where": {"key": "changed", "value": 1}}}},
    ]
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(yaml.safe_dump({"rules": specs}), encoding="utf-8")
    flags = {r.id: r.compares_versions for r in load_rule_file(rule_file)}
    assert flags == {"x.nested": True, "x.list": True, "x.plain": False}


@rule(id="test.sg.ssh-opened", technology="ec2.security_group", score=4, title="SSH opened to the internet",
      description="This version admits tcp/22 from 0.0.0.0/0; the previous one did not.",
      remediation="Check the change.", compares_versions=True)
def ssh_opened(document: dict, previous: dict | None, ctx: Any) -> Iterator[Hit]:
    def open_ssh(doc: dict) -> bool:
        return any(p.get("FromPort") == 22 and {"CidrIp": "0.0.0.0/0"} in p.get("IpRanges", [])
                   for p in doc["configuration"]["IpPermissions"])

    if previous is not None and open_ssh(document) and not open_ssh(previous):
        yield Hit(details="tcp/22 opened to 0.0.0.0/0", path="configuration.IpPermissions", key="ssh")


@pytest.mark.parametrize("compares_versions", [True, False])
def test_python_rule_declared_with_compares_versions(tmp_path: Path, compares_versions: bool) -> None:
    declared = ssh_opened.gitmonkey_rule  # type: ignore[attr-defined]
    assert declared.compares_versions is True
    ruleset = RuleSet([replace(declared, compares_versions=compares_versions)])
    path, v1, v2, v3, v4 = SEQUENCES[INGRESS_ADDED]
    world = World(tmp_path, INGRESS_ADDED)  # the config's rules are not used: the ruleset is given
    world.audit("v1", {path: v1}, ruleset=ruleset)
    v1_commit = world.head()
    opened = world.audit("v2", {path: v2}, ruleset=ruleset)
    [issue] = world.issues(path)
    assert [t.kind for t in opened.transitions] == [iss.NEW] and issue["rule"] == "test.sg.ssh-opened"
    assert issue.get("compared_with") == (v1_commit if compares_versions else None)
    unrelated = world.audit("v3", {path: v3}, ruleset=ruleset)
    if compares_versions:
        assert unrelated.transitions == [] and unrelated.commit is None
        assert [i["fingerprint"] for i in world.issues(path)] == [issue["fingerprint"]]
        assert world.audit_all(ruleset=ruleset).commit is None
        undone = world.audit("v4", {path: v4}, ruleset=ruleset)
        assert [t.kind for t in undone.transitions] == [iss.FIXED]
    else:  # a rule that does not declare it is a plain rule: the next version closes the issue
        assert [t.kind for t in unrelated.transitions] == [iss.FIXED]
    assert world.issues(path) == []


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_a_real_sync_keeps_the_issue_open_until_the_port_is_closed(tmp_path: Path, aws: None) -> None:
    config = make_config(tmp_path, audit=only(INGRESS_ADDED),
                         accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1"]}])
    repo_path = config.repo_path(config.accounts[0])
    ec2 = boto3.client("ec2", region_name="us-east-1")
    group = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ssh = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    path = f"items/us-east-1/ec2/security_group/{group}.json"
    issue_file = repo_path / iss.issue_path_for(path)

    def sync() -> None:
        report = run_sync(config, technologies=["ec2.security_group"])
        assert report.exit_code == 0, report.to_dict()

    def subject() -> str:
        return git(repo_path, "log", "-1", "--format=%s").strip()

    sync()
    assert not issue_file.exists()
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=copy.deepcopy(ssh))
    sync()
    assert subject() == "audit: 1 new, 0 fixed"
    [issue] = yaml.safe_load(issue_file.read_text())["issues"]
    assert issue["rule"] == INGRESS_ADDED and issue["key"] == "ingress:tcp:22:0.0.0.0/0"
    content = issue_file.read_bytes()

    ec2.create_tags(Resources=[group], Tags=[{"Key": "team", "Value": "web"}])
    sync()
    assert "team" in json.loads((repo_path / path).read_text())["configuration"]["Tags"]
    assert not subject().startswith("audit: ") and issue_file.read_bytes() == content
    head = git(repo_path, "rev-parse", "HEAD")
    account = config.accounts[0]
    from gitmonkey.store import AccountRepository

    repo = AccountRepository.open(repo_path, committer_name=config.committer_name,
                                  committer_email=config.committer_email)
    assert audit_all(repo, config, account).commit is None and git(repo_path, "rev-parse", "HEAD") == head

    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=copy.deepcopy(ssh))
    sync()
    assert subject() == "audit: 0 new, 1 fixed" and not issue_file.exists()
    assert git(repo_path, "log", "-1", f"--format=%(trailers:key={iss.TRAILER_FIXED},valueonly)").split() == [
        issue["fingerprint"]]
