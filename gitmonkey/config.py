"""gitmonkey.yaml: load, validate against the shipped JSON Schema, and expose typed settings.

(Skeleton: the dataclass shapes are the contract; validation is completed by its owner.)
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitmonkey.model import Item

DEFAULT_CONFIG_NAME = "gitmonkey.yaml"
CONFIG_ENV = "GITMONKEY_CONFIG"


class ConfigError(Exception):
    """A configuration problem, with a message that names the key path and what was expected."""


@dataclass(frozen=True)
class AccountConfig:
    name: str
    id: str
    regions: tuple[str, ...] | None = None
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    endpoint_url: str | None = None
    remote: str | None = None


@dataclass(frozen=True)
class IgnoreRule:
    """Skip items of matching technologies whose id, name or ARN matches ``pattern`` (a glob)."""

    technology: str
    pattern: str
    region: str | None = None
    account: str | None = None
    tag: str | None = None

    def matches(self, item: Item, account: AccountConfig) -> bool:
        if not fnmatch.fnmatchcase(item.technology, self.technology):
            return False
        if self.region is not None and not fnmatch.fnmatchcase(item.region, self.region):
            return False
        if self.account is not None and self.account not in (account.name, account.id):
            return False
        if self.tag is not None:
            key, _, value = self.tag.partition("=")
            tags = item.configuration.get("Tags") or {}
            if not any(
                fnmatch.fnmatchcase(k, key) and fnmatch.fnmatchcase(str(v), value or "*")
                for k, v in tags.items()
            ):
                return False
        return any(fnmatch.fnmatchcase(s, self.pattern) for s in (item.id, item.name, item.arn) if s)


@dataclass(frozen=True)
class Config:
    path: Path
    repos_dir: Path
    accounts: tuple[AccountConfig, ...]
    technologies: tuple[str, ...] | None = None
    ignore: tuple[IgnoreRule, ...] = ()
    concurrency: int = 8
    max_attempts: int = 8
    stale_after_hours: float = 24.0
    committer_name: str = "gitmonkey"
    committer_email: str = "gitmonkey@localhost"
    audit: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def account(self, name_or_id: str) -> AccountConfig:
        for account in self.accounts:
            if name_or_id in (account.name, account.id):
                return account
        raise ConfigError(f"no account named {name_or_id!r} in {self.path}")

    def repo_path(self, account: AccountConfig) -> Path:
        return self.repos_dir / account.name


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    config_path = find_config_path(path).resolve()
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {config_path}: {exc.strerror}") from exc
    return config_from_dict(raw, config_path)


def config_from_dict(raw: dict[str, Any], path: Path) -> Config:
    base = path.parent
    accounts = tuple(
        AccountConfig(
            name=a["name"],
            id=str(a["id"]),
            regions=tuple(a["regions"]) if a.get("regions") else None,
            profile=a.get("profile"),
            role_arn=a.get("role_arn"),
            external_id=a.get("external_id"),
            endpoint_url=a.get("endpoint_url"),
            remote=a.get("remote"),
        )
        for a in raw.get("accounts", [])
    )
    return Config(
        path=path,
        repos_dir=(base / raw.get("repos_dir", "accounts")).resolve(),
        accounts=accounts,
        technologies=tuple(raw["technologies"]) if raw.get("technologies") else None,
        ignore=tuple(IgnoreRule(**rule) for rule in raw.get("ignore", [])),
        concurrency=raw.get("concurrency", 8),
        audit=raw.get("audit", {}),
        notifications=raw.get("notifications", {}),
        raw=raw,
    )
