"""Account discovery from an AWS Organization (gitmonkey.organization) on moto's Organizations, in
process: a tree of nested OUs (four levels) with 20 member accounts, tags, a closed account; the
filters of every kind, the names and their collisions, the role ARN and remote templates,
``accounts:`` overrides, and failures that name the management account and the call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from gitmonkey.config import AccountConfig, Config, ConfigError, config_from_dict, load_config
from gitmonkey.organization import (
    Discovery,
    OrganizationDiscoveryError,
    discover_accounts,
    with_discovered_accounts,
)
from gitmonkey.organization.filters import ou_glob_matches
from gitmonkey.organization.naming import sanitize
from gitmonkey.read.aws import AccountSession

MANAGEMENT = "123456789012"
ROLE = "OrganizationAccountAccessRole"

# (name, OU path under the root, tags): 20 member accounts, three of them directly under the root.
MEMBERS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("audit", "Security", {"env": "security"}),
    ("log-archive", "Security", {"env": "security"}),
    ("web-prod-1", "Prod/Web", {"env": "prod", "team": "web"}),
    ("web-prod-2", "Prod/Web", {"env": "prod", "team": "web"}),
    ("api-prod-1", "Prod/Web/Api", {"env": "prod", "team": "api"}),
    ("api-prod-2", "Prod/Web/Api", {"env": "prod", "team": "api"}),
    ("data-prod", "Prod/Data", {"env": "prod", "team": "data"}),
    ("web-dev", "Dev/Web", {"env": "dev", "team": "web"}),
    ("api-dev", "Dev/Web/Api", {"env": "dev", "team": "api"}),
    ("dev-shared", "Dev", {"env": "dev"}),
    ("sandbox-alice", "Sandbox", {"env": "sandbox", "owner": "alice"}),
    ("sandbox-bob", "Sandbox", {"env": "sandbox", "owner": "bob"}),
    ("sandbox-carol", "Sandbox", {"env": "sandbox", "owner": "carol", "gitmonkey": "skip"}),
    ("old-project", "Suspended", {"env": "prod"}),  # closed: SUSPENDED
    ("Shared Services", "Infrastructure", {"env": "prod"}),
    ("shared-services", "Infrastructure", {"env": "dev"}),  # the same name, ignoring case and spaces
    ("network", "Infrastructure", {"env": "prod"}),
    ("new workload", "", {}),
    ("billing-reports", "", {"env": "prod"}),
    ("partner-poc", "", {"env": "dev"}),
)


@dataclass
class World:
    """The organization as built: ids by account name and by OU path (``Prod/Web``; ``""`` is the root)."""

    organization_id: str
    accounts: dict[str, str]
    units: dict[str, str]

    @property
    def root(self) -> str:
        return self.units[""]


def build_organization(client: Callable[[str], Any]) -> World:
    """The organization of ``MEMBERS`` in the account of ``client`` ("organizations" -> a boto3 client)."""
    org = client("organizations")
    organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    units = {"": root}
    for _, path, _ in MEMBERS:
        parts = [p for p in path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            key = "/".join(parts[:depth])
            if key not in units:
                parent = units["/".join(parts[: depth - 1])]
                units[key] = org.create_organizational_unit(ParentId=parent, Name=parts[depth - 1])[
                    "OrganizationalUnit"]["Id"]
    accounts: dict[str, str] = {}
    for name, path, tags in MEMBERS:
        created = org.create_account(AccountName=name, Email=f"aws+{name.replace(' ', '-')}@example.com",
                                     Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        account_id = created["CreateAccountStatus"]["AccountId"]
        if path:
            org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=units[path])
        accounts[name] = account_id
    org.close_account(AccountId=accounts["old-project"])
    return World(organization_id, accounts, units)


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        yield build_organization(lambda service: boto3.client(service, region_name="us-east-1"))


def make_config(tmp_path: Path, organization: dict[str, Any] | None = None, **top: Any) -> Config:
    raw: dict[str, Any] = {"organization": {"management": {"id": MANAGEMENT}, **(organization or {})}, **top}
    path = tmp_path / "gitmonkey.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_config(path)


def _by_name(discovery: Discovery) -> dict[str, Any]:
    return {entry.account.name: entry for entry in discovery.entries}


def _synced_names(discovery: Discovery) -> set[str]:
    return {entry.account.name for entry in discovery.entries if entry.synced}


# --- the tree ------------------------------------------------------------------------------------


def test_every_account_of_the_nested_tree_is_found_where_it_sits(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path))

    entries = _by_name(discovery)
    assert len(entries) == 21  # 20 members and the management account
    assert discovery.organization_id == world.organization_id
    assert (discovery.management_account_id, discovery.read_from, discovery.partition) == (
        MANAGEMENT, MANAGEMENT, "aws")
    api = entries["api-prod-1"].account
    assert api.ou_path == "/Root/Prod/Web/Api"
    units = world.units
    assert api.ou_id_path == f"/{world.root}/{units['Prod']}/{units['Prod/Web']}/{units['Prod/Web/Api']}"
    assert api.parent_id == units["Prod/Web/Api"]
    assert (api.state, api.email, api.joined_method) == ("ACTIVE", "aws+api-prod-1@example.com", "CREATED")
    assert entries["new workload"].account.ou_path == "/Root"
    assert entries["master"].account.id == MANAGEMENT
    # Tags are read only when a filter needs them.
    assert api.tags is None
    # The root and each of the 12 OUs: one ListOrganizationalUnitsForParent and one ListAccountsForParent.
    parents = len(world.units)
    assert discovery.api_calls == {
        "organizations:DescribeOrganization": 1,
        "organizations:ListRoots": 1,
        "organizations:ListOrganizationalUnitsForParent": parents,
        "organizations:ListAccountsForParent": parents,
    }


def test_active_accounts_are_synced_a_closed_one_is_reported_not_synced(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path))

    old = _by_name(discovery)["old-project"]
    assert old.account.state == "SUSPENDED"
    assert not old.synced
    assert old.skipped == "state SUSPENDED (organization.statuses: ACTIVE)"
    assert [e.account.name for e in discovery.skipped] == ["old-project"]
    assert len(discovery.accounts) == 20
    assert world.accounts["old-project"] not in {a.id for a in discovery.accounts}


def test_statuses_can_take_suspended_accounts_in(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path, {"statuses": ["ACTIVE", "SUSPENDED"]}))
    assert discovery.skipped == ()
    assert world.accounts["old-project"] in {a.id for a in discovery.accounts}


def test_an_ou_with_more_accounts_than_a_page_is_read_through_its_pages(tmp_path):
    with mock_aws():
        org = boto3.client("organizations", region_name="us-east-1")
        org.create_organization(FeatureSet="ALL")
        for number in range(25):  # moto answers ListAccountsForParent 20 at a time
            org.create_account(AccountName=f"bulk-{number:02}", Email=f"bulk{number}@example.com")

        discovery = discover_accounts(make_config(tmp_path))

    assert len(discovery.accounts) == 26
    assert discovery.api_calls["organizations:ListAccountsForParent"] == 2


# --- credentials, names, remotes ---------------------------------------------------------------


def test_members_assume_the_role_the_management_uses_its_own_credentials(tmp_path, world, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.write_text("[org-admin]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    config = make_config(tmp_path, {
        "management": {"id": MANAGEMENT, "profile": "org-admin"},
        "external_id": "gitmonkey-org", "regions": ["us-east-1", "eu-west-1"],
    })

    accounts = {a.name: a for a in discover_accounts(config).accounts}

    web = accounts["web-prod-1"]
    assert web == AccountConfig(
        name="web-prod-1", id=world.accounts["web-prod-1"], regions=("us-east-1", "eu-west-1"),
        profile="org-admin", role_arn=f"arn:aws:iam::{world.accounts['web-prod-1']}:role/{ROLE}",
        external_id="gitmonkey-org", endpoint_url=None, remote=None,
    )
    assert accounts["master"] == AccountConfig(
        name="master", id=MANAGEMENT, regions=("us-east-1", "eu-west-1"), profile="org-admin")


def test_a_management_role_is_the_management_accounts_not_the_members(tmp_path, world):
    role = f"arn:aws:iam::{MANAGEMENT}:role/org-reader"
    management = {"id": MANAGEMENT, "role_arn": role, "external_id": "org-x"}
    config = make_config(tmp_path, {"management": management, "role_name": "gitmonkey-readonly"})

    accounts = {a.name: a for a in discover_accounts(config).accounts}

    assert (accounts["master"].role_arn, accounts["master"].external_id) == (role, "org-x")
    member = world.accounts["audit"]
    assert (accounts["audit"].role_arn, accounts["audit"].external_id) == (
        f"arn:aws:iam::{member}:role/gitmonkey-readonly", None)


def test_the_role_arn_takes_the_organizations_partition_and_the_role_path(tmp_path):
    with mock_aws():
        org = boto3.client("organizations", region_name="cn-north-1")
        org.create_organization(FeatureSet="ALL")
        created = org.create_account(AccountName="cn-app", Email="cn@example.com")
        member = created["CreateAccountStatus"]["AccountId"]

        discovery = discover_accounts(make_config(tmp_path, {
            "regions": ["cn-north-1"], "role_name": "security/gitmonkey-readonly"}))

    assert discovery.partition == "aws-cn"
    (app,) = [a for a in discovery.accounts if a.id == member]
    assert app.role_arn == f"arn:aws-cn:iam::{member}:role/security/gitmonkey-readonly"


def test_names_are_sanitized_made_unique_and_fill_the_remote_template(tmp_path, world):
    config = make_config(
        tmp_path,
        {"remote": "git@github.com:acme/aws-{name}.git", "statuses": ["ACTIVE", "SUSPENDED"]},
        accounts=[{"name": "audit", "id": "999999999999"}],  # an account outside the organization
    )

    discovery = discover_accounts(config)

    names = {e.account.name: e.config.name for e in discovery.entries}
    assert names["new workload"] == "new-workload"
    assert names["Shared Services"] == "Shared-Services"
    # Same folder ignoring case: the account that joined later gets its id as a suffix.
    assert names["shared-services"] == f"shared-services-{world.accounts['shared-services']}"
    # The accounts: entry keeps its name; the organization's "audit" gets the suffix.
    assert names["audit"] == f"audit-{world.accounts['audit']}"
    web = _by_name(discovery)["web-prod-1"].config
    assert web.remote == "git@github.com:acme/aws-web-prod-1.git"
    assert _by_name(discovery)["shared-services"].config.remote == (
        f"git@github.com:acme/aws-shared-services-{world.accounts['shared-services']}.git")
    all_names = [a.name.lower() for a in discovery.accounts]
    assert len(all_names) == len(set(all_names)) == 22


def test_the_account_name_template_and_a_skipped_account_keeps_its_name(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path, {"account_name": "aws-{name}-{id}"}))
    names = {e.account.name: e.config.name for e in discovery.entries}
    assert names["audit"] == f"aws-audit-{world.accounts['audit']}"
    # Skipped accounts are named too, so that their repository's name is not given to another account.
    assert names["old-project"] == f"aws-old-project-{world.accounts['old-project']}"


@pytest.mark.parametrize(("text", "expected"), [
    ("Prod (EU)", "Prod-EU"),
    ("..hidden", "hidden"),
    ("-x_y.z-", "x_y.z"),
    ("日本", "111122223333"),
    ("a" * 120, "a" * 100),
])
def test_sanitize(text, expected):
    assert sanitize(text, "111122223333") == expected


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/Root/Prod/**", ("Root", "Prod"), True),
    ("/Root/Prod/**", ("Root", "Prod", "Web", "Api"), True),
    ("/Root/Prod/**", ("Root", "Production"), False),
    ("/Root/Prod", ("Root", "Prod", "Web"), False),
    ("/Root/Prod/*", ("Root", "Prod", "Web"), True),
    ("/Root/Prod/*", ("Root", "Prod", "Web", "Api"), False),
    ("/Root/**/Api", ("Root", "Dev", "Web", "Api"), True),
    ("/Root/**/Api", ("Root", "Api"), True),
    ("/Root", ("Root",), True),
    ("/**", ("Root", "Anything"), True),
    ("/Root/P?od", ("Root", "Prod"), True),
    ("/Root/[DP]*", ("Root", "Dev"), True),
    ("/root/prod", ("Root", "Prod"), False),  # case-sensitive, as OU names are
])
def test_ou_path_globs(pattern, path, matches):
    assert ou_glob_matches(pattern, path) is matches


def test_include_by_ou_name_path(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path, {"include": [{"ou": "/Root/Prod/**"}]}))
    assert _synced_names(discovery) == {"web-prod-1", "web-prod-2", "api-prod-1", "api-prod-2", "data-prod"}
    assert _by_name(discovery)["audit"].skipped == "matches no organization.include filter"


def test_include_by_ou_id_path_and_by_level(tmp_path, world):
    dev = world.units["Dev"]
    by_id = discover_accounts(make_config(tmp_path, {"include": [{"ou": f"/{world.root}/{dev}/**"}]}))
    assert _synced_names(by_id) == {"web-dev", "api-dev", "dev-shared"}
    every_web = discover_accounts(make_config(tmp_path, {"include": [{"ou": "/Root/*/Web"}]}))
    assert _synced_names(every_web) == {"web-prod-1", "web-prod-2", "web-dev"}
    outside_ous = discover_accounts(make_config(tmp_path, {"include": [{"ou": "/Root"}]}))
    assert _synced_names(outside_ous) == {"master", "new workload", "billing-reports", "partner-poc"}


def test_exclude_by_ou_tag_name_and_id(tmp_path, world):
    exclude = [
        {"ou": "/Root/Security"},
        {"tag": "gitmonkey=skip"},
        {"name": "sandbox-b*"},
        {"id": world.accounts["partner-poc"]},
    ]
    discovery = discover_accounts(make_config(tmp_path, {"exclude": exclude}))

    entries = _by_name(discovery)
    assert entries["audit"].skipped == "excluded by organization.exclude[0] (ou: /Root/Security)"
    assert entries["sandbox-carol"].skipped == "excluded by organization.exclude[1] (tag: gitmonkey=skip)"
    assert entries["sandbox-bob"].skipped == "excluded by organization.exclude[2] (name: sandbox-b*)"
    assert entries["partner-poc"].skipped == (
        f"excluded by organization.exclude[3] (id: {world.accounts['partner-poc']})")
    assert entries["sandbox-alice"].synced
    assert entries["sandbox-carol"].account.tags == {"env": "sandbox", "owner": "carol", "gitmonkey": "skip"}
    assert discovery.api_calls["organizations:ListTagsForResource"] == 21
    assert len(discovery.accounts) == 21 - 1 - 5  # the closed one, five excluded


def test_include_by_tag_with_keys_of_one_entry_all_matching(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path, {
        "include": [{"tag": "env=prod", "ou": "/Root/Prod/**"}, {"tag": "team=api"}],
    }))
    assert _synced_names(discovery) == {
        "web-prod-1", "web-prod-2", "api-prod-1", "api-prod-2", "data-prod", "api-dev"}


def test_the_state_is_reported_before_the_filters(tmp_path, world):
    discovery = discover_accounts(make_config(tmp_path, {"exclude": [{"name": "old-*"}]}))
    assert _by_name(discovery)["old-project"].skipped.startswith("state SUSPENDED")


# --- accounts: entries -------------------------------------------------------------------------


def test_an_accounts_entry_overrides_the_discovered_account_and_its_name_wins(tmp_path, world):
    web, audit, sandbox = (world.accounts[n] for n in ("web-prod-1", "audit", "sandbox-carol"))
    config = make_config(
        tmp_path,
        {"remote": "git@example.com:{name}.git", "regions": ["us-east-1"],
         "exclude": [{"tag": "gitmonkey=skip"}]},
        accounts=[
            {"name": "legacy", "id": "999999999999", "profile": "legacy"},
            {"name": "prod-web", "id": web, "regions": ["eu-west-1"]},
            {"name": "audit", "id": audit, "profile": "audit-direct"},
            {"name": "carol", "id": sandbox},
        ],
    )

    discovery = discover_accounts(config)

    accounts = {a.name: a for a in discovery.accounts}
    # Configured entries come first, in their order, then the discovered ones by name.
    assert [a.name for a in discovery.accounts[:4]] == ["legacy", "prod-web", "audit", "carol"]
    assert accounts["legacy"] == AccountConfig(name="legacy", id="999999999999", profile="legacy")
    # The entry's name and regions win; the role and remote come from the organization.
    assert accounts["prod-web"] == AccountConfig(
        name="prod-web", id=web, regions=("eu-west-1",), role_arn=f"arn:aws:iam::{web}:role/{ROLE}",
        remote="git@example.com:prod-web.git",
    )
    assert "web-prod-1" not in accounts
    # Its own credentials replace the organization's role as a whole.
    assert (accounts["audit"].profile, accounts["audit"].role_arn) == ("audit-direct", None)
    # A configured account is synced even when the organization's filters leave it out.
    carol = _by_name(discovery)["sandbox-carol"]
    assert carol.synced and carol.configured == 3
    assert carol.filtered == "excluded by organization.exclude[0] (tag: gitmonkey=skip)"
    assert accounts["carol"].role_arn == f"arn:aws:iam::{sandbox}:role/{ROLE}"
    assert len(discovery.accounts) == 1 + 20  # legacy, and the 20 active accounts of the organization


def test_with_discovered_accounts_replaces_only_the_accounts(tmp_path, world):
    config = make_config(tmp_path, accounts=[{"name": "legacy", "id": "999999999999"}], concurrency=3)

    merged = with_discovered_accounts(config)

    assert merged.accounts == discover_accounts(config).accounts
    assert dataclasses.replace(merged, accounts=config.accounts) == config
    assert merged.account("web-prod-1").id == world.accounts["web-prod-1"]
    assert merged.repo_path(merged.account("api-prod-1")) == config.repos_dir / "api-prod-1"


def test_without_an_organization_nothing_is_read(tmp_path):
    path = tmp_path / "gitmonkey.yaml"
    path.write_text("accounts:\n  - {name: prod, id: '123456789012'}\n", encoding="utf-8")
    config = load_config(path)
    with mock_aws():
        assert with_discovered_accounts(config) is config
        assert discover_accounts(config).accounts == config.accounts


# --- loading never calls AWS -----------------------------------------------------------------


def test_loading_the_config_never_calls_aws(tmp_path, monkeypatch):
    import botocore.client

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("loading the configuration called AWS")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    config = make_config(tmp_path, {"include": [{"ou": "/Root/Prod/**", "tag": "env=prod"}],
                                    "remote": "git@example.com:aws-{name}.git", "account_name": "aws-{name}"})
    assert config.accounts == ()
    organization = config.organization
    assert organization.management.id == MANAGEMENT
    assert (organization.role_name, organization.statuses) == (ROLE, ("ACTIVE",))
    assert organization.include[0].ou == "/Root/Prod/**" and organization.include[0].tag == "env=prod"


@pytest.mark.parametrize(("organization", "expected"), [
    ({"account_name": "aws-{nam}"},
     "organization.account_name: unknown placeholder {nam} in 'aws-{nam}' (known: {name}, {id})"),
    ({"account_name": "prod"},
     "organization.account_name: 'prod' has no placeholder: every account would get the same name; "
     "use {name}, {id}"),
    ({"remote": "git@x:{name.git"},
     "organization.remote: unbalanced brace in 'git@x:{name.git' (placeholders: {name}, {id})"),
    ({"include": [{"ou": "Root/Prod"}]},
     "organization.include[0].ou: 'Root/Prod' is not an OU path glob starting with '/', e.g. /Root/Prod/** "
     "(OU names) or /r-ab12/ou-ab12-11111111/** (ids)"),
    ({"exclude": [{}]},
     "organization.exclude[0]: expected a mapping with one or more of ou, tag, name, id (all must match), "
     "got an empty mapping"),
    ({"exclude": [{"tag": "nokey"}]},
     "organization.exclude[0].tag: 'nokey' is not Key=ValueGlob, e.g. env=dev*"),
    ({"statuses": ["ACTIVE", "GONE"]},
     "organization.statuses[1]: 'GONE' is not one of ACTIVE, SUSPENDED, PENDING_CLOSURE, PENDING_ACTIVATION, "
     "CLOSED"),
    ({"role_name": "arn:aws:iam::1:role/x"},
     "organization.role_name: 'arn:aws:iam::1:role/x' is not an IAM role name, optionally with its path "
     "(e.g. OrganizationAccountAccessRole or security/gitmonkey-readonly)"),
    ({"management": {"id": "1234"}}, "organization.management.id: '1234' is not a 12-digit AWS account id"),
    ({"management": {"id": MANAGEMENT, "external_id": "abc"}},
     "organization.management: 'external_id' requires 'role_arn' (set role_arn too, or remove external_id)"),
    ({"managment": {}}, "organization: unknown key 'managment' (did you mean 'management'?)"),
])
def test_organization_config_errors_name_the_key(tmp_path, organization, expected):
    raw = {"organization": {"management": {"id": MANAGEMENT}, **organization}}
    if "managment" in organization:
        del raw["organization"]["management"]
    with pytest.raises(ConfigError) as raised:
        config_from_dict(raw, tmp_path / "gitmonkey.yaml")
    assert expected in raised.value.errors


def test_accounts_or_organization_is_required(tmp_path):
    with pytest.raises(ConfigError) as raised:
        config_from_dict({"repos_dir": "x"}, tmp_path / "gitmonkey.yaml")
    assert raised.value.errors == ["(top level): missing required key 'accounts'"]


def test_ignore_rules_may_name_discovered_accounts(tmp_path):
    config = make_config(tmp_path, ignore=[{"technology": "iam.role", "pattern": "x", "account": "web-*"}])
    assert config.ignore[0].account == "web-*"


# --- failures -----------------------------------------------------------------------------------


def test_an_account_in_no_organization_is_a_clear_error(tmp_path):
    with mock_aws(), pytest.raises(OrganizationDiscoveryError) as raised:
        discover_accounts(make_config(tmp_path))
    message = str(raised.value)
    assert f"management account {MANAGEMENT}" in message
    assert "organizations:DescribeOrganization" in message and "AWSOrganizationsNotInUseException" in message


def _json_error(code: str, status: int = 400) -> AWSResponse:
    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield f'{{"__type": "{code}", "Message": "injected"}}'.encode()

    return AWSResponse("https://example.invalid", status, {"x-amzn-requestid": "x"}, Raw())


@pytest.fixture
def refuse(monkeypatch):
    """``refuse("ListAccountsForParent", code)``: that call of the discovery's clients answers an error."""
    original = AccountSession.client

    def install(operation: str, code: str) -> None:
        def client(self: AccountSession, service: str, region: str, calls: Any = None) -> Any:
            made = original(self, service, region, calls)
            made.meta.events.register(f"before-send.{service}.{operation}", lambda **_: _json_error(code))
            return made

        monkeypatch.setattr(AccountSession, "client", client)

    return install


