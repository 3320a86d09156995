"""Forensics against real git repositories built with plain git commands and fixed commit dates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitmonkey import forensics
from gitmonkey.cli import cli
from gitmonkey.config import load_config
from gitmonkey.forensics import AmbiguousItem, ForensicsError, ItemNotFound
from gitmonkey.normalize.paths import item_path

PROD, STAGE = "111111111111", "222222222222"
SG1 = item_path("us-east-1", "ec2.security_group", "sg-1")
DEPLOY = item_path("global", "iam.role", "deploy")
DEPLOY_ARN = f"arn:aws:iam::{PROD}:role/deploy"
SG2 = item_path("us-east-1", "ec2.security_group", "sg-2")


def doc(account: str, technology: str, region: str, item_id: str, name: str, configuration: dict) -> str:
    service, type_ = technology.split(".")
    arn = f"arn:aws:{service}::{account}:{type_}/{item_id}"
    if technology == "iam.role":
        arn = f"arn:aws:iam::{account}:role/{item_id}"
    body = {"account": account, "arn": arn, "configuration": configuration, "id": item_id,
            "name": name, "region": region, "technology": technology}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def commit(repo: Path, changes: dict[str, str | None], subject: str, date: str) -> None:
    for path, content in changes.items():
        target = repo / path
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=Test", "-c", "user.email=test@example.com",
                    "commit", "-q", "-m", subject], check=True, env=env)


def new_repo(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two accounts. prod: sg-1 'web' added then opened to the world, role 'deploy' deleted,
    sg-2 renamed from 'db-old' to 'db'. stage: another 'web' security group."""
    root = tmp_path_factory.mktemp("world")
    (root / "gitmonkey.yaml").write_text(
        f"accounts:\n  - {{name: prod, id: '{PROD}'}}\n  - {{name: stage, id: '{STAGE}'}}\n"
        "  - {name: empty, id: '333333333333'}\n"
    )
    prod = new_repo(root / "accounts" / "prod")
    sg = "ec2.security_group"
    commit(prod, {
        SG1: doc(PROD, sg, "us-east-1", "sg-1", "web", {"Ingress": []}),
        DEPLOY: doc(PROD, "iam.role", "global", "deploy", "deploy", {"Path": "/"}),
    }, "baseline: 2 items", "2024-01-01T10:00:00Z")
    commit(prod, {SG1: doc(PROD, sg, "us-east-1", "sg-1", "web", {"Ingress": ["0.0.0.0/0:22"]})},
           "ec2.security_group us-east-1 sg-1 (web): modified", "2024-01-02T10:00:00Z")
    commit(prod, {DEPLOY: None}, "iam.role global deploy: deleted", "2024-01-03T10:00:00Z")
    commit(prod, {SG2: doc(PROD, sg, "us-east-1", "sg-2", "db-old", {})},
           "ec2.security_group us-east-1 sg-2 (db-old): added", "2024-01-04T10:00:00Z")
    commit(prod, {SG2: doc(PROD, sg, "us-east-1", "sg-2", "db", {})},
           "ec2.security_group us-east-1 sg-2 (db): modified", "2024-01-05T10:00:00Z")
    stage = new_repo(root / "accounts" / "stage")
    commit(stage, {SG1.replace("sg-1", "sg-9"): doc(STAGE, sg, "us-east-1", "sg-9", "web", {})},
           "baseline: 1 item", "2024-01-01T10:00:00Z")
    return root


@pytest.fixture(scope="module")
def config(world: Path):
    return load_config(world / "gitmonkey.yaml")


@pytest.mark.parametrize("query", ["sg-1", SG1, "arn:aws:ec2::111111111111:security_group/sg-1"])
def test_find_by_id_path_and_arn(config, query: str) -> None:
    [ref] = forensics.find_items(config, query)
    assert (ref.account, ref.path, ref.id, ref.name, ref.deleted) == ("prod", SG1, "sg-1", "web", False)
    assert (ref.technology, ref.region) == ("ec2.security_group", "us-east-1")


def test_find_deleted_item_by_name_and_arn(config) -> None:
    by_name = forensics.find_items(config, "deploy")
    by_arn = forensics.find_items(config, DEPLOY_ARN)
    assert by_name == by_arn
    assert [(r.path, r.deleted, r.technology, r.region) for r in by_name] == [
        (DEPLOY, True, "iam.role", "global")
    ]


