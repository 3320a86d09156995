"""`gitmonkey issues` in table, JSON, CSV and SARIF 2.1.0; JSON paths mapped to lines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gitmonkey.audit import output
from gitmonkey.cli import cli
from gitmonkey.normalize import canonical_json
from tests.test_audit_issues import PUBLIC, STRANGER, Account, bucket, bucket_path
from tests.test_hooks import write_config

DOCUMENT = {
    "configuration": {
        "Empty": {},
        "IpPermissions": [
            {"FromPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "0.0.0.0/0"}], "ToPort": 22},
            {"FromPort": 443, "IpRanges": [], "ToPort": 443},
        ],
        "Tags": {"a.b": "dotted", "env": "prod"},
    },
    "id": "sg-1",
}


def test_line_index_matches_canonical_json_for_every_key() -> None:
    lines = canonical_json(DOCUMENT).splitlines()
    index = output.json_line_index(DOCUMENT)
    for path, line in index.items():
        text = lines[line - 1].strip()
        if path and isinstance(path[-1], str):
            assert text.startswith(json.dumps(path[-1]) + ":"), (path, text)
    assert len(lines) == max(index.values()) + 1


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("configuration.IpPermissions[0].IpRanges[1].CidrIp", '"CidrIp": "0.0.0.0/0"'),
        ("configuration.IpPermissions[1]", "{"),
        ("configuration.IpPermissions[1].ToPort", '"ToPort": 443'),
        ("configuration.Tags.(a.b)", '"a.b": "dotted"'),
        ("configuration.Tags.env", '"env": "prod"'),
        ("configuration.IpPermissions[7].FromPort", '"IpPermissions": ['),
        ("configuration.(AccessKeys[?Status=='Active'])", '"configuration": {'),
        ("", "{"),
    ],
)
def test_line_of_json_path(path: str, expected: str) -> None:
    lines = canonical_json(DOCUMENT).splitlines()
    assert lines[output.line_of(DOCUMENT, path) - 1].strip().startswith(expected)


@pytest.fixture
def account(tmp_path: Path) -> tuple[Account, Path]:
    config_path = write_config(tmp_path)
    acct = Account(tmp_path)
    acct.sync(web=bucket("web", PUBLIC, STRANGER), quiet=bucket("quiet"))
    return acct, config_path


def run(config_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["issues", "--config", str(config_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_table_json_csv_and_filters(account: tuple[Account, Path]) -> None:
    _, config_path = account
    table = run(config_path).splitlines()
    assert table[0].split() == list(output.TABLE_COLUMNS)
    assert len(table) == 3 and all(" web " in line and "open" in line for line in table[1:])
    rows = json.loads(run(config_path, "--format", "json"))
    assert {r["rule"] for r in rows} == {"s3.bucket.policy-internet", "s3.bucket.policy-unknown-account"}
    assert all(r["account"] == "prod" and r["item"]["path"] == bucket_path("web") for r in rows)
    parsed = list(csv.DictReader(io.StringIO(run(config_path, "--format", "csv"))))
    assert [r["fingerprint"] for r in parsed] == [r["fingerprint"] for r in rows]
    assert run(config_path, "--justified") == "no issues\n"
    assert run(config_path, "--technology", "iam.*") == "no issues\n"
    assert run(config_path, "--min-score", "11") == "no issues\n"
    assert len(json.loads(run(config_path, "--unjustified", "--format", "json"))) == 2


def test_sarif_is_valid_2_1_0_and_points_at_the_right_lines(account: tuple[Account, Path]) -> None:
    acct, config_path = account
    log = json.loads(run(config_path, "--format", "sarif"))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    [sarif_run] = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "gitmonkey" and driver["version"]
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert 0 <= float(rule["properties"]["security-severity"]) <= 10
    content = acct.repo.read_file(bucket_path("web")).decode()
    lines = content.splitlines()
    assert len(sarif_run["results"]) == 2
    for result in sarif_run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == bucket_path("web")
        line = location["region"]["startLine"]
        assert 1 <= line <= len(lines)
        index = int(result["properties"]["jsonPath"].rsplit("[", 1)[1].rstrip("]"))
        statement = json.loads(content)["configuration"]["Policy"]["Statement"][index]
        block = "\n".join(lines[line - 1: line - 1 + len(json.dumps(statement, indent=2).splitlines())])
        assert json.loads(block.strip().rstrip(",")) == statement
        assert len(result["partialFingerprints"]["gitmonkeyFingerprint/v1"]) == 16
    again = json.loads(run(config_path, "--format", "sarif"))
    assert again == log


def test_justified_issue_is_a_sarif_suppression(account: tuple[Account, Path]) -> None:
    acct, config_path = account
    fp = acct.fingerprints("web")[0]
    old = acct.repo.head()
    acct.justify(fp)
    from gitmonkey.audit.run import audit_ranges
    from tests.test_audit_issues import NOW

    audit_ranges(acct.repo, acct.config, acct.account, [(old, acct.repo.head())], now=NOW)
    log = json.loads(run(config_path, "--format", "sarif"))
    suppressed = [r for r in log["runs"][0]["results"] if r.get("suppressions")]
    assert [r["partialFingerprints"]["gitmonkeyFingerprint/v1"] for r in suppressed] == [fp]
    assert suppressed[0]["suppressions"][0] == {"kind": "external", "status": "accepted",
                                               "justification": "public website"}
    assert "justified" in run(config_path)


def test_rules_list_and_test_commands(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["rules", "list", "--config", str(config_path), "--format", "json"])
    assert listed.exit_code == 0, listed.output
    ids = {r["id"] for r in json.loads(listed.output)}
    assert "s3.bucket.policy-internet" in ids
    text = runner.invoke(cli, ["rules", "list", "--config", str(config_path), "--technology", "s3.*"])
    assert text.exit_code == 0 and all(" s3." in line for line in text.output.splitlines())
    case_file = Path(__file__).parent / "rule_cases" / "s3.bucket.policy-internet.yaml"
    passed = runner.invoke(cli, ["rules", "test", str(case_file), "--config", str(config_path)])
    assert passed.exit_code == 0, passed.output
    assert passed.output.endswith("1 file(s), 0 failure(s)\n")
    cases = yaml.safe_load(case_file.read_text())
    swapped = tmp_path / "cases" / case_file.name
    swapped.parent.mkdir()
    swapped.write_text(yaml.safe_dump({"fires": cases["passes"], "passes": cases["fires"]}))
    failed = runner.invoke(cli, ["rules", "test", str(swapped), "--config", str(config_path)])
    assert failed.exit_code == 1 and not failed.output.endswith(" 0 failure(s)\n")


def issue_row(item_id: str, name: str = "", details: str = "") -> output.IssueRow:
    from gitmonkey.audit.issues import Issue, ItemRef
    from gitmonkey.normalize.paths import item_path

    path = item_path("us-east-1", "s3.bucket", item_id)
    item = ItemRef(technology="s3.bucket", region="us-east-1", id=item_id, name=name, path=path)
    issue = Issue(fingerprint="0123456789abcdef", rule="s3.bucket.policy-internet", score=10, title="public",
                  details=details, path="configuration.Policy", key="k", first_seen_commit="c" * 40,
                  first_seen_date="2024-01-01")
    return output.IssueRow("prod", "123456789012", item, issue)


def test_sarif_uri_is_percent_encoded_so_it_decodes_to_the_file_name() -> None:
    from urllib.parse import unquote

    row = issue_row("logs/2024 a")
    assert row.item.path == "items/us-east-1/s3/bucket/logs%2f2024%20a.json"
    log = output.render_sarif([("prod", [row], {})])
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "items/us-east-1/s3/bucket/logs%252f2024%2520a.json", "uriBaseId": "%SRCROOT%"}
    assert unquote(location["uri"]) == row.item.path


@pytest.mark.parametrize("evil", ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cells_that_look_like_formulas_are_neutralised(evil: str) -> None:
    row = issue_row(evil, name=evil, details=evil)
    [parsed] = list(csv.DictReader(io.StringIO(output.render_csv([row]), newline="")))
    assert parsed["item_id"] == parsed["item_name"] == parsed["details"] == "'" + evil
    assert parsed["account"] == "prod" and parsed["score"] == "10" and parsed["title"] == "public"


def test_csv_keeps_line_breaks_inside_a_cell() -> None:
    row = issue_row("a\rb", name="x\r\ny", details="one\ntwo")
    [parsed] = list(csv.DictReader(io.StringIO(output.render_csv([row]), newline="")))
    assert (parsed["item_id"], parsed["item_name"], parsed["details"]) == ("a\rb", "x\r\ny", "one\ntwo")


def test_rules_list_works_without_a_configuration_file(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gitmonkey.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITMONKEY_CONFIG", raising=False)
    result = CliRunner().invoke(cli, ["rules", "list", "--technology", "s3.*"])
    assert result.exit_code == 0, result.output
    assert "s3.bucket.acl-internet" in result.output
    missing = CliRunner().invoke(cli, ["rules", "list", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "no configuration file" in missing.output


def test_sarif_tags_carry_the_framework_controls_of_each_rule() -> None:
    from dataclasses import replace

    root = issue_row("account")
    root = replace(root, issue=replace(root.issue, rule="iam.root.access-keys"))
    public = issue_row("web")  # s3.bucket.policy-internet: no control of its own
    log = output.render_sarif([("prod", [root, public], {})],
                              {"s3.bucket.policy-internet": {"title": "public"}})
    [sarif_run] = log["runs"]
    descriptors = {r["id"]: r for r in sarif_run["tool"]["driver"]["rules"]}
    # Without compliance in rule_info, the built-in rule's declaration is used.
    assert descriptors["iam.root.access-keys"]["properties"]["tags"] == [
        "security", "cis-aws-3.0/1.4", "fsbp/IAM.4"]
    assert descriptors["s3.bucket.policy-internet"]["properties"]["tags"] == ["security"]
    results = {r["ruleId"]: r for r in sarif_run["results"]}
    assert results["iam.root.access-keys"]["properties"]["tags"] == ["cis-aws-3.0/1.4", "fsbp/IAM.4"]
    assert "tags" not in results["s3.bucket.policy-internet"]["properties"]

    given = output.render_sarif([("prod", [public], {})],
                                {"s3.bucket.policy-internet": {"compliance": {"fsbp": ["S3.2", "S3.3"]}}})
    [result] = given["runs"][0]["results"]
    assert result["properties"]["tags"] == ["fsbp/S3.2", "fsbp/S3.3"]
    assert given["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["tags"] == [
        "security", "fsbp/S3.2", "fsbp/S3.3"]


def test_compliance_tags_are_sorted_by_framework() -> None:
    assert output.compliance_tags({"fsbp": ("IAM.4",), "cis-aws-3.0": ("1.4", "1.5")}) == [
        "cis-aws-3.0/1.4", "cis-aws-3.0/1.5", "fsbp/IAM.4"]
    assert output.compliance_tags(None) == []
