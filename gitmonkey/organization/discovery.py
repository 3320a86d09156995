"""Discover the accounts to sync from an AWS Organization (``organization:`` in gitmonkey.yaml).

Loading the configuration never calls AWS; a command that needs the accounts calls
``discover_accounts(config)`` (what the organization holds and what the config makes of it) or
``with_discovered_accounts(config)`` (the config with its ``accounts`` merged). The organization is
read with the management account's credentials (its management account, or a delegated
administrator): ``DescribeOrganization``, then the tree from ``ListRoots`` down
(``ListOrganizationalUnitsForParent``, ``ListAccountsForParent``), and ``ListTagsForResource`` per
account only when a filter reads tags.

Each account of the organization becomes an ``AccountConfig``:

- the management account (``organization.management.id``) with the management credentials;
- every other account with ``role_arn = arn:<partition>:iam::<id>:role/<role_name>`` (the
  partition of the organization's ARN) and ``external_id``, assumed with the management's base
  credentials (its ``profile``, else boto3's default chain);
- all of them with ``organization.regions``, ``endpoint_url``, the name of
  ``gitmonkey.organization.naming`` and ``organization.remote`` filled with that name and the id.

An ``accounts:`` entry with the same id overrides it: its name wins; its ``regions``,
``endpoint_url`` and ``remote`` win when set; its credentials (``profile``, ``role_arn``,
``external_id``, taken together) win when it sets any of them. An ``accounts:`` entry is always
synced, whatever the organization's filters say, and one that is not in the organization stays as
it is. A discovery that fails raises ``OrganizationDiscoveryError``: it never returns a shorter list.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from gitmonkey.config import AccountConfig, Config, OrganizationConfig, override_account, render_template
from gitmonkey.organization.filters import needs_tags, skip_reason
from gitmonkey.organization.naming import assign_names
from gitmonkey.organization.tree import NOT_IN_USE, Member, partition_of, read_tree, tags_of
from gitmonkey.read.aws import HOME_REGION, AccountSession, EndpointUnresponsiveError
from gitmonkey.read.aws_responses import UnreadableResponseError
from gitmonkey.watchers._common import TruncatedListError, error_code
from gitmonkey.watchers._common import partition as region_partition

TAG_WORKERS = 4
_ACCESS_DENIED = ("AccessDeniedException", "AccessDenied", "AccessDeniedForDependencyException",
                  "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException")


class OrganizationDiscoveryError(Exception):
    """Reading the organization failed; the message names the management account and the call."""


@dataclass(frozen=True)
class OrganizationAccount:
    """One account as the organization lists it."""

    id: str
    name: str
    arn: str
    email: str
    state: str
    joined_method: str | None
    joined_timestamp: datetime | None
    parent_id: str
    ou_path: str
    ou_id_path: str
    tags: dict[str, str] | None  # None: not read (no filter uses tags)

    @classmethod
    def of(cls, member: Member, tags: dict[str, str] | None) -> OrganizationAccount:
        return cls(
            id=member.id, name=member.name, arn=member.arn, email=member.email, state=member.state,
            joined_method=member.joined_method, joined_timestamp=member.joined_timestamp,
            parent_id=member.parent.id, ou_path=member.parent.path_text,
            ou_id_path=member.parent.id_path_text, tags=tags,
        )


@dataclass(frozen=True)
class DiscoveredAccount:
    """An account of the organization and what the configuration makes of it.

    ``config`` is the account as it is (or, when skipped, would be) synced; ``skipped`` says why
    it is not synced (None: synced); ``configured`` is the index of the ``accounts:`` entry with
    its id, if any (such an account is synced even when the organization's filters leave it out:
    ``skipped`` is None and ``filtered`` says what they would have done).
    """

    account: OrganizationAccount
    config: AccountConfig
    skipped: str | None = None
    configured: int | None = None
    filtered: str | None = None

    @property
    def synced(self) -> bool:
        return self.skipped is None


@dataclass(frozen=True)
class Discovery:
    """What ``discover_accounts`` found: the accounts to sync (the ``accounts:`` entries, overrides
    applied, then the discovered accounts) and every account of the organization with its outcome."""

    accounts: tuple[AccountConfig, ...]
    entries: tuple[DiscoveredAccount, ...] = ()
    organization_id: str | None = None
    management_account_id: str | None = None  # the organization's (MasterAccountId)
    read_from: str | None = None  # organization.management.id: the management or a delegated admin
    partition: str | None = None
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def skipped(self) -> tuple[DiscoveredAccount, ...]:
        return tuple(e for e in self.entries if not e.synced)


def discover_accounts(config: Config) -> Discovery:
    """Read the organization of ``config.organization`` and merge its accounts with ``accounts:``.

    Without ``organization:``, the configured accounts as they are. Raises
    ``OrganizationDiscoveryError`` naming the management account and the call when the
    organization cannot be read (AccessDenied, an account that is not the management account nor a
    delegated administrator, an endpoint down, an unreadable answer).
    """
    organization = config.organization
    if organization is None:
        return Discovery(accounts=config.accounts)
    reader = _Reader(config, organization)
    described, tree, tags = reader.read()
    arn = described.get("Arn") or ""
    partition = partition_of(arn, region_partition(reader.region))
    members = tree.accounts
    explicit = {account.id: (index, account) for index, account in enumerate(config.accounts)}
    names = assign_names(
        (m for m in members if m.id not in explicit), organization.account_name,
        taken=[a.name for a in config.accounts],
    )
    entries: list[DiscoveredAccount] = []
    for member in members:
        member_tags = tags.get(member.id) if tags is not None else None
        reason = skip_reason(organization, member, member_tags)
        record = OrganizationAccount.of(member, member_tags)
        if member.id in explicit:
            index, own = explicit[member.id]
            discovered = _account_config(organization, member, own.name, partition)
            entries.append(DiscoveredAccount(record, override_account(discovered, own), None, index, reason))
        else:
            discovered = _account_config(organization, member, names[member.id], partition)
            entries.append(DiscoveredAccount(record, discovered, reason))
    entries.sort(key=lambda e: e.config.name.lower())
    by_id = {e.account.id: e for e in entries}
    merged = [by_id[a.id].config if a.id in by_id else a for a in config.accounts]
    merged += [e.config for e in entries if e.synced and e.configured is None]
    return Discovery(
        accounts=tuple(merged),
        entries=tuple(entries),
        organization_id=described.get("Id"),
        management_account_id=described.get("MasterAccountId"),
        read_from=organization.management.id,
        partition=partition,
        api_calls=dict(sorted(reader.calls.items())),
    )


def with_discovered_accounts(config: Config) -> Config:
    """``config`` whose ``accounts`` are those ``discover_accounts`` gives (unchanged without
    ``organization:``). Raises ``OrganizationDiscoveryError`` when the organization cannot be read."""
    if config.organization is None:
        return config
    return dataclasses.replace(config, accounts=discover_accounts(config).accounts)


def role_arn(partition: str, account_id: str, role_name: str) -> str:
    """``arn:<partition>:iam::<id>:role/<role_name>`` (``role_name`` may carry a path)."""
    return f"arn:{partition}:iam::{account_id}:role/{role_name}"


def _account_config(
    organization: OrganizationConfig, member: Member, name: str, partition: str
) -> AccountConfig:
    management = organization.management
    remote = render_template(organization.remote, name=name, id=member.id) if organization.remote else None
    if member.id == management.id:
        return AccountConfig(
            name=name, id=member.id, regions=organization.regions, profile=management.profile,
            role_arn=management.role_arn, external_id=management.external_id,
            endpoint_url=organization.management_endpoint_url, remote=remote,
        )
    return AccountConfig(
        name=name, id=member.id, regions=organization.regions, profile=management.profile,
        role_arn=role_arn(partition, member.id, organization.role_name),
        external_id=organization.external_id, endpoint_url=organization.endpoint_url, remote=remote,
    )


class _Reader:
    """The discovery's calls, with the management account's credentials; every failure becomes an
    ``OrganizationDiscoveryError`` naming the management account and the call."""

    def __init__(self, config: Config, organization: OrganizationConfig) -> None:
        from gitmonkey.watchers import always_returned

        management = organization.management
        self.management_id = management.id
        # The Organizations endpoint is global (us-east-1 in the aws partition); the first of the
        # organization's regions selects the partition of an organization in another one.
        self.region = organization.regions[0] if organization.regions else HOME_REGION
        self.session = AccountSession(
            AccountConfig(name="organization-management", id=management.id, profile=management.profile,
                          role_arn=management.role_arn, external_id=management.external_id,
                          endpoint_url=organization.management_endpoint_url),
            max_attempts=config.max_attempts,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            always_returned=always_returned(),
            session_name="gitmonkey-discovery",
        )
        self.organization = organization
        self.calls: Counter[str] = Counter()
        self._current = threading.local()
        self._lock = threading.Lock()
        self._watched: set[int] = set()

    def client(self) -> Any:
        client = self.session.client("organizations", self.region, self.calls)
        with self._lock:
            if id(client) not in self._watched:
                self._watched.add(id(client))
                client.meta.events.register("before-parameter-build.organizations.*", self._note_call)
        return client

    def _note_call(self, params: Any, model: Any, **_: Any) -> None:
        """Remember, per thread, the call being made and the parent or resource it names."""
        target = next((f" {key}={params[key]}" for key in ("ParentId", "ResourceId")
                       if isinstance(params, dict) and params.get(key)), "")
        self._current.call = f"organizations:{model.name}{target}"

    def read(self) -> tuple[dict[str, Any], Any, dict[str, dict[str, str]] | None]:
        described = self._guard(self._describe)
        tree = self._guard(lambda: read_tree(self.client()))
        tags = None
        if needs_tags(self.organization):
            tags = self._guard(lambda: self._tags([m.id for m in tree.accounts]))
        return described, tree, tags

    def _describe(self) -> dict[str, Any]:
        try:
            return dict(self.client().describe_organization()["Organization"])
        except ClientError as exc:
            if error_code(exc) == NOT_IN_USE:
                raise OrganizationDiscoveryError(
                    f"reading the organization with the credentials of the management account "
                    f"{self.management_id} failed: organizations:DescribeOrganization says that "
                    f"account is not a member of an AWS Organization ({NOT_IN_USE}); set "
                    "organization.management to the management account or a delegated administrator"
                ) from exc
            raise

    def _tags(self, account_ids: list[str]) -> dict[str, dict[str, str]]:
        def one(account_id: str) -> tuple[str, dict[str, str]]:
            try:
                return account_id, tags_of(self.client(), account_id)
            except Exception as exc:
                # The error is explained in the calling thread: name the call made in this one.
                exc.gitmonkey_call = getattr(self._current, "call", None)  # type: ignore[attr-defined]
                raise

        with ThreadPoolExecutor(max_workers=TAG_WORKERS, thread_name_prefix="org-tags") as pool:
            return dict(pool.map(one, account_ids))

    def _guard(self, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except OrganizationDiscoveryError:
            raise
        except (ClientError, BotoCoreError, UnreadableResponseError, EndpointUnresponsiveError,
                TruncatedListError) as exc:
            raise OrganizationDiscoveryError(self._explain(exc)) from exc

    def _explain(self, exc: BaseException) -> str:
        call = getattr(exc, "gitmonkey_call", None) or getattr(self._current, "call", None) or "organizations"
        if isinstance(exc, ClientError) and not call.startswith(f"organizations:{exc.operation_name}"):
            call = f"organizations:{exc.operation_name}"
        text = f"{type(exc).__name__}: {exc}"
        message = (f"reading the organization with the credentials of the management account "
                   f"{self.management_id} failed at {call}: {text}")
        if error_code(exc) in _ACCESS_DENIED:
            message += (
                f" (is {self.management_id} the organization's management account or a delegated "
                "administrator, and do its credentials allow organizations:DescribeOrganization, "
                "ListRoots, ListOrganizationalUnitsForParent, ListAccountsForParent and "
                "ListTagsForResource?)"
            )
        return message
