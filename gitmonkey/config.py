"""gitmonkey.yaml: load, validate against the shipped JSON Schema, and expose typed settings.

Validation happens in three layers, all before anything is written: the YAML itself (syntax
errors and duplicate keys, with line numbers), the JSON Schema in ``schemas/config.schema.json``
(plus the audit and notifications sections' own schemas when their owners ship one), then the
checks a schema cannot express (unique names, known technologies, no inline secrets). Every
problem found is reported at once, each as ``key.path[index]: what was expected``.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import json
import os
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gitmonkey import yamlio
from gitmonkey.model import Item
from gitmonkey.resources import schema_path

if TYPE_CHECKING:
    from jsonschema import ValidationError

DEFAULT_CONFIG_NAME = "gitmonkey.yaml"
CONFIG_ENV = "GITMONKEY_CONFIG"
DEFAULT_REPOS_DIR = "accounts"
# Worst case for an endpoint that accepts connections and never answers: 5 attempts x 20 s
# plus at most 1 + 2 + 4 + 8 s of backoff, about two minutes, once per endpoint and sync.
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_ORGANIZATION_ROLE = "OrganizationAccountAccessRole"
DEFAULT_ACCOUNT_NAME = "{name}"
# An organization's accounts in these states are synced unless ``organization.statuses`` says otherwise.
DEFAULT_ORGANIZATION_STATUSES = ("ACTIVE",)
# The placeholders of organization.account_name and organization.remote.
TEMPLATE_FIELDS = ("name", "id")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]*)\}")


class ConfigError(Exception):
    """A configuration problem, with a message that names the key path and what was expected.

    ``errors`` holds one line per problem (sorted by key path) when the file was validated.
    """

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]


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
    """Skip items of matching technologies whose id, name or ARN matches ``pattern`` (a glob).

    ``region`` and ``account`` (name or id) are globs too; ``tag`` is ``Key=ValueGlob``.
    """

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
        if self.account is not None and not any(
            fnmatch.fnmatchcase(s, self.account) for s in (account.name, account.id)
        ):
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
class OrganizationManagement:
    """The account the organization is read from: its management account or a delegated
    administrator, with the credentials to read it (as an account's: profile, role, endpoint)."""

    id: str
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True)
class AccountFilter:
    """One entry of ``organization.include`` / ``exclude``: it matches an account when every key it
    sets matches (globs, case-sensitive). ``ou`` is an OU path (``/Root/Prod/**``, see
    ``gitmonkey.organization.filters``), ``tag`` is ``Key=ValueGlob``, ``name`` and ``id`` the
    account's AWS name and id."""

    ou: str | None = None
    tag: str | None = None
    name: str | None = None
    id: str | None = None

    def describe(self) -> str:
        """``ou: /Root/Sandbox/**, tag: env=dev*``, as written in the config."""
        return ", ".join(f"{key}: {value}" for key, value in
                         (("ou", self.ou), ("tag", self.tag), ("name", self.name), ("id", self.id)) if value)


@dataclass(frozen=True)
class OrganizationConfig:
    """``organization:``: discover the accounts to sync from an AWS Organization.

    Loading the config never calls AWS: ``gitmonkey.organization.discover_accounts`` does, when a
    command asks for it. Every discovered account gets ``regions``, ``endpoint_url``, and the role
    ``arn:<partition>:iam::<id>:role/<role_name>`` (with ``external_id``) assumed with the
    management credentials; the management account itself is read with its own credentials.
    """

    management: OrganizationManagement
    role_name: str = DEFAULT_ORGANIZATION_ROLE
    external_id: str | None = None
    regions: tuple[str, ...] | None = None
    endpoint_url: str | None = None
    include: tuple[AccountFilter, ...] = ()
    exclude: tuple[AccountFilter, ...] = ()
    statuses: tuple[str, ...] = DEFAULT_ORGANIZATION_STATUSES
    account_name: str = DEFAULT_ACCOUNT_NAME
    remote: str | None = None

    @property
    def management_endpoint_url(self) -> str | None:
        """Where the management account's calls go: its own ``endpoint_url``, else the organization's."""
        return self.management.endpoint_url or self.endpoint_url


