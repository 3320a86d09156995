"""The watcher registry: discovery, naming rules, complete metadata for every technology."""

from __future__ import annotations

import re
import sys
import types

import pytest

import gitmonkey.watchers as registry
from gitmonkey.model import Technology
from gitmonkey.watchers import RegistryError, all_technologies, get_technology

PATH_SEGMENT = re.compile(r"^(\*|[A-Za-z][A-Za-z0-9]*)$")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]*$")
READ_ONLY_VERBS = ("Describe", "Get", "List", "Generate")


def test_discovers_the_shipped_technologies_sorted():
    names = list(all_technologies())
    assert names == sorted(names)
    assert {
        "ec2.security_group",
        "iam.group",
        "iam.policy",
        "iam.role",
        "iam.user",
        "s3.bucket",
    } <= set(names)


@pytest.mark.parametrize("tech", all_technologies().values(), ids=lambda t: t.name)
def test_every_technology_has_complete_metadata(tech: Technology):
    module = sys.modules[f"gitmonkey.watchers.{tech.service}"]
    assert tech in module.TECHNOLOGIES
    # A service module may keep its technologies' code in private helper modules (_ec2_vpc...).
    home = tech.list_items.__module__
    assert home == module.__name__ or home.startswith(f"gitmonkey.watchers._{tech.service}_"), home
    assert re.fullmatch(r"[a-z0-9]+\.[a-z0-9_]+", tech.name)
    assert tech.description.strip()
    assert tech.iam_actions
    for action in tech.iam_actions:
        assert ACTION.match(action), action
        assert action.split(":", 1)[1].startswith(READ_ONLY_VERBS), action
    for path in (*tech.ephemeral_paths, *tech.secret_paths, *tech.unordered_paths):
        assert all(PATH_SEGMENT.match(segment) for segment in path.split(".")), path
    assert not set(tech.ephemeral_paths) & set(tech.secret_paths)
    assert callable(tech.list_items)


def test_get_technology():
    assert get_technology("s3.bucket").name == "s3.bucket"


def test_unknown_technology_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown technology 'iam\.users'.*iam\.user") as info:
        get_technology("iam.users")
    assert not isinstance(info.value, KeyError)


def _install_fake_watcher(monkeypatch, tmp_path, module_name: str, technologies: tuple) -> None:
    (tmp_path / f"{module_name}.py").write_text("")
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    module = types.ModuleType(f"gitmonkey.watchers.{module_name}")
    module.TECHNOLOGIES = technologies
    monkeypatch.setitem(sys.modules, module.__name__, module)


def _tech(name: str) -> Technology:
    return Technology(
        name=name, is_global=False, list_items=lambda ctx: [], description="x", iam_actions=("a:List",)
    )


def test_duplicate_technology_is_an_error(monkeypatch, tmp_path):
    _install_fake_watcher(monkeypatch, tmp_path, "zzdup", (_tech("zzdup.thing"), _tech("zzdup.thing")))
    with pytest.raises(RegistryError, match=r"'zzdup\.thing' is declared twice"):
        all_technologies()


def test_technology_named_after_another_module_is_an_error(monkeypatch, tmp_path):
    _install_fake_watcher(monkeypatch, tmp_path, "zzwrong", (_tech("s3.bucket"),))
    with pytest.raises(RegistryError, match=r"must be named 'zzwrong\.<type>'"):
        all_technologies()


def test_private_modules_are_not_watchers(monkeypatch, tmp_path):
    (tmp_path / "_zzhelper.py").write_text("")
    monkeypatch.setattr(registry, "__path__", [*registry.__path__, str(tmp_path)])
    assert not any(name.startswith("_") for name in all_technologies())