def test_access_denied_names_the_management_account_the_call_and_the_parent(tmp_path, world, refuse):
    refuse("ListAccountsForParent", "AccessDeniedException")
    config = make_config(tmp_path, accounts=[{"name": "legacy", "id": "999999999999"}], max_attempts=1)

    with pytest.raises(OrganizationDiscoveryError) as raised:
        discover_accounts(config)

    message = str(raised.value)
    assert message.startswith(
        f"reading the organization with the credentials of the management account {MANAGEMENT} failed at "
        f"organizations:ListAccountsForParent ParentId={world.root}: AccessDeniedException: ")
    assert "management account or a delegated administrator" in message
    # A failed discovery never shortens the list: with_discovered_accounts raises too.
    with pytest.raises(OrganizationDiscoveryError):
        with_discovered_accounts(config)


def test_a_failed_tag_read_fails_the_discovery(tmp_path, world, refuse):
    refuse("ListTagsForResource", "TooManyRequestsException")
    expected = r"organizations:ListTagsForResource ResourceId=\d{12}: TooManyRequestsException"
    with pytest.raises(OrganizationDiscoveryError, match=expected):
        discover_accounts(make_config(tmp_path, {"include": [{"tag": "env=*"}]}, max_attempts=1))


def test_an_unreachable_management_endpoint_is_a_discovery_error(tmp_path):
    config = make_config(tmp_path, {"endpoint_url": "http://127.0.0.1:9"}, max_attempts=1, connect_timeout=1)
    expected = "organizations:DescribeOrganization: EndpointConnectionError"
    with pytest.raises(OrganizationDiscoveryError, match=expected):
        discover_accounts(config)