@dataclass(frozen=True)
class Config:
    path: Path
    repos_dir: Path
    accounts: tuple[AccountConfig, ...]
    technologies: tuple[str, ...] | None = None
    ignore: tuple[IgnoreRule, ...] = ()
    concurrency: int = 8
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    stale_after_hours: float = 24.0
    committer_name: str = "gitmonkey"
    committer_email: str = "gitmonkey@localhost"
    audit: dict[str, Any] = field(default_factory=dict)
    notifications: dict[str, Any] = field(default_factory=dict)
    attribution: dict[str, Any] = field(default_factory=dict)
    events: dict[str, Any] = field(default_factory=dict)
    workers: dict[str, Any] = field(default_factory=dict)
    organization: OrganizationConfig | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def account(self, name_or_id: str) -> AccountConfig:
        for account in self.accounts:
            if name_or_id in (account.name, account.id):
                return account
        names = ", ".join(a.name for a in self.accounts)
        raise ConfigError(f"no account named {name_or_id!r} in {self.path} (accounts: {names})")

    def repo_path(self, account: AccountConfig) -> Path:
        return self.repos_dir / account.name

    def technology_enabled(self, name: str) -> bool:
        """Whether the ``technologies`` list (globs; absent = all) selects ``name``."""
        return self.technologies is None or any(fnmatch.fnmatchcase(name, p) for p in self.technologies)


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path.cwd() / DEFAULT_CONFIG_NAME


def load_config(
    path: str | os.PathLike[str] | None = None, *, validation_cache: Path | None = None
) -> Config:
    """Read, validate and return the configuration; raise ``ConfigError`` listing every problem.

    ``validation_cache`` names a file of digests of configurations that validated (with the
    schemas and the package version, see ``gitmonkey.validation_cache``): a match skips validation.
    The post-commit hook uses it so that each commit does not pay for importing jsonschema.
    """
    config_path = find_config_path(path).resolve()
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"no configuration file at {config_path} (create one with 'gitmonkey init', "
            f"or pass --config / set {CONFIG_ENV})"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"cannot read {config_path}: {reason}") from exc
    raw = parse_yaml(text, config_path)
    from gitmonkey.validation_cache import ValidationCache

    cache = ValidationCache(validation_cache)
    schemas = [schema_path("config.schema.json"), *SECTION_SCHEMAS.values()]
    # The technologies a config may name come from the watcher modules: their names are part of
    # the digest (listed without importing them, which would load boto3 into the hook).
    watchers = ",".join(sorted(m.name for m in pkgutil.iter_modules([str(_PACKAGE / "watchers")])))
    digest = cache.digest(text, watchers, *(s.read_bytes() if s.is_file() else b"-" for s in schemas))
    if validation_cache is not None and cache.known(digest):
        return config_from_dict(raw, config_path, validate=False)
    config = config_from_dict(raw, config_path)
    cache.remember(digest)
    cache.save()
    return config


def parse_yaml(text: str, path: Path) -> Any:
    """Parse YAML safely; syntax errors and duplicate keys name the line."""
    try:
        _reject_duplicate_keys(yamlio.compose(text), path)
        data = yamlio.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"{path}{where}: YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML syntax error: {exc}") from exc
    return {} if data is None else data


def _reject_duplicate_keys(root: yaml.Node | None, path: Path) -> None:
    seen_nodes: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    marker = (key.tag, key.value)
                    if marker in first_line:
                        raise ConfigError(
                            f"{path}, line {key.start_mark.line + 1}: duplicate key {key.value!r} "
                            f"(first set on line {first_line[marker]}); remove one of them"
                        )
                    first_line[marker] = key.start_mark.line + 1
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def config_from_dict(raw: Any, path: Path, *, validate: bool = True) -> Config:
    """Validate ``raw`` (the parsed YAML) and build the typed ``Config``."""
    problems = config_problems(raw) if validate else []
    if problems:
        if len(problems) == 1:
            message = f"{path}: {problems[0]}"
        else:
            message = f"{path}: {len(problems)} problems\n" + "\n".join(f"  {p}" for p in problems)
        raise ConfigError(message, problems)
    base = path.parent
    accounts = tuple(
        AccountConfig(
            name=a["name"],
            id=a["id"],
            regions=tuple(a["regions"]) if a.get("regions") else None,
            profile=a.get("profile"),
            role_arn=a.get("role_arn"),
            external_id=a.get("external_id"),
            endpoint_url=a.get("endpoint_url"),
            remote=a.get("remote"),
        )
        for a in raw.get("accounts") or ()
    )
    committer = raw.get("committer", {})
    return Config(
        path=path,
        repos_dir=(base / raw.get("repos_dir", DEFAULT_REPOS_DIR)).resolve(),
        accounts=accounts,
        technologies=tuple(raw["technologies"]) if raw.get("technologies") else None,
        ignore=tuple(IgnoreRule(**rule) for rule in raw.get("ignore", [])),
        concurrency=raw.get("concurrency", 8),
        max_attempts=raw.get("max_attempts", DEFAULT_MAX_ATTEMPTS),
        connect_timeout=float(raw.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)),
        read_timeout=float(raw.get("read_timeout", DEFAULT_READ_TIMEOUT)),
        stale_after_hours=float(raw.get("stale_after_hours", 24.0)),
        committer_name=committer.get("name", "gitmonkey"),
        committer_email=committer.get("email", "gitmonkey@localhost"),
        audit=raw.get("audit", {}),
        notifications=raw.get("notifications", {}),
        attribution=raw.get("attribution", {}),
        events=raw.get("events", {}),
        workers=raw.get("workers", {}),
        organization=_organization(raw["organization"]) if raw.get("organization") else None,
        raw=raw,
    )