def test_find_by_former_name(config) -> None:
    [ref] = forensics.find_items(config, "db-old")
    assert (ref.id, ref.name, ref.deleted) == ("sg-2", "db", False)


def test_ambiguous_name_lists_candidates_and_account_narrows(config) -> None:
    with pytest.raises(AmbiguousItem) as info:
        forensics.resolve_item(config, "web")
    assert [(c.account, c.id) for c in info.value.candidates] == [("prod", "sg-1"), ("stage", "sg-9")]
    assert "give --account" in str(info.value)
    assert forensics.resolve_item(config, "web", account="stage").id == "sg-9"


def test_not_found(config) -> None:
    assert forensics.find_items(config, "sg-404") == []
    with pytest.raises(ItemNotFound, match="no item 'sg-404'"):
        forensics.resolve_item(config, "sg-404")


def test_substring_of_a_name_is_not_a_match(config) -> None:
    assert forensics.find_items(config, "we") == []


def test_history_includes_deletion(config) -> None:
    sg = forensics.history(config, forensics.resolve_item(config, "sg-1"))
    assert [(r.kind, r.date[:10], r.subject) for r in sg] == [
        ("modified", "2024-01-02", "ec2.security_group us-east-1 sg-1 (web): modified"),
        ("added", "2024-01-01", "baseline: 2 items"),
    ]
    role = forensics.history(config, forensics.resolve_item(config, "deploy"))
    assert [r.kind for r in role] == ["deleted", "added"]


def test_show_now_at_a_time_and_deleted(config) -> None:
    ref = forensics.resolve_item(config, "sg-1")
    assert json.loads(forensics.show(config, ref))["configuration"] == {"Ingress": ["0.0.0.0/0:22"]}
    then = forensics.show(config, ref, at="2024-01-01T12:00:00Z")
    assert json.loads(then)["configuration"] == {"Ingress": []}
    assert json.loads(forensics.show(config, ref, at="2024-01-02"))["configuration"] == {"Ingress": []}
    deleted = forensics.resolve_item(config, "deploy")
    assert json.loads(forensics.show(config, deleted))["configuration"] == {"Path": "/"}


def test_show_before_existence_and_bad_dates(config) -> None:
    deploy = forensics.resolve_item(config, "deploy")
    with pytest.raises(ForensicsError, match="did not exist"):
        forensics.show(config, deploy, at="2024-01-03T12:00:00Z")
    with pytest.raises(ForensicsError, match="no commit before"):
        forensics.show(config, deploy, at="2023-06-01")
    with pytest.raises(ForensicsError, match="not a date git understands"):
        forensics.show(config, deploy, at="yesterdya")


def test_diff_previous_revision_and_since(config) -> None:
    ref = forensics.resolve_item(config, "sg-1")
    text = forensics.diff(config, ref)
    assert '+      "0.0.0.0/0:22"' in text and "--- a/" + SG1 in text
    assert forensics.diff(config, ref, since="2024-01-01T12:00:00Z") == text
    assert forensics.diff(config, ref, since="2024-01-02T12:00:00Z") == ""
    new = forensics.diff(config, ref, since="2023-12-31")
    assert "new file mode" in new and '"name": "web"' in new


def test_diff_of_deleted_item(config) -> None:
    text = forensics.diff(config, forensics.resolve_item(config, "deploy"))
    assert "deleted file mode" in text and '-  "name": "deploy",' in text


def test_items_at(config) -> None:
    items = forensics.items_at(config, "2024-01-02T12:00:00Z")
    assert [(r.account, r.id, r.deleted) for r in items] == [
        ("prod", "deploy", True), ("prod", "sg-1", False), ("stage", "sg-9", False),
    ]
    prod = forensics.items_at(config, "2024-01-05T12:00:00Z", account="prod")
    assert [r.id for r in prod] == ["sg-1", "sg-2"]
    assert forensics.items_at(config, "2023-01-01") == []


def test_account_without_repository(config) -> None:
    with pytest.raises(ForensicsError, match="no repository yet"):
        forensics.find_items(config, "sg-1", account="empty")


