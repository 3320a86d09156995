"""Watchers from other packages: the ``gitmonkey.watchers`` entry point."""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from gitmonkey.config import ConfigError, load_config
from gitmonkey.sync import run_sync
from gitmonkey.watchers import RegistryError, all_technologies, always_returned
from tests.helpers import git, make_config

PLUGIN = Path(__file__).parent / "plugins" / "gitmonkey_acme"


def install(site: Path, name: str, entry_points: str, package: Path | None = None) -> None:
    """Install a distribution into ``site`` as pip lays one out: the package, and a dist-info
    folder whose entry_points.txt importlib.metadata reads."""
    if package is not None:
        shutil.copytree(package, site / package.name)
    dist = site / f"{name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(entry_points, encoding="utf-8")


@pytest.fixture
def acme(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    install(site, "gitmonkey_acme", "[gitmonkey.watchers]\nacme = gitmonkey_acme\n", PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_an_installed_package_adds_its_technologies(acme):
    technologies = all_technologies()
    assert "acme.parameter" in technologies
    assert technologies["acme.parameter"].iam_actions == ("ssm:DescribeParameters",)
    assert always_returned()["ssm:DescribeParameters"] == ("Parameters",)
    assert len(technologies) > 50, "the built-in technologies are still there"


def test_a_plugin_technology_is_synced_like_a_built_in_one(acme, tmp_path):
    config = make_config(tmp_path / "cfg", technologies=["acme.parameter"])
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/app/db/password", Value="hunter2", Type="SecureString")
        first = run_sync(config)
        ssm.put_parameter(Name="/app/url", Value="https://example.com", Type="String")
        second = run_sync(config)
        third = run_sync(config)
    assert [r.exit_code for r in (first, second, third)] == [0, 0, 0]
    repo = config.repos_dir / "prod"
    items = sorted(p.relative_to(repo).as_posix() for p in (repo / "items").rglob("*.json"))
    assert len(items) == 2 and all(p.startswith("items/us-east-1/acme/parameter/") for p in items)
    log = git(repo, "log", "-p", "--format=%s")
    assert "hunter2" not in log and "https://example.com" not in log
    newest = git(repo, "log", "-1", "--format=%s", "--", "items/")
    assert newest.startswith("acme.parameter us-east-1 /app/url")
    assert third.accounts[0].commits == [], "an unchanged resync makes no commit"


@pytest.mark.parametrize(("entry_point", "error"), [
    ("broken = gm_no_such_module", r"broken \(gm_no_such_module\): cannot load: ModuleNotFoundError"),
    ("clash = gitmonkey.watchers.sqs", r"clash \(gitmonkey.watchers.sqs\): technology 'sqs.queue' uses "
     r"gitmonkey's own service 'sqs'"),
    ("nothing = json", r"nothing \(json\) has no TECHNOLOGIES tuple"),
])
def test_a_broken_plugin_is_named_and_stops_the_config_loading(tmp_path, monkeypatch, entry_point, error):
    config = make_config(tmp_path / "cfg", technologies=["sqs.*"])
    site = tmp_path / "site-packages"
    install(site, "gm_bad", f"[gitmonkey.watchers]\n{entry_point}\n")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(RegistryError, match="entry point " + error):
        all_technologies()
    with pytest.raises(ConfigError, match="watchers: entry point " + error):
        load_config(config.path)
