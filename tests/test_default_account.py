"""A fresh, default account, read with every technology: what AWS ships by default stays quiet."""

from __future__ import annotations

from collections import Counter

import yaml
from moto import mock_aws

from gitmonkey.sync import run_sync
from gitmonkey.watchers import all_technologies
from tests.helpers import git, make_config

# AWS's own defaults that rules report below 6, and why (the rule descriptions say it too):
# the default VPC (ec2.vpc.default-vpc, 0), its subnets assigning public IPs
# (ec2.subnet.auto-assign-public-ip, 1) and its missing flow logs (ec2.vpc.flow-logs-disabled, 5):
# a default VPC costs nothing until something runs in it.
QUIET_BELOW = 6


def test_a_fresh_account_has_no_issue_scored_6_or_more_and_resyncs_without_a_commit(tmp_path):
    config = make_config(tmp_path)
    with mock_aws():
        first = run_sync(config)
        repo = config.repo_path(config.accounts[0])
        head = git(repo, "rev-parse", "HEAD")
        second = run_sync(config)
    assert first.exit_code == 0, [s.error for s in first.accounts[0].failed_slices]
    read = {s.key.technology for s in first.accounts[0].slices}
    assert read == set(all_technologies()), "every technology is read"
    assert second.exit_code == 0 and second.accounts[0].commits == []
    assert git(repo, "rev-parse", "HEAD") == head
    scores: Counter[tuple[str, int]] = Counter()
    for path in (repo / "issues").rglob("*.yaml"):
        for issue in yaml.safe_load(path.read_text(encoding="utf-8"))["issues"]:
            scores[(issue["rule"], issue["score"])] += 1
    loud = sorted(key for key in scores if key[1] >= QUIET_BELOW)
    assert not loud, f"a default account raises {loud}"
    assert scores, "the default VPC's issues show that the audit ran"