# --- CLI ------------------------------------------------------------------------------------


def run(world: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {"GITMONKEY_CONFIG": str(world / "gitmonkey.yaml")})


def test_cli_history_text_and_json(world: Path) -> None:
    result = run(world, "history", "sg-1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"prod  {SG1}  ec2.security_group us-east-1 sg-1 (web)"
    assert lines[1].split()[1:3] == ["2024-01-02T10:00:00+00:00", "modified"]
    assert lines[2].split()[2] == "added"
    data = json.loads(run(world, "history", "deploy", "--format", "json").output)
    assert data["item"]["deleted"] is True
    assert [r["kind"] for r in data["revisions"]] == ["deleted", "added"]


def test_cli_show_with_config_option_and_at(world: Path) -> None:
    result = run(world, "show", "web", "--account", "prod", "--at", "2024-01-01 12:00:00",
                 "--config", str(world / "gitmonkey.yaml"), env={"GITMONKEY_CONFIG": "/nonexistent.yaml"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["configuration"] == {"Ingress": []}


def test_cli_show_deleted_notes_it(world: Path) -> None:
    result = CliRunner().invoke(
        cli, ["show", "deploy"], env={"GITMONKEY_CONFIG": str(world / "gitmonkey.yaml")})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["name"] == "deploy"
    assert "note: deleted in" in result.stderr


def test_cli_ambiguous_and_not_found_exit_1_without_traceback(world: Path) -> None:
    ambiguous = run(world, "diff", "web")
    assert ambiguous.exit_code == 1
    assert "'web' matches 2 items" in ambiguous.output and "stage" in ambiguous.output
    missing = run(world, "show", "sg-404")
    assert missing.exit_code == 1
    assert "no item 'sg-404'" in missing.output and "Traceback" not in missing.output
    bad_date = run(world, "at", "notadate")
    assert bad_date.exit_code == 1 and "not a date" in bad_date.output


def test_cli_diff_and_at(world: Path) -> None:
    diff = run(world, "diff", "sg-1", "--since", "2024-01-01T12:00:00Z")
    assert diff.exit_code == 0 and '+      "0.0.0.0/0:22"' in diff.output
    at = run(world, "at", "2024-01-02T12:00:00Z")
    assert at.exit_code == 0
    assert at.output.splitlines() == [
        "prod   global     iam.role            deploy  deploy  (deleted since)",
        "prod   us-east-1  ec2.security_group  sg-1    web",
        "stage  us-east-1  ec2.security_group  sg-9    web",
    ]
    result = run(world, "at", "2024-01-02T12:00:00Z", "--format", "json", "--account", "stage")
    data = json.loads(result.output)
    assert [d["id"] for d in data] == ["sg-9"]


def test_cli_unknown_account_is_a_config_error(world: Path) -> None:
    result = run(world, "history", "sg-1", "--account", "nope")
    assert result.exit_code == 2 and "no account named 'nope'" in result.output


def test_cli_help_has_examples() -> None:
    for name in ("history", "show", "diff", "at"):
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Example:" in result.output and f"gitmonkey {name}" in result.output


def test_escaped_ids_are_found_by_their_real_id(tmp_path: Path) -> None:
    (tmp_path / "gitmonkey.yaml").write_text(f"accounts:\n  - {{name: prod, id: '{PROD}'}}\n")
    repo = new_repo(tmp_path / "accounts" / "prod")
    path = item_path("global", "s3.bucket", "Logs:Bucket")
    assert path != "items/global/s3/bucket/Logs:Bucket.json"
    document = doc(PROD, "s3.bucket", "global", "Logs:Bucket", "Logs:Bucket", {})
    commit(repo, {path: document}, "add", "2024-01-01T00:00:00Z")
    config = load_config(tmp_path / "gitmonkey.yaml")
    [ref] = forensics.find_items(config, "Logs:Bucket")
    assert (ref.path, ref.id) == (path, "Logs:Bucket")
    assert forensics.find_items(config, "logs:bucket") == []


def test_cli_at_before_anything_says_so(world: Path) -> None:
    result = run(world, "at", "2020-01-01")
    assert result.exit_code == 0 and result.stdout == ""
    assert "no items recorded at '2020-01-01'" in result.stderr
