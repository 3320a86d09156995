"""Loading rules (files, rule_dirs, entry points), config validation, overrides and evaluation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gitmonkey.audit import RULE_ERROR_ID, AuditContext, Hit, Rule, RuleError, RuleSet
from gitmonkey.audit.rules import load_rule_file, rules_from_object
from gitmonkey.config import ConfigError

NOW = datetime(2024, 6, 1, tzinfo=UTC)
GOOD_RULE = """\
rules:
  - id: custom.tagged
    technology: ec2.security_group
    score: 4
    title: Tagged for deletion
    description: The group is tagged delete=yes.
    remediation: Delete it.
    filter: {key: Tags.delete, value: "yes"}
"""


def ctx(
    account_id: str = "123456789012", name: str = "prod", known: dict[str, Any] | None = None
) -> AuditContext:
    return AuditContext(account_id, name, known or {}, ("10.0.0.0/8",), NOW)


def sg_document(ingress: list[dict[str, Any]], tags: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "account": "123456789012",
        "arn": "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1",
        "configuration": {
            "GroupId": "sg-1",
            "IpPermissions": ingress,
            "IpPermissionsEgress": [],
            "Tags": tags or {},
        },
        "id": "sg-1",
        "name": "web",
        "region": "us-east-1",
        "technology": "ec2.security_group",
    }


OPEN_SSH = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD_RULE.replace("    title: Tagged for deletion\n", ""),
            "rule 'custom.tagged': (the rule): 'title' is a required property",
        ),
        (
            GOOD_RULE.replace("score: 4", "score: high"),
            "rule 'custom.tagged': score: 'high' is not of type 'integer'",
        ),
        (
            GOOD_RULE.replace('{key: Tags.delete, value: "yes"}', "{key: Tags.delete, op: is, value: 1}"),
            "rule 'custom.tagged': filter.op: unknown op 'is'",
        ),
        (
            GOOD_RULE.replace("id: custom.tagged", "id: Custom Tagged"),
            "rule 'Custom Tagged': id: 'Custom Tagged' does not match",
        ),
        (
            GOOD_RULE.replace("  - id: custom.tagged\n    technology", "  - technology"),
            "rule #1: (the rule): 'id' is a required property",
        ),
        (GOOD_RULE + "    colour: red\n", "rule 'custom.tagged': (the rule): Additional properties"),
        ("rules:\n  - id: [unclosed\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping with a 'rules:' list"),
        (
            GOOD_RULE + '    finding: {details: "{bad[}"}\n',
            "rule 'custom.tagged': finding.details {bad[}: invalid",
        ),
    ],
)
def test_bad_rule_file_names_file_and_rule(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(RuleError) as raised:
        load_rule_file(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_rule_dirs_are_loaded_relative_to_the_config(tmp_path: Path) -> None:
    write(tmp_path / "my-rules" / "nested", "tags.yml", GOOD_RULE)
    rules = RuleSet.load({"rule_dirs": ["my-rules"]}, base_dir=tmp_path)
    assert rules.by_id["custom.tagged"].source == str(tmp_path / "my-rules" / "nested" / "tags.yml")
    findings = rules.evaluate(sg_document([], {"delete": "yes"}), None, ctx())
    assert [(f.rule_id, f.score, f.path) for f in findings] == [
        ("custom.tagged", 4, "configuration.Tags.delete")
    ]


def test_missing_rule_dir_and_duplicate_ids_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"audit.rule_dirs\[0\]: .*nowhere is not a directory"):
        RuleSet.load({"rule_dirs": ["nowhere"]}, base_dir=tmp_path)
    write(tmp_path / "r", "a.yaml", GOOD_RULE)
    write(tmp_path / "r", "b.yaml", GOOD_RULE)
    with pytest.raises(
        RuleError, match=r"rule 'custom.tagged' is defined twice: in .*a.yaml and in .*b.yaml"
    ):
        RuleSet.load({"rule_dirs": ["r"]}, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("audit", "message"),
    [
        ({"rule_dir": ["x"]}, "audit: Additional properties are not allowed ('rule_dir' was unexpected)"),
        ({"known_accounts": {"12345": {"name": "x"}}}, "audit.known_accounts: '12345' does not match"),
        (
            {"known_accounts": {"111111111111": {"name": "x", "type": "partner"}}},
            "audit.known_accounts.111111111111.type: 'partner' is not one of",
        ),
        ({"known_accounts": {12345670123: {"name": "x"}}}, "must be quoted strings of 12 digits"),
        (
            {"overrides": [{"rule": "s3.bucket.acl-internet", "score": "high"}]},
            "audit.overrides[0].score: 'high' is not of type 'integer'",
        ),
        ({"overrides": [{"rule": "s3.bucket.acl-internet"}]}, "audit.overrides[0]"),
        (
            {"trusted_cidrs": ["10.0.0.0/8", "10.0.0.0/33"]},
            "audit.trusted_cidrs[1]: '10.0.0.0/33' is not an IP network",
        ),
        (
            {"overrides": [{"rule": "s3.bucket.acl-internt", "disabled": True}]},
            "audit.overrides[0].rule: no rule matches 's3.bucket.acl-internt'",
        ),
    ],
)
def test_bad_audit_config_names_the_key(tmp_path: Path, audit: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RuleSet.load(audit, base_dir=tmp_path)
    assert message in str(raised.value)


def test_unquoted_twelve_digit_account_id_is_accepted(tmp_path: Path) -> None:
    RuleSet.load({"known_accounts": {111111111111: {"name": "partner"}}}, base_dir=tmp_path)


def test_overrides_by_rule_and_account(tmp_path: Path) -> None:
    audit = {
        "overrides": [
            {"rule": "ec2.security_group.ingress-internet", "score": 3, "accounts": ["sandbox"]},
            {"rule": "ec2.security_group.ingress-*", "disabled": True, "accounts": ["999999999999"]},
            {"rule": "ec2.security_group.egress-internet", "disabled": False},
        ]
    }
    rules = RuleSet.load(audit, base_dir=tmp_path)
    document = sg_document([OPEN_SSH])
    document["configuration"]["IpPermissionsEgress"] = [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ]

    def scores(context: AuditContext) -> dict[str, int]:
        return {f.rule_id: f.score for f in rules.evaluate(document, None, context)}

    # SSH from anywhere is also CIS 5.2 (admin port), FSBP EC2.18 (not 80/443) and EC2.19 (high risk).
    assert scores(ctx()) == {
        "ec2.security_group.ingress-internet": 10,
        "ec2.security_group.egress-internet": 10,
        "ec2.security_group.admin-port-internet-ipv4": 5,
        "ec2.security_group.ingress-internet-unauthorized-port": 8,
        "ec2.security_group.ingress-internet-high-risk-port": 10,
    }
    assert scores(ctx("222233334444", "sandbox"))["ec2.security_group.ingress-internet"] == 3
    assert scores(ctx("999999999999", "other")) == {
        "ec2.security_group.egress-internet": 10,
        "ec2.security_group.admin-port-internet-ipv4": 5,
    }
    assert RuleSet.load({}, base_dir=tmp_path).evaluate(document, None, ctx())[0].rule_id == (
        "ec2.security_group.ingress-internet"
    )


def test_findings_carry_the_specific_element() -> None:
    rules = RuleSet.load({}, base_dir=Path.cwd())
    document = sg_document(
        [
            OPEN_SSH,
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}],
            },
        ]
    )
    findings = [f for f in rules.evaluate(document, None, ctx()) if f.rule_id.endswith("ingress-internet")]
    assert [(f.details, f.path, f.key) for f in findings] == [
        (
            "ingress tcp 22 from 0.0.0.0/0",
            "configuration.IpPermissions[0].IpRanges[0]",
            "ingress:tcp:22:0.0.0.0/0",
        ),
        (
            "ingress udp 53 from 0.0.0.0/0",
            "configuration.IpPermissions[1].IpRanges[1]",
            "ingress:udp:53:0.0.0.0/0",
        ),
    ]


def test_known_accounts_make_access_friendly_instead_of_unknown(tmp_path: Path) -> None:
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:role/etl"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
            }
        ]
    }
    document = {
        "account": "123456789012",
        "arn": "arn:aws:s3:::b",
        "configuration": {"Policy": policy},
        "id": "b",
        "name": "b",
        "region": "global",
        "technology": "s3.bucket",
    }
    audit = {"known_accounts": {"111111111111": {"name": "partner", "type": "friendly"}}}
    rules = RuleSet.load(audit, base_dir=tmp_path)
    known = AuditContext.from_config(audit, account_id="123456789012", account_name="prod", now=NOW)
    unknown = AuditContext.from_config({}, account_id="123456789012", account_name="prod", now=NOW)

    def policy_findings(context: AuditContext) -> list[tuple[str, int, str]]:
        return [
            (f.rule_id, f.score, f.details)
            for f in rules.evaluate(document, None, context)
            if f.rule_id.startswith("s3.bucket.policy")
        ]

    assert policy_findings(known) == [
        (
            "s3.bucket.policy-friendly-account",
            0,
            "arn:aws:iam::111111111111:role/etl (account 111111111111 (partner)) may s3:GetObject",
        )
    ]
    assert [r for r, _, _ in policy_findings(unknown)] == ["s3.bucket.policy-unknown-account"]


def test_a_crashing_rule_becomes_a_rule_error_finding() -> None:
    def boom(document: dict, previous: dict | None, context: AuditContext) -> list[Hit]:
        raise KeyError("Missing")

    crashing = Rule("custom.boom", "ec2.*", 5, "Boom", "d", "r", "test", boom)
    good = rules_from_object(
        Rule(
            "custom.ok",
            "ec2.security_group",
            2,
            "Ok",
            "d",
            "r",
            "test",
            lambda d, p, c: [Hit("fine", "configuration")],
        ),
        "test",
    )
    findings = RuleSet([crashing, *good]).evaluate(sg_document([]), None, ctx())
    assert [(f.rule_id, f.key) for f in findings] == [(RULE_ERROR_ID, "custom.boom"), ("custom.ok", "")]
    assert "rule custom.boom (test) failed: KeyError" in findings[0].details


PLUGIN = """
from gitmonkey.audit import Hit, rule

