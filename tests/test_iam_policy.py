"""``gitmonkey iam-policy``: exactly the declared actions of the enabled technologies, plus the
calls gitmonkey makes outside the watchers when the configuration needs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from gitmonkey.cli import cli
from gitmonkey.iam_policy import for_config, needed_actions, policy_document
from gitmonkey.watchers import all_technologies
from tests.helpers import ACCOUNT_ID, make_config


def test_the_policy_is_the_declared_actions_of_the_enabled_technologies(tmp_path: Path) -> None:
    config = make_config(tmp_path, technologies=["kms.*", "sqs.queue"],
                         accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1"]}])
    technologies = all_technologies()
    declared = set(technologies["kms.key"].iam_actions) | set(technologies["sqs.queue"].iam_actions)
    needed = for_config(config)
    assert set(needed) == declared
    assert needed["kms:GetKeyPolicy"] == ["kms.key"]
    assert set(for_config(config, ["sqs.*"])) == set(technologies["sqs.queue"].iam_actions)


def test_region_discovery_and_attribution_only_when_the_config_needs_them(tmp_path: Path) -> None:
    listed = make_config(tmp_path / "a", technologies=["sqs.queue"],
                         accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1"]}])
    discovered = make_config(tmp_path / "b", technologies=["sqs.queue"], attribution={"enabled": True},
                             accounts=[{"name": "prod", "id": ACCOUNT_ID}])
    assert "ec2:DescribeRegions" not in for_config(listed)
    assert "cloudtrail:LookupEvents" not in for_config(listed)
    needed = for_config(discovered)
    assert "ec2:DescribeRegions" in needed and "cloudtrail:LookupEvents" in needed
    assert "config lists none" in needed["ec2:DescribeRegions"][0]


def test_every_action_is_a_read_and_the_document_is_a_policy() -> None:
    actions = needed_actions(all_technologies().values())
    verbs = ("Describe", "Get", "List", "Lookup", "Generate")
    assert all(a.split(":", 1)[1].startswith(verbs) for a in actions), [
        a for a in actions if not a.split(":", 1)[1].startswith(verbs)]
    document = policy_document(actions)
    assert document["Statement"][0]["Action"] == sorted(actions)
    assert document["Statement"][0]["Effect"] == "Allow"


def test_the_command(tmp_path: Path) -> None:
    config = make_config(tmp_path, technologies=["sqs.queue"],
                         accounts=[{"name": "prod", "id": ACCOUNT_ID, "regions": ["us-east-1"]}])
    runner = CliRunner()
    out = runner.invoke(cli, ["iam-policy", "--config", str(config.path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["Statement"][0]["Action"] == sorted(
        all_technologies()["sqs.queue"].iam_actions)
    text = runner.invoke(cli, ["iam-policy", "--config", str(config.path), "--format", "text"])
    assert re.search(r"^sqs:GetQueueAttributes +sqs\.queue$", text.output, re.M)
    bad = runner.invoke(cli, ["iam-policy", "--config", str(config.path), "--technology", "nope.*"])
    assert bad.exit_code == 2 and "unknown technology" in bad.output