def _organization(raw: dict[str, Any]) -> OrganizationConfig:
    management = raw["management"]
    return OrganizationConfig(
        management=OrganizationManagement(
            id=management["id"],
            profile=management.get("profile"),
            role_arn=management.get("role_arn"),
            external_id=management.get("external_id"),
            endpoint_url=management.get("endpoint_url"),
        ),
        role_name=raw.get("role_name", DEFAULT_ORGANIZATION_ROLE),
        external_id=raw.get("external_id"),
        regions=tuple(raw["regions"]) if raw.get("regions") else None,
        endpoint_url=raw.get("endpoint_url"),
        include=tuple(AccountFilter(**entry) for entry in raw.get("include") or ()),
        exclude=tuple(AccountFilter(**entry) for entry in raw.get("exclude") or ()),
        statuses=tuple(raw.get("statuses") or DEFAULT_ORGANIZATION_STATUSES),
        account_name=raw.get("account_name", DEFAULT_ACCOUNT_NAME),
        remote=raw.get("remote"),
    )


KNOWN_ACCOUNTS_FILE = ".gitmonkey-organization.json"


def override_account(discovered: AccountConfig, own: AccountConfig) -> AccountConfig:
    """A discovered account with the ``accounts:`` entry of the same id applied: its name wins; its
    ``regions``, ``endpoint_url`` and ``remote`` win when set; its credentials (``profile``,
    ``role_arn``, ``external_id``, taken together) win when it sets any of them."""
    own_credentials = any((own.profile, own.role_arn, own.external_id))
    credentials = own if own_credentials else discovered
    return AccountConfig(
        name=own.name,
        id=own.id,
        regions=own.regions or discovered.regions,
        profile=credentials.profile,
        role_arn=credentials.role_arn,
        external_id=credentials.external_id,
        endpoint_url=own.endpoint_url or discovered.endpoint_url,
        remote=own.remote or discovered.remote,
    )


def save_known_accounts(config: Config, accounts: tuple[AccountConfig, ...]) -> None:
    """Keep the accounts a discovery gave in ``<repos_dir>/.gitmonkey-organization.json``, for the
    commands that must not call AWS (hooks, status, audit, listen...; see ``with_known_accounts``)."""
    from gitmonkey.store.state import atomic_write

    data = {"accounts": [dataclasses.asdict(a) for a in accounts]}
    config.repos_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(config.repos_dir / KNOWN_ACCOUNTS_FILE, (json.dumps(data, indent=2) + "\n").encode())