@rule(id="plugin.named-web", technology="ec2.security_group", score=7, title="Named web",
      description="The group is called web.", remediation="Rename it.")
def named_web(document, previous, ctx):
    if document["name"] == "web":
        yield Hit(details="group named web", path="name", key="web")
"""


def test_entry_point_rules_are_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "gm_plugin_rules.py", PLUGIN)
    dist = tmp_path / "gm_plugin-1.0.dist-info"
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: gm-plugin\nVersion: 1.0\n")
    write(dist, "entry_points.txt", "[gitmonkey.rules]\nweb = gm_plugin_rules\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rules = RuleSet.load({"overrides": [{"rule": "plugin.*", "score": 8}]}, base_dir=tmp_path)
    assert rules.by_id["plugin.named-web"].source.startswith("entry point web (gm_plugin_rules)")
    findings = [f for f in rules.evaluate(sg_document([]), None, ctx()) if f.rule_id == "plugin.named-web"]
    assert [(f.score, f.details) for f in findings] == [(8, "group named web")]


def test_broken_entry_point_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "gm_broken-1.0.dist-info"
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: gm-broken\nVersion: 1.0\n")
    write(dist, "entry_points.txt", "[gitmonkey.rules]\nbroken = gm_no_such_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(
        RuleError, match=r"entry point broken \(gm_no_such_module\): cannot load: ModuleNotFoundError"
    ):
        RuleSet.load({}, base_dir=tmp_path)


def test_importing_the_audit_stays_light() -> None:
    code = (
        "import sys, gitmonkey.audit; "
        "print(sorted(m for m in ('boto3', 'botocore', 'policyuniverse', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_entry_points_are_listed_from_the_state_dir_until_sys_path_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.metadata

    from gitmonkey.audit.loading import ENTRY_POINTS_CACHE, entry_point_rules

    site = tmp_path / "site"
    write(site, "gm_plugin_rules.py", PLUGIN)
    state = tmp_path / "state"
    state.mkdir()
    monkeypatch.syspath_prepend(str(site))
    assert entry_point_rules(state) == []
    assert (state / ENTRY_POINTS_CACHE).is_file()

    scans: list[str] = []
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: scans.append("scan") or real(**kw))
    assert entry_point_rules(state) == []
    assert scans == []

    # Installing a package adds its dist-info to a sys.path directory: the next load sees it.
    dist = site / "gm_plugin-1.0.dist-info"
    write(dist, "METADATA", "Metadata-Version: 2.1\nName: gm-plugin\nVersion: 1.0\n")
    write(dist, "entry_points.txt", "[gitmonkey.rules]\nweb = gm_plugin_rules\n")
    assert [r.id for r in entry_point_rules(state)] == ["plugin.named-web"]
    assert scans == ["scan"]
    assert [r.id for r in entry_point_rules(state)] == ["plugin.named-web"]
    assert scans == ["scan"]
