"""Every command is documented in the README, and every command's help shows an example."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from gitmonkey.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "gitmonkey") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append((path, command))
    return found


COMMANDS = _commands(cli)


def test_the_cli_has_the_commands_the_readme_promises():
    names = {path for path, _ in COMMANDS}
    assert {
        "gitmonkey sync",
        "gitmonkey status",
        "gitmonkey demo",
        "gitmonkey history",
        "gitmonkey show",
        "gitmonkey diff",
        "gitmonkey at",
        "gitmonkey init",
    } <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_is_in_the_readme_with_an_example(path, command):
    assert f"`{path}" in README, f"{path} is not documented in README.md"
    assert "Example" in (command.help or ""), f"{path} --help has no example"


def test_readme_opens_with_the_two_commands():
    head = README[:600]
    assert "make demo" in head and "make test" in head
    for section in (
        "## Exit codes",
        "## Configuration",
        "## The account repository",
        "### Forensics with git",
    ):
        assert section in README


def test_the_documented_read_only_policy_is_what_the_watchers_need():
    import json
    import re

    from gitmonkey.watchers import all_technologies

    text = (Path(__file__).resolve().parent.parent / "docs/readme/watchers.md").read_text(encoding="utf-8")
    block = re.search(r"## The read-only policy.*?```json\n(.*?)```", text, re.S)
    assert block, "docs/readme/watchers.md has no read-only policy block"
    documented = set(json.loads(block.group(1))["Statement"][0]["Action"])
    from gitmonkey.iam_policy import needed_actions

    needed = set(needed_actions(all_technologies().values()))
    assert documented == needed, f"missing {sorted(needed - documented)}, extra {sorted(documented - needed)}"


def test_every_technology_is_in_the_watchers_table():
    from gitmonkey.watchers import all_technologies

    text = (Path(__file__).resolve().parent.parent / "docs/readme/watchers.md").read_text(encoding="utf-8")
    for name in all_technologies():
        assert f"| `{name}` |" in text, f"{name} is not in the table of docs/readme/watchers.md"


def test_every_built_in_rule_is_in_the_rules_table():
    from gitmonkey.audit.rules import RuleSet

    text = (Path(__file__).resolve().parent.parent / "docs/readme/rules.md").read_text(encoding="utf-8")
    for rule in RuleSet.load({}, base_dir=Path.cwd()).rules:
        assert f"| `{rule.id}` | {rule.technology} | {rule.score} |" in text, f"{rule.id} is missing or stale"