def with_known_accounts(config: Config) -> Config:
    """``config`` with the organization's accounts the last discovery found (without calling AWS):
    the ``accounts:`` entries as written, applied over the discovered account of the same id. A
    config without ``organization:``, or no discovery yet, is returned as it is."""
    if config.organization is None:
        return config
    try:
        saved = json.loads((config.repos_dir / KNOWN_ACCOUNTS_FILE).read_text(encoding="utf-8"))
        known = [
            AccountConfig(**{**a, "regions": tuple(a["regions"]) if a.get("regions") else None})
            for a in saved["accounts"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return config
    own = {a.id for a in config.accounts}
    by_id = {a.id: a for a in known}
    merged = [override_account(by_id[a.id], a) if a.id in by_id else a for a in config.accounts]
    merged += [a for a in known if a.id not in own]
    return dataclasses.replace(config, accounts=tuple(merged))


def render_template(template: str, **values: str) -> str:
    """``template`` with each ``{field}`` of ``TEMPLATE_FIELDS`` replaced (the config validated that
    it holds no other ``{...}``)."""
    return _TEMPLATE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


# --- validation -------------------------------------------------------------------------------

_PACKAGE = Path(__file__).resolve().parent
SECTION_SCHEMAS = {
    "audit": _PACKAGE / "audit" / "config.schema.json",
    "notifications": _PACKAGE / "notify" / "config.schema.json",
    "workers": _PACKAGE / "distributed" / "config.schema.json",
}
_SECRET_WORDS = re.compile(r"password|passwd|secret|token|api_?key", re.IGNORECASE)
_SECRET_SAFE_SUFFIXES = ("_env", "_file")

PathParts = tuple[str | int, ...]
Problem = tuple[PathParts, str]


def config_problems(raw: Any) -> list[str]:
    """Every problem in the parsed configuration, one line each, sorted by key path."""
    if not isinstance(raw, dict):
        return [f"(top level): expected a mapping of keys (repos_dir, accounts, ...), got {_describe(raw)}"]
    found: list[Problem] = []
    found += _schema_problems(raw, _load_schema(schema_path("config.schema.json")), ())
    for section, section_schema in SECTION_SCHEMAS.items():
        if isinstance(raw.get(section), dict) and section_schema.is_file():
            found += _schema_problems(raw[section], _load_schema(section_schema), (section,))
    found += _semantic_problems(raw)
    unique = {(parts, message) for parts, message in found}
    return [message for _, message in sorted(unique, key=lambda pm: (_sort_key(pm[0]), pm[1]))]


def _load_schema(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the schema {path}: {exc}") from exc


def _sort_key(parts: PathParts) -> tuple[tuple[int, Any], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in parts)


def format_path(parts: PathParts) -> str:
    """``("accounts", 1, "id")`` -> ``accounts[1].id``; the root is ``(top level)``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _schema_problems(instance: Any, schema: dict[str, Any], prefix: PathParts) -> list[Problem]:
    from jsonschema import Draft202012Validator  # imported here: the hook path skips validation

    validator = Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(instance):
        parts = prefix + tuple(p if isinstance(p, int | str) else str(p) for p in error.absolute_path)
        problems += [(parts, f"{format_path(parts)}: {text}") for text in _explain(error)]
    return problems


def _explain(error: ValidationError) -> list[str]:
    """Turn one jsonschema error into messages a person can act on."""
    kind, value, schema = error.validator, error.instance, error.schema
    expected = schema.get("x-expected") if isinstance(schema, dict) else None
    if isinstance(schema, dict) and schema.get("x-secret"):
        # the value may hold a password: an error message goes to terminals and logs
        shown = "a value not shown here (it may hold a secret)"
        return [f"expected {expected}, got {shown}" if expected else f"{kind}: {shown}"]
    if kind == "additionalProperties" and isinstance(value, dict):
        known = sorted(schema.get("properties", {}))
        messages = []
        for key in sorted((k for k in value if k not in known), key=str):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(known)})"
            messages.append(f"unknown key {key!r}{hint}")
        return messages
    if kind == "required" and isinstance(value, dict):
        return [f"missing required key {key!r}" for key in error.validator_value if key not in value]
    if kind == "dependentRequired" and isinstance(value, dict):
        return [
            f"{key!r} requires {needed!r} (set {needed} too, or remove {key})"
            for key, needs in error.validator_value.items()
            if key in value
            for needed in needs
            if needed not in value
        ]
    if kind == "type" and isinstance(value, int) and not isinstance(value, bool) and error.path and \
            error.path[-1] == "id":
        return [
            f"got the number {value}; write the account id as a quoted string, e.g. id: \"123456789012\" "
            "(YAML reads unquoted digits as a number and drops leading zeros, or reads them as octal)"
        ]
    if kind == "uniqueItems":
        return [f"expected {expected or 'a list'} without duplicates, got {_describe(value)}"]
    if kind in ("pattern", "format", "enum", "const") and expected:
        return [f"{_describe(value)} is not {expected}"]
    if expected:
        return [f"expected {expected}, got {_describe(value)}"]
    return [error.message]


def _problem(where: PathParts, text: str) -> Problem:
    return where, f"{format_path(where)}: {text}"


def _semantic_problems(raw: dict[str, Any]) -> list[Problem]:
    listed = raw.get("accounts") if isinstance(raw.get("accounts"), list) else []
    accounts = [a for a in listed if isinstance(a, dict)]
    problems: list[Problem] = []
    if "accounts" not in raw and "organization" not in raw:
        # The schema cannot say "one of them"; accounts may be left out only for an organization.
        problems.append(_problem((), "missing required key 'accounts'"))
    for key, fold in (("name", str.lower), ("id", str)):
        first: dict[str, int] = {}
        for index, account in enumerate(listed):
            value = account.get(key) if isinstance(account, dict) else None
            if not isinstance(value, str):
                continue
            if fold(value) in first:
                other = first[fold(value)]
                case = " (ignoring letter case: folders would collide)" if key == "name" else ""
                problems.append(_problem(("accounts", index, key), (
                    f"{value!r} is already used by accounts[{other}]{case}; each account needs its own {key}"
                )))
            else:
                first[fold(value)] = index
    problems += _technology_problems(raw)
    if not isinstance(raw.get("organization"), dict):
        # With an organization, the accounts an ignore rule names may be discovered ones, which
        # loading the config does not know (it never calls AWS).
        problems += _ignore_account_problems(raw, accounts)
    else:
        problems += _organization_problems(raw["organization"])
    if isinstance(raw.get("notifications"), dict):
        problems += _inline_secrets(raw["notifications"], ("notifications",))
    return problems


def _known_technologies() -> list[str] | None:
    """The watcher registry's names, or None while it cannot be imported (check skipped)."""
    try:
        from gitmonkey.watchers import RegistryError, all_technologies
    except ImportError:
        return None
    try:
        return sorted(all_technologies())
    except RegistryError as exc:
        raise ConfigError(f"watchers: {exc}") from exc


def _technology_problems(raw: dict[str, Any]) -> list[Problem]:
    globs: list[tuple[PathParts, Any]] = []
    if isinstance(raw.get("technologies"), list):
        globs += [(("technologies", i), t) for i, t in enumerate(raw["technologies"])]
    if isinstance(raw.get("ignore"), list):
        globs += [(("ignore", i, "technology"), r.get("technology"))
                  for i, r in enumerate(raw["ignore"]) if isinstance(r, dict)]
    globs = [(where, t) for where, t in globs if isinstance(t, str)]
    known = _known_technologies() if globs else None
    if not known:
        return []
    problems = []
    for where, pattern in globs:
        if not fnmatch.filter(known, pattern):
            close = difflib.get_close_matches(pattern, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            problems.append(_problem(where, f"{pattern!r} matches no known technology ({hint})"))
    return problems


def _ignore_account_problems(raw: dict[str, Any], accounts: list[dict[str, Any]]) -> list[Problem]:
    if not isinstance(raw.get("ignore"), list) or not accounts:
        return []
    labels = [str(a[k]) for a in accounts for k in ("name", "id") if k in a]
    problems = []
    for index, rule in enumerate(raw["ignore"]):
        pattern = rule.get("account") if isinstance(rule, dict) else None
        if isinstance(pattern, str) and not fnmatch.filter(labels, pattern):
            where = ("ignore", index, "account")
            names = ", ".join(str(a.get("name")) for a in accounts)
            problems.append(_problem(where, f"{pattern!r} matches no account (accounts: {names})"))
    return problems


def _organization_problems(organization: dict[str, Any]) -> list[Problem]:
    """Templates may only use ``{name}`` and ``{id}``; an account name template must use one of
    them, or every account would get the same name (and all but one a suffix)."""
    problems = []
    for key in ("account_name", "remote"):
        template = organization.get(key)
        if not isinstance(template, str):
            continue
        where = ("organization", key)
        unknown = sorted({f for f in _TEMPLATE_FIELD.findall(template) if f not in TEMPLATE_FIELDS})
        known = ", ".join(f"{{{f}}}" for f in TEMPLATE_FIELDS)
        if unknown:
            names = ", ".join(f"{{{f}}}" for f in unknown)
            problems.append(_problem(where, f"unknown placeholder {names} in {template!r} (known: {known})"))
        elif "{" in _TEMPLATE_FIELD.sub("", template) or "}" in _TEMPLATE_FIELD.sub("", template):
            problems.append(_problem(where, f"unbalanced brace in {template!r} (placeholders: {known})"))
        elif key == "account_name" and not _TEMPLATE_FIELD.search(template):
            problems.append(_problem(where, (
                f"{template!r} has no placeholder: every account would get the same name; use {known}"
            )))
    return problems


def _inline_secrets(node: Any, parts: PathParts) -> list[Problem]:
    """Keys named like a secret must point to one (``*_env``, ``*_file``), never hold it."""
    problems: list[Problem] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = (*parts, str(key))
            literal = value is not None and not isinstance(value, dict | list) and value != ""
            if literal and isinstance(key, str) and _SECRET_WORDS.search(key) \
                    and not key.lower().endswith(_SECRET_SAFE_SUFFIXES):
                problems.append(_problem(where, (
                    f"secrets must not be written in the config file (it may be "
                    f"committed or shared); use '{key}_env: VARIABLE' to read it from the environment or "
                    f"'{key}_file: /path/to/file' to read it from a file"
                )))
            else:
                problems += _inline_secrets(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += _inline_secrets(value, (*parts, index))
    return problems
